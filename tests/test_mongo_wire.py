"""A Mongo command's send and reply in the caller's task (graphql_api.mongo_wire): what a
command sees when its server stops answering is what pymongo's own functions give it.

Each test runs twice, with pymongo's functions and with ours, against an nx-27017 of its
own that is paused (SIGSTOP) to hold its replies back and resumed (SIGCONT).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous import pool
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect, PyMongoError

from graphql_api import eager, mongo_wire
from graphql_api.embedded import start_mongo
from graphql_api.lifespan import mongo_client
from graphql_api.settings import Settings
from tests.conftest import stop

# pymongo's own, as graphql_api.mongo_wire kept them before any `install()` replaced them
PYMONGO = (mongo_wire._PYMONGO_SENDALL, mongo_wire._PYMONGO_RECEIVE)


@pytest.fixture(params=["pymongo's", "ours"])
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The pool's send and receive, pymongo's own or graphql_api.mongo_wire's."""
    ours = request.param == "ours"
    monkeypatch.setattr(pool, "async_sendall", mongo_wire.sendall if ours else PYMONGO[0])
    monkeypatch.setattr(
        pool, "async_receive_message", mongo_wire.receive_message if ours else PYMONGO[1]
    )
    return str(request.param)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc, uri = start_mongo(tmp_path)
    try:
        yield proc, uri
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        stop(proc)


@contextlib.asynccontextmanager
async def things(uri: str, **options: Any) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    """A collection holding documents 1 and 2, on a client of its own."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=5_000, retryReads=False, **options
    )
    try:
        collection = client.wire.things
        await collection.delete_many({})
        await collection.insert_many([{"_id": 1, "n": "one"}, {"_id": 2, "n": "two"}])
        yield collection
    finally:
        await client.close()


@contextlib.contextmanager
def paused(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


async def test_a_reply_is_the_reply_to_its_own_command(
    wire: str, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    # given: a client on the server
    async with things(server[1]) as collection:
        # when: commands run one after another and side by side
        one = await collection.find_one({"_id": 1})
        together = await asyncio.gather(
            *(collection.find_one({"_id": i % 2 + 1}) for i in range(40))
        )
        # then: each has its own document
        assert one == {"_id": 1, "n": "one"}
        assert [d["_id"] for d in together if d] == [i % 2 + 1 for i in range(40)]


async def test_a_command_unanswered_past_the_socket_timeout_fails_and_the_next_succeeds(
    wire: str, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, uri = server
    async with things(uri, socketTimeoutMS=400) as collection:
        # when: the server holds its reply back longer than the socket timeout
        with paused(proc):
            started = time.monotonic()
            with pytest.raises(AutoReconnect) as failed:
                await collection.find_one({"_id": 1})
            took = time.monotonic() - started
        # then: a timeout after 0.4 s, not before and not much later
        assert failed.value.timeout
        assert 0.35 < took < 2.0
        # and: the next command gets its own reply, on a connection of its own
        assert await collection.find_one({"_id": 2}) == {"_id": 2, "n": "two"}


async def test_an_operation_timeout_bounds_the_wait_for_its_reply(
    wire: str, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, uri = server
    async with things(uri, socketTimeoutMS=30_000) as collection:
        # when: the operation has 0.3 s and the server does not answer
        with paused(proc):
            started = time.monotonic()
            with pytest.raises(PyMongoError) as failed, pymongo.timeout(0.3):
                await collection.find_one({"_id": 1})
            took = time.monotonic() - started
        # then: it ends at its deadline, as a timeout
        assert failed.value.timeout
        assert took < 2.0
        assert await collection.find_one({"_id": 1}) == {"_id": 1, "n": "one"}


async def test_a_cancelled_command_leaves_no_reply_behind_for_the_next(
    wire: str, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, uri = server
    async with things(uri, socketTimeoutMS=30_000, maxPoolSize=1) as collection:
        # when: the caller gives up on a command the server has not answered
        with paused(proc):
            waiting = asyncio.ensure_future(collection.find_one({"_id": 1}))
            await asyncio.sleep(0.3)
            started = time.monotonic()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            took = time.monotonic() - started
        # then: the cancellation is at once, and once the server answers again the
        # next command (on the pool's one connection) gets its own document, not the
        # reply the cancelled one was waiting for
        assert took < 0.5
        assert await collection.find_one({"_id": 2}) == {"_id": 2, "n": "two"}


async def test_a_command_in_flight_when_its_server_is_lost_fails_long_before_its_timeout(
    wire: str, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, uri = server
    # given: a client that checks the server every 0.5 s, with a 0.3 s limit on the check
    options = {"socketTimeoutMS": 30_000, "heartbeatFrequencyMS": 500, "connectTimeoutMS": 300}
    async with things(uri, **options) as collection:
        with paused(proc):
            started = time.monotonic()
            # when: the server stops answering while a command waits for its reply
            with pytest.raises(AutoReconnect):
                await collection.find_one({"_id": 1})
            took = time.monotonic() - started
        # then: the check marks the server lost, the pool cancels the command, and it
        # fails within seconds, not after its 30 s socket timeout
        assert took < 5
        assert await collection.find_one({"_id": 1}) == {"_id": 1, "n": "one"}


async def test_a_command_begun_in_an_eager_first_step_fails_alone_when_its_server_is_lost(
    wire: str, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, uri = server
    # (no socket timeout: with one, pymongo's send waits in a task of its own, and the
    # command never reaches its reply in the first step)
    async with things(uri, heartbeatFrequencyMS=500, connectTimeoutMS=300) as collection:
        ended: list[str] = []
        for _ in range(3):  # the pool's connection and the server's selection at hand
            await eager.gather(collection.find_one({"_id": 1}), asyncio.sleep(0))

        async def beside() -> None:
            try:
                await asyncio.sleep(4)
                ended.append("done")
            except asyncio.CancelledError:
                ended.append("cancelled")
                raise

        with paused(proc):
            # when: a command begun in the caller's task by graphql_api.eager (its first
            # step), beside other work, loses its server
            started = time.monotonic()
            with pytest.raises(AutoReconnect):
                await eager.gather(collection.find_one({"_id": 1}), beside())
            took = time.monotonic() - started
        await asyncio.sleep(4.5 - took)
        # then: the command fails as itself; the work beside it is not cancelled with it
        assert took < 4
        assert ended == ["done"]
        assert await collection.find_one({"_id": 1}) == {"_id": 1, "n": "one"}


def test_the_apps_clients_send_and_receive_through_graphql_api_mongo_wire(
    settings: Settings,
) -> None:
    # when: the app (or the worker) makes its Mongo client
    client = mongo_client(settings)
    # then: its pool's commands go through the functions above
    assert pool.async_sendall is mongo_wire.sendall  # type: ignore[attr-defined]
    assert pool.async_receive_message is mongo_wire.receive_message  # type: ignore[attr-defined]
    del client

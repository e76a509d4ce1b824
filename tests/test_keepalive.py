"""Kept-alive connections on a real server (graphql_api.keepalive): closed once idle for
keep_alive_timeout, never while a request is answered, and at once when the server
stops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import process_env, start_api, stop

BODY = json.dumps({"query": "query Me { me { id } }"}).encode()


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    token: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def ask(self) -> None:
        self.writer.write(_head(self.token, len(BODY)) + BODY)


@contextlib.asynccontextmanager
async def served(settings: Settings, tmp_path: Path, keep_alive_s: float) -> AsyncIterator[Served]:
    """A real server keeping idle connections `keep_alive_s`, and one connection to it."""
    config = tmp_path / "hypercorn.toml"
    config.write_text(f"keep_alive_timeout = {keep_alive_s}\ngraceful_timeout = 20\n")
    proc, url = start_api(process_env(settings), tmp_path / "api.log", "--config", str(config))
    try:
        address = urlsplit(url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        yield Served(proc, mint_dev_token(settings, "keep-alive-user"), reader, writer)
        writer.close()
    finally:
        stop(proc)


def _head(token: str, length: int) -> bytes:
    return (
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def _answer(reader: asyncio.StreamReader) -> dict[str, object]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    answer: dict[str, object] = json.loads(await reader.readexactly(length))
    return answer


async def _closed(reader: asyncio.StreamReader, within_s: float) -> float:
    """How long until the server closed the connection (at most `within_s`)."""
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), within_s) == b""
    return time.monotonic() - started


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    settings: Settings, tmp_path: Path
) -> None:
    # given: a server that keeps idle connections for one second
    async with served(settings, tmp_path, 1) as server:
        # when: requests come every 0.6 s for 2.4 s, on the one connection
        for _ in range(4):
            server.ask()
            assert "data" in await _answer(server.reader)
            await asyncio.sleep(0.6)
        # and a request whose body takes longer than the timeout to arrive
        server.writer.write(_head(server.token, len(BODY)) + BODY[:10])
        await asyncio.sleep(1.5)
        server.writer.write(BODY[10:])
        # then: every answer came on it (each request re-armed the wait, and the slow
        # one was answered whole), and, idle at last, it is closed after a second
        assert "data" in await _answer(server.reader)
        assert 0.8 < await _closed(server.reader, 5) < 3


async def test_idle_connections_are_closed_at_once_when_the_server_stops(
    settings: Settings, tmp_path: Path
) -> None:
    # given: a server that would keep idle connections for a minute, and one of them
    async with served(settings, tmp_path, 60) as server:
        server.ask()
        assert "data" in await _answer(server.reader)
        # when
        server.proc.send_signal(signal.SIGTERM)
        # then: the connection is closed promptly, and the server ends cleanly
        assert await _closed(server.reader, 5) < 3
        assert await asyncio.to_thread(server.proc.wait, 10) == 0

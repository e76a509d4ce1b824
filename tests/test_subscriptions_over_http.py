"""Subscriptions over HTTP in Apollo's multipart protocol: the stream, its end, its refusals.

(Apollo Client's own HttpLink following a real sync is in tests/sync/test_worker.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.sync.status import channel
from tests.conftest import ROOT, Client, process_env, start_api, stop
from tests.helpers import logged_errors

SUBSCRIBE = "subscription Watch { syncStatus { runId status processed } }"
# What Apollo Client sends with a subscription over its HttpLink.
MULTIPART = "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json"
BOUNDARY = "\r\n--graphql"
CONFIG = str(ROOT / "deploy" / "hypercorn.toml")


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


def parts(text: str) -> list[Any]:
    """The JSON parts of a multipart body so far; "END" for the closing boundary."""
    found: list[Any] = []
    for chunk in text.split(BOUNDARY)[:-1]:
        _, _, body = chunk.partition("\r\n\r\n")
        if body:  # (the closing delimiter follows the last part's own)
            found.append(json.loads(body))
    if text.endswith(f"{BOUNDARY}--\r\n"):
        found.append("END")
    return found


class Stream:
    """An open subscription over HTTP, read part by part."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.text = ""
        self._chunks = response.aiter_text()

    async def until(self, wanted: Any) -> list[Any]:
        """Reads until a part satisfies `wanted` (or the stream ends); every part read."""
        while not any(wanted(p) for p in parts(self.text)):
            try:
                self.text += await anext(self._chunks)
            except StopAsyncIteration:
                break
        return parts(self.text)


@contextlib.asynccontextmanager
async def subscribe(
    client: httpx.AsyncClient, url: str, token: str, **headers: str
) -> AsyncIterator[Stream]:
    """A subscription over HTTP for the length of the block; leaving it disconnects."""
    request = client.build_request(
        "POST",
        f"{url}/graphql",
        json={"query": SUBSCRIBE, "operationName": "Watch"},
        headers={"Authorization": f"Bearer {token}", "Accept": MULTIPART, **headers},
    )
    response = await client.send(request, stream=True)
    try:
        yield Stream(response)
    finally:
        await response.aclose()


async def wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 30
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def event(status: str) -> str:
    return json.dumps(
        {
            "runId": "r1",
            "calendarId": "c1",
            "status": status,
            "processed": 1,
            "total": 2,
            "created": 1,
            "updated": 0,
            "deleted": 0,
            "error": None,
            "at": "2026-03-02T10:00:00+00:00",
        }
    )


# --- refusals, as one JSON answer -------------------------------------------------------


@pytest.mark.parametrize(
    "accept", ["application/json", "application/json, multipart/mixed", "*/*"]
)  # the middle one is GraphiQL's, when it sends a subscription over HTTP
async def test_a_subscription_without_the_multipart_accept_is_406_never_internal(
    alice: Client, accept: str, caplog: pytest.LogCaptureFixture
) -> None:
    # when
    r = await alice.http.post(
        "/graphql",
        json={"query": SUBSCRIBE},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": accept},
    )
    # then
    assert r.status_code == 406
    assert codes(r) == ["NOT_ACCEPTABLE"]
    assert "subscriptionSpec" in r.json()["errors"][0]["message"]
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR] == []


async def test_a_subscription_over_get_without_the_multipart_accept_is_406(alice: Client) -> None:
    r = await alice.http.get(
        "/graphql", params={"query": SUBSCRIBE}, headers={"Authorization": f"Bearer {alice.token}"}
    )
    assert r.status_code == 406
    assert codes(r) == ["NOT_ACCEPTABLE"]


async def test_a_subscription_needs_a_bearer_token(anonymous: Client, settings: Settings) -> None:
    # given
    expired = mint_dev_token(settings, "expired-subscriber", ttl=timedelta(hours=-1))
    # when
    missing = await anonymous.http.post(
        "/graphql", json={"query": SUBSCRIBE}, headers={"Accept": MULTIPART}
    )
    bad = await anonymous.http.post(
        "/graphql",
        json={"query": SUBSCRIBE},
        headers={"Accept": MULTIPART, "Authorization": f"Bearer {expired}"},
    )
    # then: refused before any stream starts
    for r in (missing, bad):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/json"
        assert r.headers["www-authenticate"] == "Bearer"
        assert codes(r) == ["UNAUTHENTICATED"]


async def test_an_invalid_subscription_is_one_json_answer(alice: Client) -> None:
    r = await alice.http.post(
        "/graphql",
        json={"query": "subscription { syncStatus { nope } }"},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": MULTIPART},
    )
    assert r.headers["content-type"] == "application/json"
    assert codes(r) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_query_with_the_multipart_accept_gets_its_json_answer(alice: Client) -> None:
    r = await alice.http.post(
        "/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": MULTIPART},
    )
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"data": {"me": {"email": "alice@example.com"}}}


# --- the stream, on a real server -------------------------------------------------------


async def test_events_stream_as_parts_and_a_disconnect_ends_the_subscription(
    live_server: str, settings: Settings
) -> None:
    # given
    token = mint_dev_token(settings, "multipart-subscriber")
    topic = channel(settings.cache_prefix, "multipart-subscriber")
    redis = aioredis.Redis.from_url(str(settings.redis_url))

    async def listening(count: int) -> bool:
        found = dict(await redis.pubsub_numsub(topic))
        return bool(found.get(topic.encode(), 0) == count)

    try:
        async with (
            httpx.AsyncClient(timeout=30) as client,
            subscribe(client, live_server, token, **{"Accept-Encoding": "gzip"}) as stream,
        ):
            await wait_for(lambda: listening(1), "the server never subscribed")
            # when: the worker says how a run goes
            for status in ("QUEUED", "RUNNING", "SUCCEEDED"):
                await redis.publish(topic, event(status))
            seen = await stream.until(lambda p: p != {} and "SUCCEEDED" in json.dumps(p))
            # then: a heartbeat first, then one payload part per event
            headers = stream.response.headers
            assert stream.response.status_code == 200
            assert headers["content-type"].startswith("multipart/mixed;boundary=graphql")
            assert headers["cache-control"] == "no-store"
            assert "content-encoding" not in headers  # parts leave as they are made
            assert seen[0] == {}
            statuses = [p["payload"]["data"]["syncStatus"]["status"] for p in seen if p != {}]
            assert statuses == ["QUEUED", "RUNNING", "SUCCEEDED"]
        # when: the client went away (the block's end)
        # then: the server ends the subscription: nothing is left listening
        await wait_for(lambda: listening(0), "the subscription outlived its client")
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{live_server}/metrics")).text
        assert "graphql_subscriptions_active 0.0" in metrics
    finally:
        await redis.aclose()


async def test_the_stream_ends_when_its_token_expires(live_server: str, settings: Settings) -> None:
    # given: a token that expires in two seconds
    token = mint_dev_token(settings, "expiring-subscriber", ttl=timedelta(seconds=2))
    async with (
        httpx.AsyncClient(timeout=30) as client,
        subscribe(client, live_server, token) as stream,
    ):
        # when: nothing happens but time
        seen = await stream.until(lambda p: p == "END")
    # then: a transport error (Apollo Client's protocol errors), then the closing boundary
    assert seen[-2:] == [
        {
            "payload": None,
            "errors": [
                {
                    "message": "the token expired: subscribe again with a fresh one",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ],
        },
        "END",
    ]


async def test_sigterm_ends_open_streams_and_the_server_exits_cleanly(
    settings: Settings, tmp_path: Path
) -> None:
    # given: a server (with the container's hypercorn settings) and an open stream
    log = tmp_path / "api.log"
    proc, url = start_api(process_env(settings, LOG_FORMAT="json"), log, "--config", CONFIG)
    try:
        token = mint_dev_token(settings, "subscriber-at-shutdown")
        async with (
            httpx.AsyncClient(timeout=30) as client,
            subscribe(client, url, token) as stream,
        ):
            await stream.until(lambda p: p == {})  # the first heartbeat: the stream is open
            # when
            proc.send_signal(signal.SIGTERM)
            seen = await stream.until(lambda p: p == "END")
        # then: told why, and the stream closed, rather than cut at the graceful timeout
        assert seen[-2]["payload"] is None
        assert seen[-2]["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert seen[-1] == "END"
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert logged_errors(log) == []
    finally:
        if proc.poll() is None:
            stop(proc)

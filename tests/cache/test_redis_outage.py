"""Redis dies under load and comes back: no request fails, answers stay right, caching resumes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from graphql_api.app import create_app
from graphql_api.cache.store import Cache
from graphql_api.lifespan import cache_of, limiter_of
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.cache.redis_servers import RedisServer, cache_requests
from tests.conftest import Client, Response
from tests.helpers import check_in, connect_local, create_event, create_goal, create_habit

SetClock = Callable[[datetime], None]
NOW = datetime(2026, 3, 18, 15, tzinfo=UTC)
WEEK = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-23T00:00:00Z"}
READS: list[tuple[str, dict[str, Any]]] = [
    ("Dashboard", {"range": WEEK}),
    ("Habits", {}),
    ("Habits", {"active": True, "first": 2}),
    ("Dashboard", {"range": WEEK, "goalsFirst": 1}),
]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def own_cache(
    app_state: AppState, settings: Settings, own_redis: RedisServer
) -> AsyncIterator[Cache]:
    """The server's field cache, built by `cache_of`, on a Redis of this test's own."""
    cache = cache_of(
        settings.model_copy(
            update={
                "redis_url": own_redis.url,
                "cache_prefix": f"outage-{uuid.uuid4().hex[:8]}:",
                "cache_breaker_reset_s": 0.3,
            }
        )
    )
    # The per-user rate limit on the same Redis (generous: it must never refuse here).
    limiter = limiter_of(
        settings.model_copy(
            update={
                "redis_url": own_redis.url,
                "rate_limit_per_s": 1000.0,
                "rate_limit_burst": 1000,
            }
        )
    )
    previous, previous_limiter = app_state.cache, app_state.limiter
    app_state.cache, app_state.limiter = cache, limiter
    try:
        yield cache
    finally:
        app_state.cache, app_state.limiter = previous, previous_limiter
        assert cache.redis is not None
        await cache.aclose()
        if limiter is not None and limiter.redis is not None:
            await limiter.aclose()
            await limiter.redis.aclose()


@pytest.fixture
async def uncached_http(
    app_state: AppState, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A second server on the same database and clock, with no field cache: the truth."""
    app: Starlette = create_app(settings)
    app.state.app = replace(
        app_state,
        cache=app_state.cache.disabled(),
        clock=lambda: app_state.clock(),  # noqa: PLW0108 - late-bound
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://uncached"
    ) as client:
        yield client


class Stream:
    """Rounds of concurrent reads; every answer is kept with the truth it must equal."""

    def __init__(self, cached: Client, uncached: Client) -> None:
        self.cached = cached
        self.uncached = uncached
        self.truth: list[dict[str, Any]] = []
        self.answers: list[tuple[str, dict[str, Any], Response, dict[str, Any]]] = []

    async def learn_truth(self) -> None:
        """After a write: what the uncached server answers now."""
        self.truth = [(await self.uncached.op(name, v)).body for name, v in READS]
        assert all(not body.get("errors") for body in self.truth), self.truth

    async def round(self, *alongside: Any) -> None:
        responses = await asyncio.gather(
            *(self.cached.op(name, v) for name, v in READS), *alongside
        )
        for (name, v), response, truth in zip(READS, responses, self.truth, strict=False):
            self.answers.append((name, v, response, truth))

    def failures(self) -> list[tuple[int, str, int, Any, Any]]:
        return [
            (i, name, response.status, response.body, truth)
            for i, (name, _, response, truth) in enumerate(self.answers)
            if response.status != 200 or response.body != truth
        ]


async def kill_soon(server: RedisServer) -> None:
    """SIGKILL Redis while the round's requests are in flight."""
    await asyncio.sleep(0.01)
    server.kill()


def hits() -> float:
    """Hits of any kind: values (L1, L2) and whole answers (validated in Redis)."""
    return sum(cache_requests(level, "hit") for level in ("l1", "l2", "response"))


async def test_no_request_fails_while_redis_is_killed_and_restarted(
    alice: Client,
    clock: SetClock,
    uncached_http: httpx.AsyncClient,
    own_cache: Cache,
    own_redis: RedisServer,
) -> None:
    started = time.monotonic()
    # given: a user with goals, habits, check-ins and events; the cache warm
    clock(NOW)
    goals = [await create_goal(alice, title=f"Goal {i}") for i in range(2)]
    habits = [
        await create_habit(alice, name=f"Habit {i}", goalId=goals[i % 2]["id"]) for i in range(3)
    ]
    for habit in habits:
        for day in ("2026-03-15", "2026-03-16", "2026-03-17"):
            await check_in(alice, habit["id"], day)
    calendar = await connect_local(alice, name="Work")
    for date in (16, 17):
        await create_event(
            alice, calendar["id"], f"2026-03-{date}T09:00:00Z", f"2026-03-{date}T10:00:00Z"
        )
    stream = Stream(alice, Client(http=uncached_http, token=alice.token, sub=alice.sub))
    await stream.learn_truth()
    before = hits()
    await stream.round()
    await stream.round()
    assert hits() > before, "the cache is not in use to begin with"

    # when: Redis is killed in the middle of a round, and stays down through a write
    errors = cache_requests("l2", "error")
    await stream.round(kill_soon(own_redis))
    await stream.round()
    await check_in(alice, habits[0]["id"], "2026-03-18")
    await create_event(alice, calendar["id"], "2026-03-18T09:00:00Z", "2026-03-18T10:00:00Z")
    renamed = await alice.op("UpdateGoal", {"id": goals[0]["id"], "input": {"title": "Renamed"}})
    assert renamed.data["updateGoal"]["title"] == "Renamed"
    await stream.learn_truth()
    await stream.round()
    await stream.round()
    assert await own_cache.versions(["probe"]) is None
    assert cache_requests("l2", "error") > errors or own_cache.breaker.opened_at is not None

    # when: a new, empty Redis starts on the same address
    own_redis.start(empty=True)
    restarted = hits()
    deadline = time.monotonic() + 10
    while hits() == restarted and time.monotonic() < deadline:
        await stream.round()
        await asyncio.sleep(0.05)

    # then: caching resumed by itself, in memory and in Redis
    assert hits() > restarted, "no cache hit since Redis came back"
    assert await own_cache.versions(["probe"]) is not None
    own_cache.l1.clear()
    from_redis = cache_requests("l2", "hit") + cache_requests("response", "hit")
    await stream.round()
    assert cache_requests("l2", "hit") + cache_requests("response", "hit") > from_redis

    # when: a write after the recovery
    await check_in(alice, habits[1]["id"], "2026-03-18", status="SKIPPED")
    renamed = await alice.op("UpdateHabit", {"id": habits[1]["id"], "input": {"name": "Renamed"}})
    assert renamed.data["updateHabit"]["name"] == "Renamed"
    await create_event(alice, calendar["id"], "2026-03-19T09:00:00Z", "2026-03-19T10:00:00Z")
    await stream.learn_truth()
    await stream.round()
    await stream.round()

    # then: not one request failed or answered differently from the uncached server
    assert len(stream.answers) >= 9 * len(READS)
    assert stream.failures() == []
    assert time.monotonic() - started < 20

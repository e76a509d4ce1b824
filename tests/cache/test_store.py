"""The two-level field cache against real Redis servers: what users and operators notice.

Values are served once computed, a write retires them everywhere, Redis being slow,
hung, down or restarted never fails a call nor brings a retired value back.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import redis.asyncio

from graphql_api import redis_clients
from graphql_api.cache import store
from graphql_api.cache.codecs import JSON
from graphql_api.cache.request import RequestCache
from graphql_api.cache.store import EPOCH, WEEK_VERSION_TTL_S, Cache, CircuitBreaker
from tests.cache.redis_servers import (
    Caches,
    RedisServer,
    SilentServer,
    cache_requests,
    delete_prefixed,
    unused_port,
)

HANG_BOUND_S = 1.0  # generous: a hang check on two busy cores, not a benchmark
LEVELS = [(level, result) for level in ("l1", "l2") for result in ("hit", "miss", "error")]


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    value = f"t-{uuid.uuid4().hex[:12]}:"
    yield value
    delete_prefixed(redis_url, value)


@pytest.fixture
async def caches(prefix: str) -> AsyncIterator[Caches]:
    built = Caches(prefix)
    yield built
    await built.aclose()


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client on the shared test Redis, to look at what the cache stored."""
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server process of this test's own, already started."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    server = SilentServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


class Compute:
    """A `compute` that counts its runs; optionally held until released, or failing."""

    def __init__(self, value: str, *, held: bool = False, error: Exception | None = None) -> None:
        self.value = value
        self.error = error
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        if not held:
            self.release.set()

    async def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.value


def encode(value: str) -> bytes:
    return value.encode()


def decode(raw: bytes) -> str:
    return raw.decode()


async def get(cache: Cache, key: str, compute: Compute, ttl_s: float = 1000) -> str:
    return await cache.get_or_compute(key, ttl_s, compute, encode, decode)


async def cached(cache: Cache, user: str, compute: Compute) -> str:
    """What one request of `user` reads: a fresh RequestCache, as every request has."""
    result: str = await RequestCache(cache, user).cached("goals", ["goals"], 1000, compute, JSON)
    return result


def metrics() -> dict[tuple[str, str], float]:
    return {(level, result): cache_requests(level, result) for level, result in LEVELS}


def moved(before: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """How far each `cache_requests_total{level, result}` moved since `before` (non-zero only)."""
    now = metrics()
    return {k: now[k] - before[k] for k in LEVELS if now[k] != before[k]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- versioned values -----------------------------------------------------------------


async def test_a_value_is_computed_once_then_served_from_memory(
    caches: Caches, redis_url: str, r: redis.Redis
) -> None:
    # given
    cache = caches.on(redis_url)
    key = cache.key("value", "a")
    compute = Compute("v1")
    # when
    first = await get(cache, key, compute)
    r.delete(key)  # what is in memory no longer needs Redis
    second = await get(cache, key, compute)
    # then
    assert (first, second) == ("v1", "v1")
    assert compute.calls == 1
    assert cache.l1[key] == b"v1"


async def test_another_process_reads_the_value_from_redis(
    caches: Caches, redis_url: str, r: redis.Redis
) -> None:
    # given
    one, other = caches.on(redis_url), caches.on(redis_url)
    key = one.key("value", "a")
    compute = Compute("v1")
    await get(one, key, compute)
    # when
    in_other = await get(other, key, Compute("recomputed"))
    one.l1.clear()
    after_restart = await get(one, key, Compute("recomputed"))
    # then
    assert r.get(key) == b"v1"
    assert (in_other, after_restart) == ("v1", "v1")
    assert compute.calls == 1


async def test_a_bump_retires_values_in_this_and_every_other_process(
    caches: Caches, redis_url: str
) -> None:
    # given
    one, other = caches.on(redis_url), caches.on(redis_url)
    before = await one.versions(["goals"])
    assert before is not None
    old_key = one.key("goals", before["goals"])
    await get(one, old_key, Compute("old"))
    await get(other, old_key, Compute("old"))
    # when
    bumped = await one.bump(["goals"])
    # then
    assert bumped.tokens["goals"] != before["goals"]
    assert bumped.replaced == {"goals": before["goals"]}
    assert await one.versions(["goals"]) == await other.versions(["goals"]) == bumped.tokens
    new_key = one.key("goals", bumped.tokens["goals"])
    assert new_key != old_key
    compute = Compute("new")
    assert await get(one, new_key, compute) == "new"
    assert await get(other, new_key, compute) == "new"
    assert compute.calls == 1


@pytest.fixture(params=["claimed in the read", "read, then claimed"])
def claiming(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, r: redis.Redis
) -> str:
    """Both ways a read claims the versions it finds missing: in its own round trip
    (Redis 7.0 and later, `SET NX GET`) and after it (older ones: the embedded default's
    6.2), whichever Redis the tests run on (the older way works on both)."""
    way = str(request.param)
    info = cast("dict[str, Any]", r.info("server"))
    version = tuple(int(p) for p in str(info["redis_version"]).split("."))
    if way == "claimed in the read":
        if version < (7, 0):
            pytest.skip(f"Redis {version} has no SET NX GET")
        return way
    real = redis_clients.server_run

    async def older(redis: redis_clients.AnyRedis) -> tuple[str, tuple[int, ...]]:
        run_id, _ = await real(redis)
        return run_id, (6, 2, 14)

    monkeypatch.setattr(redis_clients, "server_run", older)
    return way


async def test_a_new_scope_gets_one_random_token_that_every_process_agrees_on(
    caches: Caches, redis_url: str, prefix: str, r: redis.Redis, claiming: str
) -> None:
    # given
    one, other = caches.on(redis_url), caches.on(redis_url)
    # when
    first, second = await asyncio.gather(one.versions(["habits"]), other.versions(["habits"]))
    again = await other.versions(["habits"])
    # then
    assert first is not None
    token = first["habits"]
    assert len(token) == 16
    int(token, 16)  # hex
    assert first == second == again
    assert r.get(f"{prefix}v:habits") == token.encode()


async def test_a_read_that_claims_a_scopes_first_token_says_it_made_it(
    caches: Caches, redis_url: str, claiming: str
) -> None:
    # given: two processes, and a scope no one has read yet beside one that has a token
    one, other = caches.on(redis_url), caches.on(redis_url)
    known = await one.versions(["profile"])
    assert known is not None
    # when: both read the new scope at once, with the known one
    first, second = await asyncio.gather(
        one.versions(["profile", "habit:new"]), other.versions(["profile", "habit:new"])
    )
    # then: they agree on its token, and exactly one of them says it made it; nobody
    # made the one that had a token
    assert first is not None
    assert second is not None
    assert first == second
    assert sorted([first.minted, second.minted], key=len) == [
        frozenset(),
        frozenset({first["habit:new"]}),
    ]
    # and a later read made nothing
    again = await other.versions(["profile", "habit:new"])
    assert again is not None
    assert again.minted == frozenset()


async def test_every_scope_has_its_own_token(caches: Caches, redis_url: str, claiming: str) -> None:
    # given
    cache = caches.on(redis_url)
    scopes = ["goals", "habits", "habit:1", "cal:1", "profile", EPOCH]
    # when
    tokens = await cache.versions(scopes)
    # then
    assert tokens is not None
    assert sorted(tokens) == sorted(scopes)
    assert len(set(tokens.values())) == len(scopes)


async def test_the_versions_of_a_calendars_weeks_expire_and_no_other_scopes_do(
    caches: Caches, redis_url: str, prefix: str, r: redis.Redis, claiming: str
) -> None:
    # given: a week's scope (one per calendar and week read) and a calendar's
    cache = caches.on(redis_url)
    week, calendar = "{u:ann}:week:c1:2026-W12", "{u:ann}:cal:c1"

    def kept_s(scope: str) -> int:
        """How long the scope's version is kept, in seconds (-1: until deleted)."""
        return cast("int", r.ttl(f"{prefix}v:{scope}"))

    # when: first read, their versions are claimed
    claimed = await cache.versions([week, calendar])
    # then: the week's is kept for a week, the calendar's for as long as Redis keeps it
    assert claimed is not None
    assert 0 < kept_s(week) <= WEEK_VERSION_TTL_S
    assert kept_s(calendar) == -1
    # and so when a write bumps them
    r.persist(f"{prefix}v:{week}")
    bumped = await cache.bump([week, calendar])
    assert bumped.tokens[week] != claimed[week]
    assert bumped.replaced == {week: claimed[week], calendar: claimed[calendar]}
    assert await cache.versions([week, calendar]) == bumped.tokens
    assert 0 < kept_s(week) <= WEEK_VERSION_TTL_S
    assert kept_s(calendar) == -1
    # and a week's version gone is claimed anew: what was kept under the old one is retired
    r.delete(f"{prefix}v:{week}")
    again = await cache.versions([week])
    assert again is not None
    assert again[week] not in {claimed[week], bumped.tokens[week]}


# --- single flight --------------------------------------------------------------------


async def test_concurrent_misses_on_one_key_compute_once(caches: Caches, redis_url: str) -> None:
    # given
    cache = caches.on(redis_url)
    key = cache.key("cold")
    compute = Compute("value", held=True)
    # when
    calls = [asyncio.create_task(get(cache, key, compute)) for _ in range(20)]
    await compute.started.wait()
    await asyncio.sleep(0.05)  # every caller is waiting on the one running compute
    compute.release.set()
    results = await asyncio.gather(*calls)
    # then
    assert results == ["value"] * 20
    assert compute.calls == 1


async def test_a_failed_compute_fails_every_waiter_and_the_next_call_computes_again(
    caches: Caches, redis_url: str, r: redis.Redis
) -> None:
    # given
    cache = caches.on(redis_url)
    key = cache.key("cold")
    failing = Compute("unused", held=True, error=RuntimeError("database down"))
    calls = [asyncio.create_task(get(cache, key, failing)) for _ in range(20)]
    await failing.started.wait()
    await asyncio.sleep(0.05)
    # when
    failing.release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    # then
    assert failing.calls == 1
    assert all(isinstance(e, RuntimeError) and str(e) == "database down" for e in results)
    assert key not in cache.l1
    assert r.get(key) is None
    # when
    retry = Compute("value")
    # then
    assert await get(cache, key, retry) == "value"
    assert retry.calls == 1


async def test_a_cancelled_caller_does_not_cancel_the_callers_waiting_for_the_same_key(
    caches: Caches, redis_url: str
) -> None:
    """A client that hangs up mid-request must not fail another request for the same key."""
    # given
    cache = caches.on(redis_url)
    key = cache.key("cold")
    compute = Compute("value", held=True)
    leader = asyncio.create_task(get(cache, key, compute))
    await compute.started.wait()
    waiter = asyncio.create_task(get(cache, key, Compute("value")))
    await asyncio.sleep(0.05)
    # when: the first caller hangs up, then the load finishes
    leader.cancel()
    await asyncio.sleep(0.05)
    compute.release.set()
    done, _ = await asyncio.wait([waiter], timeout=5)
    # then: the other caller still gets the one shared load's value
    assert leader.cancelled()
    assert waiter in done
    assert not waiter.cancelled(), "the waiting caller was cancelled with the one that hung up"
    assert waiter.result() == "value"
    assert compute.calls == 1


# --- TTL ------------------------------------------------------------------------------


async def test_stored_values_expire_within_ten_percent_of_their_ttl(
    caches: Caches, redis_url: str, r: redis.Redis
) -> None:
    # given
    cache = caches.on(redis_url)
    keys = [cache.key("ttl", str(i)) for i in range(30)]
    batch = {cache.key("batch", str(i)): b"x" for i in range(5)}
    # when
    for key in keys:
        await get(cache, key, Compute("v"), ttl_s=1000)
    await cache.set_many(batch, ttl_s=1000)
    # then
    ttls = [cast("int", r.pttl(key)) for key in [*keys, *batch]]
    assert all(900_000 - 10_000 <= ttl <= 1_100_000 for ttl in ttls), ttls
    assert len({round(ttl / 1000) for ttl in ttls}) > 1, "no jitter: keys expire together"


async def test_a_value_to_go_sooner_than_memory_keeps_values_goes_on_time(
    caches: Caches, redis_url: str, r: redis.Redis
) -> None:
    # given: memory keeps values a minute; one value is cached for a second only (a list
    # read from a secondary), another for long
    cache = caches.on(redis_url, l1_ttl_s=60.0)
    brief, lasting = cache.key("brief"), cache.key("lasting")
    await get(cache, brief, Compute("v1"), ttl_s=1)
    await get(cache, lasting, Compute("v1"), ttl_s=1000)
    r.delete(lasting)  # what is in memory no longer needs Redis
    # when: its second has passed
    await asyncio.sleep(1.5)
    # then: the brief one is computed again; the lasting one is still served from memory
    assert await get(cache, brief, Compute("v2"), ttl_s=1) == "v2"
    assert await get(cache, lasting, Compute("v2"), ttl_s=1000) == "v1"


# --- fail open ------------------------------------------------------------------------


async def assert_every_call_falls_back_quickly(cache: Cache) -> None:
    """Each operation answers without Redis, never raises, and does not hang."""
    for attempt in range(3):
        start = time.monotonic()
        value = await get(cache, cache.key("k", str(attempt)), Compute("computed"))
        assert value == "computed"
        assert time.monotonic() - start < HANG_BOUND_S

        start = time.monotonic()
        assert await cache.versions(["goals", EPOCH]) is None
        assert time.monotonic() - start < HANG_BOUND_S

        start = time.monotonic()
        bumped = await cache.bump(["goals"])
        assert set(bumped.tokens) == {"goals"}
        assert bumped.replaced == {}  # unknown: Redis did not answer
        assert time.monotonic() - start < HANG_BOUND_S

        start = time.monotonic()
        assert await cache.get_many([cache.key("a", str(attempt)), cache.key("b")]) == {}
        await cache.set_many({cache.key("c", str(attempt)): b"1"}, ttl_s=100)
        assert time.monotonic() - start < HANG_BOUND_S


async def test_a_redis_that_refuses_connections_is_a_miss(caches: Caches) -> None:
    # given
    cache = caches.on(f"redis://127.0.0.1:{unused_port()}/0", timeout_s=0.05, breaker_failures=1000)
    # when / then
    await assert_every_call_falls_back_quickly(cache)


async def test_a_redis_that_never_answers_is_a_miss_within_the_timeout(
    caches: Caches, silent_server: SilentServer
) -> None:
    # given
    cache = caches.on(silent_server.url, timeout_s=0.05, breaker_failures=1000)
    # when / then
    await assert_every_call_falls_back_quickly(cache)
    assert silent_server.received > 0  # the calls did reach the hung server


# --- circuit breaker ------------------------------------------------------------------


async def test_the_breaker_stops_calling_a_hung_redis_then_tries_again_and_recovers(
    caches: Caches, silent_server: SilentServer, redis_server: RedisServer
) -> None:
    # given: (a timeout that the proxied Redis meets on two busy cores)
    cache = caches.on(silent_server.url, timeout_s=0.2, breaker_failures=3, breaker_reset_s=0.2)
    for i in range(3):
        await get(cache, cache.key("k", str(i)), Compute("computed"))
    assert cache.breaker.opened_at is not None
    contacts = silent_server.contacts
    # when: the breaker is open
    start = time.monotonic()
    assert await get(cache, cache.key("k", "open"), Compute("computed")) == "computed"
    assert await cache.versions(["goals"]) is None
    elapsed = time.monotonic() - start
    # then: reads do not touch Redis at all
    assert silent_server.contacts == contacts
    assert elapsed < 0.05
    # when: a write's bump, which other processes depend on
    start = time.monotonic()
    await cache.bump(["goals"])
    # then: it is still tried, within the timeout of each try
    assert silent_server.contacts > contacts
    assert time.monotonic() - start < HANG_BOUND_S
    contacts = silent_server.contacts
    # when: the reset time has passed, one trial goes through, and fails
    await asyncio.sleep(0.25)
    assert await get(cache, cache.key("k", "trial"), Compute("computed")) == "computed"
    # then
    assert silent_server.contacts > contacts
    assert cache.breaker.opened_at is not None
    contacts = silent_server.contacts
    assert await get(cache, cache.key("k", "open"), Compute("computed")) == "computed"
    assert silent_server.contacts == contacts
    # when: Redis answers again at the same address
    silent_server.forward_to = redis_server.port
    await asyncio.sleep(0.25)
    trial = await cache.versions(["goals"])
    # then: the trial succeeds and closes the breaker; the cache works again
    assert trial is not None
    assert cache.breaker.opened_at is None
    assert cache.breaker.failures == 0
    compute = Compute("cached")
    key = cache.key("after")
    assert [await get(cache, key, compute) for _ in range(2)] == ["cached", "cached"]
    assert compute.calls == 1
    with redis_server.client() as r:
        assert r.get(key) == b"cached"


async def test_after_the_reset_time_only_one_call_tries_a_hung_redis(
    caches: Caches, silent_server: SilentServer
) -> None:
    """Half-open means one trial: not every request that arrives meanwhile waits on Redis."""
    # given
    cache = caches.on(silent_server.url, timeout_s=0.05, breaker_failures=3, breaker_reset_s=0.2)
    for i in range(3):
        await get(cache, cache.key("k", str(i)), Compute("computed"))
    assert cache.breaker.opened_at is not None
    await asyncio.sleep(0.25)
    connections = silent_server.connections
    # when: ten requests arrive together
    results = await asyncio.gather(
        *(get(cache, cache.key("k", f"burst{i}"), Compute("computed")) for i in range(10))
    )
    # then
    assert results == ["computed"] * 10
    assert silent_server.connections - connections == 1


async def test_a_timeout_that_fired_late_because_the_process_was_busy_is_not_held_against_redis(
    caches: Caches, silent_server: SilentServer
) -> None:
    # given: a breaker that opens at the first failure
    cache = caches.on(silent_server.url, timeout_s=0.05, breaker_failures=1, breaker_reset_s=60)
    # when: the process holds the CPU (0.3 s) while a call waits for Redis
    asyncio.get_running_loop().call_later(0.01, time.sleep, 0.3)
    assert await get(cache, cache.key("busy"), Compute("computed")) == "computed"
    # then: a miss, but Redis is not blamed for the process's own slowness
    assert cache.breaker.opened_at is None
    # when: the same call times out on an idle process
    assert await get(cache, cache.key("idle"), Compute("computed")) == "computed"
    # then
    assert cache.breaker.opened_at is not None


async def test_the_event_loops_lag_is_added_to_every_timeout(
    caches: Caches, silent_server: SilentServer
) -> None:
    # given: a process whose loop runs 0.3 s late
    cache = caches.on(silent_server.url, timeout_s=0.05, slack=lambda: 0.3)
    # when
    start = time.monotonic()
    assert await get(cache, cache.key("k"), Compute("computed")) == "computed"
    # then: Redis had the timeout and the lag to answer in
    assert time.monotonic() - start >= 0.35


def test_breaker_stays_closed_until_failures_in_a_row() -> None:
    # given
    breaker = CircuitBreaker(failures=3, reset_s=5, clock=FakeClock())
    # when
    breaker.failure("TimeoutError")
    breaker.failure("TimeoutError")
    breaker.success()
    breaker.failure("TimeoutError")
    breaker.failure("TimeoutError")
    # then
    assert breaker.allow()
    assert breaker.opened_at is None
    # when
    breaker.failure("TimeoutError")
    # then
    assert breaker.opened_at is not None
    assert not breaker.allow()


def test_breaker_opens_for_reset_s_then_lets_one_trial_through() -> None:
    # given
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, reset_s=5, clock=clock)
    for _ in range(3):
        breaker.failure("ConnectionError")
    # when / then: open for the whole reset time
    assert breaker.opened_at == 1000.0
    clock.now += 4.99
    assert not breaker.allow()
    # when: the trial fails
    clock.now += 0.01
    assert breaker.allow()
    breaker.failure("ConnectionError")
    # then: open again for a full reset time, from the trial
    assert breaker.opened_at == clock.now
    clock.now += 4.99
    assert not breaker.allow()
    # when: the next trial succeeds
    clock.now += 0.01
    assert breaker.allow()
    breaker.success()
    # then: closed, and it takes `failures` new errors in a row to open it again
    assert breaker.opened_at is None
    assert all(breaker.allow() for _ in range(10))
    breaker.failure("ConnectionError")
    breaker.failure("ConnectionError")
    assert breaker.allow()
    breaker.failure("ConnectionError")
    assert not breaker.allow()


def test_breaker_half_open_admits_a_single_trial() -> None:
    # given
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, reset_s=5, clock=clock)
    for _ in range(3):
        breaker.failure("TimeoutError")
    clock.now += 5
    # when
    trial = breaker.allow()
    during_trial = [breaker.allow() for _ in range(5)]
    # then
    assert trial
    assert during_trial == [False] * 5


# --- missed invalidation and restarts -------------------------------------------------


async def read_until_cached(cache: Cache, user: str, compute: Compute) -> list[str]:
    """Reads as successive requests do, until one is served from the cache (at most 10)."""
    seen: list[str] = []
    for _ in range(10):
        calls = compute.calls
        seen.append(await cached(cache, user, compute))
        if compute.calls == calls:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"the cache never served a value again: {seen}")


async def test_a_bump_missed_while_redis_hung_is_not_served_once_it_answers_again(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: a cached value (the breaker that the bump's failed tries open pauses the
    # cache for a moment only, so that the test sees it used again)
    cache = caches.on(redis_server.url, timeout_s=0.2, breaker_reset_s=0.1)
    assert await cached(cache, "alice", Compute("old")) == "old"
    assert await cached(cache, "alice", Compute("unused")) == "old"
    before = await cache.versions([EPOCH])
    # when: Redis hangs during the write's bump, then answers again with its data
    redis_server.pause()
    try:
        start = time.monotonic()
        await RequestCache(cache, "alice").bump("goals")
        assert time.monotonic() - start < HANG_BOUND_S
    finally:
        redis_server.resume()
    # then
    seen = await read_until_cached(cache, "alice", Compute("new"))
    assert set(seen) == {"new"}
    after = await cache.versions([EPOCH])
    assert after is not None
    assert after != before


async def test_a_write_whose_bump_redis_holds_up_for_a_moment_is_seen_by_another_process(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: two API processes (a Cache each) with the same value cached
    first = caches.on(redis_server.url, timeout_s=0.2)
    second = caches.on(redis_server.url, timeout_s=0.2)
    assert await cached(first, "alice", Compute("old")) == "old"
    assert await cached(second, "alice", Compute("unused")) == "old"
    # when: Redis holds every write for longer than one call may wait (250 ms, ended by
    # its 100 ms cron), while the first process bumps after a write (the MSET times out:
    # nobody knows whether it landed)
    with redis_server.client() as r:
        r.execute_command("CLIENT", "PAUSE", "250", "WRITE")
    start = time.monotonic()
    await RequestCache(first, "alice").bump("goals")
    elapsed = time.monotonic() - start
    # then: once the write has answered, the other process no longer serves the old
    # value (a client's next request may reach either process)
    assert await cached(second, "alice", Compute("new")) == "new"
    assert elapsed < HANG_BOUND_S


async def test_a_bump_while_this_process_paused_redis_reaches_the_other_processes(
    caches: Caches, redis_server: RedisServer
) -> None:
    """Timeouts while this process was busy open its breaker, though Redis answers every
    other process: the write's bump must land all the same, or they serve the old value."""
    # given: two API processes with the same value cached; the first one's breaker open
    first = caches.on(redis_server.url, timeout_s=0.2, breaker_failures=3, breaker_reset_s=60)
    second = caches.on(redis_server.url, timeout_s=0.2)
    assert await cached(first, "alice", Compute("old")) == "old"
    assert await cached(second, "alice", Compute("unused")) == "old"
    for _ in range(3):
        first.breaker.failure("TimeoutError")
    assert not first.breaker.allow()
    # when: the first process answers a write
    await RequestCache(first, "alice").bump("goals")
    # then: the other process no longer serves the old value
    assert await cached(second, "alice", Compute("new")) == "new"


async def test_a_bump_this_process_could_not_make_is_made_for_the_others_once_redis_answers(
    caches: Caches, redis_server: RedisServer, silent_server: SilentServer
) -> None:
    # given: a value another API process has cached; this process's Redis hangs (its
    # connections go through a proxy that never answers)
    first = caches.on(silent_server.url, timeout_s=0.1)
    second = caches.on(redis_server.url, timeout_s=0.1)
    assert await cached(second, "alice", Compute("old")) == "old"
    # when: it answers a write whose bump (and new epoch) Redis never got; then its
    # connections reach Redis again, and it has no request to make meanwhile
    await RequestCache(first, "alice").bump("goals")
    silent_server.forward_to = redis_server.port
    await asyncio.sleep(1.0)
    # then: the other process no longer serves the old value
    assert await cached(second, "alice", Compute("new")) == "new"


async def test_once_a_read_has_written_the_new_epoch_the_retiring_task_writes_no_other(
    caches: Caches,
    redis_server: RedisServer,
    silent_server: SilentServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another epoch would retire, once more, everything cached since Redis came back."""
    # given: a bump this process could not make (its Redis hung), so a task waits to
    # write a new epoch
    monkeypatch.setattr(store, "RETIRE_RETRY_S", 1.0)  # time for the read to come first
    cache = caches.on(silent_server.url, timeout_s=0.1, breaker_failures=1000)
    await RequestCache(cache, "alice").bump("goals")
    # when: Redis answers again, and a request's read writes the new epoch before the
    # task wakes
    silent_server.forward_to = redis_server.port
    epoch = None
    while epoch is None:
        epoch = await cache.versions([EPOCH])
    await asyncio.sleep(1.3)
    # then: the epoch is the one the read wrote
    assert await cache.versions([EPOCH]) == epoch


async def test_a_bump_missed_while_redis_was_down_is_not_served_when_it_restarts_with_old_data(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: a cached value, saved to disk with its version (the breaker that the bump's
    # failed tries open pauses the cache for a moment only)
    cache = caches.on(redis_server.url, timeout_s=0.2, breaker_reset_s=0.1)
    assert await cached(cache, "alice", Compute("old")) == "old"
    before = await cache.versions([EPOCH])
    with redis_server.client() as r:
        r.save()
        old_keys = set(r.keys("*"))
    # when: Redis dies, the write's bump fails, Redis comes back with the old data
    redis_server.kill()
    await RequestCache(cache, "alice").bump("goals")
    redis_server.start()
    with redis_server.client() as r:
        assert set(r.keys("*")) == old_keys
    # then: a new epoch retired every entry before the cache was used again
    seen = await read_until_cached(cache, "alice", Compute("new"))
    assert set(seen) == {"new"}
    after = await cache.versions([EPOCH])
    assert after is not None
    assert after != before


async def test_redis_restarted_empty_never_brings_back_an_old_version(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: a value in this process's memory
    cache = caches.on(redis_server.url, timeout_s=0.2)
    scopes = [EPOCH, "u:alice:goals"]
    before = await cache.versions(scopes)
    assert await cached(cache, "alice", Compute("old")) == "old"
    in_memory = set(cache.l1.keys())
    # when
    redis_server.kill()
    redis_server.start(empty=True)
    # then
    seen = await read_until_cached(cache, "alice", Compute("new"))
    assert set(seen) == {"new"}
    after = await cache.versions(scopes)
    assert before is not None
    assert after is not None
    assert all(after[s] != before[s] for s in scopes)
    assert in_memory <= set(cache.l1.keys())  # the old entry is still there, never served


async def test_redis_restarted_from_a_snapshot_older_than_a_bump_does_not_serve_retired_values(
    caches: Caches, redis_server: RedisServer
) -> None:
    """A Redis that persists (RDB or AOF) and restarts loses the writes since its last save:
    here the new version of a bumped scope, so the retired token and value come back."""
    # given: a cached value, snapshotted; then a write bumps its scope (Redis acknowledges)
    cache = caches.on(redis_server.url, timeout_s=0.2)
    assert await cached(cache, "alice", Compute("old")) == "old"
    with redis_server.client() as r:
        r.save()
    await RequestCache(cache, "alice").bump("goals")
    assert await cached(cache, "alice", Compute("new")) == "new"
    # when: Redis crashes before its next snapshot and restarts from the last one
    redis_server.kill()
    redis_server.start()
    cache.l1.clear()
    # then
    seen = await read_until_cached(cache, "alice", Compute("new"))
    assert set(seen) == {"new"}, "the value retired by the bump is served again"


# --- metrics --------------------------------------------------------------------------


async def test_lookups_are_counted_by_level_and_result(
    caches: Caches, redis_url: str, r: redis.Redis
) -> None:
    # given
    cache = caches.on(redis_url)
    down = caches.on(f"redis://127.0.0.1:{unused_port()}/0", timeout_s=0.05)
    key = cache.key("counted")
    # when / then: cold
    before = metrics()
    await get(cache, key, Compute("v"))
    assert moved(before) == {("l1", "miss"): 1, ("l2", "miss"): 1}
    # when / then: warm in memory
    before = metrics()
    await get(cache, key, Compute("v"))
    assert moved(before) == {("l1", "hit"): 1}
    # when / then: only in Redis
    cache.l1.clear()
    before = metrics()
    await get(cache, key, Compute("v"))
    assert moved(before) == {("l1", "miss"): 1, ("l2", "hit"): 1}
    # when / then: Redis down
    before = metrics()
    await get(down, key, Compute("v"))
    assert moved(before) == {("l1", "miss"): 1, ("l2", "error"): 1}
    # when / then: a batch with one key in memory, one only in Redis, one nowhere
    in_redis = cache.key("batch", "redis")
    r.set(in_redis, b"x", ex=100)
    before = metrics()
    found = await cache.get_many([key, in_redis, cache.key("batch", "none")])
    assert set(found) == {key, in_redis}
    assert moved(before) == {
        ("l1", "hit"): 1,
        ("l1", "miss"): 2,
        ("l2", "hit"): 1,
        ("l2", "miss"): 1,
    }
    # when / then: a batch while Redis is down
    before = metrics()
    assert await down.get_many([cache.key("a"), cache.key("b")]) == {}
    assert moved(before) == {("l1", "miss"): 2, ("l2", "error"): 2}


# --- per-user isolation ---------------------------------------------------------------


async def test_users_never_share_a_key_and_a_bump_retires_only_its_own_user(
    caches: Caches, redis_url: str, prefix: str, r: redis.Redis
) -> None:
    # given
    cache = caches.on(redis_url)
    alice_compute, bob_compute = Compute("alice's goals"), Compute("bob's goals")
    # when
    alice_first = await cached(cache, "alice", alice_compute)
    bob_first = await cached(cache, "bob", bob_compute)
    # then
    assert (alice_first, bob_first) == ("alice's goals", "bob's goals")
    alice_tokens = await RequestCache(cache, "alice").tokens(["goals"])
    bob_tokens = await RequestCache(cache, "bob").tokens(["goals"])
    assert alice_tokens is not None
    assert bob_tokens is not None
    alice_key = RequestCache(cache, "alice").key("goals", alice_tokens)
    bob_key = RequestCache(cache, "bob").key("goals", bob_tokens)
    assert alice_key != bob_key
    assert "{u:alice}:" in alice_key
    assert "{u:bob}:" in bob_key
    stored = {k.decode() for k in r.scan_iter(match=f"{prefix}{{u:*")}
    assert stored == {alice_key, bob_key}
    alice_version, bob_version = cast(
        "list[bytes | None]", r.mget(f"{prefix}v:{{u:alice}}:goals", f"{prefix}v:{{u:bob}}:goals")
    )
    assert alice_version is not None
    assert bob_version is not None
    assert alice_version != bob_version
    # when
    await RequestCache(cache, "bob").bump("goals")
    cache.l1.clear()  # and from Redis, not only from this process's memory
    # then
    assert await cached(cache, "alice", alice_compute) == "alice's goals"
    assert alice_compute.calls == 1
    assert await cached(cache, "bob", Compute("bob's new goals")) == "bob's new goals"


# --- batching -------------------------------------------------------------------------


async def test_misses_of_one_moment_share_one_read_and_one_write(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: a Redis of this test's own (its command counts are this test's) and a
    # value already in it; what a page's fields ask for at once
    cache = caches.on(redis_server.url)
    keys = [cache.key("value", str(i)) for i in range(8)]
    client = redis_server.client()
    client.set(keys[0], b"stored")
    client.config_resetstat()
    computes = [Compute(f"v{i}") for i in range(8)]

    # when
    values = await asyncio.gather(*(get(cache, k, c) for k, c in zip(keys, computes, strict=True)))

    # then: each caller has its own answer, the stored one read, the others computed once
    assert values == ["stored", *(f"v{i}" for i in range(1, 8))]
    assert [c.calls for c in computes] == [0] + [1] * 7
    # and Redis saw one MGET and one batch of SETs (not a GET and a SET per key)
    stats = cast("dict[str, Any]", client.info("commandstats"))
    assert stats["cmdstat_mget"]["calls"] == 1
    assert "cmdstat_get" not in stats
    assert stats["cmdstat_set"]["calls"] == 7
    assert [client.get(k) for k in keys] == [b"stored", *(f"v{i}".encode() for i in range(1, 8))]
    assert all(0 < cast("int", client.ttl(k)) <= 1100 for k in keys[1:])
    client.close()


async def test_a_caller_whose_versions_are_in_two_batches_is_answered_whichever_ends_first(
    caches: Caches, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a request whose read of one scope's version is on its way and slow (held
    # until released), as two habits' scores read theirs at once in a re-plan
    cache = caches.on(redis_url)
    release = asyncio.Event()
    versions = cache.versions

    async def slow(scopes: list[str]) -> Any:
        if any(scope.endswith(":slow") for scope in scopes):
            await release.wait()
        return await versions(scopes)

    monkeypatch.setattr(cache, "versions", slow)
    for _ in range(20):  # which batch a caller waits on first is the set's order
        release.clear()
        request = RequestCache(cache, "alice")
        first = asyncio.ensure_future(request.tokens(["slow"]))
        for _ in range(3):
            await asyncio.sleep(0)  # its batch sent, its read waiting
        # when: a caller needs that version and another one, whose batch ends first
        second = asyncio.ensure_future(request.tokens(["slow", "fast"]))
        await asyncio.sleep(0.02)
        release.set()
        # then: both are answered, with the same version of the slow scope
        one, two = await asyncio.wait_for(asyncio.gather(first, second), HANG_BOUND_S)
        assert one is not None
        assert two is not None
        assert one[1] == two[1]


async def test_a_batch_that_redis_does_not_answer_is_a_miss_for_each_caller(
    caches: Caches, silent_server: SilentServer
) -> None:
    # given: a Redis that accepts connections and never answers
    cache = caches.on(silent_server.url, timeout_s=0.2)
    keys = [cache.key("value", str(i)) for i in range(3)]
    computes = [Compute(f"v{i}") for i in range(3)]

    # when
    started = time.monotonic()
    values = await asyncio.gather(*(get(cache, k, c) for k, c in zip(keys, computes, strict=True)))

    # then: every caller got its computed value, none waited on
    assert values == ["v0", "v1", "v2"]
    assert time.monotonic() - started < HANG_BOUND_S


async def test_a_request_reads_the_versions_its_user_read_lately_in_one_round_trip(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: a Redis of this test's own; a first request of alice that found, one after
    # the other, the scopes of her goal, then of its habit (as a Dashboard finds them)
    cache = caches.on(redis_server.url)
    first = RequestCache(cache, "alice")
    first.prefetch("goals")
    await first.tokens(["goals"])
    await first.tokens(["goal:g1"])
    await first.tokens(["habit:h1"])
    client = redis_server.client()
    client.config_resetstat()

    # when: her next request reads the same scopes in the same order
    second = RequestCache(cache, "alice")
    second.prefetch("goals")
    tokens = [await second.tokens([s]) for s in ("goals", "goal:g1", "habit:h1")]

    # then: one MGET read them all; the tokens are the first request's
    stats = cast("dict[str, Any]", client.info("commandstats"))
    assert stats["cmdstat_mget"]["calls"] == 1
    assert tokens == [await first.tokens([s]) for s in ("goals", "goal:g1", "habit:h1")]
    # and the answer is cached under what it read, not under what was fetched ahead
    bob = RequestCache(cache, "bob")
    bob.prefetch("goals")
    await bob.tokens(["goals"])
    assert not any("goal:" in name or "habit:" in name for name in bob.read)
    # and a bump between two requests is seen by the next one
    await RequestCache(cache, "alice").bump("habit:h1")
    third = RequestCache(cache, "alice")
    third.prefetch("goals")
    assert await third.tokens(["habit:h1"]) != tokens[2]
    client.close()


async def test_a_value_under_the_version_a_write_just_made_is_computed_without_a_read(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: a check-in's request, which has just bumped its habit (as every write does)
    cache, other = caches.on(redis_server.url), caches.on(redis_server.url)
    request = RequestCache(cache, "alice")
    await request.tokens(["habit:h1"])
    await request.bump("habit:h1")
    client = redis_server.client()
    client.config_resetstat()
    compute = Compute("streak 1")

    # when: the same request shows what it wrote (the habit's new streak)
    value = await request.cached("stats", ["habit:h1"], 1000, compute, JSON)

    # then: computed, not looked for in Redis (nothing can be there yet), but stored
    stats = cast("dict[str, Any]", client.info("commandstats"))
    assert (value, compute.calls) == ("streak 1", 1)
    assert "cmdstat_mget" not in stats
    assert "cmdstat_get" not in stats
    assert stats["cmdstat_set"]["calls"] == 1
    # and another process's next request reads it from Redis
    again = Compute("computed again")
    assert await RequestCache(other, "alice").cached("stats", ["habit:h1"], 1000, again, JSON) == (
        "streak 1"
    )
    assert again.calls == 0
    client.close()


async def test_versions_a_request_learned_are_not_read_again(
    caches: Caches, redis_server: RedisServer
) -> None:
    # given: the versions of what a stored answer showed, read to find it stale
    cache = caches.on(redis_server.url)
    first = RequestCache(cache, "alice")
    await first.tokens(["goals", "habit:h1"])
    await RequestCache(cache, "alice").bump("habit:h1")
    names = list(first.read)
    current = await cache.versions(names)
    assert current is not None
    assert current != first.read
    client = redis_server.client()
    client.config_resetstat()

    # when: the request that makes the answer again is told them, and reads them
    second = RequestCache(cache, "alice")
    second.learn(current)
    second.prefetch("goals")
    tokens = await second.tokens(["goals", "habit:h1"])

    # then: no round trip, and the habit's version is the new one
    assert "cmdstat_mget" not in cast("dict[str, Any]", client.info("commandstats"))
    assert tokens == [current[name] for name in names]
    assert dict(zip(names, tokens or [], strict=True)) == second.read
    client.close()


@pytest.fixture
async def replies(redis_url: str) -> AsyncIterator[redis_clients.Replies]:
    """The cache's own connections to Redis (`Replies`), over a client of their own."""
    client = redis.asyncio.Redis.from_url(redis_url)
    own = redis_clients.Replies(client)
    try:
        yield own
    finally:
        await own.aclose()
        await client.aclose()


async def test_a_reply_that_comes_after_its_caller_gave_up_never_answers_another_call(
    replies: redis_clients.Replies, prefix: str, r: redis.Redis
) -> None:
    # given: the cache's own connections to Redis; a command whose reply is held back
    # (BLPOP on an empty list) and given up by its caller's timeout
    r.set(f"{prefix}value", b"mine")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await replies.send(("BLPOP", f"{prefix}list", "5"))

    # when: the held-back reply becomes due, and the next command is sent
    r.rpush(f"{prefix}list", b"late")
    found = await replies.send(("GET", f"{prefix}value"))

    # then: the next command gets its own reply, not the one its caller gave up on
    assert found == [b"mine"]


async def test_a_connection_redis_closed_while_idle_is_replaced_and_the_next_call_answered(
    replies: redis_clients.Replies, prefix: str, r: redis.Redis
) -> None:
    # given: the cache's own connection to Redis, idle after a first call
    r.set(f"{prefix}value", b"mine")
    [first] = await replies.send(("CLIENT", "ID"))
    # when: Redis closes it (a restart, a timeout, CLIENT KILL)
    assert r.client_kill_filter(_id=first) == 1
    await asyncio.sleep(0.05)
    # then: the next call is answered, on a new connection
    value, second = await replies.send(("GET", f"{prefix}value"), ("CLIENT", "ID"))
    assert value == b"mine"
    assert second != first


async def test_an_error_reply_raises_and_the_connection_answers_the_next_call(
    replies: redis_clients.Replies, prefix: str, r: redis.Redis
) -> None:
    # given: the cache's own connection to Redis, and a key that holds a list
    r.rpush(f"{prefix}list", b"x")
    r.set(f"{prefix}value", b"mine")
    await replies.send(("CLIENT", "SETNAME", f"{prefix}errors"))
    # when: a command of the batch is refused (GET of a list)
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        await replies.send(("GET", f"{prefix}value"), ("GET", f"{prefix}list"))
    # then: the next call is answered on the same connection (all replies were read)
    assert await replies.send(("GET", f"{prefix}value"), ("CLIENT", "GETNAME")) == [
        b"mine",
        f"{prefix}errors".encode(),
    ]


def test_a_client_that_speaks_resp3_uses_redis_pys_own_connections(redis_url: str) -> None:
    # RESP3 replies are parsed by redis-py; the cache's own connections read RESP2.
    assert redis_clients.Replies.serve(redis.asyncio.Redis.from_url(redis_url))
    assert not redis_clients.Replies.serve(redis.asyncio.Redis.from_url(redis_url, protocol=3))
    cluster = redis_clients.ClusterClient(host="127.0.0.1", port=1)
    assert not redis_clients.Replies.serve(cluster)


async def test_the_memory_the_l1_holds_is_about_the_length_it_counts(
    caches: Caches, redis_url: str
) -> None:
    # The L1 is bounded by its values' lengths (CACHE_L1_MB). orjson (3.12 and later)
    # hands back a 600-byte JSON in a buffer of 4 KB or more, never trimmed: kept as it
    # came, each value held several times what the bound counted.
    cache = caches.on(redis_url)
    values = [{"title": f"Goal {i}", "notes": "x" * 500} for i in range(200)]

    async def fill() -> None:
        for i, value in enumerate(values[:100]):  # computed here
            key = cache.key("held", str(i))
            await cache.get_or_compute(key, 1000, _returning(value), JSON.encode, JSON.decode)
        # stored as made elsewhere (a page's weeks, a held value)
        await cache.set_many(
            {cache.key("held", str(i)): JSON.encode(v) for i, v in enumerate(values)}, 1000
        )

    tracemalloc.start()
    try:
        await fill()
        counted = sum(map(len, cache.l1.values()))
        gc.collect()  # what filling left to collect is not the L1's
        with_values = tracemalloc.get_traced_memory()[0]
        cache.l1.clear()
        gc.collect()
        held = with_values - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(values) * 500 < counted
    # what the L1 holds beyond its values: its keys and bookkeeping, ~250 bytes each
    assert held < counted + len(values) * 500, (held, counted)


def _returning(value: Any) -> Callable[[], Awaitable[Any]]:
    async def compute() -> Any:
        return value

    return compute


async def test_each_connection_names_the_client_library_which_is_looked_up_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a client made before (the process has named its library once), and the
    # package metadata's reads counted from now on (redis-py reads it for each
    # connection it is not told about)
    await redis_clients.connect(redis_url, cluster=False).aclose()
    looked_up: list[str] = []
    real = importlib.metadata.version

    def version(name: str) -> str:
        looked_up.append(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    # when: two more clients open connections of their own
    clients = [redis_clients.connect(redis_url, cluster=False) for _ in range(2)]
    try:
        infos = [await client.client_info() for client in clients]
        server = await clients[0].info("server")
    finally:
        for client in clients:
            await client.aclose()
    # then: the metadata was not read again for either; and Redis is told the library and its
    # version on each (CLIENT LIST shows them to an operator; Redis 7.2 and later)
    assert looked_up == []
    if tuple(int(p) for p in str(server["redis_version"]).split(".")[:2]) >= (7, 2):
        named = [(i["lib-name"], i["lib-ver"]) for i in infos]
        assert named == [("redis-py", redis.__version__)] * 2

"""Two-level cache: a small in-process LRU (L1) in front of Redis (L2).

Values live under versioned keys. Every scope a value depends on (a user's goal
list, one habit's check-ins, one calendar's events, ...) has a version token in
Redis; a write replaces the token, so invalidation is one O(1) `SET` and stale
entries are never read again, in this process or any other. Version tokens are
random, so a Redis that restarts empty cannot bring an old version back.

Redis slow or down is a miss, never a failed request: every call is bounded by
a short timeout, and a circuit breaker stops reads for a few seconds after
repeated failures. A write's invalidation is tried again before the write answers
(another process may serve the client's next request), the breaker open or not;
if it still could not be written, a new global epoch (which retires every entry
everywhere) is written at once or, failing that, as soon as Redis takes it (tried
in the background); until one has been, the cache stays off in this process.

On a Redis Cluster every key of a user's carries the hash tag `{u:<id>}` (`user_tag`):
the user's versions and values sit in one slot, so one MGET reads them; the epoch
and `shared:` scopes live in slots of their own and are read alongside (one MGET
per slot, one round trip per node). The epoch names the run of every master: a
failover (whose new master may lack the last writes, invalidations included)
retires every entry, as a restarted Redis does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from prometheus_client import Counter
from redis.asyncio import Redis

from graphql_api import eager, redis_clients
from graphql_api.cache.scopes import WEEK_SCOPE
from graphql_api.memo import Expiring, kept
from graphql_api.redis_clients import AnyRedis

log = logging.getLogger(__name__)
T = TypeVar("T")

CACHE_REQUESTS = Counter(
    "cache_requests", "Field cache lookups by level and result", ["level", "result"]
)


@cache
def lookups(level: str, result: str) -> Counter:
    """The labelled count, looked up once: `labels()` takes a lock and a dozen calls, and
    the caches count every lookup of every request."""
    return CACHE_REQUESTS.labels(level, result)


EPOCH = "epoch"
RUN_ID_RECHECK_S = 5.0
# Tries of a write's bump before it answers without it (graphql_api.cache.store.Cache.bump).
BUMP_ATTEMPTS = 2
# Then a new epoch is tried this often until one lands (Cache._retire_all).
RETIRE_RETRY_S = 0.1
# The scopes of one calendar's events in one week (graphql_api.cache.scopes.week_scope)
# are one per calendar and week read, where the others are a few per user: their
# versions expire. A version gone is claimed anew, which retires only what was cached
# under it.
WEEK_VERSION_TTL_S = 7 * 86_400


def user_tag(user_id: str) -> str:
    """`{u:<id>}`, the start of every scope and key of a user's: its hash tag on a Redis
    Cluster, so everything of one user's is in one slot."""
    return f"{{u:{user_id}}}"


def _expiry(scope: str) -> int | None:
    """How long a version of `scope` (a full name, `{u:<id>}:<name>`) is kept: None, for
    as long as Redis keeps it, except a week's scope."""
    return WEEK_VERSION_TTL_S if scope.partition("}:")[2].startswith(WEEK_SCOPE) else None


@dataclass
class _Deferred:
    """The values a request stores, held until it has answered (`Cache.deferring`)."""

    writes: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    open: bool = True


# The writes of the block running (its tasks' too: they copy the context), if it defers.
_DEFERRED: ContextVar[_Deferred | None] = ContextVar("cache_deferred_writes", default=None)


@dataclass(frozen=True)
class Bumped:
    """What a bump did: each scope's new version, and (where known) the one it replaced."""

    tokens: dict[str, str]
    replaced: dict[str, str | None]


class Tokens(dict[str, str]):
    """Scopes' versions, and which of them the read that found them made (`minted`: a
    scope had none, and this process's claim was the first): nothing can be cached
    under those yet but what another process stored in the moment since, so a value
    under one is computed without asking Redis for it (and stored as always)."""

    def __init__(self, tokens: dict[str, str], minted: frozenset[str] = frozenset()) -> None:
        super().__init__(tokens)
        self.minted = minted


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = True
    prefix: str = "scheduling:"
    l1_bytes: int = 32 * 2**20  # what L1's values may hold in all, per process
    l1_ttl_s: float = 60.0
    timeout_s: float = 0.05
    breaker_failures: int = 3
    breaker_reset_s: float = 5.0
    jitter: float = 0.1


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class Unavailable(Exception):
    """Redis did not answer in time (or the breaker is open): treat as a miss."""


class CircuitBreaker:
    """Closed until `failures` errors in a row; then open for `reset_s`, then one trial."""

    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic):
        self.threshold = failures
        self.reset_s = reset_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if not self.trial and self.clock() - self.opened_at >= self.reset_s:
            self.trial = True  # half-open: exactly one call finds out
            return True
        return False

    def success(self) -> None:
        if self.opened_at is not None:
            log.info("cache: Redis answers again; caching resumes")
        self.failures = 0
        self.opened_at = None
        self.trial = False

    def failure(self, reason: str) -> None:
        self.failures += 1
        self.trial = False
        if self.failures >= self.threshold:
            if self.opened_at is None:
                log.warning(
                    "cache: Redis unavailable (%s); serving without cache for %g s",
                    reason,
                    self.reset_s,
                )
            self.opened_at = self.clock()

    def abandon(self) -> None:
        """The trial was cancelled before it knew: let the next call try."""
        self.trial = False


class Cache:
    def __init__(
        self,
        redis: AnyRedis | None,
        config: CacheConfig,
        slack: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`slack()` is added to every call's timeout: the process's own event-loop lag
        (graphql_api.observability.loop), which is no fault of Redis's."""
        self.redis = redis
        self.config = config
        self.slack = slack
        # Bounded by the bytes it holds, not by entries: a whole Dashboard answer and a
        # streak are one entry each, some 10,000 times apart.
        self.l1: Expiring[str, bytes] = Expiring(config.l1_bytes, config.l1_ttl_s, len)
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        # L2 reads and writes of values asked for in one turn of the event loop, sent
        # together (one MGET, one pipeline of SETs) at the end of that turn.
        self._reads: dict[str, asyncio.Future[Any]] | None = None
        self._writes: dict[str, tuple[bytes, int]] | None = None
        self._written: asyncio.Future[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._epoch_stale = False
        self._retiring: asyncio.Future[None] | None = None  # `_retire_all`, while it runs
        self._run_id: str | None = None
        self._run_id_at = 0.0
        # Whether a read of versions claims the missing ones (`_mget_claiming`): Redis 7.0
        # or later (`SET NX GET`), known from the run id's INFO.
        self._claims_in_read = False
        # The hot path's round trips on connections of the cache's own (one Redis).
        self._replies = redis_clients.Replies(redis) if redis_clients.Replies.serve(redis) else None
        if isinstance(redis, Redis):
            # Every (re)connection may be to a restarted Redis: look at its run id again.
            # (A cluster client has a pool per node; there an error or the periodic
            # recheck looks again.)
            pool = redis.connection_pool
            make = pool.make_connection

            def hooked() -> Any:
                connection = make()  # type: ignore[no-untyped-call]
                connection.register_connect_callback(self._connected)
                return connection

            pool.make_connection = hooked  # type: ignore[method-assign]

    def _connected(self, connection: object) -> None:
        self._run_id = None

    @property
    def enabled(self) -> bool:
        return self.config.enabled and self.redis is not None

    def disabled(self) -> Cache:
        """The same cache switched off: the uncached reference in tests and benchmarks."""
        return Cache(None, self.config, self.slack)

    def key(self, *parts: str) -> str:
        return self.config.prefix + ":".join(parts)

    async def _call(self, op: Callable[[AnyRedis], Awaitable[T]], *, retires: bool = False) -> T:
        """One bounded Redis call; `Unavailable` when Redis is off, slow or failing.

        `retires`: the call retires what other processes may still serve (a write's
        bump, a new epoch). It is made even while the breaker is open: the breaker
        spares reads the wait on a Redis that failed here, but a Redis that failed only
        for this process (timeouts while it was busy) still answers every other one,
        which would serve what the write changed until its bump lands. Bounded by the
        timeout all the same; one made past the open breaker that fails leaves it as it
        is (the pause is not made longer), one that succeeds closes it."""
        if eager.starting():
            # Its timeout cancels the task running it: the task that will carry on the
            # coroutine started at once, not the caller's (graphql_api.eager).
            return await asyncio.ensure_future(self._call(op, retires=retires))
        if self.redis is None:
            raise Unavailable
        past_breaker = not self.breaker.allow()
        if past_breaker:
            if isinstance(self.redis, redis_clients.ClusterClient):
                # Paused after failures: where did the failed node's slots go? The trial
                # that ends the pause then asks the new master.
                self.redis.read_layout_again()
            if not retires:
                raise Unavailable
        budget = self.config.timeout_s + self.slack()
        started = time.monotonic()
        try:
            # asyncio.timeout, not wait_for: no task of its own per call (3.11's wait_for
            # wraps the call in one, a measurable part of a cached answer's time).
            async with asyncio.timeout(budget):
                result = await op(self.redis)
        except TimeoutError as e:
            # A timer that fired well after its time says the process had no CPU for
            # it (a burst of work, the machine's other load): Redis may have answered
            # long ago. A miss, but no count against Redis.
            if time.monotonic() - started - budget < budget / 2 and not past_breaker:
                self.breaker.failure("TimeoutError")
            self._run_id = None
            raise Unavailable from e
        except redis_clients.FAILURES as e:
            if not past_breaker:
                self.breaker.failure(type(e).__name__)
            self._run_id = None  # a restart is one reason: look again before trusting
            raise Unavailable from e
        except asyncio.CancelledError:
            if not past_breaker:
                self.breaker.abandon()
            raise
        self.breaker.success()
        return result

    async def _mget(self, keys: list[str]) -> list[Any]:
        """MGET through `_call`: on one Redis over the cache's own connections."""
        replies = self._replies
        if replies is None:
            return await self._call(lambda r: redis_clients.mget(r, keys))
        found: list[Any] = (await self._call(lambda r: replies.send(("MGET", *keys))))[0]
        return found

    async def _set_versions(self, tokens: dict[str, str]) -> dict[str, str | None]:
        """Sets these scopes' versions through `_call`, those of weeks to expire, in one
        round trip; returns the version each replaced (SET ... GET), None where none."""
        keys = {scope: self.key("v", scope) for scope in tokens}
        replies = self._replies
        if replies is None:

            async def write(r: AnyRedis) -> list[Any]:
                pipe = r.pipeline(transaction=False)
                for scope, token in tokens.items():
                    pipe.set(keys[scope], token, ex=_expiry(scope), get=True)
                return await pipe.execute()

            found = await self._call(write, retires=True)
        else:
            commands = [
                (
                    "SET",
                    keys[scope],
                    token,
                    *(("EX", ttl) if (ttl := _expiry(scope)) else ()),
                    "GET",
                )
                for scope, token in tokens.items()
            ]
            found = await self._call(lambda r: replies.send(*commands), retires=True)
        return {s: _bytes(v).decode() if v else None for s, v in zip(tokens, found, strict=True)}

    async def aclose(self) -> None:
        """Closes the cache's connections (the client's and its own)."""
        if self._retiring is not None:
            self._retiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retiring
        if self._replies is not None:
            await self._replies.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    # --- versions ----------------------------------------------------------

    async def versions(self, scopes: list[str]) -> Tokens | None:
        """The current token of each scope; None when the cache must not be used now.

        The epoch's token names the Redis run it was written in: a Redis that
        restarted (empty, or from a snapshot older than some invalidations)
        gets a new epoch before anything in it is trusted.
        """
        tokens, _ = await self.versions_along(scopes, [])
        return tokens

    async def versions_along(
        self, scopes: list[str], keys: list[str]
    ) -> tuple[Tokens | None, dict[str, bytes]]:
        """The versions of `scopes` (as `versions`), and whatever of `keys` is cached:
        from L1, else read in the same MGET as the versions (one round trip for both)."""
        found: dict[str, bytes] = {}
        if not self.enabled:
            return None, found
        for key in keys:
            if (raw := self.l1.get(key)) is not None:
                found[key] = raw
        rest = [key for key in keys if key not in found]
        try:
            run_id = await self._server_run()
            every = [*rest, *(self.key("v", scope) for scope in scopes)]
            proposed: dict[str, str] | None = None
            if self._replies is not None and self._claims_in_read and every:
                # What is missing is claimed in the same round trip (the epoch apart: it
                # is written below); a version found as proposed was made here.
                fresh = secrets.token_hex(8 * len(scopes))
                proposed = {s: fresh[16 * i : 16 * (i + 1)] for i, s in enumerate(scopes)}
                proposed.pop(EPOCH, None)
                claims = [(proposed.get(s, ""), _expiry(s) or 0) for s in scopes]
                replies = await self._mget_claiming(every, claims)
            else:
                replies = await self._mget(every)
            if self._run_id is None:  # that call had to reconnect: a restart, maybe
                run_id = await self._server_run()
            for key, value in zip(rest, replies, strict=False):
                if value is not None:
                    found[key] = self.l1[key] = _bytes(value)
            versions = replies[len(rest) :]
            tokens = {s: _bytes(v).decode() for s, v in zip(scopes, versions, strict=True) if v}
            epoch = tokens.get(EPOCH)
            if EPOCH in scopes and (
                self._epoch_stale or epoch is None or not epoch.startswith(f"{run_id}:")
            ):
                tokens[EPOCH] = await self._new_epoch(run_id)
            minted: frozenset[str] = frozenset()
            if proposed is not None:  # what was missing is claimed already
                minted = frozenset(t for s, t in tokens.items() if proposed.get(s) == t)
                return Tokens(tokens, minted), found
            missing = {s: secrets.token_hex(8) for s in scopes if s not in tokens}
            if missing:
                claimed = await self._claim(missing)
                tokens.update(claimed)
                minted = frozenset(t for s, t in claimed.items() if t == missing[s])
        except Unavailable:
            lookups("versions", "error").inc()  # the request goes uncached
            return None, found
        return Tokens(tokens, minted), found

    async def _server_run(self, *, retires: bool = False) -> str:
        """The Redis server's run id (it changes with every restart), looked up every few s."""
        now = time.monotonic()
        if self._run_id is None or now - self._run_id_at > RUN_ID_RECHECK_S:
            run_id, version = await self._call(redis_clients.server_run, retires=retires)
            self._run_id, self._run_id_at = run_id, now
            self._claims_in_read = version >= (7, 0)
            return run_id
        return self._run_id

    async def _new_epoch(self, run_id: str) -> str:
        token = f"{run_id}:{secrets.token_hex(8)}"
        await self._call(lambda r: r.set(self.key("v", EPOCH), token), retires=True)
        if self._epoch_stale:
            log.info("cache: new epoch after a missed invalidation; every entry retired")
        self._epoch_stale = False
        return token

    async def _mget_claiming(self, keys: list[str], claims: list[tuple[str, int]]) -> list[Any]:
        """`keys` read on one Redis (7.0 or later) over the cache's own connections, the
        last ones, versions, claimed in the same round trip where missing (where a read
        and then `_claim` took two): each set to its token in `claims` unless one is
        there (`SET NX GET`: processes that read a new scope at once agree on its
        token), and kept for its seconds where above 0; read only where it has no token.
        What it finds, a claimed version's token where there was none."""
        replies = self._replies
        if replies is None:
            raise Unavailable  # only called on one Redis
        first = len(keys) - len(claims)
        read = [i for i in range(len(keys)) if i < first or not claims[i - first][0]]
        claimed = [i for i in range(first, len(keys)) if claims[i - first][0]]
        commands: list[tuple[Any, ...]] = [("MGET", *(keys[i] for i in read))] if read else []
        for i in claimed:
            token, ttl = claims[i - first]
            commands.append(("SET", keys[i], token, "NX", "GET", *(("EX", ttl) if ttl else ())))
        sent = await self._call(lambda r: replies.send(*commands))
        found: list[Any] = [None] * len(keys)
        for i, value in zip(read, sent[0] if read else (), strict=True):
            found[i] = value
        for i, value in zip(claimed, sent[1:] if read else sent, strict=True):
            found[i] = claims[i - first][0] if value is None else value
        return found

    async def _claim(self, fresh: dict[str, str]) -> dict[str, str]:
        """Sets tokens for scopes that have none; whichever process was first wins."""

        keys = {scope: self.key("v", scope) for scope in fresh}
        replies = self._replies
        if replies is not None:
            sets = [
                ("SET", keys[scope], token, "NX", *(("EX", ttl) if (ttl := _expiry(scope)) else ()))
                for scope, token in fresh.items()
            ]
            gets = [("GET", key) for key in keys.values()]
            values = (await self._call(lambda r: replies.send(*sets, *gets)))[len(fresh) :]
            return {scope: _bytes(v).decode() for scope, v in zip(fresh, values, strict=True)}

        async def claim(r: AnyRedis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            for scope, token in fresh.items():
                pipe.set(keys[scope], token, nx=True, ex=_expiry(scope))
            for key in keys.values():
                pipe.get(key)
            return await pipe.execute()

        values = (await self._call(claim))[len(fresh) :]
        return {scope: _bytes(v).decode() for scope, v in zip(fresh, values, strict=True)}

    async def bump(self, scopes: list[str]) -> Bumped:
        """Retires everything cached under these scopes: their new tokens, and the ones
        they replaced (which a writer compares with those it read: `RequestCache.carry`)."""
        fresh = {scope: secrets.token_hex(8) for scope in dict.fromkeys(scopes)}
        if not self.enabled or not fresh:
            return Bumped(fresh, {})
        # The write is done: until its bump lands, another process (which the client's
        # next request may reach) still serves what it changed. A call that timed out
        # may or may not have landed; so try again, a bounded number of times (each
        # within the timeout, the breaker open or not), before answering the write.
        for attempt in range(BUMP_ATTEMPTS):
            try:
                replaced = await self._set_versions(fresh)
            except Unavailable:
                continue
            # After a try that may have landed, what a version replaced is not known.
            return Bumped(fresh, replaced if attempt == 0 else {})
        # The old entries could be read again once Redis answers: retire them all, now if
        # Redis takes the new epoch, else as soon as it does (another process may reach
        # it first), and before this process uses the cache again.
        self._epoch_stale = True
        with contextlib.suppress(Unavailable):
            await self._new_epoch(await self._server_run(retires=True))
        if self._epoch_stale and self._retiring is None:
            self._retiring = asyncio.ensure_future(self._retire_all())
        return Bumped(fresh, {})

    async def _retire_all(self) -> None:
        """Writes a new epoch, trying again every RETIRE_RETRY_S until one has landed
        (here or by a request's read of the versions)."""
        try:
            while True:
                await asyncio.sleep(RETIRE_RETRY_S)
                if not self._epoch_stale:  # a request's read wrote one meanwhile
                    return
                with contextlib.suppress(Unavailable):
                    await self._new_epoch(await self._server_run(retires=True))
        finally:
            self._retiring = None

    # --- values ------------------------------------------------------------

    async def get_or_compute(
        self,
        key: str,
        ttl_s: float,
        compute: Callable[[], Awaitable[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        *,
        stored: bool = True,
    ) -> T:
        """The cached value at `key` (already versioned), computed once per process on a miss.
        `stored=False`: the key is known to be new (under a version just made), so Redis
        is not asked for it; what is computed is stored all the same."""
        raw = self.l1.get(key)
        if raw is not None:
            lookups("l1", "hit").inc()
            return decode(raw)
        lookups("l1", "miss").inc()
        running = self._inflight.get(key)
        if running is None:
            # The load runs as its own task: a caller that gives up (a cancelled
            # request) does not take the others waiting for the same key with it.
            running = asyncio.ensure_future(
                self._load(key, ttl_s, compute, encode, decode, stored=stored)
            )
            self._inflight[key] = running
            running.add_done_callback(lambda done: self._settled(key, done))
        result: T = await asyncio.shield(running)
        return result

    def _settled(self, key: str, done: asyncio.Future[Any]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved here; waiters still get it

    async def _load(
        self,
        key: str,
        ttl_s: float,
        compute: Callable[[], Awaitable[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        *,
        stored: bool = True,
    ) -> T:
        if stored:
            try:
                raw = await self._read(key)
            except Unavailable:
                lookups("l2", "error").inc()
                return await compute()  # Redis is down: do not trust or fill any level
            if raw is not None:
                lookups("l2", "hit").inc()
                self._keep(key, _bytes(raw), ttl_s)
                return decode(_bytes(raw))
            lookups("l2", "miss").inc()
        value = await compute()
        encoded = kept(encode(value))
        self._keep(key, encoded, ttl_s)
        with contextlib.suppress(Unavailable):
            await self._queue_write(key, encoded, self._ttl(ttl_s))
        return value

    def _keep(self, key: str, raw: bytes, ttl_s: float) -> None:
        """Keeps the value in L1, unless it is to go sooner than L1 keeps values: such a
        value (a list read from a secondary, kept for seconds) is read from Redis each
        time, where it expires on time."""
        if ttl_s >= self.l1.ttl_s:
            self.l1[key] = raw

    # --- L2 reads and writes, batched per turn of the event loop -------------
    # A request's field caches miss together (a page's habits, their stats, a week's
    # days): each miss was a GET and a SET of its own, ~0.1-0.2 ms of the API's CPU
    # apiece through redis-py. Those of one turn of the loop now share one MGET and one
    # pipeline; each caller still waits for its own answer. A request's writes go
    # further (`deferring`): held to its end and sent with its answer, so a value is
    # in Redis before the request that computed it has answered.

    async def _read(self, key: str) -> Any:
        if self._reads is None:
            self._reads = {}
            asyncio.get_running_loop().call_soon(self._send_reads)
        waiter = self._reads.get(key)
        if waiter is None:
            waiter = self._reads[key] = asyncio.get_running_loop().create_future()
        return await waiter

    def _send_reads(self) -> None:
        reads, self._reads = self._reads or {}, None
        self._send(self._read_many(reads), list(reads.values()))

    async def _read_many(self, reads: dict[str, asyncio.Future[Any]]) -> None:
        keys = list(reads)
        values = await self._mget(keys)
        for waiter, value in zip(reads.values(), values, strict=True):
            if not waiter.done():
                waiter.set_result(value)

    def _queue_write(self, key: str, raw: bytes, ttl: int) -> asyncio.Future[None]:
        """Adds a SET to this turn's pipeline; the future is done when it has been sent.
        In a block that defers its writes, holds it for the block's end instead (the
        future is done at once)."""
        deferred = _DEFERRED.get()
        if deferred is not None and deferred.open:
            deferred.writes[key] = raw, ttl
            held = asyncio.get_running_loop().create_future()
            held.set_result(None)
            return held
        if self._writes is None or self._written is None:
            self._writes = {}
            self._written = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._send_writes)
        self._writes[key] = raw, ttl
        return self._written

    def _send_writes(self) -> None:
        writes, self._writes = self._writes or {}, None
        written, self._written = self._written, None
        if written is not None:
            self._send(self._write_many(writes, written), [written])

    async def _write_many(
        self, writes: dict[str, tuple[bytes, int]], done: asyncio.Future[None]
    ) -> None:
        replies = self._replies

        async def store(r: AnyRedis) -> Any:
            if replies is not None:  # one Redis: the cache's own connections
                return await replies.send(
                    *(("SET", key, raw, "EX", ttl) for key, (raw, ttl) in writes.items())
                )
            pipe = r.pipeline(transaction=False)
            for key, (raw, ttl) in writes.items():
                pipe.set(key, raw, ex=ttl)
            return await pipe.execute()

        await self._call(store)
        if not done.done():
            done.set_result(None)

    def _send(self, sending: Awaitable[None], waiters: list[asyncio.Future[Any]]) -> None:
        """Runs one batch as a task of its own; whatever ends it (Redis unavailable, the
        process shutting down) ends its waiters too: none is left waiting."""

        async def run() -> None:
            try:
                await sending
            except BaseException:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(Unavailable())
                        waiter.exception()  # retrieved: a waiter may be gone
                raise

        task = asyncio.ensure_future(run())
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled():
            task.exception()  # Unavailable is the waiters' news, not the task's

    def _ttl(self, ttl_s: float) -> int:
        spread = self.config.jitter
        return max(1, round(ttl_s * random.uniform(1 - spread, 1 + spread)))  # noqa: S311

    async def get_many(
        self, keys: list[str], *, counted: bool = True, local: Collection[str] = ()
    ) -> dict[str, bytes]:
        """Whatever of `keys` is cached (L1, then one MGET).

        `counted=False` for entries whose use is decided later (whole answers count
        as level "response" once their versions are checked). `local`: keys looked for
        in L1 only (under a version the request made: `RequestCache.made`).
        """
        found: dict[str, bytes] = {}
        for key in keys:
            raw = self.l1.get(key)
            if raw is not None:
                found[key] = raw
        rest = [k for k in keys if k not in found]
        if counted:
            lookups("l1", "hit").inc(len(found))
            lookups("l1", "miss").inc(len(rest))
        if local:
            rest = [k for k in rest if k not in local]
        if rest:
            try:
                values = await self._mget(rest)
            except Unavailable:
                if counted:
                    lookups("l2", "error").inc(len(rest))
                return found
            for key, value in zip(rest, values, strict=True):
                if value is not None:
                    found[key] = self.l1[key] = _bytes(value)
            if counted:
                hits = sum(1 for k in rest if k in found)
                lookups("l2", "hit").inc(hits)
                lookups("l2", "miss").inc(len(rest) - hits)
        return found

    async def set_many(self, items: dict[str, bytes], ttl_s: float) -> dict[str, bytes]:
        """Stores the values (in this turn's pipeline of SETs, beside the field cache's);
        the values as kept, each in a buffer of its own size (`memo.kept`: the L1 is
        bounded by their lengths), for a caller that keeps them too."""
        if not items:
            return {}
        items = {key: kept(raw) for key, raw in items.items()}
        for key, raw in items.items():
            self._keep(key, raw, ttl_s)
        ttl = self._ttl(ttl_s)
        written = [self._queue_write(key, raw, ttl) for key, raw in items.items()][-1]
        with contextlib.suppress(Unavailable):
            await written
        return items

    @contextlib.asynccontextmanager
    async def deferring(self) -> AsyncIterator[None]:
        """Holds the values this block stores (in L1 at once) and sends them to Redis
        together when it ends, in one round trip (shared with whatever else this turn of
        the event loop stores), rather than one for each turn that fills some: a request
        answered stores its fills and its answer at once, and they are in Redis before
        it answers. A task of the block that stores after the block has ended sends its
        own, as outside one."""
        deferred = _Deferred()
        token = _DEFERRED.set(deferred)
        try:
            yield
        finally:
            _DEFERRED.reset(token)
            deferred.open = False
            if deferred.writes:
                sent = [self._queue_write(k, raw, ttl) for k, (raw, ttl) in deferred.writes.items()]
                with contextlib.suppress(Unavailable):
                    await sent[-1]

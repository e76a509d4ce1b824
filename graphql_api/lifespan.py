"""Connections belong to the lifespan: opened at start-up, closed at shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from saq import Queue
from saq.queue.redis import RedisQueue
from starlette.applications import Starlette

from graphql_api import mongo_wire
from graphql_api.cache.store import Cache, CacheConfig
from graphql_api.observability.loop import loop_lag, time_gc
from graphql_api.observability.metrics import mongo_listeners
from graphql_api.persisted.manifest import PACKAGED, Manifest
from graphql_api.persisted.queries import PersistedQueries
from graphql_api.recommend.model import ModelStore
from graphql_api.redis_clients import AnyRedis, connect
from graphql_api.security.idempotency import Idempotency
from graphql_api.security.ratelimit import RateLimiter
from graphql_api.settings import Settings
from graphql_api.state import AppState, utc_now
from models import DOCUMENT_MODELS
from models.migrations import migrate

# AppState and utc_now live in graphql_api.state (below the domains); named here too
# for the code that opens a state and reads its type from one place.
__all__ = [
    "CONNECT_TIMEOUT_S",
    "AppState",
    "cache_of",
    "close_state",
    "general_client",
    "lifespan",
    "limiter_of",
    "mongo_client",
    "open_state",
    "persisted_queries_of",
    "queue_of",
    "redis_client",
    "utc_now",
]

log = logging.getLogger(__name__)


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    if not settings.mongodb_uri:
        raise RuntimeError(
            "MONGODB_URI is not set: run `scheduling-worker serve` for the embedded default"
        )
    mongo_wire.install()  # a command's send and reply in its own task (graphql_api.mongo_wire)
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        # Python's own UTC (in C), not bson's tzinfo (in Python): a stored time's
        # comparisons and arithmetic ask its offset dozens of times a request.
        tzinfo=UTC,
        appname="scheduling-worker",
        maxPoolSize=settings.mongo_max_pool_size,
        minPoolSize=settings.mongo_min_pool_size,
        maxIdleTimeMS=settings.mongo_max_idle_time_ms,
        serverSelectionTimeoutMS=settings.mongo_server_selection_timeout_ms,
        socketTimeoutMS=settings.mongo_socket_timeout_ms,
        retryWrites=settings.mongo_retry_writes,
        retryReads=settings.mongo_retry_reads,
        event_listeners=mongo_listeners(settings.mongo_slow_ms),
    )


def redis_client(settings: Settings, **options: Any) -> AnyRedis:
    if not settings.redis_url:
        raise RuntimeError(
            "REDIS_URL is not set: run `scheduling-worker serve` for the embedded default"
        )
    return connect(settings.redis_url, cluster=settings.redis_cluster, **options)


def general_client(settings: Settings) -> AnyRedis:
    """Persisted queries, idempotency keys, locks, publishing sync progress."""
    return redis_client(
        settings,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
    )


def queue_of(settings: Settings) -> Queue:
    """The sync job queue (saq) on Redis, under the deployment's key prefix: on
    QUEUE_REDIS_URL when set (saq's scripts and pub/sub need one Redis, not a cluster)."""
    url = settings.queue_redis_url or settings.redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set")
    # RedisQueue itself, not Queue.from_url: that one refuses unix:// (the embedded Redis).
    return RedisQueue(Redis.from_url(url), name=f"{settings.cache_prefix}sync")


CONNECT_TIMEOUT_S = 1.0


def cache_of(settings: Settings) -> Cache:
    """The field cache, on its own Redis client: short timeouts, no retries. Every call is
    bounded by the cache's own asyncio.timeout; a socket_timeout as well would wrap each
    command's write in a task of its own (redis-py's wait_for)."""
    timeout = settings.cache_timeout_ms / 1000
    redis = (
        redis_client(
            settings,
            # Connecting happens inside a call, so the call's timeout (with the loop's
            # lag added) bounds it: a connect timeout of its own would not know the lag.
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        if settings.redis_url and settings.cache_enabled
        else None
    )
    return Cache(
        redis,
        CacheConfig(
            enabled=settings.cache_enabled,
            prefix=settings.cache_prefix,
            l1_bytes=settings.cache_l1_mb * 2**20,
            l1_ttl_s=settings.cache_l1_ttl_s,
            timeout_s=timeout,
            breaker_failures=settings.cache_breaker_failures,
            breaker_reset_s=settings.cache_breaker_reset_s,
        ),
        slack=loop_lag.allowance,
    )


def limiter_of(settings: Settings) -> RateLimiter | None:
    """The per-user rate limit, on its own Redis client: the cache's short timeouts."""
    if not settings.redis_url or settings.rate_limit_per_s <= 0:
        return None
    timeout = settings.cache_timeout_ms / 1000
    redis = redis_client(
        settings,
        socket_connect_timeout=CONNECT_TIMEOUT_S,  # each call is bounded by the limiter's
        retry=Retry(NoBackoff(), 0),
    )
    return RateLimiter(
        redis,
        settings.cache_prefix,
        settings.rate_limit_per_s,
        settings.rate_limit_burst,
        timeout_s=timeout,
        slack=loop_lag.allowance,
    )


def persisted_queries_of(settings: Settings, redis: AnyRedis) -> PersistedQueries:
    manifest = Manifest.load(settings.persisted_queries_manifest or PACKAGED)
    return PersistedQueries(
        settings.persisted_queries,
        manifest,
        redis=redis,
        prefix=settings.cache_prefix,
        ttl_s=settings.apq_ttl_s,
    )


async def open_state(settings: Settings) -> AppState:
    mongo = mongo_client(settings)
    await migrate(mongo[settings.mongodb_db])
    await init_beanie(database=mongo[settings.mongodb_db], document_models=DOCUMENT_MODELS)
    redis = general_client(settings)
    return AppState(
        settings=settings,
        mongo=mongo,
        redis=redis,
        cache=cache_of(settings),
        persisted=persisted_queries_of(settings, redis),
        queue=queue_of(settings),
        events_redis=redis_client(settings, health_check_interval=30),
        rankers=ModelStore(settings.model_refresh_s),
        limiter=limiter_of(settings),
        idempotency=Idempotency(redis, settings.cache_prefix),
    )


async def close_state(state: AppState) -> None:
    """Closes every connection; one that fails (its server already gone, as when Ctrl+C
    stops the embedded Redis too) is logged and the others are still closed."""
    closers: list[Awaitable[object]] = []
    if state.cache.redis is not None:
        closers.append(state.cache.aclose())
    if state.limiter is not None and state.limiter.redis is not None:
        closers += [state.limiter.aclose(), state.limiter.redis.aclose()]
    closers += [
        state.queue.disconnect(),
        state.events_redis.aclose(),
        state.redis.aclose(),
        state.mongo.close(),
    ]
    for closer in closers:
        try:
            await asyncio.wait_for(closer, 5)
        except Exception as e:  # noqa: BLE001 - shutting down: report and go on
            log.warning("closing a connection at shutdown failed: %s", e)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    state = await open_state(settings)
    app.state.app = state
    log.info("ready: env=%s, database %s", settings.env, settings.mongodb_db)
    # What start-up built (the schema, the models' classes, the clients) lives as long
    # as the process: out of the collector's sight, a full collection no longer walks it
    # and a request no longer waits for that walk.
    gc.collect()
    gc.freeze()
    time_gc()
    # A request allocates ~10^4-10^5 objects; at Python's default (a young collection
    # every 700 allocations, and their cascades) the collector took ~1 ms of every mix
    # request and paused the process ~90 ms for each full collection
    # (python_gc_pause_seconds, bench.cpu --counters); every 20,000: ~0.25 ms. Since a
    # request's objects are freed as it ends (graphql_api.execution._helpers: no cycle
    # holds them), what the collector walks is what the process keeps: 0.03 ms a request.
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_gen0_threshold, older, oldest)
    try:
        async with loop_lag.watching():
            yield
    finally:
        await close_state(state)

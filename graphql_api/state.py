"""What a process holds open while it runs: settings, clients, caches, the served models.

Opened and closed by `lifespan` (the API) and the worker; read by everything below them
through `Context.state` or as an argument. The types it names are only named here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pymongo import AsyncMongoClient
from saq import Queue

from graphql_api.cache.store import Cache
from graphql_api.persisted.queries import PersistedQueries
from graphql_api.redis_clients import AnyRedis
from graphql_api.security.idempotency import Idempotency
from graphql_api.security.ratelimit import RateLimiter
from graphql_api.settings import Settings

if TYPE_CHECKING:
    # The ranker store is built by `lifespan.open_state`, above the domains; below them
    # it is only a type, so this layer does not import the recommender.
    from graphql_api.recommend.model import ModelStore


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppState:
    settings: Settings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: AnyRedis  # one Redis, or a Redis Cluster (REDIS_CLUSTER)
    cache: Cache
    persisted: PersistedQueries
    queue: Queue  # sync jobs (saq)
    events_redis: AnyRedis  # pub/sub of sync progress: no read timeout
    rankers: ModelStore  # the trained slot rankers this process serves
    # Swappable so tests can stand on a given day (DST, midnight, ...).
    clock: Callable[[], datetime] = field(default=utc_now)
    limiter: RateLimiter | None = None  # per-user request rate; None: no limit
    idempotency: Idempotency | None = None  # Idempotency-Key of retried mutations

"""Sync progress, published by whoever runs a sync and heard by every API process.

One Redis pub/sub channel per user: a subscriber on any API process sees the
runs a worker in any other process executes for that user. On a Redis Cluster a
PUBLISH reaches every node: a subscriber listens on one node, and on another if
that one goes (what was published in between is missed; the run's state stays
readable as `SyncRun`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from graphql_api import redis_clients
from graphql_api.redis_clients import FAILURES, AnyRedis
from models import SyncRun

log = logging.getLogger(__name__)
RESUBSCRIBE_S = 0.2  # before listening on another node of a cluster


def channel(prefix: str, user_id: str) -> str:
    return f"{prefix}sync:{user_id}"


def event_of(run: SyncRun) -> dict[str, Any]:
    return {
        "runId": str(run.id),
        "calendarId": run.calendar_id,
        "status": run.status,
        "processed": run.processed,
        "total": run.total,
        "created": run.created,
        "updated": run.updated,
        "deleted": run.deleted,
        "error": run.error,
        "at": datetime.now(UTC).isoformat(),
    }


async def publish(redis: AnyRedis, prefix: str, run: SyncRun) -> None:
    """Tells subscribers how the run is going; never fails the run itself."""
    try:
        await redis_clients.publish(redis, channel(prefix, run.user_id), json.dumps(event_of(run)))
    except FAILURES as e:
        log.warning("could not publish sync progress of run %s: %s", run.id, type(e).__name__)


async def follow(redis: AnyRedis, prefix: str, user_id: str) -> AsyncIterator[dict[str, Any]]:
    """Every progress event of the user's syncs, from now on."""
    failed: Redis | None = None
    while True:
        client, own = await redis_clients.subscriber(redis, avoid=failed)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel(prefix, user_id))
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])
        except FAILURES as e:
            if not own:
                raise  # one Redis: nowhere else to listen
            log.warning("sync progress: node %s lost (%s); listening on another", client, e)
            failed = client
            await asyncio.sleep(RESUBSCRIBE_S)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            if own:
                await client.aclose()

"""Sync progress, published by whoever runs a sync and heard by every API process.

One Redis pub/sub channel per user: a subscriber on any API process sees the
runs a worker in any other process executes for that user.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models import SyncRun

log = logging.getLogger(__name__)


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


async def publish(redis: Redis, prefix: str, run: SyncRun) -> None:
    """Tells subscribers how the run is going; never fails the run itself."""
    try:
        await redis.publish(channel(prefix, run.user_id), json.dumps(event_of(run)))
    except (RedisError, OSError) as e:
        log.warning("could not publish sync progress of run %s: %s", run.id, type(e).__name__)


async def follow(redis: Redis, prefix: str, user_id: str) -> AsyncIterator[dict[str, Any]]:
    """Every progress event of the user's syncs, from now on."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(prefix, user_id))
    try:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                yield json.loads(message["data"])
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]

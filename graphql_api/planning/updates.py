"""Plan updates, published by whoever re-planned a user and heard by every API process
(one Redis pub/sub channel per user, as sync progress: `graphql_api.sync.status`)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql_api import redis_clients
from graphql_api.redis_clients import FAILURES, AnyRedis

log = logging.getLogger(__name__)

# What made the re-plan, most telling first: one update names the first of its reasons.
REASONS = ("CALENDAR_CHANGED", "TASK_CHANGED", "HABIT_CHANGED", "HORIZON")


def channel(prefix: str, user_id: str) -> str:
    return f"{prefix}plan:{user_id}"


async def publish(redis: AnyRedis, prefix: str, user_id: str, update: dict[str, Any]) -> None:
    """Tells the user's subscribers what the plan changed; never fails the plan itself."""
    try:
        await redis_clients.publish(redis, channel(prefix, user_id), json.dumps(update))
    except FAILURES as e:
        log.warning("could not publish the plan update of %s: %s", user_id, type(e).__name__)


async def follow(redis: AnyRedis, prefix: str, user_id: str) -> AsyncIterator[dict[str, Any]]:
    """Every plan update of the user, from now on."""
    client, own = await redis_clients.subscriber(redis)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel(prefix, user_id))
        async for message in pubsub.listen():
            if message.get("type") == "message":
                yield json.loads(message["data"])
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        if own:
            await client.aclose()

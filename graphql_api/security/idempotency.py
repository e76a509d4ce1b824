"""Idempotency-Key: a retried mutation returns the first answer and writes nothing again.

The first request with a key claims it in Redis (SET NX) with a digest of its
body, runs, and stores its answer; a retry with the same key and body gets that
answer back (`Idempotent-Replayed: true`), one that arrives while the first is
still running waits for it, and the same key with another body is refused. An
answer with errors is not kept (nothing was written; a retry runs again). Keys
are per user and live 24 hours. When Redis cannot be reached, requests run
without the guarantee rather than fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from graphql_api.redis_clients import AnyRedis

log = logging.getLogger(__name__)

KEY_MAX = 255
TTL_S = 24 * 3600
PENDING_TTL_S = 60  # a claim whose process died frees itself


@dataclass(frozen=True)
class Claimed:
    """This request runs; `finish()` or `abandon()` it afterwards."""

    key: str


@dataclass(frozen=True)
class Replay:
    data: dict[str, Any]


@dataclass(frozen=True)
class Conflict:
    code: str
    message: str
    status: int


def digest(query: str | None, variables: dict[str, Any] | None, operation: str | None) -> str:
    body = json.dumps([query, variables, operation], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class Idempotency:
    def __init__(self, redis: AnyRedis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, user_id: str, key: str) -> str:
        return f"{self.prefix}idem:{user_id}:{key}"

    async def claim(
        self, user_id: str, key: str, body_digest: str, wait_s: float
    ) -> Claimed | Replay | Conflict | None:
        """None: Redis is unavailable, run without the guarantee."""
        if not key or len(key) > KEY_MAX or not key.isprintable():
            return Conflict(
                "BAD_REQUEST", f"Idempotency-Key must be 1 to {KEY_MAX} printable characters", 400
            )
        name = self._key(user_id, key)
        pending = json.dumps({"digest": body_digest, "state": "pending"})
        deadline = time.monotonic() + wait_s
        try:
            while True:
                if await self.redis.set(name, pending, nx=True, ex=PENDING_TTL_S):
                    return Claimed(name)
                raw = await self.redis.get(name)
                if raw is None:
                    continue  # expired between the two calls: claim it
                entry = json.loads(raw)
                if entry["digest"] != body_digest:
                    return Conflict(
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key was used with another request body",
                        422,
                    )
                if entry["state"] == "done":
                    return Replay(entry["data"])
                if time.monotonic() > deadline:
                    return Conflict(
                        "IDEMPOTENCY_IN_PROGRESS",
                        "a request with this Idempotency-Key is still running",
                        409,
                    )
                await asyncio.sleep(0.05)
        except Exception as e:  # noqa: BLE001 - Redis down: run without the guarantee
            log.warning("idempotency keys unavailable: %s", e)
            return None

    async def finish(self, claimed: Claimed, body_digest: str, data: dict[str, Any]) -> None:
        done = {"digest": body_digest, "state": "done", "data": data}
        try:  # orjson: `data` may be JSON already (an answer from the response cache)
            entry: bytes | str = orjson.dumps(done)
        except TypeError:  # a string orjson refuses (a lone surrogate), in a dict
            entry = json.dumps(done)
        try:
            await self.redis.set(claimed.key, entry, ex=TTL_S)
        except Exception as e:  # noqa: BLE001 - the answer still goes out
            log.warning("idempotency answer not kept: %s", e)

    async def abandon(self, claimed: Claimed) -> None:
        try:
            await self.redis.delete(claimed.key)
        except Exception as e:  # noqa: BLE001 - the claim expires by itself
            log.warning("idempotency claim not released: %s", e)

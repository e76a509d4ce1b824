"""A per-user token bucket in Redis: RATE_LIMIT_PER_S tokens a second, RATE_LIMIT_BURST at most.

One Lua script takes a token atomically, so every API process shares one bucket
per user. When Redis does not answer in time the request goes through: the limit
protects the service, and an outage of the limiter must not become one of the API.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql_api.redis_clients import AnyRedis, Script

log = logging.getLogger(__name__)

# KEYS[1] the bucket; ARGV: rate per ms, burst, now in ms. Returns {allowed, retry after ms}.
_TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return {allowed, wait}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    def __init__(
        self,
        redis: AnyRedis | None,
        prefix: str,
        per_s: float,
        burst: int,
        *,
        timeout_s: float = 0.25,
        slack: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.slack = slack  # added to the timeout: the process's own event-loop lag
        self.prefix = prefix
        self.per_ms = per_s / 1000
        self.burst = burst
        self._script = Script(redis, _TAKE) if redis is not None and per_s > 0 else None

    async def take(self, user_id: str) -> Verdict:
        if self._script is None:
            return Verdict(True)
        try:
            async with asyncio.timeout(self.timeout_s + self.slack()):
                allowed, wait_ms = await self._script(
                    keys=[f"{self.prefix}rl:{user_id}"],
                    args=[self.per_ms, self.burst, int(time.time() * 1000)],
                )
        except Exception as e:  # noqa: BLE001 - fail open: Redis down or slow
            log.warning("rate limiter unavailable, letting the request through: %s", e)
            return Verdict(True)
        if allowed:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil(int(wait_ms) / 1000)))

    async def aclose(self) -> None:
        """Closes the limiter's own connections (not its client's: whoever made the client
        closes it)."""
        if self._script is not None:
            await self._script.aclose()

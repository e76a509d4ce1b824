"""Asking for a user's re-plan: one queued job per user per debounce window.

A change (an event made, moved or removed, a sync that changed events, a task changed)
adds its reason to the user's pending reasons and queues `plan_user` at the end of the
current window of PLAN_DEBOUNCE_S (whole seconds: saq schedules by the second). Changes in
the same window share the job (saq refuses a second job of the same key); a change during
a run falls in a later window and gets a run of its own. The worker runs one plan per
user at a time (`service.plan_lock`).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from graphql_api.redis_clients import FAILURES

if TYPE_CHECKING:
    from graphql_api.state import AppState

log = logging.getLogger(__name__)
REASONS_TTL_S = 3600
# The cache scope of a user's busy time as the planner reads it. Every write of events or
# calendars bumps it (`changes.calendars_changed`, a sync's `runs.retire`) except the
# planner's own events (`changes.blocks_changed`: task blocks, `planned` habit bookings):
# they are not busy time to the planner, so a plan's writes leave the busy time it read
# cached for the next plan.
BUSY_SCOPE = "busy"
# The reason of a worker run asked for by a request's plan that left tasks at risk: the
# worker's solver pass (planning/solver.py) may find a plan with fewer.
IMPROVE = "IMPROVE"


def reasons_key(prefix: str, user_id: str) -> str:
    return f"{prefix}plan-reasons:{user_id}"


async def request_replan(state: AppState, user_id: str, reason: str) -> None:
    """Queues a re-plan of the user's future blocks; never fails the change that asked."""
    prefix = state.settings.cache_prefix
    window = max(1, math.ceil(state.settings.plan_debounce_s))
    due = (int(time.time()) // window + 1) * window
    try:
        await state.redis.sadd(reasons_key(prefix, user_id), reason)  # type: ignore[misc]
        await state.redis.expire(reasons_key(prefix, user_id), REASONS_TTL_S)
        await state.queue.enqueue(
            "plan_user",
            key=f"plan:{user_id}:{due}",
            user_id=user_id,
            scheduled=due,
            timeout=120,
            retries=2,
        )
    except FAILURES as e:
        log.warning("could not queue a re-plan of %s: %s", user_id, type(e).__name__)

"""The planner's worker jobs: a user's re-plan (queued by `graphql_api.replans`) and the
daily roll of every plan's horizon (cron)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from graphql_api.context import Context
from graphql_api.planning.service import replan
from graphql_api.replans import reasons_key, request_replan
from models import Habit, Task, User
from models.base import matching

if TYPE_CHECKING:
    from graphql_api.lifespan import AppState

log = logging.getLogger(__name__)


async def plan_user(state: AppState, user_id: str) -> None:
    """Re-plans the user for the reasons gathered since the last run."""
    key = reasons_key(state.settings.cache_prefix, user_id)
    raw = await state.redis.smembers(key)  # type: ignore[misc]
    await state.redis.delete(key)
    reasons = sorted(r.decode() if isinstance(r, bytes) else str(r) for r in raw)
    user = await User.find_one({"sub": user_id})
    if user is None:
        return
    ctx = Context.for_user(state, user, "plan")
    done = await replan(ctx, reasons or ["CALENDAR_CHANGED"], improve=True)
    log.info(
        "re-planned %s (%s): %d added, %d removed, %d at risk",
        user_id,
        ",".join(reasons),
        len(done.plan.add),
        len(done.plan.remove),
        len(done.plan.at_risk),
    )


async def roll_horizon(state: AppState) -> int:
    """Queues a re-plan of every user with open tasks or auto-scheduled habits (the horizon
    moves on a day)."""
    tasks = await Task.get_pymongo_collection().distinct("userId", {"status": "OPEN"})
    habits = await Habit.get_pymongo_collection().distinct(
        "userId", matching({"autoSchedule": True, "isActive": True})
    )
    users = sorted({*tasks, *habits})
    for user_id in users:
        await request_replan(state, user_id, "HORIZON")
    return len(users)

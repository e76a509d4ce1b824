from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any

import strawberry

from graphql_api.context import Context, Info
from graphql_api.observability.operations import counted
from graphql_api.planning.updates import follow
from graphql_api.relay import to_global_id
from graphql_api.tasks.enums import PlanReason
from graphql_api.tasks.types import PlannedHabit, PlannedTask, PlanUpdate


@strawberry.type
class TaskSubscriptions:
    @strawberry.subscription(
        description="Each change the planner makes to the user's plan: the tasks it is "
        "about, and why (a calendar change, a task or habit change, the daily roll)."
    )
    async def plan_updates(self, info: Info) -> AsyncGenerator[PlanUpdate, None]:
        return _updates(info.context)


async def _updates(ctx: Context) -> AsyncGenerator[PlanUpdate, None]:
    updates: AsyncIterator[dict[str, Any]] = follow(
        ctx.state.events_redis, ctx.settings.cache_prefix, ctx.user_id
    )
    async for update in counted(updates):
        yield PlanUpdate(
            at=datetime.fromisoformat(update["at"]),
            reason=PlanReason(update["reason"]),
            tasks=[
                PlannedTask(
                    id=to_global_id("Task", t["id"]),
                    at_risk=t["atRisk"],
                    scheduled_minutes=t["scheduledMinutes"],
                )
                for t in update["tasks"]
            ],
            habits=[PlannedHabit(id=to_global_id("Habit", h)) for h in update["habits"]],
        )

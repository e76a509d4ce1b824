from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.context import Context, Info
from graphql_api.events import types as event_types
from graphql_api.events.types import Event, event_of
from graphql_api.goals.enums import Priority
from graphql_api.goals.types import Goal
from graphql_api.relay import Node, to_global_id
from graphql_api.tasks import service
from graphql_api.tasks.enums import PlanReason, TaskStatus
from models import Event as EventDoc
from models import Task as TaskDoc
from models.base import ref


def minutes_of(block: EventDoc) -> int:
    return int((block.end_time - block.start_time).total_seconds()) // 60


@strawberry.type
class Task(Node):
    doc: strawberry.Private[TaskDoc]
    title: str
    notes: str | None
    priority: Priority
    status: TaskStatus
    duration_minutes: int
    min_chunk_minutes: int
    max_chunk_minutes: int
    not_before: datetime | None
    due: datetime | None
    at_risk: bool = strawberry.field(
        description="Its work is not all booked by its due: what fits is booked."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: TaskDoc) -> Task:
        return cls(
            doc=doc,
            id=to_global_id("Task", doc.id),
            title=doc.title,
            notes=doc.notes,
            priority=Priority(doc.priority),
            status=TaskStatus(doc.status),
            duration_minutes=doc.duration_minutes,
            min_chunk_minutes=doc.min_chunk_minutes,
            max_chunk_minutes=doc.max_chunk,
            not_before=doc.not_before,
            due=doc.due,
            at_risk=doc.at_risk and doc.status == "OPEN",
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        )

    async def _blocks(self, ctx: Context) -> list[EventDoc]:
        return await ctx.loaders.blocks_by_task.load(ref(self.doc))

    @strawberry.field(
        description=f"The task's blocks by start, past ones included: at most "
        f"{service.BLOCKS_SHOWN}, those not yet ended first, then the latest past ones."
    )
    async def blocks(self, info: Info) -> list[Event]:
        ctx = info.context
        shown = service.shown_blocks(await self._blocks(ctx), ctx.now)
        return [await event_of(ctx, b) for b in shown]

    @strawberry.field(description="The goal the task counts for, if any.")
    async def goal(self, info: Info) -> Goal | None:
        goal_id = self.doc.goal_id
        doc = await info.context.loaders.goal_by_id.load(goal_id) if goal_id else None
        return Goal.of(doc) if doc else None

    @strawberry.field(description="Minutes of the blocks not yet ended (0 once DONE).")
    async def scheduled_minutes(self, info: Info) -> int:
        if self.doc.status != "OPEN":
            return 0
        now = info.context.now
        return sum(minutes_of(b) for b in await self._blocks(info.context) if b.end_time > now)

    @strawberry.field(
        description="The work not yet booked or done (blocks already past count as done); "
        "0 once DONE."
    )
    async def remaining_minutes(self, info: Info) -> int:
        if self.doc.status != "OPEN":
            return 0
        booked = sum(minutes_of(b) for b in await self._blocks(info.context))
        return max(0, self.doc.duration_minutes - booked)


# Event.task shows tasks through this (events sit below tasks and do not import them).
event_types.TASK_VIEW[:] = [Task.of]


@strawberry.type(description="A task as a re-plan left it.")
class PlannedTask:
    id: strawberry.ID
    at_risk: bool
    scheduled_minutes: int


@strawberry.type(description="A habit a re-plan booked again.")
class PlannedHabit:
    id: strawberry.ID


@strawberry.type(description="The planner changed the user's plan.")
class PlanUpdate:
    at: datetime
    reason: PlanReason
    tasks: list[PlannedTask]
    habits: list[PlannedHabit]

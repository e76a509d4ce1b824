from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.goals import service
from graphql_api.relay import Node, to_global_id
from models import Goal as GoalDoc
from models.base import ref

if TYPE_CHECKING:
    from graphql_api.habits.types import Habit


@strawberry.enum
class GoalStatus(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"


@strawberry.enum
class GoalOrder(Enum):
    PRIORITY = "PRIORITY"
    TARGET_DATE = "TARGET_DATE"
    CREATED_AT = "CREATED_AT"


@strawberry.enum(description="P1 is the most important.")
class Priority(Enum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


@strawberry.type
class GoalTarget:
    value: float
    unit: str


@strawberry.type
class ProgressEntry:
    at: datetime
    value: float
    note: str | None


@strawberry.type
class Goal(Node):
    doc: strawberry.Private[GoalDoc]
    title: str
    description: str | None
    status: GoalStatus
    priority: Priority
    target_date: date | None
    target: GoalTarget | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: GoalDoc) -> Goal:
        t = doc.target
        target_date = doc.target_date
        return cls(
            doc=doc,
            id=to_global_id("Goal", doc.id),
            title=doc.title,
            description=doc.description,
            status=GoalStatus(doc.status),
            priority=Priority(service.priority_name(doc.priority)),
            target_date=date.fromisoformat(target_date) if target_date else None,
            target=GoalTarget(value=t.value, unit=t.unit) if t else None,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        )

    @strawberry.field(
        description="In [0, 1]: logged value over the target where one is set, else the mean "
        "strength of the goal's active habits, else 0; 1 once COMPLETED.",
        directives=cache(60),
    )
    async def progress(self, info: Info) -> float:
        return await service.goal_progress(info.context, self.doc)

    @strawberry.field(
        description=f"Logged progress, oldest first: the latest {service.PROGRESS_LOG_LATEST} "
        "entries (progress counts them all)."
    )
    async def progress_log(self, info: Info) -> list[ProgressEntry]:
        await info.context.cache.depend_on(f"goal:{ref(self.doc)}")
        entries = await info.context.loaders.progress_log_by_goal.load(ref(self.doc))
        latest = entries[-service.PROGRESS_LOG_LATEST :]
        return [ProgressEntry(at=e.at, value=e.value, note=e.note) for e in latest]

    @strawberry.field(description="The goal's habits, active or not, oldest first.")
    async def habits(
        self, info: Info
    ) -> list[Annotated[Habit, strawberry.lazy("graphql_api.habits.types")]]:
        from graphql_api.habits.service import user_habits
        from graphql_api.habits.types import Habit

        docs = await user_habits(info.context)
        goal_id = ref(self.doc)
        return [Habit.of(d) for d in docs if d.goal_id == goal_id]

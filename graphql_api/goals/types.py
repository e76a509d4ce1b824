from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.goals import service
from graphql_api.relay import Node
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

    @strawberry.field
    def title(self) -> str:
        return self.doc.title

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description

    @strawberry.field
    def status(self) -> GoalStatus:
        return GoalStatus(self.doc.status)

    @strawberry.field
    def priority(self) -> Priority:
        return Priority(service.priority_name(self.doc.priority))

    @strawberry.field
    def target_date(self) -> date | None:
        return date.fromisoformat(self.doc.target_date) if self.doc.target_date else None

    @strawberry.field
    def target(self) -> GoalTarget | None:
        t = self.doc.target
        return GoalTarget(value=t.value, unit=t.unit) if t else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.doc.updated_at

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
        return [Habit(doc=d) for d in docs if d.goal_id == ref(self.doc)]

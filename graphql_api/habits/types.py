from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api import validation
from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.habits import service
from graphql_api.relay import Node
from models import CheckInEntry
from models import Habit as HabitDoc
from models.base import ref

if TYPE_CHECKING:
    from graphql_api.goals.types import Goal


@strawberry.enum
class Period(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.enum
class CheckInStatus(Enum):
    DONE = "DONE"
    SKIPPED = "SKIPPED"
    MISSED = "MISSED"


@strawberry.type(description="`times` check-ins in a rolling window of 1, 7 or 30 days.")
class Frequency:
    times: int
    per: Period


@strawberry.type
class PreferredWindow:
    weekdays: list[int]
    start: str
    end: str


@strawberry.type(description="Streak lengths in days, as Loop Habit Tracker counts them.")
class Streak:
    current: int
    longest: int


@strawberry.type
class CheckIn:
    doc: strawberry.Private[CheckInEntry]

    @strawberry.field
    def date(self) -> date:
        return date.fromisoformat(self.doc.date)

    @strawberry.field
    def status(self) -> CheckInStatus:
        return CheckInStatus(self.doc.status)

    @strawberry.field
    def value(self) -> float | None:
        return self.doc.value

    @strawberry.field
    async def habit(self, info: Info) -> Habit:
        habit = await info.context.loaders.habit_by_id.load(self.doc.habit_id)
        if habit is None:  # deleted in this very request
            raise service.habit_not_found()
        return Habit(doc=habit)


@strawberry.type
class Habit(Node):
    doc: strawberry.Private[HabitDoc]

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def is_active(self) -> bool:
        return self.doc.is_active

    @strawberry.field
    def frequency(self) -> Frequency:
        return Frequency(times=self.doc.frequency.times, per=Period(self.doc.frequency.per))

    @strawberry.field
    def duration_minutes(self) -> int:
        return self.doc.duration_minutes

    @strawberry.field
    def preferred_windows(self) -> list[PreferredWindow]:
        return [
            PreferredWindow(weekdays=list(w.weekdays), start=w.start, end=w.end)
            for w in self.doc.preferred_windows
        ]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    async def goal(
        self, info: Info
    ) -> Annotated[Goal, strawberry.lazy("graphql_api.goals.types")] | None:
        from graphql_api.goals.service import goal_of
        from graphql_api.goals.types import Goal

        if self.doc.goal_id is None:
            return None
        goal = await goal_of(info.context, self.doc.goal_id)
        return Goal(doc=goal) if goal else None

    @strawberry.field(description="Counted up to the user's today.", directives=cache(60))
    async def streak(self, info: Info) -> Streak:
        stats = await service.habit_stats(info.context, self.doc)
        return Streak(current=stats.current_streak, longest=stats.longest_streak)

    @strawberry.field(
        description="Loop Habit Tracker's habit score on the user's today, in [0, 1].",
        directives=cache(60),
    )
    async def strength(self, info: Info) -> float:
        return (await service.habit_stats(info.context, self.doc)).strength

    @strawberry.field(description="Check-ins from `from` to `to`, both included, oldest first.")
    async def check_ins(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
    ) -> list[CheckIn]:
        validation.date_range(from_, to)
        await info.context.cache.depend_on(f"habit:{ref(self.doc)}")
        low, high = from_.isoformat(), to.isoformat()
        docs = await info.context.loaders.check_ins_by_habit.load(ref(self.doc))
        return [CheckIn(doc=d) for d in docs if low <= d.date <= high]

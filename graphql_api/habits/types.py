from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from graphql.pyutils import Undefined, UndefinedType

from graphql_api import validation
from graphql_api.cache.control import cache
from graphql_api.context import Context, Info
from graphql_api.habits import service
from graphql_api.habits.enums import CheckInStatus, Period
from graphql_api.habits.loop import HabitStats
from graphql_api.lookahead import known
from graphql_api.readers import readable
from graphql_api.reads import goal_of, habit_of
from graphql_api.relay import Node, register_view, to_global_id, view_of
from models import CheckInEntry
from models import Habit as HabitDoc
from models.base import ref

if TYPE_CHECKING:
    from graphql_api.goals.types import Goal


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


def _streak(stats: HabitStats) -> Streak:
    return Streak(current=stats.current_streak, longest=stats.longest_streak)


# Readers (graphql_api.readers): what the habit's page worked out for all its habits
# (`goals.types.complete_goals`), so that a page's habits are completed by a plan.
def _page_streak(root: Habit) -> Streak | UndefinedType:
    return Undefined if root.page_stats is None else _streak(known(root.page_stats))


def _page_strength(root: Habit) -> float | UndefinedType:
    return Undefined if root.page_stats is None else known(root.page_stats).strength


@strawberry.type
class CheckIn:
    doc: strawberry.Private[CheckInEntry]
    date: date
    status: CheckInStatus
    value: float | None

    @classmethod
    def of(cls, doc: CheckInEntry) -> CheckIn:
        return cls(
            doc=doc,
            date=date.fromisoformat(doc.date),
            status=CheckInStatus(doc.status),
            value=doc.value,
        )

    @strawberry.field
    async def habit(self, info: Info) -> Habit:
        habit = await habit_of(info.context, self.doc.habit_id)
        if habit is None:  # deleted in this very request
            raise service.habit_not_found()
        return Habit.of(habit)


@strawberry.type
class Habit(Node):
    doc: strawberry.Private[HabitDoc]
    name: str
    is_active: bool
    frequency: Frequency
    duration_minutes: int
    preferred_windows: list[PreferredWindow]
    auto_schedule: bool = strawberry.field(
        description="Booked by the planner at the recommender's best slots (CreateHabitInput)."
    )
    created_at: datetime
    # Its streaks and strength, when its page worked them out for all its habits at once.
    page_stats: strawberry.Private[HabitStats | Exception | None] = None

    @classmethod
    def of(cls, doc: HabitDoc) -> Habit:
        frequency = doc.frequency
        return cls(
            doc=doc,
            id=to_global_id("Habit", doc.id),
            name=doc.name,
            is_active=doc.is_active,
            frequency=Frequency(times=frequency.times, per=Period(frequency.per)),
            duration_minutes=doc.duration_minutes,
            preferred_windows=[
                PreferredWindow(weekdays=list(w.weekdays), start=w.start, end=w.end)
                for w in doc.preferred_windows
            ],
            auto_schedule=doc.auto_schedule,
            created_at=doc.created_at,
        )

    @strawberry.field
    async def goal(
        self, info: Info
    ) -> Annotated[Goal, strawberry.lazy("graphql_api.goals.types")] | None:
        if self.doc.goal_id is None:
            return None
        goal = await goal_of(info.context, self.doc.goal_id)
        # Goals are made of habits (goals.types imports this module): a Goal is built
        # through the registry of Node views, not by importing goals.types back.
        return cast("Goal", view_of("Goal", goal)) if goal else None

    @strawberry.field(
        description="Counted up to the user's today.", directives=cache(60), graphql_type=Streak
    )
    @readable(_page_streak)
    def streak(self, info: Info) -> Streak | Awaitable[Streak]:
        worked_out = _page_streak(self)
        if not isinstance(worked_out, UndefinedType):
            return worked_out
        return self._streak(info.context)

    async def _streak(self, ctx: Context) -> Streak:
        return _streak(await service.habit_stats(ctx, self.doc))

    @strawberry.field(
        description="Loop Habit Tracker's habit score on the user's today, in [0, 1].",
        directives=cache(60),
        graphql_type=float,
    )
    @readable(_page_strength)
    def strength(self, info: Info) -> float | Awaitable[float]:
        worked_out = _page_strength(self)
        if not isinstance(worked_out, UndefinedType):
            return worked_out
        return self._strength(info.context)

    async def _strength(self, ctx: Context) -> float:
        return (await service.habit_stats(ctx, self.doc)).strength

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
        return [CheckIn.of(d) for d in docs if low <= d.date <= high]


register_view("Habit", Habit.of)

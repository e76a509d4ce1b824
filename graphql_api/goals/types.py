from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime

import strawberry
from graphql.pyutils import Undefined, UndefinedType

from graphql_api import eager
from graphql_api.cache.control import cache
from graphql_api.context import Context, Info
from graphql_api.goals import service
from graphql_api.goals.enums import GoalStatus, Priority
from graphql_api.habits.service import habit_stats
from graphql_api.habits.types import Habit
from graphql_api.lookahead import all_settled, known, outcome
from graphql_api.readers import readable
from graphql_api.reads import user_habits
from graphql_api.relay import Node, register_view, to_global_id
from models import Goal as GoalDoc
from models.base import ref


@strawberry.type
class GoalTarget:
    value: float
    unit: str


@strawberry.type
class ProgressEntry:
    at: datetime
    value: float
    note: str | None


# Readers (graphql_api.readers): what the goal's page worked out for all its goals
# (`complete_goals`), so that a page of goals is completed by a plan.
def _page_progress(root: Goal) -> float | UndefinedType:
    return Undefined if root.page_progress is None else known(root.page_progress)


def _page_habits(root: Goal) -> list[Habit] | UndefinedType:
    return Undefined if root.page_habits is None else root.page_habits


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
    # What the goal's page worked out for all its goals at once (`complete_goals`):
    # the fields answer from it at once, without a coroutine of their own.
    page_progress: strawberry.Private[float | Exception | None] = None
    page_habits: strawberry.Private[list[Habit] | None] = None

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
        graphql_type=float,
    )
    @readable(_page_progress)
    def progress(self, info: Info) -> float | Awaitable[float]:
        worked_out = _page_progress(self)
        if not isinstance(worked_out, UndefinedType):
            return worked_out
        return service.goal_progress(info.context, self.doc)

    @strawberry.field(
        description=f"Logged progress, oldest first: the latest {service.PROGRESS_LOG_LATEST} "
        "entries (progress counts them all)."
    )
    async def progress_log(self, info: Info) -> list[ProgressEntry]:
        await info.context.cache.depend_on(f"goal:{ref(self.doc)}")
        entries = await info.context.loaders.progress_log_by_goal.load(ref(self.doc))
        latest = entries[-service.PROGRESS_LOG_LATEST :]
        return [ProgressEntry(at=e.at, value=e.value, note=e.note) for e in latest]

    @strawberry.field(
        description="The goal's habits, active or not, oldest first.",
        graphql_type=list[Habit],
    )
    @readable(_page_habits)
    def habits(self, info: Info) -> list[Habit] | Awaitable[list[Habit]]:
        worked_out = _page_habits(self)
        if not isinstance(worked_out, UndefinedType):
            return worked_out
        return self._habits(info.context)

    async def _habits(self, ctx: Context) -> list[Habit]:
        goal_id = ref(self.doc)
        return [Habit.of(d) for d in await user_habits(ctx) if d.goal_id == goal_id]


register_view("Goal", Goal.of)


async def complete_goals(
    ctx: Context, goals: list[Goal], *, progress: bool, habits: bool, stats: bool
) -> None:
    """Works out, for all the goals of a page at once, what the query asks of them: their
    progress, their habits, and those habits' streak and strength (`stats`). One batch
    of reads instead of one per goal and habit, and fields that answer at once."""
    if habits or stats:
        docs = await user_habits(ctx)
        for goal in goals:
            goal_id = ref(goal.doc)
            goal.page_habits = [Habit.of(d) for d in docs if d.goal_id == goal_id]

    # Each goal's progress started, and the habits' stats as the request's futures of
    # them (`habit_stats`), waited on as they are: no coroutine, and no task, to await
    # each; a failure is its field's to report.
    progressing = [(g, eager.start(service.goal_progress(ctx, g.doc))) for g in goals if progress]
    shown = [
        (h, habit_stats(ctx, h.doc)) for goal in goals if stats for h in goal.page_habits or []
    ]
    await all_settled([*(f for _, f in progressing), *(f for _, f in shown)])
    for goal, worked_out in progressing:
        goal.page_progress = outcome(worked_out)
    for habit, stats_of in shown:
        habit.page_stats = outcome(stats_of)

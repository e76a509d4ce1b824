from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from strawberry import UNSET

from graphql_api import eager, validation
from graphql_api.cache import codecs
from graphql_api.changes import goal_changed, goal_progress_logged, habits_changed
from graphql_api.errors import BadUserInput, not_found
from graphql_api.habits.service import habit_stats
from graphql_api.reads import carry_new_goal, hold_goals, user_goals, user_habits
from models import Goal, GoalProgress, Habit, Target
from models.base import Ref, ref, save_changes

if TYPE_CHECKING:
    from graphql_api.context import Context
    from graphql_api.goals.inputs import CreateGoalInput, GoalTargetInput, UpdateGoalInput

UNIT_MAX = 50
NOTE_MAX = 1000
MAX_PROGRESS_VALUE = 1e12
# Goal.progressLog shows this many of the latest entries (all of them count for progress).
PROGRESS_LOG_LATEST = 500

# P1 is stored as the heaviest weight (see models.goal.Goal.priority).
PRIORITY_WEIGHT = {"P1": 4, "P2": 3, "P3": 2, "P4": 1}
_PRIORITY_NAME = {weight: name for name, weight in PRIORITY_WEIGHT.items()}


def priority_name(weight: int) -> str:
    return _PRIORITY_NAME[weight]


def _target(data: GoalTargetInput | None) -> Target | None:
    if data is None:
        return None
    value = validation.finite(data.value, "target.value")
    if value <= 0:
        raise BadUserInput("target.value must be greater than 0", field="target.value")
    unit = validation.text(data.unit, "target.unit", UNIT_MAX)
    return Target(value=value, unit=unit)


async def create_goal(ctx: Context, data: CreateGoalInput) -> Goal:
    goal = Goal(
        user_id=ctx.user_id,
        title=validation.text(data.title, "title", validation.TITLE_MAX),
        description=validation.optional_text(
            data.description, "description", validation.DESCRIPTION_MAX
        ),
        priority=PRIORITY_WEIGHT[data.priority.value],
        target_date=data.target_date.isoformat() if data.target_date else None,
        target=_target(data.target),
    )
    # The user's cached goal list is carried over the write: the next Dashboard finds it
    # in the cache, with the new goal in it.
    held = await hold_goals(ctx)
    await goal.insert()
    await goal_changed(ctx, ref(goal), listed=True)
    await carry_new_goal(ctx, held, goal)
    return goal


async def update_goal(ctx: Context, goal: Goal, data: UpdateGoalInput) -> Goal:
    changes: dict[str, Any] = {}
    if data.title is not UNSET:
        title = validation.not_null(data.title, "title")
        changes["title"] = validation.text(title, "title", validation.TITLE_MAX)
    if data.description is not UNSET:
        changes["description"] = validation.optional_text(
            data.description, "description", validation.DESCRIPTION_MAX
        )
    if data.priority is not UNSET:
        changes["priority"] = PRIORITY_WEIGHT[validation.not_null(data.priority, "priority").value]
    if data.target_date is not UNSET:
        changes["target_date"] = data.target_date.isoformat() if data.target_date else None
    if data.target is not UNSET:
        changes["target"] = _target(data.target)
    if data.status is not UNSET:
        changes["status"] = validation.not_null(data.status, "status").value
    if changes:
        changes["updated_at"] = datetime.now(UTC)
        if not await save_changes(goal, {"userId": goal.user_id}, **changes):
            raise not_found("Goal")
        await goal_changed(ctx, ref(goal), listed=True)
    return goal


async def delete_goal(ctx: Context, goal_id: Ref) -> None:
    """Deletes the goal and its progress log; its habits stay, without a goal."""
    owner = {"userId": ctx.user_id}
    result = await Goal.get_pymongo_collection().delete_one({"_id": ObjectId(goal_id), **owner})
    if result.deleted_count == 0:
        raise not_found("Goal")
    await Habit.get_pymongo_collection().update_many(
        {"goalId": goal_id, **owner}, {"$set": {"goalId": None}, "$inc": {"rev": 1}}
    )
    await GoalProgress.get_pymongo_collection().delete_many({"goalId": goal_id, **owner})
    await habits_changed(ctx)
    await goal_changed(ctx, goal_id, listed=True, logged=True)


async def log_progress(ctx: Context, goal: Goal, value: float, note: str | None) -> GoalProgress:
    validation.finite(value, "value")
    if abs(value) > MAX_PROGRESS_VALUE:
        raise BadUserInput(f"value must be within ±{MAX_PROGRESS_VALUE:g}", field="value")
    entry = GoalProgress(
        user_id=goal.user_id,
        goal_id=ref(goal),
        value=value,
        note=validation.optional_text(note, "note", NOTE_MAX),
    )
    await entry.insert()
    await goal_progress_logged(ctx, ref(goal))
    return entry


def _sort_key(order: str) -> Any:
    def created(goal: Goal) -> int:
        return -int(goal.created_at.timestamp() * 1_000_000)

    def by_date(goal: Goal) -> list[Any]:
        # Goals without a target date come last.
        return [0, goal.target_date] if goal.target_date else [1, ""]

    if order == "CREATED_AT":
        return lambda g: [created(g), str(g.id)]
    if order == "TARGET_DATE":
        return lambda g: [*by_date(g), -g.priority, created(g), str(g.id)]
    return lambda g: [-g.priority, *by_date(g), created(g), str(g.id)]


async def list_goals(ctx: Context, status: str | None, order: str) -> tuple[list[Goal], Any]:
    """The user's goals in `order`, and the key they are sorted by (for cursors).

    A user's goals are few (hundreds at most): one read and an in-memory sort
    give keyset pages with "no target date last", which Mongo cannot sort.
    """
    goals = [g for g in await user_goals(ctx) if status is None or g.status == status]
    key = _sort_key(order)
    goals.sort(key=key)
    return goals, key


async def _logged_total(ctx: Context, goal_id: Ref) -> float:
    """The sum of the goal's progress log, cached under its own scope: what retires the
    goal's progress (a check-in of one of its habits) need not read the log again."""

    async def load() -> float:
        return await ctx.loaders.progress_total_by_goal.load(goal_id)

    ttl = ctx.settings.cache_ttl_goal_progress
    total: float = await ctx.cache.cached(
        f"progress_total:{goal_id}", [f"progress:{goal_id}"], ttl, load, codecs.JSON
    )
    return total


async def goal_progress(ctx: Context, goal: Goal) -> float:
    async def compute() -> float:
        if goal.status == "COMPLETED":
            return 1.0
        if goal.target is not None:
            total = await _logged_total(ctx, ref(goal))
            return min(1.0, max(0.0, total / goal.target.value))
        habits = [h for h in await user_habits(ctx) if h.goal_id == ref(goal) and h.is_active]
        if not habits:
            return 0.0
        stats = await eager.gather(*(habit_stats(ctx, h) for h in habits))
        return sum(s.strength for s in stats) / len(stats)

    # "today" is in the key: strengths move with the calendar, not only with writes.
    name = f"goal_progress:{ref(goal)}:{ctx.today}"
    ttl = ctx.settings.cache_ttl_goal_progress
    result: float = await ctx.cache.cached(name, [f"goal:{ref(goal)}"], ttl, compute, codecs.JSON)
    return result

from __future__ import annotations

from beanie import PydanticObjectId

from loaders.base import ByIdLoader, ByParentLoader, UserScopedLoader
from models import Calendar, CheckIn, Event, Goal, GoalProgress, Habit


class GoalByIdLoader(ByIdLoader[Goal]):
    document = Goal


class HabitByIdLoader(ByIdLoader[Habit]):
    document = Habit


class CalendarByIdLoader(ByIdLoader[Calendar]):
    document = Calendar


class EventByIdLoader(ByIdLoader[Event]):
    document = Event


class HabitsByGoalLoader(ByParentLoader[Habit]):
    document = Habit
    field = "goalId"
    attribute = "goal_id"
    order_by = "created_at"


class CheckInsByHabitLoader(ByParentLoader[CheckIn]):
    """A habit's whole history, oldest first: streaks need all of it."""

    document = CheckIn
    field = "habitId"
    attribute = "habit_id"
    order_by = "date"


class ProgressLogByGoalLoader(ByParentLoader[GoalProgress]):
    document = GoalProgress
    field = "goalId"
    attribute = "goal_id"
    order_by = "at"


class ProgressTotalByGoalLoader(UserScopedLoader[PydanticObjectId, float]):
    """The sum of each goal's logged progress, summed by Mongo in one aggregation."""

    async def batch_load_fn(self, keys: list[PydanticObjectId]) -> list[float]:
        pipeline = [
            {"$match": {"goalId": {"$in": list(set(keys))}, "userId": self.user_id}},
            {"$group": {"_id": "$goalId", "total": {"$sum": "$value"}}},
        ]
        rows = await GoalProgress.get_pymongo_collection().aggregate(pipeline)
        totals = {row["_id"]: float(row["total"]) async for row in rows}
        return [totals.get(key, 0.0) for key in keys]

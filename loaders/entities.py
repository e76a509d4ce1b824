from __future__ import annotations

from collections import defaultdict

from beanie import PydanticObjectId

from loaders.base import BATCH_SIZE, ByIdLoader, ByParentLoader, UserScopedLoader
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
    """The sum of each goal's logged progress."""

    async def batch_load_fn(self, keys: list[PydanticObjectId]) -> list[float]:
        # A find of two small fields rather than a $group: the same one round
        # trip, and it runs unchanged on the Mongo-wire test server.
        cursor = GoalProgress.get_pymongo_collection().find(
            {"goalId": {"$in": list(set(keys))}, "userId": self.user_id},
            {"goalId": 1, "value": 1, "_id": 0},
            batch_size=BATCH_SIZE,
        )
        totals: dict[PydanticObjectId, float] = defaultdict(float)
        async for row in cursor:
            totals[row["goalId"]] += float(row["value"])
        return [totals.get(key, 0.0) for key in keys]

from __future__ import annotations

from collections import defaultdict
from operator import attrgetter

from loaders.base import ByIdLoader, ByParentLoader, UserScopedLoader, find_rows, naive_times
from models import CheckInEntry, CheckInYear, Event, Goal, GoalProgress, Habit, Task
from models.base import Ref, matching


class GoalByIdLoader(ByIdLoader[Goal]):
    document = Goal


class HabitByIdLoader(ByIdLoader[Habit]):
    document = Habit


class EventByIdLoader(ByIdLoader[Event]):
    document = Event


class TaskByIdLoader(ByIdLoader[Task]):
    document = Task


class BlocksByTaskLoader(ByParentLoader[Event]):
    """The events the planner booked for each task (its blocks), by start."""

    document = Event
    field = "taskId"
    attribute = "task_id"
    order_by = "start_time"


class CheckInsByHabitLoader(UserScopedLoader[Ref, list[CheckInEntry]]):
    """A habit's whole history, oldest first: streaks need all of it."""

    async def load_batch(self, keys: list[Ref]) -> list[list[CheckInEntry]]:
        years = await find_rows(
            naive_times(CheckInYear.get_pymongo_collection()),  # the days are strings
            matching({"habitId": {"$in": list(set(keys))}, "userId": self.user_id}),
            self.reads,
        )
        grouped: dict[Ref, list[CheckInEntry]] = defaultdict(list)
        for year in years:
            grouped[year["habitId"]].extend(CheckInEntry.all_of(year))
        return [sorted(grouped.get(key, []), key=_DAY) for key in keys]


_DAY = attrgetter("date")  # of a CheckInEntry


class ProgressLogByGoalLoader(ByParentLoader[GoalProgress]):
    document = GoalProgress
    field = "goalId"
    attribute = "goal_id"
    order_by = "at"


class ProgressTotalByGoalLoader(UserScopedLoader[Ref, float]):
    """The sum of each goal's logged progress."""

    async def load_batch(self, keys: list[Ref]) -> list[float]:
        # A find rather than a $group: the same one round trip, and it runs unchanged on
        # the Mongo-wire test server.
        rows = await find_rows(
            naive_times(GoalProgress.get_pymongo_collection()),  # only the values are read
            matching({"goalId": {"$in": list(set(keys))}, "userId": self.user_id}),
            self.reads,
        )
        totals: dict[Ref, float] = defaultdict(float)
        for row in rows:
            totals[row["goalId"]] += float(row["value"])
        return [totals.get(key, 0.0) for key in keys]

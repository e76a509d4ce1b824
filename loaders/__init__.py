"""DataLoaders, built per request (aiodataloader binds the running loop)."""

from __future__ import annotations

from functools import cached_property

from loaders.entities import (
    BlocksByTaskLoader,
    CheckInsByHabitLoader,
    EventByIdLoader,
    GoalByIdLoader,
    HabitByIdLoader,
    ProgressLogByGoalLoader,
    ProgressTotalByGoalLoader,
    TaskByIdLoader,
)
from loaders.reads import Reads


class Loaders:
    """The request's loaders, each made on first use: most requests need one or two, and
    an answer served whole from the cache needs none."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        # The request's Mongo reads, its loaders' and its lists' alike: those asked for
        # together go as one command (loaders.reads).
        self.reads = Reads()

    @cached_property
    def goal_by_id(self) -> GoalByIdLoader:
        return GoalByIdLoader(self.user_id, self.reads)

    @cached_property
    def habit_by_id(self) -> HabitByIdLoader:
        return HabitByIdLoader(self.user_id, self.reads)

    @cached_property
    def event_by_id(self) -> EventByIdLoader:
        return EventByIdLoader(self.user_id, self.reads)

    @cached_property
    def check_ins_by_habit(self) -> CheckInsByHabitLoader:
        return CheckInsByHabitLoader(self.user_id, self.reads)

    @cached_property
    def progress_log_by_goal(self) -> ProgressLogByGoalLoader:
        return ProgressLogByGoalLoader(self.user_id, self.reads)

    @cached_property
    def progress_total_by_goal(self) -> ProgressTotalByGoalLoader:
        return ProgressTotalByGoalLoader(self.user_id, self.reads)

    @cached_property
    def task_by_id(self) -> TaskByIdLoader:
        return TaskByIdLoader(self.user_id, self.reads)

    @cached_property
    def blocks_by_task(self) -> BlocksByTaskLoader:
        return BlocksByTaskLoader(self.user_id, self.reads)


def create_loaders(user_id: str) -> Loaders:
    return Loaders(user_id)


__all__ = ["Loaders", "create_loaders"]

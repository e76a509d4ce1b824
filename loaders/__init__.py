"""DataLoaders, built per request (aiodataloader binds the running loop)."""

from __future__ import annotations

from dataclasses import dataclass

from loaders.entities import (
    CheckInsByHabitLoader,
    EventByIdLoader,
    GoalByIdLoader,
    HabitByIdLoader,
    ProgressLogByGoalLoader,
    ProgressTotalByGoalLoader,
)


@dataclass(frozen=True)
class Loaders:
    goal_by_id: GoalByIdLoader
    habit_by_id: HabitByIdLoader
    event_by_id: EventByIdLoader
    check_ins_by_habit: CheckInsByHabitLoader
    progress_log_by_goal: ProgressLogByGoalLoader
    progress_total_by_goal: ProgressTotalByGoalLoader


def create_loaders(user_id: str) -> Loaders:
    return Loaders(
        goal_by_id=GoalByIdLoader(user_id),
        habit_by_id=HabitByIdLoader(user_id),
        event_by_id=EventByIdLoader(user_id),
        check_ins_by_habit=CheckInsByHabitLoader(user_id),
        progress_log_by_goal=ProgressLogByGoalLoader(user_id),
        progress_total_by_goal=ProgressTotalByGoalLoader(user_id),
    )


__all__ = ["Loaders", "create_loaders"]

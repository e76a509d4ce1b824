from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class TaskStatus(Enum):
    OPEN = "OPEN"
    DONE = "DONE"
    ARCHIVED = "ARCHIVED"


@strawberry.enum(description="What made the planner change the user's plan.")
class PlanReason(Enum):
    CALENDAR_CHANGED = "CALENDAR_CHANGED"
    TASK_CHANGED = "TASK_CHANGED"
    HABIT_CHANGED = "HABIT_CHANGED"
    HORIZON = "HORIZON"

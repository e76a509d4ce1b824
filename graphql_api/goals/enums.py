"""The goals' GraphQL enums: inputs and types both import them, never each other."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class GoalStatus(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"


@strawberry.enum
class GoalOrder(Enum):
    PRIORITY = "PRIORITY"
    TARGET_DATE = "TARGET_DATE"
    CREATED_AT = "CREATED_AT"


@strawberry.enum(description="P1 is the most important.")
class Priority(Enum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

"""The habits' GraphQL enums: inputs and types both import them, never each other."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class Period(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.enum
class CheckInStatus(Enum):
    DONE = "DONE"
    SKIPPED = "SKIPPED"
    MISSED = "MISSED"

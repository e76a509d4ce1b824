"""The events' GraphQL enums: inputs and types both import them, never each other."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class EventStatus(Enum):
    CONFIRMED = "CONFIRMED"
    TENTATIVE = "TENTATIVE"
    CANCELLED = "CANCELLED"

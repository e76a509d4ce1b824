"""The calendars' GraphQL enums: inputs and types both import them, never each other."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class CalendarProvider(Enum):
    GOOGLE = "GOOGLE"
    OUTLOOK = "OUTLOOK"
    CALDAV = "CALDAV"
    ICS = "ICS"
    LOCAL = "LOCAL"


@strawberry.enum
class SyncRunStatus(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

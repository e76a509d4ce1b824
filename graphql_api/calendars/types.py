from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from graphql_api.relay import Node
from models import Calendar as CalendarDoc


@strawberry.enum
class CalendarProvider(Enum):
    GOOGLE = "GOOGLE"
    CALDAV = "CALDAV"
    ICS = "ICS"
    LOCAL = "LOCAL"


@strawberry.enum
class SyncRunStatus(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type
class SyncState:
    status: SyncRunStatus
    last_synced_at: datetime | None
    last_error: str | None
    event_count: int


@strawberry.type
class Calendar(Node):
    doc: strawberry.Private[CalendarDoc]

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def provider(self) -> CalendarProvider:
        return CalendarProvider(self.doc.provider)

    @strawberry.field(description="IANA zone in which the calendar's all-day events fall.")
    def timezone(self) -> str:
        return self.doc.timezone

    @strawberry.field
    def color(self) -> str | None:
        return self.doc.color

    @strawberry.field
    def is_primary(self) -> bool:
        return self.doc.is_primary

    @strawberry.field(description="The last sync; null for LOCAL calendars, which do not sync.")
    def sync_state(self) -> SyncState | None:
        s = self.doc.sync_state
        if s is None:
            return None
        return SyncState(
            status=SyncRunStatus(s.status),
            last_synced_at=s.last_synced_at,
            last_error=s.last_error,
            event_count=s.event_count,
        )

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

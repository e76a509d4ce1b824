from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from graphql_api.context import Info
from graphql_api.errors import not_found
from graphql_api.relay import Node
from models import Calendar as CalendarDoc
from models import SyncRun as SyncRunDoc


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


@strawberry.type(description="One sync of one calendar.")
class SyncRun(Node):
    doc: strawberry.Private[SyncRunDoc]

    @strawberry.field
    def status(self) -> SyncRunStatus:
        return SyncRunStatus(self.doc.status)

    @strawberry.field(description="Whether it lists the whole calendar (else: changes only).")
    def full(self) -> bool:
        return self.doc.full

    @strawberry.field
    async def calendar(self, info: Info) -> Calendar:
        from graphql_api.calendars.service import calendar_of

        calendar = await calendar_of(info.context, self.doc.calendar_id)
        if calendar is None:
            raise not_found("Calendar")
        return Calendar(doc=calendar)

    @strawberry.field
    def processed(self) -> int:
        return self.doc.processed

    @strawberry.field(description="Of the whole sync, when the provider says.")
    def total(self) -> int | None:
        return self.doc.total

    @strawberry.field
    def created(self) -> int:
        return self.doc.created

    @strawberry.field
    def updated(self) -> int:
        return self.doc.updated

    @strawberry.field
    def deleted(self) -> int:
        return self.doc.deleted

    @strawberry.field
    def error(self) -> str | None:
        return self.doc.error

    @strawberry.field
    def queued_at(self) -> datetime:
        return self.doc.queued_at

    @strawberry.field
    def started_at(self) -> datetime | None:
        return self.doc.started_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.doc.finished_at


@strawberry.type(description="Where a sync run stands, as it goes.")
class SyncStatusEvent:
    run_id: strawberry.ID
    calendar_id: strawberry.ID
    status: SyncRunStatus
    processed: int
    total: int | None
    created: int
    updated: int
    deleted: int
    error: str | None
    at: datetime

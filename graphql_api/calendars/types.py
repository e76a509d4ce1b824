from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from graphql_api.context import Info
from graphql_api.errors import not_found
from graphql_api.relay import Node, to_global_id
from models import Calendar as CalendarDoc
from models import SyncRun as SyncRunDoc


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


@strawberry.type
class SyncState:
    status: SyncRunStatus
    last_synced_at: datetime | None
    last_error: str | None
    event_count: int


@strawberry.type
class Calendar(Node):
    doc: strawberry.Private[CalendarDoc]
    name: str
    provider: CalendarProvider
    timezone: str = strawberry.field(
        description="IANA zone in which the calendar's all-day events fall."
    )
    color: str | None
    is_primary: bool
    sync_state: SyncState | None = strawberry.field(
        description="The last sync; null for LOCAL calendars, which do not sync."
    )
    created_at: datetime

    @classmethod
    def of(cls, doc: CalendarDoc) -> Calendar:
        s = doc.sync_state
        return cls(
            doc=doc,
            id=to_global_id("Calendar", doc.id),
            name=doc.name,
            provider=CalendarProvider(doc.provider),
            timezone=doc.timezone,
            color=doc.color,
            is_primary=doc.is_primary,
            sync_state=None
            if s is None
            else SyncState(
                status=SyncRunStatus(s.status),
                last_synced_at=s.last_synced_at,
                last_error=s.last_error,
                event_count=s.event_count,
            ),
            created_at=doc.created_at,
        )


async def _sync_run_calendar(root: SyncRun, info: Info) -> Calendar:
    from graphql_api.calendars.service import calendar_of

    calendar = await calendar_of(info.context, root.doc.calendar_id)
    if calendar is None:
        raise not_found("Calendar")
    return Calendar.of(calendar)


@strawberry.type(description="One sync of one calendar.")
class SyncRun(Node):
    doc: strawberry.Private[SyncRunDoc]
    status: SyncRunStatus
    full: bool = strawberry.field(
        description="Whether it lists the whole calendar (else: changes only)."
    )
    calendar: Calendar = strawberry.field(resolver=_sync_run_calendar)
    processed: int
    total: int | None = strawberry.field(description="Of the whole sync, when the provider says.")
    created: int
    updated: int
    deleted: int
    error: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, doc: SyncRunDoc) -> SyncRun:
        return cls(
            doc=doc,
            id=to_global_id("SyncRun", doc.id),
            status=SyncRunStatus(doc.status),
            full=doc.full,
            processed=doc.processed,
            total=doc.total,
            created=doc.created,
            updated=doc.updated,
            deleted=doc.deleted,
            error=doc.error,
            queued_at=doc.queued_at,
            started_at=doc.started_at,
            finished_at=doc.finished_at,
        )


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

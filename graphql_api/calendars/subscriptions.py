from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any

import strawberry

from graphql_api.calendars.enums import SyncRunStatus
from graphql_api.calendars.types import SyncStatusEvent
from graphql_api.context import Context, Info
from graphql_api.errors import not_found
from graphql_api.observability.operations import counted
from graphql_api.reads import calendar_of
from graphql_api.relay import ref_of, to_global_id
from graphql_api.sync.status import follow


@strawberry.type
class CalendarSubscriptions:
    @strawberry.subscription(
        description="Progress of the user's calendar syncs (one calendar's, when given): "
        "QUEUED, RUNNING with counts, then SUCCEEDED or FAILED. A calendar that is not "
        "the user's ends the subscription at once with NOT_FOUND."
    )
    async def sync_status(
        self, info: Info, calendar_id: strawberry.ID | None = None
    ) -> AsyncGenerator[SyncStatusEvent, None]:
        # A plain coroutine, not a generator: a refused calendar fails before the stream
        # starts, which the protocols answer with their `error` message.
        ctx = info.context
        wanted = None
        if calendar_id is not None:
            wanted = ref_of(calendar_id, "Calendar")
            if await calendar_of(ctx, wanted) is None:
                raise not_found("Calendar")
        return _statuses(ctx, wanted)


async def _statuses(ctx: Context, wanted: str | None) -> AsyncGenerator[SyncStatusEvent, None]:
    events: AsyncIterator[dict[str, Any]] = follow(
        ctx.state.events_redis, ctx.settings.cache_prefix, ctx.user_id
    )
    async for event in counted(events):
        if wanted is not None and event["calendarId"] != wanted:
            continue
        yield SyncStatusEvent(
            run_id=to_global_id("SyncRun", event["runId"]),
            calendar_id=to_global_id("Calendar", event["calendarId"]),
            status=SyncRunStatus(event["status"]),
            processed=event["processed"],
            total=event["total"],
            created=event["created"],
            updated=event["updated"],
            deleted=event["deleted"],
            error=event["error"],
            at=datetime.fromisoformat(event["at"]),
        )

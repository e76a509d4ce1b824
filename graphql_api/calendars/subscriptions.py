from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from graphql_api.calendars.types import SyncRunStatus, SyncStatusEvent
from graphql_api.context import Info
from graphql_api.observability.operations import counted
from graphql_api.relay import ref_of, to_global_id
from graphql_api.sync.status import follow


@strawberry.type
class CalendarSubscriptions:
    @strawberry.subscription(
        description="Progress of the user's calendar syncs (one calendar's, when given): "
        "QUEUED, RUNNING with counts, then SUCCEEDED or FAILED."
    )
    async def sync_status(
        self, info: Info, calendar_id: strawberry.ID | None = None
    ) -> AsyncGenerator[SyncStatusEvent, None]:
        ctx = info.context
        wanted = ref_of(calendar_id, "Calendar") if calendar_id is not None else None
        prefix = ctx.settings.cache_prefix
        async for event in counted(follow(ctx.state.events_redis, prefix, ctx.user_id)):
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

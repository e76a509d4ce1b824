from __future__ import annotations

import strawberry

from graphql_api.calendars import service
from graphql_api.calendars.inputs import ConnectCalendarInput
from graphql_api.calendars.types import Calendar, SyncRun
from graphql_api.context import Info
from graphql_api.relay import ref_of


@strawberry.type
class CalendarMutations:
    @strawberry.mutation
    async def connect_calendar(self, info: Info, input: ConnectCalendarInput) -> Calendar:
        return Calendar.of(await service.connect_calendar(info.context, input))

    @strawberry.mutation(
        description="Queues a sync of the calendar (joining one already queued) and returns it."
    )
    async def sync_calendar(
        self, info: Info, calendar_id: strawberry.ID, full_sync: bool = False
    ) -> SyncRun:
        run = await service.sync_calendar(
            info.context, ref_of(calendar_id, "Calendar"), full=full_sync
        )
        return SyncRun.of(run)

    @strawberry.mutation(description="Removes the calendar and every event on it.")
    async def disconnect_calendar(self, info: Info, id: strawberry.ID) -> bool:
        await service.disconnect_calendar(info.context, ref_of(id, "Calendar"))
        return True

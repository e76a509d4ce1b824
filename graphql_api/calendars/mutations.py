from __future__ import annotations

import strawberry

from graphql_api.calendars import service
from graphql_api.calendars.inputs import ConnectCalendarInput
from graphql_api.calendars.types import Calendar
from graphql_api.context import Info
from graphql_api.relay import ref_of


@strawberry.type
class CalendarMutations:
    @strawberry.mutation
    async def connect_calendar(self, info: Info, input: ConnectCalendarInput) -> Calendar:
        return Calendar(doc=await service.connect_calendar(info.context, input))

    @strawberry.mutation(description="Removes the calendar and every event on it.")
    async def disconnect_calendar(self, info: Info, id: strawberry.ID) -> bool:
        await service.disconnect_calendar(info.context, ref_of(id, "Calendar"))
        return True

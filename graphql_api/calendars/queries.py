from __future__ import annotations

import strawberry

from graphql_api.calendars import service
from graphql_api.calendars.types import Calendar
from graphql_api.context import Info
from models.base import ref


@strawberry.type
class CalendarQueries:
    @strawberry.field(description="The user's calendars, the primary one first.")
    async def calendars(self, info: Info) -> list[Calendar]:
        docs = await service.list_calendars(info.context.user_id)
        for doc in docs:
            info.context.loaders.calendar_by_id.prime(ref(doc), doc)
        return [Calendar(doc=d) for d in docs]

from __future__ import annotations

import strawberry

from graphql_api.cache.control import cache
from graphql_api.calendars.types import Calendar
from graphql_api.context import Info
from graphql_api.reads import user_calendars


@strawberry.type
class CalendarQueries:
    @strawberry.field(
        description="The user's calendars, the primary one first.", directives=cache(300)
    )
    async def calendars(self, info: Info) -> list[Calendar]:
        return [Calendar.of(d) for d in await user_calendars(info.context)]

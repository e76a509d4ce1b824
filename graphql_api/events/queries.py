from __future__ import annotations

import strawberry

from graphql_api import eager
from graphql_api.cache.control import cache
from graphql_api.calendars.types import Calendar
from graphql_api.context import Info
from graphql_api.events import service
from graphql_api.events.inputs import TimeRangeInput
from graphql_api.events.types import Event, complete_events
from graphql_api.lookahead import asks_for
from graphql_api.reads import user_habits
from graphql_api.relay import Connection
from models import Calendar as CalendarDoc
from models import Event as EventDoc


@strawberry.type
class EventQueries:
    @strawberry.field(
        description="Events overlapping the range, ordered by start; cancelled ones left out.",
        directives=cache(60),
    )
    async def events(
        self,
        info: Info,
        range: TimeRangeInput,
        calendar_ids: list[strawberry.ID] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Event]:
        ids = [str(c) for c in calendar_ids] if calendar_ids is not None else None
        views: dict[str, Calendar] = {}  # one per calendar, shared by its events

        def wrap(doc: EventDoc, calendar: CalendarDoc) -> Event:
            view = views.get(doc.calendar_id)
            if view is None:
                view = views[doc.calendar_id] = Calendar.of(calendar)
            return Event.of(doc, view, kept=True)  # events_page's are shared read-only

        listed = service.events_page(info.context, range, ids, first, after, wrap=wrap)
        if not asks_for(info, "edges", "node", "habit"):
            return await listed
        page: Connection[Event]
        page, habits = await eager.both(listed, user_habits(info.context))
        complete_events([edge.node for edge in page.edges], habits)
        return page

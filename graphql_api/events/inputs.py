from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.events.types import EventStatus


@strawberry.input(description="Half-open: events overlapping [start, end).")
class TimeRangeInput:
    start: datetime
    end: datetime


@strawberry.input
class CreateEventInput:
    calendar_id: strawberry.ID
    title: str
    start: datetime
    end: datetime
    all_day: bool = False
    busy: bool = True
    description: str | None = None
    location: str | None = None
    status: EventStatus = EventStatus.CONFIRMED


@strawberry.input(description="Every field is optional; a field left out keeps its value.")
class UpdateEventInput:
    title: str | None = strawberry.UNSET
    start: datetime | None = strawberry.UNSET
    end: datetime | None = strawberry.UNSET
    all_day: bool | None = strawberry.UNSET
    busy: bool | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    status: EventStatus | None = strawberry.UNSET

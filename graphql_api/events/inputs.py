from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.events.enums import EventStatus


@strawberry.input(description="Half-open: events overlapping [start, end).")
class TimeRangeInput:
    start: datetime
    end: datetime


@strawberry.input(description="How a new event repeats (a LOCAL calendar's series).")
class RecurrenceInput:
    rrule: str = strawberry.field(
        description="An RRULE without its prefix (FREQ=WEEKLY;BYDAY=MO,WE): FREQ DAILY, "
        "WEEKLY, MONTHLY or YEARLY, with INTERVAL, BYDAY (weekdays; monthly and yearly also "
        "1 to 4 or -1 of them: 2TU), BYMONTHDAY (1 to 28 or -1 to -28), BYMONTH (yearly), "
        "and COUNT or UNTIL (UTC) ending it within 20 years and 1000 occurrences, or neither. "
        "The event's start must be its first occurrence."
    )
    timezone: str | None = strawberry.field(
        default=None, description="IANA zone the rule runs in; default: the calendar's."
    )


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
    recurrence: RecurrenceInput | None = None


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

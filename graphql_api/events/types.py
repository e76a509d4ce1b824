from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.calendars.service import calendar_of
from graphql_api.calendars.types import Calendar
from graphql_api.context import Info
from graphql_api.errors import not_found
from graphql_api.events.recurrence import first_end, is_generated, rrule_of
from graphql_api.relay import Node, to_global_id
from models import Event as EventDoc

if TYPE_CHECKING:
    from graphql_api.habits.types import Habit


@strawberry.enum
class EventStatus(Enum):
    CONFIRMED = "CONFIRMED"
    TENTATIVE = "TENTATIVE"
    CANCELLED = "CANCELLED"


def _floating(iso_date: str) -> datetime:
    return datetime.combine(date.fromisoformat(iso_date), time(), UTC)


@strawberry.type(description="How a recurring series repeats.")
class Recurrence:
    rrule: str = strawberry.field(
        description="The series' RRULE as the provider holds it, without the `RRULE:` "
        "prefix: FREQ=WEEKLY;BYDAY=MO (an UNTIL in UTC)."
    )
    timezone: str = strawberry.field(
        description="The IANA time zone the rule runs in: its instances keep their wall-clock "
        "time across DST changes."
    )


@strawberry.type
class Event(Node):
    doc: strawberry.Private[EventDoc]

    @strawberry.field
    def id(self) -> strawberry.ID:
        if is_generated(self.doc):  # an instance of a series: the series' id and its start
            return to_global_id("Event", f"{self.doc.id}@{self.doc.instance}")
        return to_global_id("Event", self.doc.id)

    @strawberry.field
    def title(self) -> str:
        return self.doc.title

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description

    @strawberry.field
    def location(self) -> str | None:
        return self.doc.location

    @strawberry.field(
        description="The start instant. For an all-day event: its first date at 00:00Z, "
        "a date that no time zone shifts (see startDate). A series' own node has its first "
        "occurrence's start and end."
    )
    def start(self) -> datetime:
        if self.doc.all_day and self.doc.start_date:
            return _floating(self.doc.start_date)
        return self.doc.start_time

    @strawberry.field(
        description="The end instant, exclusive. For an all-day event: the day after its last "
        "date at 00:00Z (see endDate)."
    )
    def end(self) -> datetime:
        if self.doc.all_day and self.doc.end_date:
            return _floating(self.doc.end_date)
        if self.doc.recurrence:  # a series' own node: its first occurrence
            return first_end(self.doc)
        return self.doc.end_time

    @strawberry.field
    def all_day(self) -> bool:
        return self.doc.all_day

    @strawberry.field(description="First date of an all-day event; null otherwise.")
    def start_date(self) -> date | None:
        return date.fromisoformat(self.doc.start_date) if self.doc.start_date else None

    @strawberry.field(description="End date of an all-day event, exclusive; null otherwise.")
    def end_date(self) -> date | None:
        return date.fromisoformat(self.doc.end_date) if self.doc.end_date else None

    @strawberry.field(description="Whether the event blocks time for scheduling.")
    def busy(self) -> bool:
        return self.doc.busy

    @strawberry.field
    def status(self) -> EventStatus:
        return EventStatus(self.doc.status)

    @strawberry.field(description="The recurring event this is an instance of, if any.")
    def recurring_event_id(self) -> strawberry.ID | None:
        rid = self.doc.recurring_event_id
        return to_global_id("Event", rid) if rid else None

    @strawberry.field(
        description="How the series repeats, on a series and on each of its instances; "
        "null on single events."
    )
    async def recurrence(self, info: Info) -> Recurrence | None:
        series: EventDoc | None = self.doc
        if not self.doc.recurrence:
            rid = self.doc.recurring_event_id
            series = await info.context.loaders.event_by_id.load(rid) if rid else None
        rule = rrule_of(series) if series is not None else None
        if series is None or rule is None:  # a single event, or a series of RDATEs alone
            return None
        zone = series.timezone
        if zone is None:  # all-day series run in their calendar's zone
            calendar = await calendar_of(info.context, series.calendar_id)
            zone = calendar.timezone if calendar is not None else "UTC"
        return Recurrence(rrule=rule, timezone=zone)

    @strawberry.field
    async def calendar(self, info: Info) -> Calendar:
        calendar = await calendar_of(info.context, self.doc.calendar_id)
        if calendar is None:  # removed while this request ran
            raise not_found("Calendar")
        return Calendar(doc=calendar)

    @strawberry.field(description="The habit this event was booked for, if any.")
    async def habit(
        self, info: Info
    ) -> Annotated[Habit, strawberry.lazy("graphql_api.habits.types")] | None:
        from graphql_api.habits.service import habit_of
        from graphql_api.habits.types import Habit

        if self.doc.habit_id is None:
            return None
        habit = await habit_of(info.context, self.doc.habit_id)
        return Habit(doc=habit) if habit else None

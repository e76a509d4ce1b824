from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.calendars.service import calendar_of
from graphql_api.calendars.types import Calendar
from graphql_api.context import Info
from graphql_api.errors import not_found
from graphql_api.events.recurrence import is_generated
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
        "a date that no time zone shifts (see startDate)."
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

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql.pyutils import Undefined, UndefinedType

from graphql_api.calendars.types import Calendar
from graphql_api.context import Context, Info
from graphql_api.errors import not_found
from graphql_api.events.enums import EventStatus
from graphql_api.habits.types import Habit
from graphql_api.memo import by_identity
from graphql_api.readers import readable
from graphql_api.reads import calendar_of, event_by_id, habit_of
from graphql_api.recurrence import first_end, is_generated, rrule_of
from graphql_api.relay import Node, to_global_id
from models import Event as EventDoc
from models import Habit as HabitDoc
from models import Task as TaskDoc
from models.base import ref

if TYPE_CHECKING:
    from graphql_api.tasks.types import Task


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


async def _recurrence(root: Event, info: Info) -> Recurrence | None:
    series: EventDoc | None = root.doc
    if not root.doc.recurrence:
        rid = root.doc.recurring_event_id
        series = await event_by_id(info.context, rid) if rid else None
    rule = rrule_of(series) if series is not None else None
    if series is None or rule is None:  # a single event, or a series of RDATEs alone
        return None
    zone = series.timezone
    if zone is None:  # all-day series run in their calendar's zone
        calendar = await calendar_of(info.context, series.calendar_id)
        zone = calendar.timezone if calendar is not None else "UTC"
    return Recurrence(rrule=rule, timezone=zone)


def _page_habit(root: Event) -> Habit | UndefinedType | None:
    """The event's habit when its page has read them (else only `_habit` can tell)."""
    habit_id = root.doc.habit_id
    if habit_id is None:
        return None
    if root.page_habits is not None:
        return root.page_habits.get(habit_id)
    return Undefined


@readable(_page_habit)
def _habit(root: Event, info: Info) -> Habit | Awaitable[Habit | None] | None:
    known = _page_habit(root)
    if not isinstance(known, UndefinedType):
        return known
    return _habit_of(info.context, root.doc.habit_id or "")


async def _habit_of(ctx: Context, habit_id: str) -> Habit | None:
    habit = await habit_of(ctx, habit_id)
    return Habit.of(habit) if habit else None


# How a task is shown (`Task.of`), given by graphql_api.tasks.types when it loads: tasks
# sit above events (a task's blocks are events), so this module does not import them.
TASK_VIEW: list[Callable[[TaskDoc], Any]] = []


async def _task(root: Event, info: Info) -> Task | None:
    task_id = root.doc.task_id
    if task_id is None:
        return None
    await info.context.cache.depend_on("tasks")
    doc = await info.context.loaders.task_by_id.load(task_id)
    if doc is None:
        return None
    task: Task = TASK_VIEW[0](doc)
    return task


# A stored status's member, without the enum's call (two Python calls an event); an
# unknown one still raises as the enum does.
_STATUSES: dict[str, EventStatus] = {status.value: status for status in EventStatus}


@strawberry.type
class Event(Node):
    doc: strawberry.Private[EventDoc]
    title: str
    description: str | None
    location: str | None
    start: datetime = strawberry.field(
        description="The start instant. For an all-day event: its first date at 00:00Z, "
        "a date that no time zone shifts (see startDate). A series' own node has its first "
        "occurrence's start and end."
    )
    end: datetime = strawberry.field(
        description="The end instant, exclusive. For an all-day event: the day after its last "
        "date at 00:00Z (see endDate)."
    )
    all_day: bool
    start_date: date | None = strawberry.field(
        description="First date of an all-day event; null otherwise."
    )
    end_date: date | None = strawberry.field(
        description="End date of an all-day event, exclusive; null otherwise."
    )
    busy: bool = strawberry.field(description="Whether the event blocks time for scheduling.")
    status: EventStatus
    recurring_event_id: strawberry.ID | None = strawberry.field(
        description="The recurring event this is an instance of, if any."
    )
    recurrence: Recurrence | None = strawberry.field(
        resolver=_recurrence,
        description="How the series repeats, on a series and on each of its instances; "
        "null on single events.",
    )
    calendar: Calendar
    # The user's habits by id, when the event's page read them for all its events.
    page_habits: strawberry.Private[dict[str, Habit] | None] = None
    habit: Habit | None = strawberry.field(
        resolver=_habit,  # type: ignore[assignment] # a value, or an awaitable of one
        description="The habit this event was booked for, if any.",
    )
    task: Annotated[Task, strawberry.lazy("graphql_api.tasks.types")] | None = strawberry.field(
        resolver=_task, description="The task this event is a block of, if any."
    )

    @classmethod
    def of(cls, doc: EventDoc, calendar: Calendar, *, kept: bool = False) -> Event:
        """`calendar`: the event's own, which a page of events has at hand (see `event_of`).
        `kept`: `doc` is one of the documents the events' cache shares read-only (see
        `_fields_of`)."""
        fields = _fields_of(doc) if kept and not is_generated(doc) else _fields(doc)
        return cls(doc=doc, calendar=calendar, **fields)


# What an event shows of its document (ids, times, status), by the document's identity:
# for the documents the events' cache shares read-only between requests (which nobody
# changes), so that a page of events made again after a write (or for another range)
# builds its events' fields once per process, not once per page. Kept while the
# document lives (graphql_api.memo.by_identity).
_FIELDS: dict[int, dict[str, Any]] = {}


def _fields_of(doc: EventDoc) -> dict[str, Any]:
    found = _FIELDS.get(id(doc))
    if found is not None:
        return found
    return by_identity(_FIELDS, doc, _fields(doc))


def _fields(doc: EventDoc) -> dict[str, Any]:
    # An instance of a series has the series' id and its own start.
    raw_id = f"{doc.id}@{doc.instance}" if is_generated(doc) else doc.id
    all_day, start_date, end_date = doc.all_day, doc.start_date, doc.end_date
    if all_day and end_date:
        end = _floating(end_date)
    elif doc.recurrence:  # a series' own node: its first occurrence
        end = first_end(doc)
    else:
        end = doc.end_time
    rid = doc.recurring_event_id
    return {
        "id": to_global_id("Event", raw_id),
        "title": doc.title,
        "description": doc.description,
        "location": doc.location,
        "start": _floating(start_date) if all_day and start_date else doc.start_time,
        "end": end,
        "all_day": all_day,
        "start_date": date.fromisoformat(start_date) if start_date else None,
        "end_date": date.fromisoformat(end_date) if end_date else None,
        "busy": doc.busy,
        "status": _STATUSES.get(doc.status) or EventStatus(doc.status),
        "recurring_event_id": to_global_id("Event", rid) if rid else None,
    }


def complete_events(events: list[Event], habits: list[HabitDoc]) -> None:
    """Gives a page's events the user's habits (one Habit each, shared), when the query
    asks for the habits they were booked for: those fields then answer at once."""
    booked = {e.doc.habit_id for e in events}
    views = {ref(h): Habit.of(h) for h in habits if ref(h) in booked}
    for event in events:
        event.page_habits = views


async def event_of(ctx: Context, doc: EventDoc) -> Event:
    """The event with its calendar, one of the user's (from the request's list)."""
    calendar = await calendar_of(ctx, doc.calendar_id)
    if calendar is None:  # removed while this request ran
        raise not_found("Calendar")
    return Event.of(doc, Calendar.of(calendar))

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING
from strawberry import UNSET

from graphql_api import validation
from graphql_api.errors import AppError, BadUserInput, for_item, not_found
from graphql_api.relay import (
    Connection,
    Edge,
    PageInfo,
    decode_cursor,
    encode_cursor,
    page_size,
    ref_of,
)
from loaders.base import BATCH_SIZE
from models import Calendar, Event
from models.base import Ref, ref, save_changes

if TYPE_CHECKING:
    from graphql_api.context import Context
    from graphql_api.events.inputs import CreateEventInput, TimeRangeInput, UpdateEventInput

LOCATION_MAX = 500
MAX_EVENT_LENGTH = timedelta(days=366)
INSERT_CHUNK = 50  # the seed's batch size
MAX_BATCH = 1000


@dataclass(frozen=True)
class EventTimes:
    start_time: datetime
    end_time: datetime
    all_day: bool
    start_date: str | None = None
    end_date: str | None = None


def event_times(start: datetime, end: datetime, all_day: bool, zone: str) -> EventTimes:
    """Instants for ranges and ordering; dates for all-day events.

    An all-day event takes the dates the client wrote (in the offsets it wrote
    them in), so no time zone shifts it; an end that is not a midnight still
    covers its whole day.
    """
    if end <= start:
        raise BadUserInput("end must be after start", field="end")
    if all_day:
        first = start.date()
        last = end.date() if end.time() == time() else end.date() + timedelta(days=1)
        if last <= first:
            raise BadUserInput("end must be after start", field="end")
        if last - first > MAX_EVENT_LENGTH:
            raise BadUserInput("an event may last at most 366 days", field="end")
        tz = ZoneInfo(zone)
        return EventTimes(
            start_time=datetime.combine(first, time(), tz).astimezone(UTC),
            end_time=datetime.combine(last, time(), tz).astimezone(UTC),
            all_day=True,
            start_date=first.isoformat(),
            end_date=last.isoformat(),
        )
    if end - start > MAX_EVENT_LENGTH:
        raise BadUserInput("an event may last at most 366 days", field="end")
    # Mongo keeps milliseconds; whole seconds keep cursors and equality exact.
    return EventTimes(
        start_time=start.astimezone(UTC).replace(microsecond=0),
        end_time=end.astimezone(UTC).replace(microsecond=0),
        all_day=False,
    )


def writable(calendar: Calendar | None) -> Calendar:
    if calendar is None:
        raise not_found("Calendar")
    if calendar.provider != "LOCAL":
        raise BadUserInput(
            f"calendar {calendar.name!r} is synced from {calendar.provider}; "
            "change its events there",
            field="calendarId",
        )
    return calendar


def build_event(user_id: str, calendar: Calendar, data: CreateEventInput) -> Event:
    times = event_times(data.start, data.end, data.all_day, calendar.timezone)
    return Event(
        user_id=user_id,
        calendar_id=ref(calendar),
        title=validation.text(data.title, "title", validation.TITLE_MAX),
        description=validation.optional_text(
            data.description, "description", validation.DESCRIPTION_MAX
        ),
        location=validation.optional_text(data.location, "location", LOCATION_MAX),
        start_time=times.start_time,
        end_time=times.end_time,
        all_day=times.all_day,
        start_date=times.start_date,
        end_date=times.end_date,
        busy=data.busy,
        status=data.status.value,
    )


async def create_event(ctx: Context, data: CreateEventInput) -> Event:
    calendar = writable(await ctx.loaders.calendar_by_id.load(ref_of(data.calendar_id, "Calendar")))
    event = build_event(ctx.user_id, calendar, data)
    await event.insert()
    return event


async def batch_create_events(ctx: Context, inputs: Sequence[CreateEventInput]) -> list[Event]:
    """All or nothing: every input is checked before anything is written."""
    if len(inputs) > MAX_BATCH:
        raise BadUserInput(
            f"at most {MAX_BATCH} events per batch, got {len(inputs)}", field="inputs"
        )
    calendar_ids: list[Ref] = []
    for i, data in enumerate(inputs):
        try:
            calendar_ids.append(ref_of(data.calendar_id, "Calendar"))
        except AppError as e:
            raise for_item(e, i, "inputs") from None
    calendars = await ctx.loaders.calendar_by_id.load_many(calendar_ids)  # one query
    events: list[Event] = []
    for i, (data, calendar) in enumerate(zip(inputs, calendars, strict=True)):
        try:
            events.append(build_event(ctx.user_id, writable(calendar), data))
        except AppError as e:
            raise for_item(e, i, "inputs") from None
    try:
        for offset in range(0, len(events), INSERT_CHUNK):
            await Event.insert_many(events[offset : offset + INSERT_CHUNK])
    except Exception:
        # Take back the chunks already written, so the client sees nothing of it.
        await Event.get_pymongo_collection().delete_many({"_id": {"$in": [e.id for e in events]}})
        raise
    return events


def _current_times(event: Event, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The event's times as a client would write them: dates for all-day, local otherwise."""
    if event.all_day and event.start_date and event.end_date:
        return (
            datetime.combine(date.fromisoformat(event.start_date), time(), UTC),
            datetime.combine(date.fromisoformat(event.end_date), time(), UTC),
        )
    return event.start_time.astimezone(zone), event.end_time.astimezone(zone)


async def update_event(ctx: Context, event: Event, data: UpdateEventInput) -> Event:
    calendar = writable(await ctx.loaders.calendar_by_id.load(event.calendar_id))
    changes: dict[str, Any] = {}
    if data.title is not UNSET:
        title = validation.not_null(data.title, "title")
        changes["title"] = validation.text(title, "title", validation.TITLE_MAX)
    if data.description is not UNSET:
        changes["description"] = validation.optional_text(
            data.description, "description", validation.DESCRIPTION_MAX
        )
    if data.location is not UNSET:
        changes["location"] = validation.optional_text(data.location, "location", LOCATION_MAX)
    if data.busy is not UNSET:
        changes["busy"] = validation.not_null(data.busy, "busy")
    if data.status is not UNSET:
        changes["status"] = validation.not_null(data.status, "status").value
    if any(getattr(data, n) is not UNSET for n in ("start", "end", "all_day")):
        start, end = _current_times(event, ZoneInfo(calendar.timezone))
        times = event_times(
            data.start or start,
            data.end or end,
            event.all_day if data.all_day in (UNSET, None) else bool(data.all_day),
            calendar.timezone,
        )
        changes.update(
            start_time=times.start_time,
            end_time=times.end_time,
            all_day=times.all_day,
            start_date=times.start_date,
            end_date=times.end_date,
        )
    if changes:
        changes["updated_at"] = datetime.now(UTC)
        if not await save_changes(event, {"userId": event.user_id}, **changes):
            raise not_found("Event")
    return event


async def delete_event(ctx: Context, event: Event) -> None:
    writable(await ctx.loaders.calendar_by_id.load(event.calendar_id))
    result = await Event.get_pymongo_collection().delete_one(
        {"_id": event.id, "userId": ctx.user_id}
    )
    if result.deleted_count == 0:
        raise not_found("Event")


async def events_page(
    ctx: Context,
    time_range: TimeRangeInput,
    calendar_ids: list[str] | None,
    first: int | None,
    after: str | None,
) -> Connection[Any]:
    """Events overlapping the range, ordered by start; cancelled ones left out."""
    from graphql_api.events.types import Event as EventType

    start, end = validation.time_range(time_range.start, time_range.end)
    size = page_size(first)
    query: dict[str, Any] = {
        "userId": ctx.user_id,
        "startTime": {"$lt": end},
        "endTime": {"$gt": start},
        "status": {"$ne": "CANCELLED"},
    }
    if calendar_ids is not None:
        query["calendarId"] = {"$in": [ref_of(c, "Calendar") for c in calendar_ids]}
    # One find of (start, id) for the whole range gives the total and the page's
    # ids; a second fetches only the page's documents.
    keys = [
        (row["startTime"], row["_id"])
        async for row in Event.get_pymongo_collection()
        .find(query, {"startTime": 1}, batch_size=BATCH_SIZE)
        .sort([("startTime", ASCENDING), ("_id", ASCENDING)])
    ]
    begin = 0
    if after is not None:
        cursor_key = _event_cursor_key(after)
        begin = next((i for i, k in enumerate(keys) if k > cursor_key), len(keys))
    page_ids = [oid for _, oid in keys[begin : begin + size]]
    docs = await Event.find({"_id": {"$in": page_ids}}).to_list() if page_ids else []
    by_id = {doc.id: doc for doc in docs}
    window = [by_id[oid] for oid in page_ids if oid in by_id]
    for doc in window:
        ctx.loaders.event_by_id.prime(ref(doc), doc)
    edges = [Edge(cursor=_event_cursor(d), node=EventType(doc=d)) for d in window]
    return Connection(
        total_count=len(keys),
        page_info=PageInfo(
            has_next_page=begin + size < len(keys),
            has_previous_page=begin > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        edges=edges,
    )


def _event_cursor(event: Event) -> str:
    return encode_cursor([int(event.start_time.timestamp() * 1000), str(event.id)])


def _event_cursor_key(cursor: str) -> tuple[datetime, PydanticObjectId]:
    key = decode_cursor(cursor)
    try:
        millis, raw_id = key
        at = datetime.fromtimestamp(millis // 1000, UTC) + timedelta(milliseconds=millis % 1000)
        return at, PydanticObjectId(raw_id)
    except (ValueError, TypeError, InvalidId, OverflowError, OSError):
        raise BadUserInput(f"{cursor!r} is not a cursor of this list", field="after") from None

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from bson import ObjectId
from strawberry import UNSET

from graphql_api import eager, validation
from graphql_api.cache import codecs
from graphql_api.cache.scopes import calendar_scope, days_scope, week_scope
from graphql_api.changes import calendars_changed, event_changed, habit_changed
from graphql_api.errors import AppError, BadUserInput, for_item, not_found
from graphql_api.memo import by_identity
from graphql_api.reads import (
    calendar_of,
    event_by_id,
    habit_of,
    plans_anything,
    user_calendars,
)
from graphql_api.recurrence import (
    checked_rule,
    expand,
    first_end,
    is_generated,
    rrule_of,
    series_end,
)
from graphql_api.relay import Connection, encode_cursor, page_size, paginate, ref_of
from graphql_api.replans import request_replan
from loaders.base import find_rows, naive_times
from models import Calendar, Event, Habit
from models.base import Ref, apply_change, as_read, built, matching, ref
from models.event import overlapping
from models.habit import SKIPS_KEPT

if TYPE_CHECKING:
    from graphql_api.cache.request import Held
    from graphql_api.context import Context
    from graphql_api.events.inputs import CreateEventInput, TimeRangeInput, UpdateEventInput

LOCATION_MAX = 500
MAX_EVENT_LENGTH = timedelta(days=366)
INSERT_CHUNK = 50  # the seed's batch size
MAX_BATCH = 1000
WEEK = timedelta(days=7)


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


async def _replan(ctx: Context, *events: Event) -> None:
    """A change to the calendar ahead re-plans the user's tasks and auto-scheduled habits
    (in the worker), if they have any."""
    if any(e.end_time > ctx.now for e in events) and await plans_anything(ctx):
        await request_replan(ctx.state, ctx.user_id, "CALENDAR_CHANGED")


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
    zone = calendar.timezone
    if data.recurrence is not None and data.recurrence.timezone is not None:
        zone = validation.timezone(data.recurrence.timezone, "recurrence.timezone")
    times = event_times(data.start, data.end, data.all_day, zone)
    event = Event(
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
    if data.recurrence is not None:
        event.timezone = zone
        event.recurrence = [f"RRULE:{_rule(data.recurrence.rrule, event)}"]
        event = event.model_copy(update=_series_times(event))
    return event


def _rule(rrule: str, series: Event) -> str:
    try:
        return checked_rule(rrule, series)
    except ValueError as e:
        raise BadUserInput(str(e), field="recurrence.rrule") from None


def _series_times(series: Event) -> dict[str, Any]:
    """A series whose first occurrence has `start_time`/`end_time`: each instance's length,
    and the end of its last one (what range queries find it by)."""
    duration_s = int((series.end_time - series.start_time).total_seconds())
    ruled = series.model_copy(update={"duration_s": duration_s})
    return {"duration_s": duration_s, "end_time": series_end(ruled, series.timezone or "UTC")}


async def create_event(ctx: Context, data: CreateEventInput) -> Event:
    calendar = writable(await calendar_of(ctx, ref_of(data.calendar_id, "Calendar")))
    event = build_event(ctx.user_id, calendar, data)
    held = await _hold_weeks(ctx, event)
    await event.insert()
    await _changed(ctx, event)
    await _carry_weeks(ctx, event, held)
    await _replan(ctx, event)
    return event


async def _hold_weeks(ctx: Context, event: Event) -> list[tuple[date, Held[bytes], bytes]]:
    """Before a new event is written: the weeks it falls in that are cached (see
    `_stored_between`), to be carried over its write. Only for one event on its own
    days (not a series, whose write retires the whole calendar)."""
    if event.recurrence or event.instance:
        return []
    calendar_id, held = event.calendar_id, []
    for monday in _utc_weeks(event.start_time, event.end_time):
        scopes = [days_scope(calendar_id), week_scope(calendar_id, monday)]
        name = _week_name(calendar_id, monday)
        found = await ctx.cache.hold(name, scopes, codecs.BYTES, kept=(scopes[0],))
        if found is not None and found.value is not None:
            held.append((monday, found, found.value))
    return held


async def _carry_weeks(
    ctx: Context, event: Event, held: list[tuple[date, Held[bytes], bytes]]
) -> None:
    """After the new event's write and its bump: each held week with the event added,
    cached under the week's new version, so that the next page of those days need not
    query them (as a check-in carries its habit's history). The same bytes the query
    would give: the event as `_query_rows` reads it (`as_read`: naive times, BSON's
    milliseconds), in the week's
    order (`_in_order`)."""
    if not held:
        return
    row = as_read(event)
    [json] = codecs.stored_each([row])
    ttl = ctx.settings.cache_ttl_calendar_events
    for monday, week, raw in held:
        grown = week_with(raw, row, json, monday)
        carried = await ctx.cache.carry(week, raw if grown is None else grown[0], ttl, codecs.BYTES)
        if carried is not None and grown is not None:  # the next read here finds it decoded
            codecs.decoded_with(Event, raw, carried, at=grown[1], row=row, json=json)


def week_with(
    raw: bytes, row: dict[str, Any], json: bytes, monday: date
) -> tuple[bytes, int] | None:
    """A week's stored events (`codecs.stored` of its rows) with one more row (its JSON
    `json`: `codecs.stored_each`), and where in them the row is; None where the week's
    query and `by_week` would not put it there (`by_week` keeps only rows that overlap
    the week, which its query finds too)."""
    low = datetime.combine(monday, time(), UTC)
    slot = (row["calendarId"], monday)
    if row.get("status") == "CANCELLED" or not by_week([row], [slot], low, low + WEEK)[slot]:
        return None
    items = orjson.loads(raw)
    added = orjson.loads(json)
    items.append(added)
    items.sort(key=lambda item: (datetime.fromisoformat(item["startTime"]), item["_id"]))
    return orjson.dumps(items), next(i for i, item in enumerate(items) if item is added)


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
    calendars = [await calendar_of(ctx, c) for c in calendar_ids]
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
        # Take back the chunks already written, so the client sees nothing of it (nor
        # the cache, if a read came in between).
        await Event.get_pymongo_collection().delete_many({"_id": {"$in": [e.id for e in events]}})
        await calendars_changed(ctx, *dict.fromkeys(e.calendar_id for e in events))
        raise
    await calendars_changed(ctx, *dict.fromkeys(e.calendar_id for e in events))
    await _replan(ctx, *events)
    return events


def _current_times(event: Event, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The event's times as a client would write them: dates for all-day, local otherwise."""
    if event.all_day and event.start_date and event.end_date:
        return (
            datetime.combine(date.fromisoformat(event.start_date), time(), UTC),
            datetime.combine(date.fromisoformat(event.end_date), time(), UTC),
        )
    end = first_end(event) if event.recurrence else event.end_time  # a series: its first
    return event.start_time.astimezone(zone), end.astimezone(zone)


def _moved_series(event: Event, times: EventTimes) -> dict[str, Any]:
    """A series moved to new first-occurrence times: its rule must still start there."""
    moved = event.model_copy(update=vars(times))
    if (rule := rrule_of(event)) is not None:
        _rule(rule, moved)
    return _series_times(moved)


async def update_event(ctx: Context, event: Event, data: UpdateEventInput) -> Event:
    calendar = writable(await calendar_of(ctx, event.calendar_id))
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
    moves = any(getattr(data, n) is not UNSET for n in ("start", "end", "all_day"))

    def change(stored: Event) -> dict[str, Any]:
        # The times not given are the stored ones at the moment of the write, so a
        # concurrent change of the start and of the end both hold.
        if not moves:
            return changes
        start, end = _current_times(stored, ZoneInfo(calendar.timezone))
        times = event_times(
            data.start or start,
            data.end or end,
            stored.all_day if data.all_day in (UNSET, None) else bool(data.all_day),
            stored.timezone if stored.recurrence and stored.timezone else calendar.timezone,
        )
        moved = {
            **changes,
            "start_time": times.start_time,
            "end_time": times.end_time,
            "all_day": times.all_day,
            "start_date": times.start_date,
            "end_date": times.end_date,
        }
        if stored.recurrence:  # a series: its rule runs on from the new first occurrence
            moved.update(_moved_series(stored, times))
        if stored.planned and (stored.start_time, stored.end_time) != (
            times.start_time,
            times.end_time,
        ):
            # A booking of the planner's the user moves is theirs: pinned where they put
            # it, it counts toward its habit's period as one booked by hand.
            moved["planned"] = False
        return moved

    if changes or moves:
        changes["updated_at"] = datetime.now(UTC)
        before = await apply_change(event, {"userId": event.user_id}, change)
        if before is None:
            raise not_found("Event")
        await _changed(ctx, before, event)
        await _replan(ctx, before, event)
    return event


async def delete_event(ctx: Context, event: Event) -> None:
    writable(await calendar_of(ctx, event.calendar_id))
    # The document as it was deleted, not as it was read before: another request may
    # have moved it meanwhile (its skip and re-plan are of where it was).
    row = await Event.get_pymongo_collection().find_one_and_delete(
        {"_id": event.id, "userId": ctx.user_id}
    )
    if row is None:
        raise not_found("Event")
    deleted = Event.model_validate(row)
    await _changed(ctx, deleted)  # before anything else that may fail
    if deleted.planned and deleted.habit_id is not None:
        await _skip(ctx, deleted.habit_id, deleted.start_time)
    await _replan(ctx, deleted)


async def _skip(ctx: Context, habit_id: Ref, start: datetime) -> None:
    """A booking of the planner's the user deleted: the habit skips it (`Habit.skipped`), so
    that the planner does not book it again in its period, nor on its day."""
    habit = await habit_of(ctx, habit_id)
    if habit is None:
        return
    since = ctx.now - SKIPS_KEPT

    def change(stored: Habit) -> dict[str, Any]:
        return {"skipped": sorted({*(s for s in stored.skipped if s > since), start})}

    if await apply_change(habit, {"userId": ctx.user_id}, change) is not None:
        await habit_changed(ctx, habit, listed=True)


async def _changed(ctx: Context, *versions: Event) -> None:
    """Retires what these versions of one event (as it was and is) covered: the weeks of
    the days it is kept on, or the whole calendar for a series or an occurrence of one."""
    calendars = {e.calendar_id for e in versions}
    if len(calendars) > 1 or any(e.recurrence or e.instance for e in versions):
        await calendars_changed(ctx, *sorted(calendars))
        return
    days = {day for e in versions for day in _utc_days(e.start_time, e.end_time)}
    await event_changed(ctx, calendars.pop(), sorted(days))


def _utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days that [start, end) touches."""
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _utc_weeks(start: datetime, end: datetime) -> list[date]:
    """The Mondays of the UTC weeks (ISO weeks) that [start, end) touches."""
    first = start.astimezone(UTC).date()
    first -= timedelta(days=first.weekday())
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


async def _query_rows(
    ctx: Context, calendar_ids: list[Ref], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The stored events overlapping the range, of these calendars, cancelled ones left
    out: as stored (see `_stored_between`), their times naive, in UTC (`naive_times`)."""
    # The user's events in the range, the calendars picked here: a `calendarId: {$in}`
    # beside the range makes the embedded Mongo-wire server scan the whole collection.
    wanted = set(calendar_ids)
    rows = await find_rows(
        naive_times(Event.get_pymongo_collection()),
        {**overlapping(ctx.user_id, start, end), "status": {"$ne": "CANCELLED"}},
    )
    return [r for r in rows if r["calendarId"] in wanted]


async def _query_events(
    ctx: Context, calendar_ids: list[Ref], start: datetime, end: datetime
) -> list[Event]:
    # The events' instants are made UTC as they are built (`models.base.Instant`).
    return [built(Event, r) for r in await _query_rows(ctx, calendar_ids, start, end)]


async def events_between(
    ctx: Context, calendar_ids: list[Ref], start: datetime, end: datetime
) -> list[Event]:
    """The events of these calendars overlapping [start, end), cancelled ones left out,
    recurring series expanded into their instances. Read-only: they may be shared with
    other requests of this process (copy one before changing it)."""
    stored = await _stored_between(ctx, calendar_ids, start, end)
    series = {e.calendar_id for e in stored if e.recurrence}
    zones = {ref(c): c.timezone for c in await user_calendars(ctx)} if series else {}
    exceptions = await _exceptions_of(ctx, series)
    return expand(stored, start, end, zones, exceptions)


async def _exceptions_of(
    ctx: Context, calendar_ids: Iterable[Ref]
) -> dict[Ref, dict[str, set[str]]]:
    """The exceptions of these calendars' series (`_exceptions`), asked for at once: read
    from Mongo, in one command (`loaders.reads`)."""
    wanted = list(calendar_ids)
    found = await eager.gather(*(_exceptions(ctx, c) for c in wanted))
    return dict(zip(wanted, found, strict=True))


async def busy_between(
    ctx: Context, calendar_ids: list[Ref], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The time these calendars' events keep busy in [start, end): busy events not
    cancelled, series expanded into their instances; the planner's own events left out
    (blocks, the events of a task, and `planned` bookings of auto-scheduled habits).
    One query on the {userId, startTime, endTime} index, its rows read as they come:
    only series are built as documents (to be expanded). Uncached: the planner caches
    it under the user's busy scope (graphql_api.replans.BUSY_SCOPE)."""
    wanted = set(calendar_ids)
    query = matching(
        {
            **overlapping(ctx.user_id, start, end),
            "status": {"$ne": "CANCELLED"},
            "busy": {"$ne": False},
            "taskId": None,  # no task: not one of the planner's blocks
            "planned": {"$ne": True},  # nor one of its bookings of a habit
        }
    )
    rows = await find_rows(Event.get_pymongo_collection(), query)
    rows = [r for r in rows if r["calendarId"] in wanted]
    busy = [(r["startTime"], r["endTime"]) for r in rows if not r.get("recurrence")]
    series = [built(Event, r) for r in rows if r.get("recurrence")]
    if series:
        zones = {ref(c): c.timezone for c in await user_calendars(ctx)}
        exceptions = await _exceptions_of(ctx, {e.calendar_id for e in series})
        instances = expand(series, start, end, zones, exceptions)
        busy += [(e.start_time, e.end_time) for e in instances if e.busy]
    return busy


async def instance_of(ctx: Context, local_id: str) -> Event | None:
    """The instance `<series id>@<original start>` of one of the user's series, if it exists."""
    series_id, _, key = local_id.partition("@")
    if not ObjectId.is_valid(series_id) or not re.fullmatch(r"\d{8}(T\d{6}Z)?", key):
        raise BadUserInput(f"{local_id!r} is not a valid event instance ID")
    master = await event_by_id(ctx, series_id)
    if master is None or not master.recurrence:
        ctx.cache.untracked()
        return None
    await ctx.cache.depend_on(calendar_scope(master.calendar_id))
    pattern = "%Y%m%dT%H%M%SZ" if "T" in key else "%Y%m%d"
    moment = datetime.strptime(key, pattern).replace(tzinfo=UTC)
    nearby = await events_between(
        ctx, [master.calendar_id], moment - timedelta(days=2), moment + timedelta(days=2)
    )
    return next((e for e in nearby if ref(e) == ref(master) and e.instance == key), None)


async def _exceptions(ctx: Context, calendar_id: Ref) -> dict[str, set[str]]:
    """A calendar's changed or cancelled instances: series id -> their original starts."""

    async def load() -> dict[str, list[str]]:
        # With the request's other reads of the moment (`loaders.reads`), as they are
        # read: whole (a projection would keep it apart), few (changed instances only).
        found: dict[str, list[str]] = {}
        for row in await find_rows(
            naive_times(Event.get_pymongo_collection()),
            matching({"userId": ctx.user_id, "calendarId": calendar_id, "instance": {"$ne": ""}}),
            ctx.loaders.reads,
        ):
            found.setdefault(row["externalId"], []).append(row["instance"])
        return found

    ttl = ctx.settings.cache_ttl_calendar_events
    found = await ctx.cache.cached(
        f"exceptions:{calendar_id}", [calendar_scope(calendar_id)], ttl, load, codecs.JSON
    )
    return {series: set(keys) for series, keys in found.items()}


async def _stored_between(
    ctx: Context, calendar_ids: list[Ref], start: datetime, end: datetime
) -> list[Event]:
    """The stored events (singles, series, changed instances) overlapping [start, end).

    Cached per calendar per UTC week (from Monday), the week its version covers: one
    MGET finds the weeks already known, one query fills in the others. (The seed kept
    a calendar's events per day, `calendar:{id}:events:{date}`: a two-week page read
    and merged some thirty of them, where it now reads four.)
    """
    if not calendar_ids:
        return []
    mondays = _utc_weeks(start, end)
    slots = [(c, monday) for c in calendar_ids for monday in mondays]
    # One read of the versions: the epoch's, each calendar's (whatever shows its events
    # depends on it), and what a week is kept under, its calendar's days' and its own
    # (a change of one event retires only its weeks: graphql_api.changes.event_changed).
    read = await ctx.cache.tokens(
        [
            *map(calendar_scope, calendar_ids),
            *map(days_scope, calendar_ids),
            *(week_scope(c, monday) for c, monday in slots),
        ]
    )
    if read is None:
        return await _query_events(ctx, calendar_ids, start, end)
    epoch, count = read[0], len(calendar_ids)
    kept_days = dict(zip(calendar_ids, read[1 + count : 1 + 2 * count], strict=True))
    versions = {
        (c, monday): [epoch, kept_days[c], week]
        for (c, monday), week in zip(slots, read[1 + 2 * count :], strict=True)
    }
    keys = {slot: ctx.cache.key(_week_name(*slot), tokens) for slot, tokens in versions.items()}
    # Every reader of events_between only reads them (pages, busy time, bookings):
    # the decoded weeks are shared, not copied. A week under a version this request made
    # (its write's, or one no read had named yet) is looked for in this process only.
    codec = codecs.documents(Event, read_only=True)
    made = {keys[slot] for slot, tokens in versions.items() if ctx.cache.made(tokens)}
    found = await ctx.cache.cache.get_many(list(keys.values()), local=made)
    buckets = {slot: codec.decode(found[key]) for slot, key in keys.items() if key in found}
    missing = [slot for slot in keys if slot not in buckets]
    if missing:
        low = datetime.combine(min(monday for _, monday in missing), time(), UTC)
        high = datetime.combine(max(monday for _, monday in missing), time(), UTC) + WEEK
        rows = await _query_rows(ctx, sorted({c for c, _ in missing}), low, high)
        # Each week keeps its events as stored, as JSON; this request's events are that
        # JSON decoded (once per process, and shared, as every read of the week decodes
        # it), so an event filled in is built once: not built from its row, dumped, and
        # built again by the next read.
        weeks = by_week(rows, missing, low, high)
        each = {slot: codecs.stored_each(bucket) for slot, bucket in weeks.items()}
        fresh = {keys[slot]: codecs.joined(dumped) for slot, dumped in each.items()}
        # Kept as the decode of the bytes the cache keeps (its own copies, of their own
        # size), as the next read will find them: one copy of each week's JSON kept, in
        # both memories. Built from the rows, not from that JSON (the same documents).
        fresh = await ctx.cache.cache.set_many(fresh, ctx.settings.cache_ttl_calendar_events)
        buckets.update(
            (slot, codecs.documents_of_rows(Event, fresh[keys[slot]], weeks[slot], each[slot]))
            for slot in missing
        )
    return list(_within(buckets, mondays[0], start, end))


def _week_name(calendar_id: Ref, monday: date) -> str:
    # Not the name a day was kept under (`events:`): a process still on the code
    # before weeks keeps days, under the same versions, in the same Redis.
    return f"week-events:{calendar_id}:{monday.isoformat()}"


def _within(
    buckets: dict[tuple[Ref, date], list[Event]], first: date, start: datetime, end: datetime
) -> Iterator[Event]:
    """The events of consecutive weeks' buckets (from the week of `first`) that overlap
    [start, end), each once: an event kept in several weeks is taken from the first of
    them the range covers. Only the first and the last week reach beyond the range."""
    for (_, monday), bucket in buckets.items():
        if monday == first:
            yield from (e for e in bucket if e.start_time < end and e.end_time > start)
            continue
        # Any event that began before this week is in the week before, which the range
        # covers too (it runs on from `first` without a gap).
        begins = datetime.combine(monday, time(), UTC)
        yield from (e for e in bucket if begins <= e.start_time < end)


def by_week(
    rows: Sequence[dict[str, Any]],
    weeks: Sequence[tuple[Ref, date]],
    low: datetime,
    high: datetime,
) -> dict[tuple[Ref, date], list[dict[str, Any]]]:
    """The stored events (of [low, high), which holds the weeks) that overlap each
    (calendar, UTC week from Monday), by start, then id (`_in_order`): one pass over
    them, each into the weeks it touches. Their times naive (UTC, see
    `loaders.base.naive_times`) or aware."""
    filled: dict[tuple[Ref, date], list[dict[str, Any]]] = {slot: [] for slot in weeks}
    low, high = _naive_utc(low), _naive_utc(high)
    for row in sorted(rows, key=_in_order):
        begin = max(_naive_utc(row["startTime"]), low).replace(tzinfo=UTC)
        finish = min(_naive_utc(row["endTime"]), high).replace(tzinfo=UTC)
        for monday in _utc_weeks(begin, finish):
            bucket = filled.get((row["calendarId"], monday))
            if bucket is not None:
                bucket.append(row)
    return filled


def _in_order(row: dict[str, Any]) -> tuple[datetime, str]:
    """A week's order: by start, then id. Mongo returns the rows in an order of its own
    (the index's, the order of writes); a week in a set order is the same JSON however
    it was made: read, or carried over a write (`week_with`, which sorts the JSON by the
    same key)."""
    return row["startTime"], str(row["_id"])


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def _event_key(event: Event) -> list[Any]:
    """(start in milliseconds, event id): an event's place in a page, as its cursor holds
    it. Events are sorted by (start, id) themselves, which orders them the same (Mongo
    keeps milliseconds); the key is worked out only for those a page shows."""
    return [(event.start_time - _EPOCH) // _MILLISECOND, str(event.id)]


# Each shown event's cursor, by its document's identity, while the document lives: for
# the documents that `events_between` shares read-only between requests (see `Event.of`'s
# `kept`).
_CURSORS: dict[int, str] = {}


def _event_cursor(event: Event) -> str:
    """The cursor of `_event_key`, worked out once per process for a stored event."""
    if is_generated(event):  # made for this request
        return encode_cursor(_event_key(event))
    found = _CURSORS.get(id(event))
    if found is not None:
        return found
    return by_identity(_CURSORS, event, encode_cursor(_event_key(event)))


_MILLIS = (
    int(datetime(1, 1, 2, tzinfo=UTC).timestamp() * 1000),
    int(datetime(9999, 12, 30, tzinfo=UTC).timestamp() * 1000),
)


def _valid_event_key(key: list[Any]) -> bool:
    """(start in milliseconds, event id): what `_event_key` makes."""
    return (
        len(key) == 2
        and isinstance(key[0], int)
        and _MILLIS[0] <= key[0] <= _MILLIS[1]
        and isinstance(key[1], str)
        and ObjectId.is_valid(key[1])
    )


async def events_page(
    ctx: Context,
    time_range: TimeRangeInput,
    calendar_ids: list[str] | None,
    first: int | None,
    after: str | None,
    *,
    wrap: Callable[[Event, Calendar], Any],
) -> Connection[Any]:
    """Events overlapping the range, ordered by start; cancelled ones left out. Each
    page item is `wrap(event, its calendar)`, with an event `events_between` shares
    read-only with other requests."""
    start, end = validation.time_range(time_range.start, time_range.end)
    page_size(first)
    wanted = {ref_of(c, "Calendar") for c in calendar_ids} if calendar_ids is not None else None
    calendars = {ref(c): c for c in await user_calendars(ctx) if wanted is None or ref(c) in wanted}
    found = await events_between(ctx, list(calendars), start, end)
    return paginate(
        sorted(found, key=attrgetter("start_time", "id")),
        _event_key,
        first,
        after,
        lambda e: wrap(e, calendars[e.calendar_id]),
        valid=_valid_event_key,
        cursor=_event_cursor,
    )

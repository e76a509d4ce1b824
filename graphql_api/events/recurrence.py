"""Recurring series: the instances a master's rules define, in the master's own zone.

Pure functions over Event documents. dateutil reads RRULE, RDATE and EXDATE;
the rules run on wall-clock time in the series' time zone, so a 09:00 meeting
stays at 09:00 across DST changes. All-day series run on dates.

An instance is identified by its original start (`instance_key`): a UTC
timestamp like 20260329T070000Z, or a date like 20260329 for all-day series.
Google's `originalStartTime` and iCalendar's RECURRENCE-ID name the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from models import Event
from models.base import ref

log = logging.getLogger(__name__)

FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
MAX_INSTANCES = 5000  # per series per query: a minutely rule over a year is refused
_SERIES_SCAN = 100_000


def instance_key(start: datetime | date) -> str:
    if isinstance(start, datetime):
        return start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return start.strftime("%Y%m%d")


def _rules(master: Event, zone: ZoneInfo) -> rruleset:
    text = "\n".join(master.recurrence)
    if master.all_day and master.start_date:
        dtstart = datetime.combine(date.fromisoformat(master.start_date), time())
        return rrulestr(text, dtstart=dtstart, forceset=True, ignoretz=True)
    return rrulestr(text, dtstart=master.start_time.astimezone(zone), forceset=True)


def _zone(master: Event, calendar_zone: str) -> ZoneInfo:
    return ZoneInfo(master.timezone or calendar_zone)


def rrule_of(series: Event) -> str | None:
    """The series' RRULE as written, without its `RRULE:` prefix (None for RDATEs alone)."""
    return next(
        (line.removeprefix("RRULE:") for line in series.recurrence if line.startswith("RRULE:")),
        None,
    )


def _endless(rule: str) -> bool:
    return not any(part.split("=", 1)[0] in ("COUNT", "UNTIL") for part in rule.split(";"))


def series_end(master: Event, calendar_zone: str) -> datetime:
    """The end of the series' last instance; FOREVER if it never ends."""
    if any(
        _endless(line.removeprefix("RRULE:"))
        for line in master.recurrence
        if line.startswith("RRULE:")
    ):
        return FOREVER  # a rule without COUNT or UNTIL: nothing to count
    zone = _zone(master, calendar_zone)
    rules = _rules(master, zone)
    last = None
    for count, occurrence in enumerate(rules, start=1):
        last = occurrence
        if count >= _SERIES_SCAN:
            return FOREVER
    if last is None:
        return master.end_time
    if master.all_day:
        days = _all_day_length(master)
        return datetime.combine(last.date() + days, time(), zone).astimezone(UTC)
    return last.astimezone(UTC) + instance_length(master)


def first_end(series: Event) -> datetime:
    """The end of a series' first occurrence (its own `end_time` is its last one's)."""
    return series.start_time + instance_length(series)


def instance_length(master: Event) -> timedelta:
    """How long each timed instance lasts (a series' own end_time is its last instance's)."""
    if master.duration_s is not None:
        return timedelta(seconds=master.duration_s)
    return master.end_time - master.start_time


def _all_day_length(master: Event) -> timedelta:
    if master.start_date and master.end_date:
        return date.fromisoformat(master.end_date) - date.fromisoformat(master.start_date)
    return timedelta(days=1)


def instances(
    master: Event, start: datetime, end: datetime, overridden: set[str], calendar_zone: str
) -> list[Event]:
    """The series' instances overlapping [start, end), except those in `overridden`."""
    zone = _zone(master, calendar_zone)
    rules = _rules(master, zone)
    found: list[Event] = []
    if master.all_day:
        length = _all_day_length(master)
        low = datetime.combine(start.astimezone(zone).date() - length, time())
        high = datetime.combine(end.astimezone(zone).date() + timedelta(days=1), time())
        for occurrence in islice(rules.xafter(low, inc=True), MAX_INSTANCES):
            if occurrence >= high:
                break
            first = occurrence.date()
            instance = _all_day_instance(master, first, first + length, zone)
            if instance.end_time > start and instance.start_time < end:
                found.append(instance)
    else:
        length = instance_length(master)
        occurrences = islice(
            rules.xafter((start - length).astimezone(zone), inc=False), MAX_INSTANCES
        )
        for occurrence in occurrences:
            if occurrence >= end:
                break
            begins = occurrence.astimezone(UTC)
            found.append(_instance(master, begins, begins + length, instance_key(occurrence)))
    if len(found) >= MAX_INSTANCES:
        log.warning("series %s has more than %d instances in range", master.id, MAX_INSTANCES)
    return [i for i in found if i.instance not in overridden]


def expand(
    stored: Iterable[Event],
    start: datetime,
    end: datetime,
    zones: Mapping[str, str],
    overridden: Mapping[str, Mapping[str, set[str]]],
) -> list[Event]:
    """Stored events overlapping [start, end) as a user sees them: series expanded into
    their instances (`zones`: calendar id -> zone; `overridden`: calendar id -> series
    external id -> the instances stored on their own), cancelled ones left out."""
    events: list[Event] = []
    for event in stored:
        if event.recurrence:
            changed = overridden.get(event.calendar_id, {}).get(event.external_id, set())
            zone = zones.get(event.calendar_id, "UTC")
            events += instances(event, start, end, changed, zone)
        else:
            events.append(event)
    return [e for e in events if e.status != "CANCELLED"]


def _instance(master: Event, begins: datetime, ends: datetime, key: str) -> Event:
    instance: Event = master.model_copy(
        update={
            "start_time": begins,
            "end_time": ends,
            "recurrence": [],
            "duration_s": None,
            "recurring_event_id": ref(master),
            "instance": key,
        }
    )
    return instance


def _all_day_instance(master: Event, first: date, after: date, zone: ZoneInfo) -> Event:
    instance = _instance(
        master,
        datetime.combine(first, time(), zone).astimezone(UTC),
        datetime.combine(after, time(), zone).astimezone(UTC),
        instance_key(first),
    )
    instance.start_date, instance.end_date = first.isoformat(), after.isoformat()
    return instance


def is_generated(event: Event) -> bool:
    """An instance made from its master's rules (it shares the master's id)."""
    return event.recurring_event_id is not None and ref(event) == event.recurring_event_id

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
import re
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


# A client's own series (LOCAL calendars) are written in a subset of RRULE in which
# every rule matches at least once a year or so: dateutil checks UNTIL only on the
# occurrences it finds, so a rule that never matches (30 February, the 15th that is a
# first Monday, a daily rule stepping over its only weekday) makes it scan day after
# day up to the year 9999, on every query.
MAX_COUNT = 1000
SPAN_YEARS = 20
LAST_YEAR = 9999 - SPAN_YEARS - 1  # its horizon must be a date
_DAY = r"(MO|TU|WE|TH|FR|SA|SU)"
_LIST = r"{0}(,{0})*"
_VALUES = {
    "FREQ": r"DAILY|WEEKLY|MONTHLY|YEARLY",
    "INTERVAL": r"[1-9]\d{0,2}",
    "COUNT": r"[1-9]\d{0,3}",
    "UNTIL": r"\d{8}(T\d{6}Z?)?",
    "WKST": _DAY,
    "BYDAY": _LIST.format(rf"((-1|[1-4])?{_DAY})"),
    "BYMONTHDAY": _LIST.format(r"-?([1-9]|1\d|2[0-8])"),
    "BYMONTH": _LIST.format(r"([1-9]|1[0-2])"),
}
_ALLOWED = {
    "DAILY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST"},
    "WEEKLY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY"},
    "MONTHLY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTHDAY"},
    "YEARLY": {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY", "BYMONTHDAY", "BYMONTH"},
}


def _parts(rule: str) -> dict[str, str]:
    """The rule's parts, each checked against the subset; ValueError saying what is not."""
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        if name not in _VALUES or name in parts:
            raise ValueError(f"{rule!r} is not an RRULE such as FREQ=WEEKLY;BYDAY=MO")
        if not re.fullmatch(_VALUES[name], value):
            raise ValueError(f"{name}={value} is not supported")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise ValueError("an RRULE needs a FREQ: DAILY, WEEKLY, MONTHLY or YEARLY")
    if extra := sorted(set(parts) - _ALLOWED[freq]):
        raise ValueError(f"{', '.join(extra)} cannot be used with FREQ={freq}")
    nth = any(d[:-2] for d in parts.get("BYDAY", "").split(","))
    if freq == "WEEKLY" and nth:
        raise ValueError("a weekly BYDAY lists weekdays without a position (MO,WE)")
    if nth and "BYMONTHDAY" in parts:
        raise ValueError("a BYDAY with a position (2TU) cannot be combined with BYMONTHDAY")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("an RRULE has COUNT or UNTIL, not both")
    if int(parts.get("COUNT", 1)) > MAX_COUNT:
        raise ValueError(f"COUNT must be between 1 and {MAX_COUNT}")
    return parts


def checked_rule(value: str, series: Event) -> str:
    """A client's RRULE (`FREQ=WEEKLY;BYDAY=MO`) for `series`, whose start must be its
    first occurrence and whose `timezone` is set: the rule's text, or ValueError saying
    what is wrong. DAILY to YEARLY with INTERVAL; BYDAY (weekly: weekdays; monthly and
    yearly: also -1 or 1 to 4 of them, 2TU), BYMONTHDAY (1 to 28, -1 to -28), BYMONTH
    (yearly); ending (COUNT at most 1000, or UNTIL) within 20 years, or never."""
    rule = value.strip().removeprefix("RRULE:")
    if len(rule) > 500:
        raise ValueError("an RRULE is at most 500 characters long")
    parts = _parts(rule)
    zone = ZoneInfo(series.timezone or "UTC")
    first = series.start_time.astimezone(zone)
    if first.year >= LAST_YEAR:
        raise ValueError(f"a series starts before the year {LAST_YEAR}")
    horizon = first + timedelta(days=365 * SPAN_YEARS + SPAN_YEARS // 4)
    if "UNTIL" in parts and parts["UNTIL"][:8] > horizon.strftime("%Y%m%d"):
        raise ValueError(f"a series may span at most {SPAN_YEARS} years")
    # Its occurrences up to its UNTIL, or the horizon: how many, and the first.
    until = parts.get("UNTIL") or instance_key(horizon)
    bounded = ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL"))
    probe = series.model_copy(update={"recurrence": [f"RRULE:{bounded};UNTIL={until}"]})
    try:
        found = list(islice(_rules(probe, zone), MAX_COUNT + 1))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{value!r} is not a valid RRULE: {e}") from None
    if not found:
        raise ValueError("the rule has no occurrence from the start on")
    if len(found) < int(parts.get("COUNT", 1)):
        raise ValueError(f"a series may span at most {SPAN_YEARS} years")
    if "UNTIL" in parts and len(found) > MAX_COUNT:
        raise ValueError(f"a series that ends has at most {MAX_COUNT} occurrences")
    if series.all_day and series.start_date:
        starts = found[0].date() == date.fromisoformat(series.start_date)
    else:
        starts = found[0] == first
    if not starts:
        first_one = found[0].date() if series.all_day else found[0]
        raise ValueError(
            f"the start is not an occurrence of the rule (its first is {first_one.isoformat()})"
        )
    return rule

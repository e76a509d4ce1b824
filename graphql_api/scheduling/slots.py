"""Free time slots for a habit, in the user's own time zone.

Pure and dependency-free (the standard library and zoneinfo only). The product's rules:

Windows
    A habit is placed inside recurring local windows (`Window`): the habit's preferred
    windows, else the user's working hours, else 07:00-22:00 every day (`windows_for`).
    For each local date that the range asked about touches (and, harmlessly, the day
    either side), every window that applies on that ISO weekday becomes an *occurrence*:
    its local start and end times are converted to UTC separately. So a 09:00-10:00 window
    is exactly one hour on the days the clocks change; one spanning the skipped hour on the
    spring-forward day is shorter in real time, one spanning the repeated hour on the
    fall-back day is longer. Local times that do not exist (the spring-forward gap) resolve
    as zoneinfo resolves them with fold=0: with the offset in force before the gap, so they
    land as far after the gap as they were into it (02:30 in Berlin on 2026-03-29 is 03:30
    CEST); ambiguous times (the repeated hour) are their first occurrence (fold=0). An
    occurrence that this makes empty or reversed (e.g. 02:30-03:00 on that day) is dropped.
    An end of 24:00 is the next local midnight. Occurrences of the same date that overlap
    or touch are merged into one; occurrences of different dates are never merged, so no
    slot crosses from one date's window into the next date's.

Grid
    Slots start on the local grid: instants whose local wall-clock time is a multiple of
    `step` (15 minutes) from local midnight, in the user's zone, not in UTC (09:15 in
    Kathmandu, +05:45, is 03:30 UTC; with an hourly step, 10:00 there is 04:15 UTC). A window
    starting at 09:10 offers its first start at 09:15. The grid is walked in real time; UTC
    offsets change by whole hours or 30 minutes (Australia/Lord_Howe), multiples of 15
    minutes, so after a change the walk stays on local :00/:15/:30/:45. Wall times that
    occur twice (fall-back) are both on the grid; wall times that do not occur are not.

Slots
    A start s gives the slot [s, s + duration) when the slot lies entirely inside one merged
    occurrence, inside the range [start, end), s >= not_before (when given), and the slot
    does not overlap any busy interval widened to [busy start - buffer_before,
    busy end + buffer_after). _Intervals are half-open: touching is not overlapping, so a
    slot may end exactly where a widened busy interval starts or start where one ends; a
    zero-length busy event without buffers blocks nothing. Slots overlap one another (a
    30-minute habit has starts at 09:00, 09:15, 09:30...); every qualifying grid start is
    returned once, in time order, as UTC-aware datetimes, with the whole merged occurrence
    (not clipped to the range) as its window.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

STEP = timedelta(minutes=15)
# Every day, when neither preferred windows nor working hours exist.
DEFAULT_WINDOW = (time(7, 0), time(22, 0))

_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)  # the smallest step between two datetimes
_MIDNIGHT = time(0)
_MINUTES_PER_DAY = 24 * 60
_WEEKDAYS = frozenset(range(1, 8))
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")

_Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Window:
    """A recurring local time window: on these ISO weekdays (Monday=1 .. Sunday=7), from
    start to end local time (end > start, same day).

    An `end` of 00:00 stands for 24:00, the midnight that ends the day (the API's "24:00"),
    so 00:00-00:00 is the whole day. Raises ValueError for no weekday, one outside 1..7, or
    an end that is not after the start.
    """

    weekdays: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= _WEEKDAYS:
            raise ValueError(f"weekdays must be ISO weekdays 1..7, got {sorted(self.weekdays)}")
        if self.end != _MIDNIGHT and self.end <= self.start:
            raise ValueError(f"a window must end after it starts: {self.start}-{self.end}")


class Slot(NamedTuple):
    """A free slot [start, end) and the merged window occurrence that holds it, all in UTC.

    A named tuple: a week holds hundreds of them, and they are made faster than dataclasses.
    """

    start: datetime  # UTC, tz-aware
    end: datetime  # UTC, start + duration
    # UTC: the start of the (merged) local window occurrence that holds the slot
    window_start: datetime
    window_end: datetime  # UTC: its end


def windows_for(
    preferred: Sequence[tuple[Iterable[int], str, str]],
    working_hours: Sequence[tuple[int, str, str]],
) -> list[Window]:
    """The habit's preferred windows (weekdays, "HH:MM", "HH:MM"); else the user's working
    hours (one (weekday, "HH:MM", "HH:MM") each); else 07:00-22:00 every day.

    Times are local "HH:MM" from "00:00" to "23:59"; an end may also be "24:00" (midnight).
    Raises ValueError for a malformed time, no weekday or one outside 1..7, or end <= start.
    """
    if preferred:
        return [_window(weekdays, start, end) for weekdays, start, end in preferred]
    if working_hours:
        return [_window((weekday,), start, end) for weekday, start, end in working_hours]
    return [Window(_WEEKDAYS, *DEFAULT_WINDOW)]


def free_slots(
    *,
    busy: Sequence[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    windows: Sequence[Window],
    duration: timedelta,
    buffer_before: timedelta = timedelta(0),
    buffer_after: timedelta = timedelta(0),
    not_before: datetime | None = None,
    step: timedelta = STEP,
) -> list[Slot]:
    """Every free slot of `duration`, in time order.

    busy: tz-aware (start, end) instants, in any order, possibly overlapping.
    start, end: the half-open range asked about (tz-aware); an empty range has no slots.
    zone: the user's time zone; the windows and the grid are local to it.
    windows: where the habit may go (see `windows_for`); none means no slots.
    buffer_before, buffer_after: free time kept before and after every busy event.
    not_before: minimum notice, no slot starts earlier (e.g. now + 30 minutes).
    step: the grid, multiples of it from local midnight; it must divide a day.

    The rules are in the module docstring. Raises ValueError for a duration or step that is
    not positive, a step that does not divide a day, a negative buffer, a naive datetime or
    a busy interval that ends before it starts.
    """
    _check(duration, step, buffer_before, buffer_after)
    start, end = _utc(start, "start"), _utc(end, "end")
    earliest = start if not_before is None else max(start, _utc(not_before, "not_before"))
    blocked = _blocked(busy, buffer_before, buffer_after)
    blocked_ends = [blocked_end for _, blocked_end in blocked]
    slots = []
    for window_start, window_end in _occurrences(windows, zone, start, end):
        latest = min(window_end, end) - duration
        first = max(window_start, earliest)
        # A sweep: starts only grow, so the blocked intervals that end before one never
        # matter again; `index` is the first that ends after the current start.
        index = bisect_right(blocked_ends, first)
        for slot_start in _grid(first, latest, zone, step):
            while index < len(blocked) and blocked_ends[index] <= slot_start:
                index += 1
            slot_end = slot_start + duration
            if index == len(blocked) or blocked[index][0] >= slot_end:
                slots.append(Slot(slot_start, slot_end, window_start, window_end))
    return _in_order(slots)


# Windows


def _window(weekdays: Iterable[int], start: str, end: str) -> Window:
    days = frozenset(weekdays)
    first, last = _minutes(start), _minutes(end)
    if first >= _MINUTES_PER_DAY or last <= first:
        raise ValueError(f"a window must end after it starts: {start}-{end}")
    return Window(days, _clock(first), _clock(last))


def _minutes(value: str) -> int:
    """Minutes from midnight of "HH:MM" ("24:00" is 1440)."""
    if not _HHMM.fullmatch(value):
        raise ValueError(f"a time must be HH:MM, 00:00 to 24:00, got {value!r}")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes_of_day: int) -> time:
    """The wall-clock time this many minutes after midnight; 1440 (24:00) wraps to 00:00."""
    hours, minutes = divmod(minutes_of_day % _MINUTES_PER_DAY, 60)
    return time(hours, minutes)


def _occurrences(
    windows: Sequence[Window], zone: ZoneInfo, start: datetime, end: datetime
) -> list[_Interval]:
    """The merged window occurrences of every local date around [start, end) that reach into it."""
    day, last = start.astimezone(zone).date() - _DAY, end.astimezone(zone).date() + _DAY
    result: list[_Interval] = []
    while day <= last:
        result.extend(_merged(_day_occurrences(windows, zone, day)))
        day += _DAY
    return sorted(span for span in result if span[0] < end and span[1] > start)


def _day_occurrences(windows: Sequence[Window], zone: ZoneInfo, day: date) -> list[_Interval]:
    """The windows that apply on a local date, as UTC instants; empty or reversed ones dropped."""
    weekday = day.isoweekday()
    spans = []
    for window in windows:
        if weekday in window.weekdays:
            span_start = _instant(day, window.start, zone)
            if window.end == _MIDNIGHT:
                span_end = _instant(day + _DAY, _MIDNIGHT, zone)
            else:
                span_end = _instant(day, window.end, zone)
            if span_start < span_end:
                spans.append((span_start, span_end))
    return spans


def _instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local date and time; nonexistent and repeated times take fold=0."""
    return datetime.combine(day, clock, tzinfo=zone).replace(fold=0).astimezone(UTC)


def _merged(spans: Iterable[_Interval]) -> list[_Interval]:
    """Sorted intervals, with overlapping and touching ones joined."""
    result: list[_Interval] = []
    for span_start, span_end in sorted(spans):
        if result and span_start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], span_end))
        else:
            result.append((span_start, span_end))
    return result


# The grid


def _grid(first: datetime, last: datetime, zone: ZoneInfo, step: timedelta) -> Iterator[datetime]:
    """The instants in [first, last] whose local wall-clock time is a multiple of `step`.

    Walks in real time. Where the UTC offset changes, it re-anchors on the local clock, which
    matters only when the change is not a multiple of `step` (e.g. an hourly grid on Lord Howe
    Island). When the offset is the same at both ends it is taken to be constant in between:
    a window occurrence lasts 25 hours at most, and since 1970 no zone in the tz database
    has changed its offset twice within 26 hours.
    """
    if first > last:
        return
    current = _first_on_grid(first, zone, step)
    if _offset(current, zone) == _offset(last, zone):
        while current <= last:
            yield current
            current += step
        return
    offset = _offset(current, zone)
    while current <= last:
        yield current
        following = current + step
        following_offset = _offset(following, zone)
        if following_offset != offset:
            following = _first_on_grid(current + _TICK, zone, step)
            following_offset = _offset(following, zone)
        current, offset = following, following_offset


def _first_on_grid(instant: datetime, zone: ZoneInfo, step: timedelta) -> datetime:
    """The first instant at or after `instant` whose local wall-clock time is on the grid."""
    candidate = instant + (-_past_grid(instant, zone, step)) % step
    after = _offset(candidate, zone)
    if after == _offset(instant, zone):
        return candidate
    # The offset changed before `candidate`; nothing before the change was on the grid. After
    # it, the grid is anchored on `candidate`'s local clock: take its first point past the change.
    point = candidate - _past_grid(candidate, zone, step)
    if point < instant:
        point += step
    return point if _offset(point, zone) == after else point + step


def _past_grid(instant: datetime, zone: ZoneInfo, step: timedelta) -> timedelta:
    """How far the local wall-clock time is past the last grid point."""
    local = instant.astimezone(zone)
    since_midnight = timedelta(
        hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    return since_midnight % step


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


def _in_order(slots: list[Slot]) -> list[Slot]:
    """Slots by start, each start once (occurrences of different dates never share one in
    practice; should an odd zone make them, the earlier occurrence keeps it)."""
    slots.sort(key=lambda slot: slot.start)  # stable: equal starts keep occurrence order
    return [slot for i, slot in enumerate(slots) if i == 0 or slots[i - 1].start != slot.start]


# Busy time


def _blocked(
    busy: Sequence[tuple[datetime, datetime]], before: timedelta, after: timedelta
) -> list[_Interval]:
    """The busy intervals widened by the buffers, sorted and merged; empty ones dropped."""
    widened = []
    for busy_start, busy_end in busy:
        utc_start, utc_end = _utc(busy_start, "busy start"), _utc(busy_end, "busy end")
        if utc_end < utc_start:
            raise ValueError(f"a busy interval ends before it starts: {busy_start}-{busy_end}")
        if utc_start - before < utc_end + after:
            widened.append((utc_start - before, utc_end + after))
    return _merged(widened)


# Arguments


def _check(
    duration: timedelta, step: timedelta, buffer_before: timedelta, buffer_after: timedelta
) -> None:
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, got {duration}")
    if step <= timedelta(0) or _DAY % step:
        raise ValueError(f"step must be positive and divide a day, got {step}")
    if buffer_before < timedelta(0) or buffer_after < timedelta(0):
        raise ValueError("buffers must not be negative")


def _utc(instant: datetime, name: str) -> datetime:
    if instant.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware, got {instant}")
    return instant.astimezone(UTC)


def window_occurrences(
    windows: Sequence[Window], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The merged local window occurrences (UTC instants) that reach into [start, end),
    by the rules of the module docstring: each date's windows converted in `zone`."""
    return _occurrences(windows, zone, _utc(start, "start"), _utc(end, "end"))

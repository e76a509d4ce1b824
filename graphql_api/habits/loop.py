"""Streak and strength, as Loop Habit Tracker computes them.

A port of uhabits-core (commonMain): `EntryList.recomputeFrom` (boolean habits),
`ScoreList.recompute` (rolling-window mode), `Score.compute` and
`StreakList.recompute`, including "skip days never break a streak". Pure
functions over calendar dates; "today" is the caller's, in the user's zone.

Check-in statuses map to Loop's entries: DONE = YES_MANUAL, SKIPPED = SKIP,
MISSED = NO. `times per DAY|WEEK|MONTH` is Loop's frequency numerator over a
denominator of 1, 7 or 30.
"""

from __future__ import annotations

import calendar
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate, chain
from operator import sub
from typing import NamedTuple

SKIP = -3
UNKNOWN = -1
NO = 0
YES_AUTO = 1
YES_MANUAL = 2

ENTRY_BY_STATUS = {"DONE": YES_MANUAL, "SKIPPED": SKIP, "MISSED": NO}
# The entries a day keeps inside an interval: any other (a NO) is YES_AUTO there.
KEPT_IN_INTERVALS = (SKIP, YES_MANUAL)
DENOMINATOR_BY_PERIOD = {"DAY": 1, "WEEK": 7, "MONTH": 30}


class Interval(NamedTuple):
    """A named tuple: some 35 a habit's stats, made faster than a frozen dataclass."""

    begin: int  # ordinals of dates
    center: int
    end: int


@dataclass(frozen=True)
class HabitStats:
    current_streak: int
    longest_streak: int
    strength: float


# Days in each month of a common year, by month (1-12).
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_length(ordinal: int) -> int:
    d = date.fromordinal(ordinal)
    return _MONTH_DAYS[d.month] + (d.month == 2 and calendar.isleap(d.year))


@functools.lru_cache(maxsize=1 << 14)
def _month_size(begin: int) -> int:
    """A monthly interval's size from its first day: its month's length, or on a month's
    last day the next month's (Loop's `isLastDayOfMonth`)."""
    is_last_day = date.fromordinal(begin + 1).day == 1
    return _month_length(begin + 1) if is_last_day else _month_length(begin)


def build_intervals(
    numerator: int, denominator: int, done_newest_first: list[int]
) -> list[Interval]:
    """Loop's `buildIntervals`: an interval per `numerator` DONE days that fit in a period."""
    intervals: list[Interval] = []
    monthly = denominator in (30, 31)
    for i in range(numerator - 1, len(done_newest_first)):
        begin = done_newest_first[i]
        center = done_newest_first[i - numerator + 1]
        size = denominator
        if monthly:
            size = _month_size(begin)
        if center - begin < size:
            intervals.append(Interval(begin, center, begin + size - 1))
    return intervals


def snap_intervals_together(intervals: list[Interval]) -> None:
    """Loop's `snapIntervalsTogether`: slide older intervals back to close gaps."""
    for i in range(1, len(intervals)):
        curr = intervals[i]
        nxt = intervals[i - 1]
        gap_next_to_current = curr.end - nxt.begin
        gap_center_to_end = curr.end - curr.center
        if gap_next_to_current >= 0:
            shift = min(gap_center_to_end, gap_next_to_current + 1)
            intervals[i] = Interval(curr.begin - shift, curr.center, curr.end - shift)


def computed_entries(
    original: Mapping[int, int], numerator: int, denominator: int
) -> dict[int, int]:
    """Loop's `EntryList.recomputeFrom` for a boolean habit: adds YES_AUTO days.

    `original` maps date ordinals to YES_MANUAL, SKIP or NO. Returns the known
    computed entries (UNKNOWN days are left out).
    """
    if not original:
        return {}
    intervals = _snapped(original, numerator, denominator)
    # Every day of every interval, YES_AUTO: filled in C (intervals overlap, a weekly
    # habit's by six days in seven), not day by day.
    result = dict.fromkeys(chain.from_iterable(range(b, e + 1) for b, _, e in intervals), YES_AUTO)
    for day, value in original.items():
        # A day's own entry, but a NO (or any other) inside an interval stays YES_AUTO.
        if value in KEPT_IN_INTERVALS or day not in result:
            result[day] = value
    return result


def _snapped(original: Mapping[int, int], numerator: int, denominator: int) -> list[Interval]:
    """The intervals of `computed_entries`, built from the DONE days and snapped together."""
    if numerator == denominator == 1:
        # Once a day: an interval is its DONE day alone, which is YES_MANUAL already.
        return []
    done = sorted((d for d, value in original.items() if value == YES_MANUAL), reverse=True)
    intervals = build_intervals(numerator, denominator, done)
    snap_intervals_together(intervals)
    return intervals


def score_multiplier(frequency: float) -> float:
    return math.pow(0.5, math.sqrt(frequency) / 13.0)


def _timeline(computed: Mapping[int, int], today: int) -> tuple[list[int], int]:
    """The computed entries of each day from the first one to `today` (both included), by
    their distance from that first day, which comes with them; UNKNOWN where there is
    none. No days when no entry comes by today."""
    first = min(computed, default=today + 1)
    days = [UNKNOWN] * max(today - first + 1, 0)
    for day, value in computed.items():
        if first <= day <= today:
            days[day - first] = value
    return days, first


def strength_on(computed: Mapping[int, int], numerator: int, denominator: int, today: int) -> float:
    """Loop's `ScoreList.recompute` (boolean, rolling window), read on `today`."""
    return _strength(_timeline(computed, today)[0], numerator, denominator)


def _strength(days: list[int], numerator: int, denominator: int) -> float:
    """`strength_on` over a timeline (`_timeline`): 0 for no days."""
    freq = numerator / denominator
    if freq < 1.0:  # Loop smooths non-daily schedules by doubling the window
        numerator, denominator = numerator * 2, denominator * 2
    multiplier = score_multiplier(freq)
    rest = 1 - multiplier
    # Loop's rolling count of the window's YES_MANUAL days, as a running sum less the
    # sum a window back: whole numbers, so the same floats as its +1.0 and -1.0.
    done = list(accumulate(map(YES_MANUAL.__eq__, days)))
    window = [*done[:denominator], *map(sub, done[denominator:], done)]
    # What a day adds for each count its window can hold, worked out once: the same
    # operations on the same numbers as Loop's `min(rolling / numerator, 1.0) * rest`.
    adds = [min(count / numerator, 1.0) * rest for count in range(max(window, default=0) + 1)]
    score = 0.0
    # The same operations, in the same order, as Loop's day-by-day loop: the same bits.
    for value, rolling in zip(days, window, strict=True):
        if value != SKIP:
            score = score * multiplier + adds[rolling]
    return score


def streaks_until(computed: Mapping[int, int], today: int) -> list[tuple[int, int]]:
    """Loop's `StreakList.recompute`, clipped at today: (begin, end) ordinals, oldest first."""
    return _streaks(*_timeline(computed, today))


def _streaks(days: list[int], first: int) -> list[tuple[int, int]]:
    """`streaks_until` over a timeline (`_timeline`) starting on `first`."""
    streaks: list[tuple[int, int]] = []
    begin = -1
    for i, value in enumerate(days):
        if value == SKIP or value > 0:  # a day of a streak
            if begin < 0:
                begin = i
        elif begin >= 0:
            streaks.append((first + begin, first + i - 1))
            begin = -1
    if begin >= 0:
        streaks.append((first + begin, first + len(days) - 1))
    return streaks


def habit_stats(check_ins: Mapping[date, str], times: int, per: str, today: date) -> HabitStats:
    """Current and longest streak (days) and strength in [0, 1] on the user's `today`.

    `current` is the streak that contains today, or the one that ended yesterday
    when today has no check-in yet.

    `computed_entries`, `streaks_until` and `strength_on`, read off one timeline of the
    days up to today, which the intervals fill in slices rather than day by day.
    """
    denominator = DENOMINATOR_BY_PERIOD[per]
    original = {d.toordinal(): ENTRY_BY_STATUS[s] for d, s in check_ins.items()}
    t = today.toordinal()
    intervals = _snapped(original, times, denominator) if original else []
    first = min(min(original, default=t + 1), min((i.begin for i in intervals), default=t + 1))
    if first > t:
        return HabitStats(current_streak=0, longest_streak=0, strength=0.0)
    days = [UNKNOWN] * (t - first + 1)
    for begin, _, end in intervals:
        if begin <= t:
            days[begin - first : min(end, t) - first + 1] = [YES_AUTO] * (min(end, t) - begin + 1)
    for day, value in original.items():
        if day <= t and (value in KEPT_IN_INTERVALS or days[day - first] != YES_AUTO):
            days[day - first] = value
    current, longest = streak_lengths(_streaks(days, first), t, original)
    strength = min(1.0, max(0.0, _strength(days, times, denominator)))
    return HabitStats(current_streak=current, longest_streak=longest, strength=strength)


def streak_lengths(
    streaks: list[tuple[int, int]], today: int, original: Mapping[int, int]
) -> tuple[int, int]:
    """The current and the longest of the streaks (`streaks_until`), in days: the current
    one contains today, or ended yesterday when today has no entry of its own yet."""
    longest = max((end - begin + 1 for begin, end in streaks), default=0)
    current = 0
    if streaks:
        begin, end = streaks[-1]
        if end == today or (end == today - 1 and today not in original):
            current = end - begin + 1
    return current, longest


def days_between(start: date, end: date) -> list[date]:
    """Every date from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]

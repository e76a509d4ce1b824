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
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

SKIP = -3
UNKNOWN = -1
NO = 0
YES_AUTO = 1
YES_MANUAL = 2

ENTRY_BY_STATUS = {"DONE": YES_MANUAL, "SKIPPED": SKIP, "MISSED": NO}
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


def _month_length(ordinal: int) -> int:
    d = date.fromordinal(ordinal)
    return calendar.monthrange(d.year, d.month)[1]


def build_intervals(
    numerator: int, denominator: int, done_newest_first: list[int]
) -> list[Interval]:
    """Loop's `buildIntervals`: an interval per `numerator` DONE days that fit in a period."""
    intervals: list[Interval] = []
    for i in range(numerator - 1, len(done_newest_first)):
        begin = done_newest_first[i]
        center = done_newest_first[i - numerator + 1]
        size = denominator
        if denominator in (30, 31):
            d = date.fromordinal(begin)
            is_last_day = d.day == calendar.monthrange(d.year, d.month)[1]
            size = _month_length(begin + 1) if is_last_day else _month_length(begin)
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
    newest_first = sorted(original, reverse=True)
    done = [d for d in newest_first if original[d] == YES_MANUAL]
    intervals = build_intervals(numerator, denominator, done)
    snap_intervals_together(intervals)

    result: dict[int, int] = {}
    for interval in intervals:
        for day in range(interval.begin, interval.end + 1):
            result[day] = YES_AUTO
    for day, value in original.items():
        current = result.get(day, UNKNOWN)
        result[day] = value if current == UNKNOWN or value in (SKIP, YES_MANUAL) else YES_AUTO
    return result


def score_multiplier(frequency: float) -> float:
    return math.pow(0.5, math.sqrt(frequency) / 13.0)


def strength_on(computed: Mapping[int, int], numerator: int, denominator: int, today: int) -> float:
    """Loop's `ScoreList.recompute` (boolean, rolling window), read on `today`."""
    if not computed:
        return 0.0
    first = min(computed)
    if first > today:
        return 0.0
    freq = numerator / denominator
    if freq < 1.0:  # Loop smooths non-daily schedules by doubling the window
        numerator, denominator = numerator * 2, denominator * 2
    multiplier = score_multiplier(freq)
    score = 0.0
    rolling = 0.0
    for day in range(first, today + 1):
        value = computed.get(day, UNKNOWN)
        if value == YES_MANUAL:
            rolling += 1.0
        if computed.get(day - denominator, UNKNOWN) == YES_MANUAL:
            rolling -= 1.0
        if value != SKIP:
            completed = min(1.0, rolling / numerator)
            score = score * multiplier + completed * (1 - multiplier)
    return score


def streaks_until(computed: Mapping[int, int], today: int) -> list[tuple[int, int]]:
    """Loop's `StreakList.recompute`, clipped at today: (begin, end) ordinals, oldest first."""
    if not computed:
        return []
    days = [d for d in range(min(computed), today + 1) if _is_streak_day(computed.get(d, UNKNOWN))]
    streaks: list[tuple[int, int]] = []
    for day in days:
        if streaks and streaks[-1][1] == day - 1:
            streaks[-1] = (streaks[-1][0], day)
        else:
            streaks.append((day, day))
    return streaks


def _is_streak_day(value: int) -> bool:
    return value == SKIP or value > 0


def habit_stats(check_ins: Mapping[date, str], times: int, per: str, today: date) -> HabitStats:
    """Current and longest streak (days) and strength in [0, 1] on the user's `today`.

    `current` is the streak that contains today, or the one that ended yesterday
    when today has no check-in yet.
    """
    denominator = DENOMINATOR_BY_PERIOD[per]
    original = {d.toordinal(): ENTRY_BY_STATUS[s] for d, s in check_ins.items()}
    computed = computed_entries(original, times, denominator)
    t = today.toordinal()
    streaks = streaks_until(computed, t)
    longest = max((end - begin + 1 for begin, end in streaks), default=0)
    current = 0
    if streaks:
        begin, end = streaks[-1]
        if end == t or (end == t - 1 and t not in original):
            current = end - begin + 1
    strength = min(1.0, max(0.0, strength_on(computed, times, denominator, t)))
    return HabitStats(current_streak=current, longest_streak=longest, strength=strength)


def days_between(start: date, end: date) -> list[date]:
    """Every date from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]

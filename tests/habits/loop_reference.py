"""The straightforward port of uhabits-core that `graphql_api.habits.loop` was until it was
made faster (2026-12-07): one function per step of Loop's, day by day over dicts of
ordinals (its snapping of the intervals and its lengths of the streaks, unchanged, are
the module's own). The properties in test_loop.py check that the faster one answers
exactly as this one does (the same streaks, the same strength to the last bit)."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date

from graphql_api.habits.loop import (
    DENOMINATOR_BY_PERIOD,
    ENTRY_BY_STATUS,
    SKIP,
    UNKNOWN,
    YES_AUTO,
    YES_MANUAL,
    HabitStats,
    Interval,
    score_multiplier,
    snap_intervals_together,
    streak_lengths,
)


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


def computed_entries(
    original: Mapping[int, int], numerator: int, denominator: int
) -> dict[int, int]:
    """`loop.computed_entries`, day by day."""
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
    current, longest = streak_lengths(streaks_until(computed, t), t, original)
    strength = min(1.0, max(0.0, strength_on(computed, times, denominator, t)))
    return HabitStats(current_streak=current, longest_streak=longest, strength=strength)

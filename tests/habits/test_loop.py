"""Loop Habit Tracker's streak and strength, checked against uhabits-core's own test vectors.

`day(n)` is Loop's helper: n days before TODAY. Score vectors list the strength on TODAY,
TODAY-1, TODAY-2, ..., each read as if that day were today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from graphql_api.habits.loop import (
    DENOMINATOR_BY_PERIOD,
    ENTRY_BY_STATUS,
    NO,
    SKIP,
    YES_AUTO,
    YES_MANUAL,
    HabitStats,
    Interval,
    build_intervals,
    computed_entries,
    days_between,
    habit_stats,
    snap_intervals_together,
    streaks_until,
    strength_on,
)
from tests.habits import loop_reference as reference

TODAY = date(2015, 1, 25)
E = 1e-6
DAILY_MULTIPLIER = 0.5 ** (1 / 13)
NOTHING = HabitStats(current_streak=0, longest_streak=0, strength=0.0)
PROPERTY = settings(max_examples=150, deadline=None)


def ago(n: int, today: date = TODAY) -> date:
    return today - timedelta(days=n)


def day(n: int) -> int:
    return ago(n).toordinal()


def check(a: int, b: int) -> dict[int, int]:
    """Loop's `check(a, b)`: DONE from day(a) to day(b - 1)."""
    return {day(n): YES_MANUAL for n in range(a, b)}


def scores(
    original: Mapping[int, int], numerator: int, denominator: int, count: int
) -> list[float]:
    computed = computed_entries(original, numerator, denominator)
    return [strength_on(computed, numerator, denominator, day(n)) for n in range(count)]


def dated(offsets: Mapping[int, str], today: date) -> dict[date, str]:
    """Check-ins keyed by date from check-ins keyed by days relative to today (past < 0)."""
    return {today + timedelta(days=offset): status for offset, status in offsets.items()}


def entries(offsets: Mapping[int, str], today: date) -> dict[int, int]:
    """Loop's original entries, keyed by ordinal."""
    return {d.toordinal(): ENTRY_BY_STATUS[s] for d, s in dated(offsets, today).items()}


def ordinals(dates: Sequence[date]) -> list[int]:
    return [d.toordinal() for d in dates]


# Scores: YesNoScoreListTest


def test_score_of_twenty_done_days() -> None:
    # given
    original = check(0, 20)
    # when
    actual = scores(original, 1, 1, 23)
    # then
    expected = [
        0.655747, 0.636894, 0.617008, 0.596033, 0.573910, 0.550574, 0.525961, 0.500000,
        0.472617, 0.443734, 0.413270, 0.381137, 0.347244, 0.311495, 0.273788, 0.234017,
        0.192067, 0.147820, 0.101149, 0.051922, 0, 0, 0,
    ]  # fmt: skip
    assert actual == pytest.approx(expected, abs=E)


def test_skip_days_leave_the_score_unchanged() -> None:
    # given
    original = check(0, 20) | {day(5): SKIP, day(10): SKIP, day(11): SKIP}
    # when
    actual = scores(original, 1, 1, 23)
    # then
    expected = [
        0.596033, 0.573910, 0.550574, 0.525961, 0.500000, 0.472617, 0.472617, 0.443734,
        0.413270, 0.381137, 0.347244, 0.347244, 0.347244, 0.311495, 0.273788, 0.234017,
        0.192067, 0.147820, 0.101149, 0.051922, 0, 0, 0,
    ]  # fmt: skip
    assert actual == pytest.approx(expected, abs=E)


def test_score_decays_after_a_skip() -> None:
    # given
    original = {day(5): YES_MANUAL, day(4): SKIP}
    # when
    actual = scores(original, 1, 1, 7)
    # then
    expected = [0.041949, 0.044247, 0.046670, 0.049226, 0.051922, 0.051922, 0.0]
    assert actual == pytest.approx(expected, abs=E)


@pytest.mark.parametrize(("numerator", "expected"), [(3, 2 / 3), (4, 0.5)])
def test_imperfect_non_daily_score_converges(numerator: int, expected: float) -> None:
    # given two check-ins every week for 100 weeks
    original = {day(i): YES_MANUAL for i in range(700) if i % 7 in (0, 1)}
    # when
    actual = scores(original, numerator, 7, 1)[0]
    # then
    assert actual == pytest.approx(expected, abs=E)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"), [(1, 1, 0.101149), (1, 2, 0.054816)]
)
def test_recompute_two_done_days(numerator: int, denominator: int, expected: float) -> None:
    # given
    original = check(0, 2)
    # when
    actual = scores(original, numerator, denominator, 1)[0]
    # then
    assert actual == pytest.approx(expected, abs=E)


def test_single_done_today_then_removed() -> None:
    # given
    done = {TODAY: "DONE"}
    # when
    added = habit_stats(done, 1, "DAY", TODAY)
    removed = habit_stats({}, 1, "DAY", TODAY)
    # then
    assert added.strength == pytest.approx(0.051922, abs=E)
    assert removed.strength == 0.0


@pytest.mark.parametrize(
    ("times", "per", "step", "count"),
    [(1, "DAY", 1, 90), (1, "WEEK", 7, 39), (1, "MONTH", 30, 18)],
)
def test_high_score_in_reasonable_time(times: int, per: str, step: int, count: int) -> None:
    # given
    check_ins = {ago(step * i): "DONE" for i in range(count)}
    # when
    stats = habit_stats(check_ins, times, per, TODAY)
    # then
    assert stats.strength > 0.99


def test_public_api_agrees_with_the_non_daily_vector() -> None:
    # given
    check_ins = {ago(i): "DONE" for i in range(700) if i % 7 in (0, 1)}
    # when
    stats = habit_stats(check_ins, 3, "WEEK", TODAY)
    # then
    assert stats.strength == pytest.approx(2 / 3, abs=E)


def test_strength_of_a_weekly_habit_done_once_today() -> None:
    # given a doubled window: one check-in out of two expected in fourteen days
    multiplier = 0.5 ** ((1 / 7) ** 0.5 / 13)
    # when
    stats = habit_stats({TODAY: "DONE"}, 1, "WEEK", TODAY)
    # then
    assert stats.strength == pytest.approx(0.5 * (1 - multiplier), abs=1e-12)


def test_check_ins_beyond_the_frequency_do_not_push_strength_past_one() -> None:
    # given a weekly habit done every day for a thousand days
    original = check(0, 1000)
    computed = computed_entries(original, 1, 7)
    # when
    strength = strength_on(computed, 1, 7, day(0))
    # then
    assert strength <= 1.0
    assert strength == pytest.approx(1.0, abs=E)


def test_strength_is_zero_when_every_check_in_is_in_the_future() -> None:
    # given
    check_ins = {ago(-1): "DONE", ago(-2): "DONE"}
    # when
    stats = habit_stats(check_ins, 1, "DAY", TODAY)
    # then
    assert stats == NOTHING


# Computed entries: EntryListTest


def test_compute_boolean() -> None:
    # given
    original = {day(4): YES_MANUAL, day(9): YES_MANUAL, day(10): YES_MANUAL}
    # when
    computed = computed_entries(original, 1, 3)
    # then
    assert computed == {
        day(2): YES_AUTO,
        day(3): YES_AUTO,
        day(4): YES_MANUAL,
        day(7): YES_AUTO,
        day(8): YES_AUTO,
        day(9): YES_MANUAL,
        day(10): YES_MANUAL,
        day(11): YES_AUTO,
        day(12): YES_AUTO,
    }


def test_skip_entries_build_no_interval() -> None:
    # given
    original = {day(10): YES_MANUAL, day(20): SKIP, day(30): YES_MANUAL}
    # when
    computed = computed_entries(original, 1, 3)
    # then
    assert computed == {
        day(8): YES_AUTO,
        day(9): YES_AUTO,
        day(10): YES_MANUAL,
        day(20): SKIP,
        day(28): YES_AUTO,
        day(29): YES_AUTO,
        day(30): YES_MANUAL,
    }


def test_missed_day_inside_an_interval_becomes_auto() -> None:
    # given
    original = {day(4): YES_MANUAL, day(3): NO, day(1): SKIP}
    # when
    computed = computed_entries(original, 1, 7)
    # then
    assert computed[day(3)] == YES_AUTO
    assert computed[day(1)] == SKIP
    assert computed[day(4)] == YES_MANUAL


def test_missed_day_outside_any_interval_stays_missed() -> None:
    # given
    original = {day(4): YES_MANUAL, day(3): NO}
    # when
    computed = computed_entries(original, 1, 1)
    # then
    assert computed == {day(4): YES_MANUAL, day(3): NO}


def test_no_entries_compute_nothing() -> None:
    assert computed_entries({}, 1, 7) == {}


# Intervals: EntryListTest.testBuildIntervals* and testSnapIntervalsTogether*


def test_build_weekly_intervals() -> None:
    # given
    done = [day(8), day(18), day(23)]
    # when
    intervals = build_intervals(1, 7, done)
    # then
    assert intervals == [
        Interval(day(8), day(8), day(2)),
        Interval(day(18), day(18), day(12)),
        Interval(day(23), day(23), day(17)),
    ]


def test_build_daily_intervals() -> None:
    # given
    done = [day(8), day(18), day(23)]
    # when
    intervals = build_intervals(1, 1, done)
    # then
    assert intervals == [
        Interval(day(8), day(8), day(8)),
        Interval(day(18), day(18), day(18)),
        Interval(day(23), day(23), day(23)),
    ]


def test_build_twice_weekly_intervals() -> None:
    # given day(15) and day(8) are a full week apart, so they make no interval
    done = [day(8), day(15), day(18), day(22), day(23)]
    # when
    intervals = build_intervals(2, 7, done)
    # then
    assert intervals == [
        Interval(day(18), day(15), day(12)),
        Interval(day(22), day(18), day(16)),
        Interval(day(23), day(22), day(17)),
    ]


def test_build_intervals_needs_numerator_done_days() -> None:
    assert build_intervals(3, 7, [day(1), day(2)]) == []


@pytest.mark.parametrize(
    ("begin", "end"),
    [
        (date(2015, 2, 10), date(2015, 3, 9)),  # February 2015 has 28 days
        (date(2015, 3, 15), date(2015, 4, 14)),  # March has 31
        (date(2015, 4, 15), date(2015, 5, 14)),  # April has 30
        (date(2015, 1, 31), date(2015, 2, 27)),  # last day of a month: the next month's length
        (date(2016, 1, 31), date(2016, 2, 28)),  # leap February has 29
    ],
)
def test_monthly_interval_spans_a_calendar_month(begin: date, end: date) -> None:
    # when
    intervals = build_intervals(1, 30, [begin.toordinal()])
    # then
    assert intervals == [Interval(begin.toordinal(), begin.toordinal(), end.toordinal())]


@pytest.mark.parametrize(
    ("older", "newer", "fits"),
    [
        (date(2015, 3, 1), date(2015, 3, 31), True),  # 30 days apart, March has 31
        (date(2015, 2, 1), date(2015, 3, 1), False),  # 28 days apart, February has 28
    ],
)
def test_twice_monthly_interval_fits_in_the_month(older: date, newer: date, fits: bool) -> None:
    # when
    intervals = build_intervals(2, 30, ordinals([newer, older]))
    # then
    assert bool(intervals) is fits


def test_snap_intervals_together_1() -> None:
    # given
    intervals = [
        Interval(day(8), day(8), day(2)),
        Interval(day(12), day(12), day(6)),
        Interval(day(20), day(20), day(14)),
        Interval(day(27), day(27), day(21)),
    ]
    # when
    snap_intervals_together(intervals)
    # then
    assert intervals == [
        Interval(day(8), day(8), day(2)),
        Interval(day(15), day(12), day(9)),
        Interval(day(22), day(20), day(16)),
        Interval(day(29), day(27), day(23)),
    ]


def test_snap_intervals_together_2() -> None:
    # given
    intervals = [Interval(day(6), day(4), day(0)), Interval(day(11), day(8), day(5))]
    # when
    snap_intervals_together(intervals)
    # then
    assert intervals == [Interval(day(6), day(4), day(0)), Interval(day(13), day(8), day(7))]


def test_snap_touching_intervals_by_one_day() -> None:
    # given the older interval ends on the day the newer one begins
    intervals = [Interval(day(6), day(6), day(0)), Interval(day(12), day(10), day(6))]
    # when
    snap_intervals_together(intervals)
    # then
    assert intervals == [Interval(day(6), day(6), day(0)), Interval(day(13), day(10), day(7))]


def test_snap_leaves_disjoint_intervals_alone() -> None:
    # given
    intervals = [Interval(day(3), day(3), day(1)), Interval(day(10), day(10), day(8))]
    # when
    snap_intervals_together(intervals)
    # then
    assert intervals == [Interval(day(3), day(3), day(1)), Interval(day(10), day(10), day(8))]


# Streaks


def stats_of(offsets: Mapping[int, str], times: int = 1, per: str = "DAY") -> HabitStats:
    return habit_stats(dated(offsets, TODAY), times, per, TODAY)


def test_three_done_days_up_to_today() -> None:
    # when
    stats = stats_of({0: "DONE", -1: "DONE", -2: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (3, 3)


def test_streak_ending_yesterday_is_current_while_today_is_unchecked() -> None:
    # when
    stats = stats_of({-1: "DONE", -2: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (2, 2)


def test_streak_ending_two_days_ago_is_not_current() -> None:
    # when
    stats = stats_of({-2: "DONE", -3: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (0, 2)


def test_missed_today_ends_the_current_streak() -> None:
    # when
    stats = stats_of({0: "MISSED", -1: "DONE", -2: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (0, 2)


def test_skipped_today_keeps_and_extends_the_current_streak() -> None:
    # when
    stats = stats_of({0: "SKIPPED", -1: "DONE", -2: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (3, 3)


def test_skip_in_the_middle_does_not_break_the_streak() -> None:
    # when
    stats = stats_of({0: "DONE", -1: "SKIPPED", -2: "DONE", -3: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (4, 4)


def test_missed_day_splits_streaks() -> None:
    # when
    stats = stats_of({0: "DONE", -1: "MISSED", -2: "DONE", -3: "DONE", -4: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (1, 3)


def test_unknown_day_splits_streaks() -> None:
    # when
    stats = stats_of({0: "DONE", -1: "DONE", -3: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (2, 2)


def test_weekly_streak_covers_the_interval_up_to_today_only() -> None:
    # given one check-in three days ago makes the week from day(3) to day(-3) done
    offsets = {-3: "DONE"}
    # when
    stats = stats_of(offsets, 1, "WEEK")
    # then
    assert (stats.current_streak, stats.longest_streak) == (4, 4)


def test_weekly_missed_today_inside_a_done_week_keeps_the_streak() -> None:
    # when
    stats = stats_of({-3: "DONE", 0: "MISSED"}, 1, "WEEK")
    # then
    assert (stats.current_streak, stats.longest_streak) == (4, 4)


def test_monthly_streak_is_clipped_at_today() -> None:
    # when
    stats = stats_of({-3: "DONE"}, 1, "MONTH")
    # then
    assert (stats.current_streak, stats.longest_streak) == (4, 4)


def test_done_days_after_today_never_count() -> None:
    # when
    stats = stats_of({1: "DONE", 2: "DONE", 0: "DONE", -1: "DONE"})
    # then
    assert (stats.current_streak, stats.longest_streak) == (2, 2)


def test_empty_history() -> None:
    assert stats_of({}) == NOTHING
    assert stats_of({}, 2, "WEEK") == NOTHING


def test_streaks_are_listed_oldest_first() -> None:
    # given
    computed = {day(5): YES_MANUAL, day(4): SKIP, day(2): YES_AUTO, day(1): NO, day(0): YES_MANUAL}
    # when
    streaks = streaks_until(computed, day(0))
    # then
    assert streaks == [(day(5), day(4)), (day(2), day(2)), (day(0), day(0))]


def test_days_between_includes_both_ends() -> None:
    assert days_between(date(2015, 2, 27), date(2015, 3, 2)) == [
        date(2015, 2, 27),
        date(2015, 2, 28),
        date(2015, 3, 1),
        date(2015, 3, 2),
    ]
    assert days_between(date(2015, 3, 2), date(2015, 3, 1)) == []


# Properties

STATUSES = st.sampled_from(["DONE", "SKIPPED", "MISSED"])
TODAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


def histories(first: int = -90, last: int = 5) -> st.SearchStrategy[dict[int, str]]:
    """Check-ins keyed by days relative to today."""
    return st.dictionaries(st.integers(first, last), STATUSES, max_size=60)


@st.composite
def frequencies(
    draw: st.DrawFn, periods: Sequence[str] = ("DAY", "WEEK", "MONTH")
) -> tuple[int, str]:
    per = draw(st.sampled_from(periods))
    return draw(st.integers(1, DENOMINATOR_BY_PERIOD[per])), per


def daily_oracle(check_ins: Mapping[date, str], today: date) -> HabitStats:
    """Streaks and strength of a daily habit, straight from their definitions."""
    if not check_ins or min(check_ins) > today:
        return NOTHING
    run = yesterday_run = longest = 0
    strength = 0.0
    for offset in range((today - min(check_ins)).days + 1):
        status = check_ins.get(min(check_ins) + timedelta(days=offset))
        yesterday_run = run
        run = run + 1 if status in ("DONE", "SKIPPED") else 0
        longest = max(longest, run)
        if status != "SKIPPED":
            completed = 1.0 if status == "DONE" else 0.0
            strength = strength * DAILY_MULTIPLIER + completed * (1 - DAILY_MULTIPLIER)
    current = run or (yesterday_run if today not in check_ins else 0)
    return HabitStats(current_streak=current, longest_streak=longest, strength=strength)


def longest_interval(per: str) -> int:
    return 31 if per == "MONTH" else DENOMINATOR_BY_PERIOD[per]


@PROPERTY
@given(offsets=histories(), frequency=frequencies(), today=TODAYS)
def test_stats_stay_in_bounds(
    offsets: dict[int, str], frequency: tuple[int, str], today: date
) -> None:
    # given
    check_ins = dated(offsets, today)
    # when
    stats = habit_stats(check_ins, *frequency, today)
    # then
    assert 0.0 <= stats.strength <= 1.0
    assert 0 <= stats.current_streak <= stats.longest_streak
    if not check_ins or min(check_ins) > today:
        assert stats == NOTHING
    else:
        # snapping can slide an interval back before the first check-in, by less than its size
        reach = (today - min(check_ins)).days + longest_interval(frequency[1])
        assert stats.longest_streak <= reach


@PROPERTY
@given(offsets=histories(), today=TODAYS)
def test_daily_longest_streak_fits_between_first_check_in_and_today(
    offsets: dict[int, str], today: date
) -> None:
    # given
    check_ins = dated(offsets, today)
    # when
    stats = habit_stats(check_ins, 1, "DAY", today)
    # then
    if check_ins and min(check_ins) <= today:
        assert stats.longest_streak <= (today - min(check_ins)).days + 1


@PROPERTY
@given(offsets=histories(), frequency=frequencies(), today=TODAYS)
def test_raw_strength_is_a_fraction(
    offsets: dict[int, str], frequency: tuple[int, str], today: date
) -> None:
    # given
    times, per = frequency
    denominator = DENOMINATOR_BY_PERIOD[per]
    original = entries(offsets, today)
    computed = computed_entries(original, times, denominator)
    # when
    strength = strength_on(computed, times, denominator, today.toordinal())
    # then
    assert 0.0 <= strength <= 1.0


@PROPERTY
@given(offsets=histories(), today=TODAYS)
@example(offsets={-1: "DONE", -2: "SKIPPED", -3: "DONE"}, today=TODAY)
@example(offsets={0: "MISSED", -1: "DONE"}, today=TODAY)
@example(offsets={0: "SKIPPED"}, today=TODAY)
def test_daily_stats_match_the_oracle(offsets: dict[int, str], today: date) -> None:
    # given
    check_ins = dated(offsets, today)
    # when
    stats = habit_stats(check_ins, 1, "DAY", today)
    # then
    expected = daily_oracle(check_ins, today)
    assert (stats.current_streak, stats.longest_streak) == (
        expected.current_streak,
        expected.longest_streak,
    )
    assert stats.strength == pytest.approx(expected.strength, abs=1e-12)


@PROPERTY
@given(offsets=histories(), changed=st.integers(-90, 0), today=TODAYS)
def test_daily_done_never_lowers_the_stats(
    offsets: dict[int, str], changed: int, today: date
) -> None:
    # given
    before = habit_stats(dated(offsets, today), 1, "DAY", today)
    # when
    after = habit_stats(dated(offsets | {changed: "DONE"}, today), 1, "DAY", today)
    # then
    assert after.strength >= before.strength - 1e-12
    assert after.longest_streak >= before.longest_streak
    assert after.current_streak >= before.current_streak


@PROPERTY
@given(
    offsets=histories(),
    frequency=frequencies(("DAY", "WEEK")),
    today=TODAYS,
    shift=st.integers(-4000, 4000),
)
@example(offsets={0: "DONE", -1: "DONE"}, frequency=(1, "DAY"), today=date(2026, 3, 28), shift=1)
@example(offsets={0: "DONE", -1: "DONE"}, frequency=(1, "DAY"), today=date(2026, 3, 29), shift=1)
@example(
    offsets={-3: "DONE", -9: "DONE"}, frequency=(2, "WEEK"), today=date(2026, 10, 25), shift=-1
)
@example(
    offsets={-3: "DONE", -9: "SKIPPED"}, frequency=(1, "WEEK"), today=date(2026, 10, 24), shift=2
)
def test_only_dates_relative_to_today_matter(
    offsets: dict[int, str], frequency: tuple[int, str], today: date, shift: int
) -> None:
    # given
    moved = today + timedelta(days=shift)
    # when
    original = habit_stats(dated(offsets, today), *frequency, today)
    shifted = habit_stats(dated(offsets, moved), *frequency, moved)
    # then
    assert shifted == original


@PROPERTY
@given(offsets=histories(last=0), future=histories(first=1, last=40), today=TODAYS)
def test_daily_check_ins_after_today_change_nothing(
    offsets: dict[int, str], future: dict[int, str], today: date
) -> None:
    # when
    without = habit_stats(dated(offsets, today), 1, "DAY", today)
    with_future = habit_stats(dated(offsets | future, today), 1, "DAY", today)
    # then
    assert with_future == without


@PROPERTY
@given(
    offsets=histories(last=0),
    future=histories(first=1, last=40),
    frequency=frequencies(),
    today=TODAYS,
)
def test_check_ins_after_today_never_change_strength(
    offsets: dict[int, str], future: dict[int, str], frequency: tuple[int, str], today: date
) -> None:
    # when
    without = habit_stats(dated(offsets, today), *frequency, today)
    with_future = habit_stats(dated(offsets | future, today), *frequency, today)
    # then
    assert with_future.strength == without.strength


@PROPERTY
@given(offsets=histories(), frequency=frequencies(), today=TODAYS)
def test_streaks_end_by_today(
    offsets: dict[int, str], frequency: tuple[int, str], today: date
) -> None:
    # given
    times, per = frequency
    original = entries(offsets, today)
    computed = computed_entries(original, times, DENOMINATOR_BY_PERIOD[per])
    # when
    streaks = streaks_until(computed, today.toordinal())
    # then
    assert all(begin <= end <= today.toordinal() for begin, end in streaks)
    assert all(older[1] + 1 < newer[0] for older, newer in pairwise(streaks))


@PROPERTY
@given(offsets=histories(first=-120, last=40), frequency=frequencies(), today=TODAYS)
@example(offsets={-1: "DONE", -2: "MISSED", -3: "DONE"}, frequency=(2, "WEEK"), today=TODAY)
@example(offsets={-30: "DONE", -31: "DONE"}, frequency=(2, "MONTH"), today=date(2024, 3, 31))
@example(offsets={5: "DONE", 3: "DONE"}, frequency=(1, "DAY"), today=TODAY)
def test_the_stats_are_exactly_those_of_the_straightforward_port(
    offsets: dict[int, str], frequency: tuple[int, str], today: date
) -> None:
    # given: check-ins before and after today, of any frequency
    times, per = frequency
    check_ins = dated(offsets, today)
    original = entries(offsets, today)
    denominator = DENOMINATOR_BY_PERIOD[per]
    # when
    stats = habit_stats(check_ins, times, per, today)
    computed = computed_entries(original, times, denominator)
    # then: the same entries, streaks and strength, to the last bit of the strength
    assert stats == reference.habit_stats(check_ins, times, per, today)
    assert computed == reference.computed_entries(original, times, denominator)
    t = today.toordinal()
    assert streaks_until(computed, t) == reference.streaks_until(computed, t)
    strength = strength_on(computed, times, denominator, t)
    assert strength == reference.strength_on(computed, times, denominator, t)

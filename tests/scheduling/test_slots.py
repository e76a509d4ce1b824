"""Free slots for a habit: local windows, the local 15-minute grid, busy time, DST changes.

The concrete examples write the expected UTC instants out by hand. The property tests compare
`free_slots` with an oracle written differently: it works in whole microseconds since the
epoch, builds window occurrences by wall-clock arithmetic, grows merged windows until they
are stable, scans every busy interval and, for completeness, steps through the range one
real-time minute at a time, asking the local clock whether each minute is on the grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.scheduling.slots import (
    DEFAULT_WINDOW,
    STEP,
    Slot,
    Window,
    free_slots,
    windows_for,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
KOLKATA = ZoneInfo("Asia/Kolkata")
UTC_ZONE = ZoneInfo("UTC")
EVERY_DAY = range(1, 8)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def slots_in(
    zone: ZoneInfo,
    preferred: Sequence[tuple[Iterable[int], str, str]],
    start: datetime,
    end: datetime,
    duration: int = 30,
    busy: Sequence[tuple[datetime, datetime]] = (),
    *,
    buffer_before: timedelta = timedelta(0),
    buffer_after: timedelta = timedelta(0),
    not_before: datetime | None = None,
    step: timedelta = STEP,
) -> list[Slot]:
    """The slots of a habit with these preferred windows (HH:MM strings), duration in minutes."""
    return free_slots(
        busy=busy,
        start=start,
        end=end,
        zone=zone,
        windows=windows_for(preferred, []),
        duration=minutes(duration),
        buffer_before=buffer_before,
        buffer_after=buffer_after,
        not_before=not_before,
        step=step,
    )


def starts(slots: Sequence[Slot]) -> list[datetime]:
    return [slot.start for slot in slots]


def walls(slots: Sequence[Slot], zone: ZoneInfo) -> list[str]:
    """The local wall-clock start of each slot, "HH:MM"."""
    return [slot.start.astimezone(zone).strftime("%H:%M") for slot in slots]


def every(first: datetime, last: datetime, step: timedelta = STEP) -> list[datetime]:
    """first, first + step, ... up to and including last."""
    result = []
    while first <= last:
        result.append(first)
        first += step
    return result


# The time zone data these examples rely on.


def test_zoneinfo_agrees_on_the_2026_clock_changes() -> None:
    # given the instants around each change
    # then Berlin springs forward at 01:00 UTC on 29 March and falls back at 01:00 UTC on 25 October
    assert utc(2026, 3, 29, 0, 59).astimezone(BERLIN).utcoffset() == HOUR
    assert utc(2026, 3, 29, 1).astimezone(BERLIN).utcoffset() == 2 * HOUR
    assert utc(2026, 10, 25, 0, 59).astimezone(BERLIN).utcoffset() == 2 * HOUR
    assert utc(2026, 10, 25, 1).astimezone(BERLIN).utcoffset() == HOUR
    # and Lord Howe Island moves by half an hour: back at 02:00 local on 5 April (+11 to
    # +10:30, 01:30-02:00 happens twice), forward at 02:00 local on 4 October (02:00-02:30
    # does not happen)
    assert utc(2026, 4, 4, 14, 59).astimezone(LORD_HOWE).utcoffset() == minutes(11 * 60)
    assert utc(2026, 4, 4, 15).astimezone(LORD_HOWE).utcoffset() == minutes(10 * 60 + 30)
    assert utc(2026, 10, 3, 15, 29).astimezone(LORD_HOWE).utcoffset() == minutes(10 * 60 + 30)
    assert utc(2026, 10, 3, 15, 30).astimezone(LORD_HOWE).utcoffset() == minutes(11 * 60)


# Europe/Berlin across the 2026 clock changes


def test_a_morning_window_is_one_hour_on_the_day_clocks_spring_forward() -> None:
    # given a 09:00-10:00 window every day and an hour-long habit
    # when asking about 28 and 29 March 2026 (the clocks go forward early on the 29th)
    slots = slots_in(
        BERLIN, [(EVERY_DAY, "09:00", "10:00")], utc(2026, 3, 28), utc(2026, 3, 30), 60
    )
    # then 09:00 is 08:00 UTC on the 28th (CET) and 07:00 UTC on the 29th (CEST), an hour each
    assert slots == [
        Slot(utc(2026, 3, 28, 8), utc(2026, 3, 28, 9), utc(2026, 3, 28, 8), utc(2026, 3, 28, 9)),
        Slot(utc(2026, 3, 29, 7), utc(2026, 3, 29, 8), utc(2026, 3, 29, 7), utc(2026, 3, 29, 8)),
    ]


def test_a_morning_window_is_one_hour_on_the_day_clocks_fall_back() -> None:
    # given a 09:00-10:00 window every day and an hour-long habit
    # when asking about 24 and 25 October 2026 (the clocks go back early on the 25th)
    slots = slots_in(
        BERLIN, [(EVERY_DAY, "09:00", "10:00")], utc(2026, 10, 24), utc(2026, 10, 26), 60
    )
    # then 09:00 is 07:00 UTC on the 24th (CEST) and 08:00 UTC on the 25th (CET)
    assert slots == [
        Slot(
            utc(2026, 10, 24, 7), utc(2026, 10, 24, 8), utc(2026, 10, 24, 7), utc(2026, 10, 24, 8)
        ),
        Slot(
            utc(2026, 10, 25, 8), utc(2026, 10, 25, 9), utc(2026, 10, 25, 8), utc(2026, 10, 25, 9)
        ),
    ]


def test_a_window_over_the_skipped_hour_is_two_hours_of_real_time() -> None:
    # given a 01:00-04:00 window on Sunday 29 March 2026, when 02:00-03:00 does not exist
    sunday = [((7,), "01:00", "04:00")]
    # when asking for 15-minute slots that day
    slots = slots_in(BERLIN, sunday, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 15)
    # then the window runs from 01:00 CET (00:00 UTC) to 04:00 CEST (02:00 UTC)
    assert {(slot.window_start, slot.window_end) for slot in slots} == {
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))
    }
    # and every start is a local time that exists, on the quarter hour
    assert starts(slots) == every(utc(2026, 3, 29, 0), utc(2026, 3, 29, 1, 45))
    assert walls(slots, BERLIN) == [
        "01:00", "01:15", "01:30", "01:45", "03:00", "03:15", "03:30", "03:45",
    ]  # fmt: skip


def test_a_window_over_the_repeated_hour_is_four_hours_of_real_time() -> None:
    # given a 01:00-04:00 window on Sunday 25 October 2026, when 02:00-03:00 happens twice
    sunday = [((7,), "01:00", "04:00")]
    # when asking for 15-minute slots that day
    slots = slots_in(BERLIN, sunday, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 15)
    # then the window runs from 01:00 CEST (23:00 UTC the day before) to 04:00 CET (03:00 UTC)
    assert {(slot.window_start, slot.window_end) for slot in slots} == {
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    }
    # and the repeated quarter hours are offered twice, once in summer time, once in winter
    assert starts(slots) == every(utc(2026, 10, 24, 23), utc(2026, 10, 25, 2, 45))
    assert walls(slots, BERLIN) == [
        "01:00", "01:15", "01:30", "01:45", "02:00", "02:15", "02:30", "02:45",
        "02:00", "02:15", "02:30", "02:45", "03:00", "03:15", "03:30", "03:45",
    ]  # fmt: skip


def test_window_times_in_the_gap_resolve_like_zoneinfo_with_fold_0() -> None:
    # given windows that start or end at 02:xx on 29 March 2026, a time that does not exist
    # when asking for 15-minute slots that day
    inside = slots_in(BERLIN, [((7,), "02:00", "02:30")], utc(2026, 3, 28), utc(2026, 3, 30), 15)
    reversed_ = slots_in(BERLIN, [((7,), "02:30", "03:00")], utc(2026, 3, 28), utc(2026, 3, 30), 15)
    # then 02:00-02:30 is read with the winter offset: 01:00-01:30 UTC, 03:00-03:30 CEST
    assert starts(inside) == [utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 15)]
    assert walls(inside, BERLIN) == ["03:00", "03:15"]
    # and 02:30-03:00 becomes 01:30-01:00 UTC, which is no time at all
    assert reversed_ == []


# America/New_York, Australia/Lord_Howe, Asia/Kathmandu, Asia/Kolkata


def test_new_york_keeps_the_local_window_across_the_spring_change() -> None:
    # given a 09:00-09:30 window every day
    # when asking about 7 to 9 March 2026 (clocks go forward on the 8th)
    slots = slots_in(NEW_YORK, [(EVERY_DAY, "09:00", "09:30")], utc(2026, 3, 7), utc(2026, 3, 10))
    # then 09:00 EST is 14:00 UTC, 09:00 EDT is 13:00 UTC
    assert starts(slots) == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_new_york_offers_the_repeated_hour_twice_when_clocks_fall_back() -> None:
    # given a 01:00-02:00 window every day and an hour-long habit
    # when asking about 1 November 2026, when 01:00-02:00 happens twice
    slots = slots_in(
        NEW_YORK, [(EVERY_DAY, "01:00", "02:00")], utc(2026, 11, 1), utc(2026, 11, 2), 60
    )
    # then the window is two real hours, 01:00 EDT (05:00 UTC) to 02:00 EST (07:00 UTC)
    assert starts(slots) == every(utc(2026, 11, 1, 5), utc(2026, 11, 1, 6))
    assert walls(slots, NEW_YORK) == ["01:00", "01:15", "01:30", "01:45", "01:00"]
    assert {(slot.window_start, slot.window_end) for slot in slots} == {
        (utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))
    }


def test_lord_howe_half_hour_fall_back_repeats_01_30_to_02_00() -> None:
    # given a 01:00-03:00 window every day
    # when asking for 15-minute slots on 5 April 2026 (+11 becomes +10:30 at 02:00)
    slots = slots_in(
        LORD_HOWE, [(EVERY_DAY, "01:00", "03:00")], utc(2026, 4, 4, 12), utc(2026, 4, 5), 15
    )
    # then the window is 01:00 +11 (14:00 UTC) to 03:00 +10:30 (16:30 UTC), two and a half hours
    assert starts(slots) == every(utc(2026, 4, 4, 14), utc(2026, 4, 4, 16, 15))
    assert slots[0].window_end - slots[0].window_start == timedelta(hours=2, minutes=30)
    # and every start is on the local quarter hour, 01:30 and 01:45 twice
    assert walls(slots, LORD_HOWE) == [
        "01:00", "01:15", "01:30", "01:45", "01:30", "01:45", "02:00", "02:15", "02:30", "02:45",
    ]  # fmt: skip


def test_lord_howe_half_hour_spring_forward_skips_02_00_to_02_30() -> None:
    # given a 01:00-04:00 window every day
    # when asking for 15-minute slots on 4 October 2026 (+10:30 becomes +11 at 02:00)
    slots = slots_in(
        LORD_HOWE, [(EVERY_DAY, "01:00", "04:00")], utc(2026, 10, 3, 12), utc(2026, 10, 4), 15
    )
    # then the window is 01:00 +10:30 (14:30 UTC) to 04:00 +11 (17:00 UTC), two and a half hours
    assert starts(slots) == every(utc(2026, 10, 3, 14, 30), utc(2026, 10, 3, 16, 45))
    assert slots[0].window_end - slots[0].window_start == timedelta(hours=2, minutes=30)
    assert walls(slots, LORD_HOWE) == [
        "01:00", "01:15", "01:30", "01:45", "02:30", "02:45", "03:00", "03:15", "03:30", "03:45",
    ]  # fmt: skip


def test_an_hourly_grid_stays_on_the_local_hour_across_a_half_hour_change() -> None:
    # given a 00:00-06:00 window, an hour-long habit and an hourly grid
    # when asking about Lord Howe's 5 April 2026 (the clocks go back half an hour at 02:00)
    slots = slots_in(
        LORD_HOWE,
        [(EVERY_DAY, "00:00", "06:00")],
        utc(2026, 4, 4, 12),
        utc(2026, 4, 5),
        60,
        step=HOUR,
    )
    # then the starts are on the local hour: the walk re-anchors after the half-hour shift
    assert walls(slots, LORD_HOWE) == ["00:00", "01:00", "02:00", "03:00", "04:00", "05:00"]
    assert starts(slots) == [
        utc(2026, 4, 4, 13),
        utc(2026, 4, 4, 14),
        utc(2026, 4, 4, 15, 30),
        utc(2026, 4, 4, 16, 30),
        utc(2026, 4, 4, 17, 30),
        utc(2026, 4, 4, 18, 30),
    ]


def test_kathmandu_starts_on_its_own_quarter_hours() -> None:
    # given a 09:10-10:00 window in Kathmandu (+05:45)
    # when asking for 15-minute slots on 10 June 2026
    slots = slots_in(
        KATHMANDU, [(EVERY_DAY, "09:10", "10:00")], utc(2026, 6, 10), utc(2026, 6, 11), 15
    )
    # then the first start is 09:15 local, 03:30 UTC
    assert walls(slots, KATHMANDU) == ["09:15", "09:30", "09:45"]
    assert starts(slots) == [utc(2026, 6, 10, 3, 30), utc(2026, 6, 10, 3, 45), utc(2026, 6, 10, 4)]


@pytest.mark.parametrize(
    ("zone", "first"),
    [(KATHMANDU, utc(2026, 6, 10, 3, 15)), (KOLKATA, utc(2026, 6, 10, 3, 30))],
)
def test_an_hourly_grid_is_on_the_local_hour_not_the_utc_hour(
    zone: ZoneInfo, first: datetime
) -> None:
    # given a 09:00-12:00 window in a zone with a :45 or :30 offset, and an hourly grid
    # when asking for hour-long slots on 10 June 2026
    slots = slots_in(
        zone, [(EVERY_DAY, "09:00", "12:00")], utc(2026, 6, 10), utc(2026, 6, 11), 60, step=HOUR
    )
    # then they start at 09:00, 10:00 and 11:00 local, a quarter or half past the UTC hour
    assert walls(slots, zone) == ["09:00", "10:00", "11:00"]
    assert starts(slots) == [first, first + HOUR, first + 2 * HOUR]


# Busy time, buffers, notice

MORNING = [(EVERY_DAY, "09:00", "12:00")]
JUNE_10 = (utc(2026, 6, 10), utc(2026, 6, 11))


def test_a_busy_event_blocks_the_slots_that_overlap_it() -> None:
    # given a 09:00-12:00 UTC window and a meeting 10:00-10:30
    busy = [(utc(2026, 6, 10, 10), utc(2026, 6, 10, 10, 30))]
    # when asking for 30-minute slots
    slots = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, busy)
    # then nothing overlapping the meeting is offered, and the meeting's own edges are fine
    assert walls(slots, UTC_ZONE) == [
        "09:00", "09:15", "09:30", "10:30", "10:45", "11:00", "11:15", "11:30",
    ]  # fmt: skip


def test_a_slot_may_touch_a_busy_event() -> None:
    # given a meeting 10:00-10:30 in a 09:00-12:00 window
    busy = [(utc(2026, 6, 10, 10), utc(2026, 6, 10, 10, 30))]
    # when asking for 30-minute slots
    slots = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, busy)
    # then one slot ends as it starts and one starts as it ends
    assert utc(2026, 6, 10, 10) in [slot.end for slot in slots]
    assert utc(2026, 6, 10, 10, 30) in starts(slots)


def test_a_busy_event_ending_in_the_repeated_hour_blocks_until_its_own_instant() -> None:
    # given: on the night the clocks go back, busy until the second 02:00 (fold=1, 01:00 UTC)
    night = [(EVERY_DAY, "00:00", "04:00")]
    busy = [
        (
            datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN),
            datetime(2026, 10, 25, 2, 0, fold=1, tzinfo=BERLIN),
        )
    ]
    # when
    found = slots_in(BERLIN, night, utc(2026, 10, 24, 22), utc(2026, 10, 25, 3), 15, busy)
    # then: nothing before 01:00 UTC, though the first 02:00 (00:00 UTC) is a wall time too
    assert starts(found)[0] == utc(2026, 10, 25, 1)


def test_busy_events_may_come_unsorted_overlapping_and_in_any_zone() -> None:
    # given events out of order, overlapping, in Berlin, New York and UTC time
    busy = [
        (utc(2026, 6, 10, 10, 15).astimezone(BERLIN), utc(2026, 6, 10, 11).astimezone(NEW_YORK)),
        (utc(2026, 6, 10, 9, 15), utc(2026, 6, 10, 9, 45)),
        (utc(2026, 6, 10, 10).astimezone(NEW_YORK), utc(2026, 6, 10, 10, 30).astimezone(BERLIN)),
        (utc(2026, 6, 10, 9, 20), utc(2026, 6, 10, 9, 25)),
    ]
    # when asking for 15-minute slots in a 09:00-12:00 UTC window
    slots = slots_in(UTC_ZONE, MORNING, *JUNE_10, 15, busy)
    # then only 09:00, 09:45-10:00 and 11:00 onwards are free
    assert walls(slots, UTC_ZONE) == ["09:00", "09:45", "11:00", "11:15", "11:30", "11:45"]


def test_buffers_keep_time_free_before_and_after_every_event() -> None:
    # given a meeting 10:00-10:30 in a 09:00-12:00 window
    busy = [(utc(2026, 6, 10, 10), utc(2026, 6, 10, 10, 30))]
    # when asking for 30-minute slots with 15 minutes kept free before and after
    slots = slots_in(
        UTC_ZONE,
        MORNING,
        *JUNE_10,
        30,
        busy,
        buffer_before=minutes(15),
        buffer_after=minutes(15),
    )
    # then the last slot before ends at 09:45 and the first after starts at 10:45
    assert walls(slots, UTC_ZONE) == ["09:00", "09:15", "10:45", "11:00", "11:15", "11:30"]


def test_buffers_apply_on_their_own_side() -> None:
    # given a meeting 10:00-10:30 in a 09:00-12:00 window
    busy = [(utc(2026, 6, 10, 10), utc(2026, 6, 10, 10, 30))]
    # when asking for 30-minute slots with a buffer on one side only
    before = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, busy, buffer_before=minutes(30))
    after = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, busy, buffer_after=minutes(30))
    # then only that side loses slots
    assert walls(before, UTC_ZONE) == ["09:00", "10:30", "10:45", "11:00", "11:15", "11:30"]
    assert walls(after, UTC_ZONE) == ["09:00", "09:15", "09:30", "11:00", "11:15", "11:30"]


def test_a_zero_length_event_blocks_only_its_buffers() -> None:
    # given a reminder at 10:10 that takes no time
    busy = [(utc(2026, 6, 10, 10, 10), utc(2026, 6, 10, 10, 10))]
    # when asking for 30-minute slots without and with a 10-minute buffer after it
    plain = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, busy)
    buffered = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, busy, buffer_after=minutes(10))
    # then alone it blocks nothing; its buffer [10:10, 10:20) blocks what overlaps it
    assert len(plain) == 11
    assert walls(buffered, UTC_ZONE) == [
        "09:00", "09:15", "09:30", "10:30", "10:45", "11:00", "11:15", "11:30",
    ]  # fmt: skip


def test_no_slot_starts_before_the_minimum_notice() -> None:
    # given it is 09:07 and a habit needs 30 minutes' notice
    not_before = utc(2026, 6, 10, 9, 7) + minutes(30)
    # when asking for 30-minute slots in a 09:00-12:00 window
    slots = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, not_before=not_before)
    # then the first slot starts at the next quarter hour after 09:37
    assert starts(slots)[0] == utc(2026, 6, 10, 9, 45)
    # and a notice that ends exactly on the grid keeps that start
    exact = slots_in(UTC_ZONE, MORNING, *JUNE_10, 30, not_before=utc(2026, 6, 10, 10))
    assert starts(exact)[0] == utc(2026, 6, 10, 10)


# Windows


def test_preferred_windows_come_before_working_hours() -> None:
    # given a habit with a preferred window and a user with working hours
    windows = windows_for([((1, 3, 3), "06:30", "07:15")], [(1, "09:00", "17:00")])
    # then the preferred window is used, and only it
    assert windows == [Window(frozenset({1, 3}), time(6, 30), time(7, 15))]


def test_working_hours_are_used_when_the_habit_has_no_preferred_window() -> None:
    # given a habit without preferred windows and a user working Monday and Tuesday
    windows = windows_for([], [(1, "09:00", "12:00"), (1, "13:00", "17:00"), (2, "08:00", "24:00")])
    # then each working-hours entry is a window on its own weekday; 24:00 ends the day
    assert windows == [
        Window(frozenset({1}), time(9), time(12)),
        Window(frozenset({1}), time(13), time(17)),
        Window(frozenset({2}), time(8), time(0)),
    ]


def test_without_preferred_windows_or_working_hours_it_is_07_to_22_every_day() -> None:
    # given neither
    windows = windows_for([], [])
    # then every day 07:00-22:00
    assert windows == [Window(frozenset(EVERY_DAY), time(7), time(22))]
    assert (windows[0].start, windows[0].end) == DEFAULT_WINDOW
    # and a day in Berlin summer offers 15-minute slots from 07:00 to 21:45 local
    slots = free_slots(
        busy=[],
        start=utc(2026, 6, 9, 22),
        end=utc(2026, 6, 10, 22),
        zone=BERLIN,
        windows=windows,
        duration=minutes(15),
    )
    assert starts(slots) == every(utc(2026, 6, 10, 5), utc(2026, 6, 10, 19, 45))


def test_a_window_until_24_00_ends_at_the_next_local_midnight() -> None:
    # given a whole-day window, 00:00-24:00, on Sundays
    windows = windows_for([((7,), "00:00", "24:00")], [])
    assert windows == [Window(frozenset({7}), time(0), time(0))]
    # when asking for hour-long slots around Sunday 25 October 2026 in Berlin (25 hours long)
    slots = free_slots(
        busy=[],
        start=utc(2026, 10, 23),
        end=utc(2026, 10, 27),
        zone=BERLIN,
        windows=windows,
        duration=HOUR,
    )
    # then the window runs from midnight CEST to midnight CET and the last slot ends with it
    assert {(slot.window_start, slot.window_end) for slot in slots} == {
        (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    }
    assert starts(slots) == every(utc(2026, 10, 24, 22), utc(2026, 10, 25, 22))


def test_a_window_applies_only_on_its_weekdays() -> None:
    # given a Monday-only window
    # when asking about the week of Monday 8 June 2026
    slots = slots_in(UTC_ZONE, [((1,), "09:00", "10:00")], utc(2026, 6, 8), utc(2026, 6, 15), 60)
    # then there is one slot, on the Monday
    assert starts(slots) == [utc(2026, 6, 8, 9)]


@pytest.mark.parametrize(
    "preferred",
    [
        [(EVERY_DAY, "09:00", "10:00"), (EVERY_DAY, "10:00", "11:00")],
        [(EVERY_DAY, "10:00", "11:00"), (EVERY_DAY, "09:00", "10:30")],
        [((3,), "09:00", "10:00"), (EVERY_DAY, "09:30", "11:00"), ((3,), "09:45", "09:50")],
    ],
    ids=["touching", "overlapping", "nested"],
)
def test_overlapping_or_touching_windows_merge(
    preferred: list[tuple[Iterable[int], str, str]],
) -> None:
    # given windows on Wednesday 10 June 2026 that together cover 09:00-11:00
    # when asking for an hour-long habit
    slots = slots_in(UTC_ZONE, preferred, *JUNE_10, 60)
    # then it fits anywhere in 09:00-11:00, across the windows' seams
    assert starts(slots) == every(utc(2026, 6, 10, 9), utc(2026, 6, 10, 10))
    assert {(slot.window_start, slot.window_end) for slot in slots} == {
        (utc(2026, 6, 10, 9), utc(2026, 6, 10, 11))
    }


def test_windows_with_a_gap_between_them_stay_apart() -> None:
    # given 09:00-10:00 and 10:15-11:00
    preferred = [(EVERY_DAY, "09:00", "10:00"), (EVERY_DAY, "10:15", "11:00")]
    # when asking for an hour-long habit
    slots = slots_in(UTC_ZONE, preferred, *JUNE_10, 60)
    # then only the first window fits it
    assert starts(slots) == [utc(2026, 6, 10, 9)]


def test_a_range_that_starts_and_ends_mid_window() -> None:
    # given a 09:00-11:00 window
    # when asking about 09:20-10:40 only
    slots = slots_in(
        UTC_ZONE,
        [(EVERY_DAY, "09:00", "11:00")],
        utc(2026, 6, 10, 9, 20),
        utc(2026, 6, 10, 10, 40),
    )
    # then 30-minute slots start on the grid inside the range and end by its end
    assert starts(slots) == [utc(2026, 6, 10, 9, 30), utc(2026, 6, 10, 9, 45), utc(2026, 6, 10, 10)]
    # and they report the whole window, not the part of it that was asked about
    assert {(slot.window_start, slot.window_end) for slot in slots} == {
        (utc(2026, 6, 10, 9), utc(2026, 6, 10, 11))
    }


def test_a_range_across_local_midnight() -> None:
    # given windows 22:00-24:00 and 00:00-02:00 every day in New York (EDT, -04:00)
    preferred = [(EVERY_DAY, "22:00", "24:00"), (EVERY_DAY, "00:00", "02:00")]
    # when asking about 23:00 on 10 June to 01:00 on 11 June, local
    slots = slots_in(NEW_YORK, preferred, utc(2026, 6, 11, 3), utc(2026, 6, 11, 5))
    # then 30-minute slots fill each day's window but do not cross from one date to the next
    assert walls(slots, NEW_YORK) == ["23:00", "23:15", "23:30", "00:00", "00:15", "00:30"]
    assert [(slot.window_start, slot.window_end) for slot in slots] == 3 * [
        (utc(2026, 6, 11, 2), utc(2026, 6, 11, 4))
    ] + 3 * [(utc(2026, 6, 11, 4), utc(2026, 6, 11, 6))]


def test_no_windows_or_an_empty_range_give_no_slots() -> None:
    # given no windows, or a range that ends where it starts
    # then there are no slots
    nowhere = free_slots(
        busy=[], start=JUNE_10[0], end=JUNE_10[1], zone=BERLIN, windows=[], duration=HOUR
    )
    assert nowhere == []
    assert slots_in(BERLIN, MORNING, JUNE_10[0], JUNE_10[0]) == []
    assert slots_in(BERLIN, MORNING, JUNE_10[1], JUNE_10[0]) == []


# Invalid input

NAIVE = datetime(2026, 6, 10, 9)  # deliberately without a time zone


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"duration": timedelta(0)}, "duration must be positive"),
        ({"duration": -minutes(15)}, "duration must be positive"),
        ({"step": timedelta(0)}, "step must be positive and divide a day"),
        ({"step": -STEP}, "step must be positive and divide a day"),
        ({"step": minutes(7)}, "step must be positive and divide a day"),
        ({"step": timedelta(hours=25)}, "step must be positive and divide a day"),
        ({"buffer_before": -MINUTE}, "buffers must not be negative"),
        ({"buffer_after": -MINUTE}, "buffers must not be negative"),
        ({"start": NAIVE}, "start must be time-zone aware"),
        ({"end": NAIVE}, "end must be time-zone aware"),
        ({"not_before": NAIVE}, "not_before must be time-zone aware"),
        ({"busy": [(NAIVE, NAIVE + HOUR)]}, "busy start must be time-zone aware"),
        ({"busy": [(utc(2026, 6, 10, 10), utc(2026, 6, 10, 9))]}, "ends before it starts"),
    ],
)
def test_free_slots_rejects_invalid_arguments(options: dict[str, Any], message: str) -> None:
    # given otherwise sound arguments
    arguments: dict[str, Any] = {
        "busy": [],
        "start": JUNE_10[0],
        "end": JUNE_10[1],
        "zone": BERLIN,
        "windows": windows_for([], []),
        "duration": minutes(30),
    }
    # then one bad argument is refused
    with pytest.raises(ValueError, match=message):
        free_slots(**(arguments | options))


@pytest.mark.parametrize(
    ("preferred", "working_hours", "message"),
    [
        ([(EVERY_DAY, "9:00", "10:00")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "09:00", "10:60")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "25:00", "26:00")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "09:00", "24:01")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "09:00", "")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "nine", "ten")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "09:00:00", "10:00")], [], "a time must be HH:MM"),
        ([(EVERY_DAY, "24:00", "24:00")], [], "a window must end after it starts"),
        ([(EVERY_DAY, "10:00", "10:00")], [], "a window must end after it starts"),
        ([(EVERY_DAY, "10:00", "09:00")], [], "a window must end after it starts"),
        ([((0, 1), "09:00", "10:00")], [], "weekdays must be ISO weekdays"),
        ([((8,), "09:00", "10:00")], [], "weekdays must be ISO weekdays"),
        ([((), "09:00", "10:00")], [], "weekdays must be ISO weekdays"),
        ([], [(0, "09:00", "17:00")], "weekdays must be ISO weekdays"),
        ([], [(8, "09:00", "17:00")], "weekdays must be ISO weekdays"),
        ([], [(1, "17:00", "09:00")], "a window must end after it starts"),
        ([], [(1, "09:00", "5pm")], "a time must be HH:MM"),
    ],
)
def test_windows_for_rejects_malformed_windows(
    preferred: list[tuple[Iterable[int], str, str]],
    working_hours: list[tuple[int, str, str]],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        windows_for(preferred, working_hours)


@pytest.mark.parametrize(
    ("weekdays", "start", "end", "message"),
    [
        ({8}, time(9), time(10), "weekdays must be ISO weekdays"),
        (set(), time(9), time(10), "weekdays must be ISO weekdays"),
        ({1}, time(10), time(9), "a window must end after it starts"),
        ({1}, time(10), time(10), "a window must end after it starts"),
    ],
)
def test_a_window_must_be_well_formed(
    weekdays: set[int], start: time, end: time, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Window(frozenset(weekdays), start, end)


# Properties, against an oracle

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",  # -03:30
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight
    "Australia/Lord_Howe",  # changes by 30 minutes
    "Australia/Adelaide",  # +09:30
    "Pacific/Chatham",  # +12:45
    "Pacific/Auckland",
    "Asia/Kathmandu",  # +05:45
    "Asia/Kolkata",  # +05:30
    "Asia/Tehran",  # +03:30
    "Africa/Casablanca",  # goes back for Ramadan
    "Pacific/Kiritimati",  # +14
]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=200, deadline=None)


@cache
def clock_changes(name: str) -> list[datetime]:
    """Instants near the zone's 2026 clock changes (found hour by hour), else one in June."""
    zone = ZoneInfo(name)
    changes, instant = [], utc(2026, 1, 1)
    while instant.year == 2026:
        if (instant + HOUR).astimezone(zone).utcoffset() != instant.astimezone(zone).utcoffset():
            changes.append(instant)
        instant += HOUR
    return changes or [utc(2026, 6, 1)]


@dataclass(frozen=True)
class Case:
    zone: ZoneInfo
    windows: list[Window]
    busy: list[tuple[datetime, datetime]]
    start: datetime
    end: datetime
    duration: timedelta
    buffer_before: timedelta
    buffer_after: timedelta
    not_before: datetime | None
    step: timedelta

    def slots(self) -> list[Slot]:
        return free_slots(
            busy=self.busy,
            start=self.start,
            end=self.end,
            zone=self.zone,
            windows=self.windows,
            duration=self.duration,
            buffer_before=self.buffer_before,
            buffer_after=self.buffer_after,
            not_before=self.not_before,
            step=self.step,
        )


def hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


@st.composite
def clock_spans(draw: st.DrawFn) -> tuple[str, str]:
    """A window's ("HH:MM", "HH:MM"): often quarter hours, often over the clock changes."""
    start = draw(
        st.integers(0, 95).map(lambda quarter: quarter * 15)
        | st.sampled_from([0, 60, 90, 120, 150, 165, 180, 210, 1380])
        | st.integers(0, 1439)
    )
    length = draw(st.integers(1, 1440) | st.sampled_from([60, 180, 480, 1440]))
    return draw(
        st.just((hhmm(start), hhmm(min(start + length, 1440))))
        | st.sampled_from([("00:00", "24:00"), ("01:00", "04:00"), ("00:00", "06:00")])
    )


@st.composite
def preferred_windows(draw: st.DrawFn) -> tuple[frozenset[int], str, str]:
    weekdays = st.frozensets(st.integers(1, 7), min_size=1)
    return (draw(st.just(frozenset(EVERY_DAY)) | weekdays), *draw(clock_spans()))


@st.composite
def working_hours(draw: st.DrawFn) -> tuple[int, str, str]:
    return (draw(st.integers(1, 7)), *draw(clock_spans()))


def minutes_of(hh_mm: str) -> int:
    return int(hh_mm[:2]) * 60 + int(hh_mm[3:])


@st.composite
def windows_from_either_source(draw: st.DrawFn) -> list[Window]:
    """Preferred windows, working hours or neither; sometimes a window cut in two at a seam."""
    source = draw(st.sampled_from(["preferred", "working hours", "neither"]))
    preferred: list[tuple[frozenset[int], str, str]] = []
    working: list[tuple[int, str, str]] = []
    if source == "preferred":
        preferred = draw(st.lists(preferred_windows(), min_size=1, max_size=4))
        weekdays, first, last = preferred[-1]
        inside = range(minutes_of(first) + 1, minutes_of(last))
        if inside and draw(st.booleans()):
            seam = hhmm(draw(st.sampled_from(inside)))
            preferred[-1:] = [(weekdays, first, seam), (weekdays, seam, last)]
    if source != "neither":
        working = draw(st.lists(working_hours(), min_size=1, max_size=7))
    return windows_for(preferred, working)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    anchor = draw(st.sampled_from(clock_changes(name)))
    if draw(st.booleans()):  # a range that holds the clock change, up to six days long
        start = anchor - minutes(draw(st.integers(0, 3 * 1440)))
        end = anchor + minutes(draw(st.integers(1, 3 * 1440)))
    else:  # a range near it, up to ten days long
        start = anchor + minutes(draw(st.integers(-5 * 1440, 5 * 1440)))
        end = start + minutes(draw(st.integers(1, 10 * 1440)))
    start += timedelta(seconds=draw(st.sampled_from([0, 0, 0, 1, 30, 59])))
    windows = draw(windows_from_either_source())
    # Busy intervals anywhere near the range, often on the quarter hour (the anchor is a
    # whole UTC hour) so that they touch slots, shown in any zone.
    quarters = range((start - anchor) // STEP - 40, (end - anchor) // STEP + 40)
    busy = []
    for _ in range(draw(st.integers(0, 12))):
        busy_start = draw(
            st.sampled_from(quarters).map(lambda quarter: anchor + quarter * STEP)
            | st.integers(0, len(quarters) * 900).map(
                lambda second: anchor + quarters[0] * STEP + timedelta(seconds=second)
            )
        )
        busy_end = busy_start + minutes(draw(st.integers(0, 300) | st.sampled_from([0, 15, 60])))
        shown_in = draw(st.sampled_from([UTC, zone, timezone(timedelta(hours=-7))]))
        busy.append((busy_start.astimezone(shown_in), busy_end.astimezone(shown_in)))
    # Minimum notice: none, or anywhere from just before the range to its end.
    notice = draw(st.none() | st.integers(-5, 100))
    not_before = None if notice is None else start + (end - start) * notice / 100
    return Case(
        zone=zone,
        windows=windows,
        busy=busy,
        start=start.astimezone(draw(st.sampled_from([UTC, zone]))),
        end=end,
        duration=minutes(draw(st.integers(15, 180))),
        buffer_before=minutes(draw(st.sampled_from([0, 15]) | st.integers(0, 60))),
        buffer_after=minutes(draw(st.sampled_from([0, 15]) | st.integers(0, 60))),
        not_before=not_before,
        # Steps of 45 and 90 minutes leave the grid at every one-hour clock change.
        step=minutes(draw(st.sampled_from([15, 15, 15, 30, 45, 60, 90]))),
    )


def grown(seed: tuple[int, int], spans: list[tuple[int, int]]) -> tuple[int, int]:
    """`seed` joined with every span that overlaps or touches it, again and again until stable."""
    low, high = seed
    changed = True
    while changed:
        changed = False
        for other_low, other_high in spans:
            touches = other_low <= high and other_high >= low
            if touches and (other_low < low or other_high > high):
                low, high = min(low, other_low), max(high, other_high)
                changed = True
    return low, high


def micros(instant: datetime) -> int:
    """Whole microseconds since the epoch: the oracle's own clock."""
    return (instant - EPOCH) // timedelta(microseconds=1)


class Oracle:
    """The rules, checked directly: window occurrences per local date built by wall-clock
    arithmetic, merged windows grown until stable, every busy interval scanned."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.spans_by_day: dict[date, list[tuple[int, int]]] = {}
        first = case.start.astimezone(case.zone).date() - DAY
        last = case.end.astimezone(case.zone).date() + DAY
        for n in range((last - first).days + 1):
            day = first + n * DAY
            midnight = datetime(day.year, day.month, day.day, tzinfo=case.zone)
            for window in case.windows:
                if day.isoweekday() not in window.weekdays:
                    continue
                start_minute = window.start.hour * 60 + window.start.minute
                end_minute = window.end.hour * 60 + window.end.minute or 24 * 60
                # Adding to an aware datetime moves its wall clock; micros() reads it, fold=0.
                low = micros(midnight + minutes(start_minute))
                high = micros(midnight + minutes(end_minute))
                if low < high:
                    self.spans_by_day.setdefault(day, []).append((low, high))
        # Instants first: arithmetic on an aware local time moves its wall clock and drops
        # `fold` (02:00 fold=1 in the repeated hour would become the first 02:00).
        self.blocked = [
            (
                micros(busy_start.astimezone(UTC) - case.buffer_before),
                micros(busy_end.astimezone(UTC) + case.buffer_after),
            )
            for busy_start, busy_end in case.busy
        ]

    def on_grid(self, instant: datetime) -> bool:
        local = instant.astimezone(self.case.zone)
        step_minutes = self.case.step // MINUTE
        return (
            local.second == local.microsecond == 0
            and (local.hour * 60 + local.minute) % step_minutes == 0
        )

    def merged_window(self, begin: int, finish: int) -> tuple[int, int] | None:
        """The merged window occurrence holding [begin, finish), if any."""
        for spans in self.spans_by_day.values():
            for span in spans:
                if span[0] <= begin < span[1]:
                    low, high = grown(span, spans)
                    if finish <= high:
                        return low, high
        return None

    def free(self, begin: int, finish: int) -> bool:
        return not any(low < high and low < finish and begin < high for low, high in self.blocked)

    def allows(self, instant: datetime) -> tuple[int, int] | None:
        """The merged window, when a slot may start at `instant`; None when it may not."""
        case = self.case
        begin, finish = micros(instant), micros(instant + case.duration)
        if not self.on_grid(instant) or begin < micros(case.start) or finish > micros(case.end):
            return None
        if case.not_before is not None and begin < micros(case.not_before):
            return None
        if not self.free(begin, finish):
            return None
        return self.merged_window(begin, finish)


@PROPERTY
@given(cases())
def test_every_slot_obeys_the_rules(case: Case) -> None:
    # given any zone, windows, calendar, duration, buffers and range around a clock change
    # when finding slots
    slots = case.slots()
    # then each lies in one merged window occurrence, in the range, after the notice, on the
    # local grid, clear of every busy interval and its buffers, and reports that window
    oracle = Oracle(case)
    for slot in slots:
        assert slot.end - slot.start == case.duration
        window = oracle.allows(slot.start)
        assert window is not None, slot
        assert (micros(slot.window_start), micros(slot.window_end)) == window


@PROPERTY
@given(cases())
def test_every_free_start_on_the_local_grid_is_a_slot(case: Case) -> None:
    # given any zone, windows, calendar, duration, buffers and range around a clock change
    # when finding slots
    found = set(starts(case.slots()))
    # then every instant in the range, tried one real minute at a time, that is on the local
    # grid and obeys the rules is among them
    oracle = Oracle(case)
    instant = case.start.astimezone(UTC).replace(second=0, microsecond=0)
    while instant < case.end:
        if oracle.allows(instant) is not None:
            assert instant in found
        instant += MINUTE


@PROPERTY
@given(cases())
def test_slots_are_in_order_each_once_in_utc(case: Case) -> None:
    # given any case
    # when finding slots
    slots = case.slots()
    # then they are in strictly increasing order of start, with UTC datetimes throughout
    assert all(earlier.start < later.start for earlier, later in pairwise(slots))
    for slot in slots:
        for instant in (slot.start, slot.end, slot.window_start, slot.window_end):
            assert instant.tzinfo is UTC

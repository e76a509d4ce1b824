"""The recommender's features: the numbers each candidate slot becomes."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.recommend.features import (
    COLUMN,
    GAP_CAP_MIN,
    NEARBY_S,
    History,
    Outcome,
    Said,
    epoch,
    features,
    history,
)

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "UTC",
]
MONDAY = date(2026, 3, 23)  # the week the clocks change in Europe


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def known(
    *,
    zone: ZoneInfo = BERLIN,
    busy: list[tuple[datetime, datetime]] | None = None,
    outcomes: list[Outcome] | None = None,
    check_ins: dict[date, str] | None = None,
    feedback: list[Said] | None = None,
    as_of: date = MONDAY,
) -> History:
    return history(
        zone=zone,
        as_of=as_of,
        said_before=datetime.combine(as_of, datetime.min.time(), zone),
        busy=busy or [],
        outcomes=outcomes or [],
        check_ins=check_ins or {},
        feedback=feedback or [],
        user_rate=0.5,
        times=1,
        per="DAY",
        duration_minutes=30,
    )


def rows(h: History, starts: list[datetime]) -> np.ndarray:
    t = epoch(starts)
    return features(h, t, t - 3600, t + 7200)


def test_busy_time_around_a_slot() -> None:
    # given: busy 10:00-11:00, the slot 11:30-12:00, nothing after
    h = known(busy=[(at(MONDAY, 10), at(MONDAY, 11))])
    # when
    row = rows(h, [at(MONDAY, 11, 30)])[0]
    # then
    assert row[COLUMN["free_before"]] == 30
    assert row[COLUMN["free_after"]] == GAP_CAP_MIN
    span_min = (30 * 60 + 2 * NEARBY_S) / 60
    assert math.isclose(row[COLUMN["busy_nearby"]], 60 / span_min, rel_tol=1e-6)


def test_overlapping_busy_events_count_once() -> None:
    h = known(
        busy=[
            (at(MONDAY, 10), at(MONDAY, 11)),
            (at(MONDAY, 10, 30), at(MONDAY, 11)),
            (at(MONDAY, 9), at(MONDAY, 10, 15)),
        ]
    )
    row = rows(h, [at(MONDAY, 12)])[0]
    span_min = (30 * 60 + 2 * NEARBY_S) / 60
    assert math.isclose(row[COLUMN["busy_nearby"]], 120 / span_min, rel_tol=1e-6)
    assert row[COLUMN["free_before"]] == 60


def test_local_hour_and_weekday_follow_the_clock_change() -> None:
    # given: 09:00 in Berlin on Saturday (UTC+1) and Monday after the change (UTC+2)
    h = known()
    saturday, monday = at(date(2026, 3, 28), 9), at(date(2026, 3, 30), 9)
    # when
    found = rows(h, [saturday, monday])
    # then
    assert found[:, COLUMN["local_hour"]].tolist() == [9.0, 9.0]
    assert found[:, COLUMN["weekday"]].tolist() == [5, 0]


def test_hour_rate_rises_where_the_habit_was_done() -> None:
    # given: done at 07:00 every time, missed at 18:00 every time
    past = [Outcome(at(MONDAY - timedelta(days=d), 7), True) for d in range(1, 11)]
    past += [Outcome(at(MONDAY - timedelta(days=d), 18), False) for d in range(1, 11)]
    h = known(outcomes=past)
    # when
    found = rows(h, [at(MONDAY, 7), at(MONDAY, 12), at(MONDAY, 18)])
    # then
    morning, noon, evening = found[:, COLUMN["hour_rate"]]
    assert morning > noon > evening
    assert math.isclose(found[0, COLUMN["hours_from_usual"]], 0.0, abs_tol=1e-3)


def test_unknowns_are_missing_values_not_zeros() -> None:
    row = rows(known(), [at(MONDAY, 7)])[0]
    assert math.isnan(row[COLUMN["hours_from_usual"]])
    assert math.isnan(row[COLUMN["days_since_done"]])


def test_days_since_done_counts_from_the_last_done_check_in() -> None:
    h = known(check_ins={MONDAY - timedelta(days=3): "DONE", MONDAY - timedelta(days=1): "MISSED"})
    found = rows(h, [at(MONDAY, 7), at(MONDAY + timedelta(days=2), 7)])
    assert found[:, COLUMN["days_since_done"]].tolist() == [3, 5]


def test_feedback_spreads_an_hour_either_side() -> None:
    said = [Said(at(MONDAY - timedelta(days=1), 8), True, at(MONDAY - timedelta(days=2), 8))]
    found = rows(known(feedback=said), [at(MONDAY, 8), at(MONDAY, 8, 45), at(MONDAY, 10)])
    at_eight, near, far = found[:, COLUMN["feedback_nearby"]]
    assert at_eight > near > far == 0


# --- properties -----------------------------------------------------------------------


@st.composite
def situations(draw: st.DrawFn) -> tuple[ZoneInfo, list[tuple[datetime, datetime]], list[datetime]]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    base = datetime(2026, 3, 20, tzinfo=UTC)
    minutes = st.integers(0, 10 * 24 * 60)
    busy = []
    for start, length in draw(st.lists(st.tuples(minutes, st.integers(15, 240)), max_size=30)):
        busy.append((base + timedelta(minutes=start), base + timedelta(minutes=start + length)))
    quarters = draw(st.lists(st.integers(0, 10 * 24 * 4), min_size=1, max_size=40, unique=True))
    starts = [base + timedelta(minutes=15 * q) for q in sorted(quarters)]
    return zone, busy, starts


@settings(max_examples=150, deadline=None)
@given(situations())
def test_a_batch_is_the_same_as_each_slot_alone(
    situation: tuple[ZoneInfo, list[tuple[datetime, datetime]], list[datetime]],
) -> None:
    zone, busy, starts = situation
    h = known(zone=zone, busy=busy)
    together = rows(h, starts)
    alone = np.vstack([rows(h, [s]) for s in starts])
    np.testing.assert_array_equal(together, alone)
    local_hours = [s.astimezone(zone).hour + s.astimezone(zone).minute / 60 for s in starts]
    np.testing.assert_allclose(together[:, COLUMN["local_hour"]], local_hours, atol=1e-6)
    weekdays = [s.astimezone(zone).weekday() for s in starts]
    assert together[:, COLUMN["weekday"]].tolist() == weekdays


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-40, 40), st.integers(6, 21), st.booleans()), max_size=40),
    st.sampled_from(["DONE", "MISSED", "SKIPPED"]),
)
def test_nothing_from_the_day_on_changes_a_row(
    events: list[tuple[int, int, bool]], status: str
) -> None:
    # given: a history, and the same history with more from MONDAY on
    past = [Outcome(at(MONDAY + timedelta(days=d), h), done) for d, h, done in events if d < 0]
    later = [Outcome(at(MONDAY + timedelta(days=d), h), done) for d, h, done in events if d >= 0]
    checks = {MONDAY + timedelta(days=d): "DONE" for d, _, done in events if d < 0 and done}
    future_checks = {MONDAY + timedelta(days=d): status for d, _, _ in events if d >= 0}
    future_said = [Said(at(MONDAY, 9), True, at(MONDAY, 1))]
    slots = [at(MONDAY, 7), at(MONDAY + timedelta(days=1), 19)]
    # when
    before = rows(known(outcomes=past, check_ins=checks), slots)
    with_future = rows(
        known(outcomes=past + later, check_ins={**checks, **future_checks}, feedback=future_said),
        slots,
    )
    # then
    np.testing.assert_array_equal(before, with_future)

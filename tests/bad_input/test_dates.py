"""Dates and date-times that do not exist or lack an offset are refused; check-ins stay
within the user's today and ten years back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    GOAL,
    HABIT,
    NOW,
    RANGE,
    User,
    _event,
    _goal,
    _update,
    refused,
)
from tests.helpers import set_timezone

# --- dates and date-times ------------------------------------------------------------

BAD_DATES = ["2026-02-30", "2026-13-01", "20260301", "2026-3-1", "29.03.2026", ""]

DATE_OPERATIONS = [
    pytest.param(
        "CheckInHabit", lambda d: {"habitId": HABIT, "date": d, "status": "DONE"}, id="CheckInHabit"
    ),
    pytest.param("CreateGoal", lambda d: _goal(targetDate=d), id="CreateGoal-targetDate"),
    pytest.param("UpdateGoal", lambda d: _update(targetDate=d), id="UpdateGoal-targetDate"),
    pytest.param(
        "GoalDetail", lambda d: {"id": GOAL, "from": d, "to": "2026-03-31"}, id="GoalDetail-from"
    ),
    pytest.param(
        "GoalDetail", lambda d: {"id": GOAL, "from": "2026-03-01", "to": d}, id="GoalDetail-to"
    ),
]


@pytest.mark.parametrize("bad_date", BAD_DATES)
@pytest.mark.parametrize(("name", "build"), DATE_OPERATIONS)
async def test_dates_that_do_not_exist_are_refused(
    user: User, app_state: AppState, name: str, build: Any, bad_date: str
) -> None:
    # given
    variables = build(bad_date)
    # when
    r = await refused(app_state, user, name, variables, f"'{bad_date}'")
    # then
    assert r.body["data"] is None


BAD_DATETIMES = [
    "2026-03-29T09:30:00",
    "2026-02-30T10:00:00Z",
    "2026-03-29",
    "2026-03-29 09:30:00Z",
    "2026-03-29T25:00:00Z",
    "2026-03-29T09:30:00+25:00",
    "1743240600",
]

DATETIME_OPERATIONS = [
    pytest.param("CreateEvent", lambda t: _event(start=t), id="CreateEvent-start"),
    pytest.param("CreateEvent", lambda t: _event(end=t), id="CreateEvent-end"),
    pytest.param("Events", lambda t: {"range": {**RANGE, "start": t}}, id="Events-start"),
    pytest.param("Events", lambda t: {"range": {**RANGE, "end": t}}, id="Events-end"),
    pytest.param("Dashboard", lambda t: {"range": {**RANGE, "start": t}}, id="Dashboard-start"),
    pytest.param(
        "BatchCreateEvents",
        lambda t: {"inputs": [_event()["input"], _event(end=t)["input"]]},
        id="BatchCreateEvents-end",
    ),
]


@pytest.mark.parametrize("bad_datetime", BAD_DATETIMES)
@pytest.mark.parametrize(("name", "build"), DATETIME_OPERATIONS)
async def test_date_times_without_offset_or_that_do_not_exist_are_refused(
    user: User, app_state: AppState, name: str, build: Any, bad_datetime: str
) -> None:
    # given
    variables = build(bad_datetime)
    # when
    r = await refused(app_state, user, name, variables, f"'{bad_datetime}'")
    # then
    assert r.body["data"] is None


@pytest.mark.parametrize(
    ("now", "zone", "day"),
    [
        pytest.param(NOW, "UTC", "2026-03-30", id="tomorrow"),
        pytest.param(NOW, "UTC", "2027-01-01", id="next-year"),
        pytest.param(
            datetime(2026, 3, 29, 5, tzinfo=UTC),
            "Pacific/Honolulu",
            "2026-03-29",
            id="utc-today-not-yet-local",
        ),
        pytest.param(
            datetime(2026, 3, 29, 23, tzinfo=UTC),
            "America/New_York",
            "2026-03-30",
            id="west-of-utc",
        ),
    ],
)
async def test_check_in_after_the_users_today_is_refused(
    user: User, app_state: AppState, clock: Any, *, now: datetime, zone: str, day: str
) -> None:
    # given
    await set_timezone(user.client, zone)
    clock(now)
    variables = {"habitId": HABIT, "date": day, "status": "DONE"}
    # when
    r = await refused(app_state, user, "CheckInHabit", variables, day)
    # then
    assert r.errors[0]["extensions"]["field"] == "date"


async def test_check_in_more_than_ten_years_back_is_refused(
    user: User, app_state: AppState
) -> None:
    # given
    variables = {"habitId": HABIT, "date": "2010-01-01", "status": "DONE"}
    # when
    r = await refused(app_state, user, "CheckInHabit", variables, "ten years")
    # then
    assert r.errors[0]["extensions"]["field"] == "date"


@pytest.mark.parametrize(
    ("from_", "to", "mention"),
    [
        pytest.param("2026-03-10", "2026-03-01", "before", id="backward"),
        pytest.param("2024-01-01", "2026-01-01", "366 days", id="too-long"),
    ],
)
async def test_check_in_window_is_checked(
    user: User, app_state: AppState, from_: str, to: str, mention: str
) -> None:
    # given
    variables = {"id": GOAL, "from": from_, "to": to}
    # when
    r = await refused(app_state, user, "GoalDetail", variables, mention)
    # then
    assert r.errors[0]["extensions"]["field"] == "from"

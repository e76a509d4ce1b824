"""A habit's bad frequency, duration or preferred windows are refused."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    DAILY,
    HABIT,
    User,
    refused,
)

# --- habits: frequency and duration --------------------------------------------------


@pytest.mark.parametrize(
    ("times", "per"),
    [(2, "DAY"), (0, "DAY"), (-1, "DAY"), (0, "WEEK"), (8, "WEEK"), (0, "MONTH"), (31, "MONTH")],
)
@pytest.mark.parametrize(
    ("name", "variables"),
    [
        pytest.param("CreateHabit", {"input": {"name": "Read"}}, id="CreateHabit"),
        pytest.param("UpdateHabit", {"id": HABIT, "input": {}}, id="UpdateHabit"),
    ],
)
async def test_frequency_is_checked(
    user: User, app_state: AppState, *, name: str, variables: dict[str, Any], times: int, per: str
) -> None:
    # given
    variables = {
        **variables,
        "input": {**variables["input"], "frequency": {"times": times, "per": per}},
    }
    # when
    r = await refused(app_state, user, name, variables, "frequency.times")
    # then
    assert r.errors[0]["extensions"]["field"] == "frequency.times"


@pytest.mark.parametrize("minutes", [0, -5, 1441])
@pytest.mark.parametrize(
    ("name", "variables"),
    [
        pytest.param(
            "CreateHabit", {"input": {"name": "Read", "frequency": DAILY}}, id="CreateHabit"
        ),
        pytest.param("UpdateHabit", {"id": HABIT, "input": {}}, id="UpdateHabit"),
    ],
)
async def test_duration_is_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], minutes: int
) -> None:
    # given
    variables = {**variables, "input": {**variables["input"], "durationMinutes": minutes}}
    # when
    r = await refused(app_state, user, name, variables, "durationMinutes")
    # then
    assert str(minutes) in r.errors[0]["message"]


@pytest.mark.parametrize(
    ("window", "mention"),
    [
        pytest.param(
            {"weekdays": [0], "start": "07:00", "end": "08:00"},
            "preferredWindows[0]",
            id="weekday-0",
        ),
        pytest.param(
            {"weekdays": [], "start": "07:00", "end": "08:00"}, "preferredWindows[0]", id="no-days"
        ),
        pytest.param(
            {"weekdays": [1], "start": "08:00", "end": "07:00"},
            "preferredWindows[0]",
            id="backward",
        ),
        pytest.param({"weekdays": [1], "start": "7:00", "end": "08:00"}, "'7:00'", id="7:00"),
    ],
)
async def test_preferred_windows_are_checked(
    user: User, app_state: AppState, window: dict[str, Any], mention: str
) -> None:
    # given
    habit = {"name": "Read", "frequency": DAILY, "preferredWindows": [window]}
    # when
    r = await refused(app_state, user, "CreateHabit", {"input": habit}, mention)
    # then
    assert r.body["data"] is None

"""Texts that are too long or blank are refused, whichever object they are for."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    DAILY,
    GOAL,
    HABIT,
    LONG_DESCRIPTION,
    LONG_TITLE,
    User,
    _event,
    _goal,
    _update,
    refused,
)

# --- texts ---------------------------------------------------------------------------

TEXT_CASES = [
    ("title", {"title": LONG_TITLE}, "201 characters"),
    ("title", {"title": "   "}, "blank"),
    ("title", {"title": ""}, "blank"),
    ("description", {"description": LONG_DESCRIPTION}, "5001 characters"),
]


@pytest.mark.parametrize(
    ("name", "build"),
    [("CreateGoal", _goal), ("CreateEvent", _event), ("UpdateGoal", _update)],
)
@pytest.mark.parametrize(
    ("field", "fields", "why"),
    TEXT_CASES,
    ids=["long-title", "blank-title", "empty-title", "long-description"],
)
async def test_texts_are_checked(
    user: User,
    app_state: AppState,
    *,
    name: str,
    build: Any,
    field: str,
    fields: dict[str, Any],
    why: str,
) -> None:
    # given
    variables = build(**fields)
    # when
    r = await refused(app_state, user, name, variables, field)
    # then
    assert why in r.errors[0]["message"]
    assert r.errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize(
    ("name", "variables", "mention"),
    [
        pytest.param("UpdateGoal", _update(title=None), "title", id="UpdateGoal-null-title"),
        pytest.param(
            "CreateHabit",
            {"input": {"name": " ", "frequency": DAILY}},
            "name",
            id="CreateHabit-blank",
        ),
        pytest.param(
            "CreateHabit",
            {"input": {"name": LONG_TITLE, "frequency": DAILY}},
            "name",
            id="CreateHabit-long",
        ),
        pytest.param(
            "UpdateHabit", {"id": HABIT, "input": {"name": ""}}, "name", id="UpdateHabit-blank"
        ),
        pytest.param(
            "ConnectCalendar",
            {"input": {"provider": "LOCAL", "name": LONG_TITLE}},
            "name",
            id="calendar-name",
        ),
        pytest.param(
            "ConnectCalendar",
            {"input": {"provider": "LOCAL", "color": "red"}},
            "color",
            id="calendar-color",
        ),
        pytest.param(
            "ConnectCalendar",
            {"input": {"provider": "LOCAL", "timezone": "Mars/Olympus"}},
            "'Mars/Olympus'",
            id="calendar-zone",
        ),
        pytest.param(
            "LogGoalProgress",
            {"goalId": GOAL, "value": 1, "note": "n" * 1001},
            "note",
            id="progress-note",
        ),
    ],
)
async def test_other_texts_are_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], mention: str
) -> None:
    # given
    expected_data = None
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] == expected_data

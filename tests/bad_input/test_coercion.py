"""Values that do not coerce (enums, missing fields) are refused; unknown IDs are NOT_FOUND."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from graphql_api.relay import to_global_id
from graphql_api.state import AppState
from tests.bad_input.helpers import (
    GOAL,
    HABIT,
    User,
    _goal,
    _update,
    refused,
    stored,
)

# --- enums and missing fields (variable coercion) ------------------------------------


@pytest.mark.parametrize(
    ("name", "variables", "mention"),
    [
        pytest.param("CreateGoal", _goal(priority="P0"), "P0", id="priority"),
        pytest.param("UpdateGoal", _update(status="DONE"), "DONE", id="goal-status"),
        pytest.param(
            "CreateHabit",
            {"input": {"name": "Read", "frequency": {"times": 1, "per": "YEAR"}}},
            "YEAR",
            id="period",
        ),
        pytest.param(
            "CheckInHabit",
            {"habitId": HABIT, "date": "2026-03-28", "status": "YES"},
            "YES",
            id="check-in-status",
        ),
        pytest.param(
            "ConnectCalendar", {"input": {"provider": "OUTLOOK"}}, "OUTLOOK", id="provider"
        ),
        pytest.param("Goals", {"orderBy": "TITLE"}, "TITLE", id="order"),
        pytest.param(
            "CreateGoal", {"input": {"description": "no title"}}, "title", id="missing-title"
        ),
        pytest.param(
            "CreateHabit", {"input": {"name": "Read"}}, "frequency", id="missing-frequency"
        ),
        pytest.param(
            "CreateHabit",
            {"input": {"name": "Read", "frequency": {"times": 1.5, "per": "DAY"}}},
            "1.5",
            id="times-float",
        ),
        pytest.param(
            "LogGoalProgress", {"goalId": GOAL, "value": "much"}, "much", id="value-string"
        ),
        pytest.param("Goals", {"first": "ten"}, "ten", id="first-string"),
    ],
)
async def test_values_that_do_not_coerce_are_refused(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], mention: str
) -> None:
    # given
    expected_data = None
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] == expected_data


async def test_nonexistent_ids_are_not_found_not_bad_input(user: User, app_state: AppState) -> None:
    # given
    missing_goal = to_global_id("Goal", ObjectId())
    before = await stored(app_state, user.client)
    # when
    r = await user.client.op("UpdateGoal", {"id": missing_goal, "input": {"title": "New"}})
    # then
    assert r.codes == ["NOT_FOUND"]
    assert await stored(app_state, user.client) == before

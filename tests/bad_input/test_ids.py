"""Malformed IDs and IDs of the wrong type are refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    CALENDAR,
    DAILY,
    EVENT,
    GOAL,
    HABIT,
    MONTH,
    RANGE,
    User,
    _b64,
    _event,
    refused,
)

# --- IDs -----------------------------------------------------------------------------

# Each makes a malformed ID for the kind of ID the operation expects.
GARBAGE_IDS = [
    pytest.param(lambda kind: "garbage", id="garbage"),
    pytest.param(lambda kind: "not-an-id!!", id="punctuation"),
    pytest.param(lambda kind: "", id="empty"),
    pytest.param(lambda kind: f"{kind}:abc", id="plain-text"),
    pytest.param(_b64, id="no-colon"),
    pytest.param(lambda kind: _b64(f"{kind}:"), id="no-raw-id"),
    pytest.param(lambda kind: _b64(f"{kind}:42"), id="raw-not-object-id"),
    pytest.param(lambda kind: _b64(f"{kind}:" + "z" * 24), id="raw-not-hex"),
    pytest.param(lambda kind: _b64(":" + "a" * 24), id="no-type"),
    pytest.param(lambda kind: base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(), id="not-utf8"),
]

ID_OPERATIONS = [
    pytest.param(
        "UpdateGoal", "Goal", lambda i: {"id": i, "input": {"title": "New"}}, id="UpdateGoal"
    ),
    pytest.param("DeleteGoal", "Goal", lambda i: {"id": i}, id="DeleteGoal"),
    pytest.param(
        "LogGoalProgress", "Goal", lambda i: {"goalId": i, "value": 1.0}, id="LogGoalProgress"
    ),
    pytest.param(
        "CreateHabit",
        "Goal",
        lambda i: {"input": {"name": "Read", "goalId": i, "frequency": DAILY}},
        id="CreateHabit-goalId",
    ),
    pytest.param(
        "UpdateHabit", "Habit", lambda i: {"id": i, "input": {"name": "New"}}, id="UpdateHabit"
    ),
    pytest.param("DeleteHabit", "Habit", lambda i: {"id": i}, id="DeleteHabit"),
    pytest.param(
        "CheckInHabit",
        "Habit",
        lambda i: {"habitId": i, "date": "2026-03-28", "status": "DONE"},
        id="CheckInHabit",
    ),
    pytest.param(
        "CreateEvent", "Calendar", lambda i: _event(calendarId=i), id="CreateEvent-calendarId"
    ),
    pytest.param(
        "Events",
        "Calendar",
        lambda i: {"range": RANGE, "calendarIds": [i]},
        id="Events-calendarIds",
    ),
    *(
        pytest.param("GoalDetail", kind, lambda i: {"id": i, **MONTH}, id=f"node-{kind}")
        for kind in ("Goal", "Habit", "Calendar", "Event", "User")
    ),
]


@pytest.mark.parametrize("make_id", GARBAGE_IDS)
@pytest.mark.parametrize(("name", "kind", "build"), ID_OPERATIONS)
async def test_malformed_ids_are_refused(
    user: User, app_state: AppState, *, name: str, kind: str, build: Any, make_id: Any
) -> None:
    # given
    bad_id = make_id(kind)
    # when
    r = await refused(app_state, user, name, build(bad_id), repr(bad_id))
    # then
    assert "valid ID" in r.errors[0]["message"]


@pytest.mark.parametrize(
    ("name", "variables", "expected_kind"),
    [
        pytest.param(
            "UpdateGoal", {"id": HABIT, "input": {"title": "New"}}, "Goal", id="UpdateGoal-Habit"
        ),
        pytest.param("DeleteGoal", {"id": HABIT}, "Goal", id="DeleteGoal-Habit"),
        pytest.param(
            "LogGoalProgress", {"goalId": EVENT, "value": 1.0}, "Goal", id="LogGoalProgress-Event"
        ),
        pytest.param(
            "CreateHabit",
            {"input": {"name": "Read", "goalId": HABIT, "frequency": DAILY}},
            "Goal",
            id="CreateHabit-goalId-Habit",
        ),
        pytest.param(
            "UpdateHabit",
            {"id": HABIT, "input": {"goalId": CALENDAR}},
            "Goal",
            id="UpdateHabit-goalId-Calendar",
        ),
        pytest.param(
            "UpdateHabit", {"id": GOAL, "input": {"name": "New"}}, "Habit", id="UpdateHabit-Goal"
        ),
        pytest.param("DeleteHabit", {"id": GOAL}, "Habit", id="DeleteHabit-Goal"),
        pytest.param(
            "CheckInHabit",
            {"habitId": GOAL, "date": "2026-03-28", "status": "DONE"},
            "Habit",
            id="CheckInHabit-Goal",
        ),
        pytest.param("CreateEvent", _event(calendarId=EVENT), "Calendar", id="CreateEvent-Event"),
        pytest.param(
            "Events", {"range": RANGE, "calendarIds": [GOAL]}, "Calendar", id="Events-Goal"
        ),
    ],
)
async def test_ids_of_the_wrong_type_are_refused(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], expected_kind: str
) -> None:
    # given
    mention = f"is not a {expected_kind} ID"
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] is None

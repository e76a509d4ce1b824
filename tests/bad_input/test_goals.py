"""A goal's bad target is refused."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    User,
    _goal,
    _update,
    refused,
)

# --- goals: target -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, -0.5])
@pytest.mark.parametrize(("name", "build"), [("CreateGoal", _goal), ("UpdateGoal", _update)])
async def test_target_value_must_be_positive(
    user: User, app_state: AppState, name: str, build: Any, value: float
) -> None:
    # given
    variables = build(target={"value": value, "unit": "km"})
    # when
    r = await refused(app_state, user, name, variables, "target.value")
    # then
    assert r.errors[0]["extensions"]["field"] == "target.value"


@pytest.mark.parametrize(("name", "build"), [("CreateGoal", _goal), ("UpdateGoal", _update)])
async def test_target_unit_must_not_be_blank(
    user: User, app_state: AppState, name: str, build: Any
) -> None:
    # given
    variables = build(target={"value": 5, "unit": " "})
    # when
    r = await refused(app_state, user, name, variables, "target.unit")
    # then
    assert r.body["data"] is None

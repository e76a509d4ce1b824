"""The bad-input tests' user: a goal, a habit on it, a LOCAL calendar and an event."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bad_input.helpers import (
    CALENDAR,
    EVENT,
    GOAL,
    HABIT,
    NOW,
    User,
)
from tests.conftest import Client
from tests.helpers import connect_local, create_event, create_goal, create_habit


@pytest.fixture
async def user(alice: Client, clock: Any) -> User:
    """A user standing on NOW with a goal (with a target), a habit on it, a LOCAL calendar
    and an event."""
    clock(NOW)
    goal = await create_goal(alice, target={"value": 10, "unit": "km"})
    habit = await create_habit(alice, goalId=goal["id"])
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-29T09:00:00Z", "2026-03-29T10:00:00Z"
    )
    ids = {GOAL: goal["id"], HABIT: habit["id"], CALENDAR: calendar["id"], EVENT: event["id"]}
    return User(client=alice, ids=ids)

"""Bad scheduling and recommendation inputs are refused; a paused habit is neither
recommended nor booked."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    GOAL,
    HABIT,
    RANGE,
    User,
    refused,
    stored,
)
from tests.conftest import Client
from tests.helpers import connect_local

# --- scheduling and recommendations ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "variables", "mention"),
    [
        pytest.param(
            "Recommendations",
            {"habitId": HABIT, "range": RANGE, "limit": 0},
            "limit",
            id="limit-0",
        ),
        pytest.param(
            "Recommendations",
            {"habitId": HABIT, "range": RANGE, "limit": 51},
            "limit",
            id="limit-51",
        ),
        pytest.param(
            "Recommendations",
            {
                "habitId": HABIT,
                "range": {"start": "2026-03-01T00:00:00Z", "end": "2026-04-02T00:00:00Z"},
            },
            "31 days",
            id="range-too-long",
        ),
        pytest.param(
            "Recommendations",
            {"habitId": HABIT, "range": {"start": RANGE["end"], "end": RANGE["start"]}},
            "end must be after start",
            id="range-backwards",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": HABIT, "start": "2026-03-29T11:00:00Z"},
            "past",
            id="schedule-in-the-past",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": HABIT, "start": "2026-03-30T09:00:00"},
            "offset",
            id="schedule-without-offset",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": HABIT, "start": "2026-03-30T09:00:00Z", "calendarId": "not-an-id"},
            "not-an-id",
            id="schedule-bad-calendar-id",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": GOAL, "start": "2026-03-30T09:00:00Z"},
            "Habit",
            id="schedule-a-goal",
        ),
        pytest.param(
            "RecommendationFeedback",
            {"habitId": HABIT, "start": "yesterday", "accepted": True},
            "yesterday",
            id="feedback-bad-start",
        ),
    ],
)
async def test_scheduling_inputs_are_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], mention: str
) -> None:
    await refused(app_state, user, name, variables, mention)


async def test_a_paused_habit_is_neither_recommended_nor_booked(
    user: User, app_state: AppState
) -> None:
    # given
    await user.client.op("UpdateHabit", {"id": user.ids[HABIT], "input": {"isActive": False}})
    # when / then
    await refused(
        app_state,
        user,
        "ScheduleHabit",
        {"habitId": HABIT, "start": "2026-03-30T09:00:00Z"},
        "paused",
    )
    await refused(app_state, user, "Recommendations", {"habitId": HABIT, "range": RANGE}, "paused")


async def test_booking_on_a_synced_calendar_is_refused(user: User, app_state: AppState) -> None:
    # given
    feed = {"provider": "ICS", "url": "https://example.com/cal.ics"}
    synced = (await user.client.op("ConnectCalendar", {"input": feed})).data["connectCalendar"]
    # when / then
    await refused(
        app_state,
        user,
        "ScheduleHabit",
        {"habitId": HABIT, "start": "2026-03-30T09:00:00Z", "calendarId": synced["id"]},
        "synced from ICS",
    )


async def test_booking_on_another_users_calendar_is_not_found(
    user: User, app_state: AppState, bob: Client
) -> None:
    # given
    theirs = await connect_local(bob)
    before = await stored(app_state, user.client)
    # when
    r = await user.client.op(
        "ScheduleHabit",
        {"habitId": user.ids[HABIT], "start": "2026-03-30T09:00:00Z", "calendarId": theirs["id"]},
    )
    # then
    assert r.codes == ["NOT_FOUND"]
    assert await stored(app_state, user.client) == before

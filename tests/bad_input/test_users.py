"""A bad profile (working hours, time zone) is refused and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    User,
    refused,
)

# --- profile -------------------------------------------------------------------------


def _hours(weekday: int, start: str, end: str) -> dict[str, Any]:
    return {
        "displayName": "Changed",
        "workingHours": [{"weekday": weekday, "start": start, "end": end}],
    }


@pytest.mark.parametrize(
    ("profile", "mention"),
    [
        pytest.param(
            {"displayName": "Changed", "timezone": "Mars/Olympus"}, "'Mars/Olympus'", id="zone"
        ),
        pytest.param({"timezone": "Europe/Berln"}, "'Europe/Berln'", id="zone-typo"),
        pytest.param({"timezone": "CEST"}, "'CEST'", id="zone-abbreviation"),
        pytest.param({"timezone": ""}, "IANA time zone", id="zone-empty"),
        pytest.param({"timezone": None}, "timezone", id="zone-null"),
        pytest.param(_hours(0, "09:00", "17:00"), "workingHours[0].weekday", id="weekday-0"),
        pytest.param(_hours(8, "09:00", "17:00"), "workingHours[0].weekday", id="weekday-8"),
        pytest.param(_hours(1, "17:00", "09:00"), "workingHours[0]", id="end-before-start"),
        pytest.param(_hours(1, "09:00", "09:00"), "workingHours[0]", id="end-equals-start"),
        pytest.param(_hours(1, "9:00", "17:00"), "'9:00'", id="start-9:00"),
        pytest.param(_hours(1, "09:00", "5pm"), "'5pm'", id="end-5pm"),
        pytest.param(_hours(1, "09:00", "24:30"), "'24:30'", id="end-24:30"),
        pytest.param(
            {
                "workingHours": [
                    {"weekday": 1, "start": "09:00", "end": "12:00"},
                    {"weekday": 1, "start": "11:00", "end": "17:00"},
                ]
            },
            "workingHours[1]",
            id="overlap",
        ),
    ],
)
async def test_update_profile_refuses(
    user: User, app_state: AppState, profile: dict[str, Any], mention: str
) -> None:
    # given
    me_before = (await user.client.op("Me")).data
    # when
    await refused(app_state, user, "UpdateProfile", {"input": profile}, mention)
    # then
    assert (await user.client.op("Me")).data == me_before

"""Events that end before they start or last too long, bad batches (nothing written), and
calendars connected without their source are refused."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    EVENT_INPUT,
    GOAL,
    LONG_DESCRIPTION,
    LONG_TITLE,
    RANGE,
    User,
    _event,
    fill,
    refused,
)

# --- events ----------------------------------------------------------------------------

BAD_SPANS = [
    pytest.param(
        {"start": "2026-03-30T10:00:00Z", "end": "2026-03-30T10:00:00Z"}, id="end-equals-start"
    ),
    pytest.param(
        {"start": "2026-03-30T10:00:00Z", "end": "2026-03-30T09:00:00Z"}, id="end-before-start"
    ),
    pytest.param(
        {"start": "2026-03-30T10:00:00+02:00", "end": "2026-03-30T09:00:00+01:00"},
        id="same-instant",
    ),
    pytest.param(
        {"start": "2026-03-30T00:00:00Z", "end": "2026-03-30T00:00:00Z", "allDay": True},
        id="all-day-empty",
    ),
    pytest.param(
        {"start": "2026-03-30T00:00:00Z", "end": "2026-03-29T00:00:00Z", "allDay": True},
        id="all-day-backward",
    ),
    pytest.param(
        {"start": "2026-03-30T10:00:00Z", "end": "2026-03-30T09:00:00Z", "allDay": True},
        id="all-day-end-before-start-same-day",
    ),
]


@pytest.mark.parametrize("span", BAD_SPANS)
async def test_event_end_must_be_after_start(
    user: User, app_state: AppState, span: dict[str, Any]
) -> None:
    # given
    variables = _event(**span)
    # when
    r = await refused(app_state, user, "CreateEvent", variables, "end must be after start")
    # then
    assert r.errors[0]["extensions"]["field"] == "end"


async def test_event_longer_than_366_days_is_refused(user: User, app_state: AppState) -> None:
    # given
    variables = _event(start="2026-01-01T00:00:00Z", end="2027-01-03T00:00:00Z")
    # when
    r = await refused(app_state, user, "CreateEvent", variables, "366 days")
    # then
    assert r.errors[0]["extensions"]["field"] == "end"


BAD_BATCH_ITEMS = [
    pytest.param({"end": "2026-03-30T08:00:00Z"}, "end", id="end-before-start"),
    pytest.param({"title": "  "}, "title", id="blank-title"),
    pytest.param({"title": LONG_TITLE}, "title", id="long-title"),
    pytest.param({"description": LONG_DESCRIPTION}, "description", id="long-description"),
    pytest.param({"calendarId": GOAL}, "calendarId", id="goal-id-as-calendar"),
    pytest.param({"calendarId": "garbage"}, "calendarId", id="garbage-calendar-id"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_BATCH_ITEMS)
async def test_batch_with_a_bad_item_names_it_and_writes_nothing(
    user: User, app_state: AppState, bad: dict[str, Any], field: str
) -> None:
    # given
    items = [
        {
            **EVENT_INPUT,
            "title": f"Event {i}",
            "start": f"2026-03-2{i}T09:00:00Z",
            "end": f"2026-03-2{i}T10:00:00Z",
        }
        for i in range(5)
    ]
    items[3] = {**items[3], "start": "2026-03-30T09:00:00Z", "end": "2026-03-30T10:00:00Z", **bad}
    # when
    r = await refused(app_state, user, "BatchCreateEvents", {"inputs": items}, "inputs[3]")
    # then
    assert len(r.errors) == 1
    assert r.errors[0]["extensions"]["index"] == 3
    assert r.errors[0]["extensions"]["field"].startswith("inputs[3]")
    assert (
        field in r.errors[0]["message"]
        or repr(fill(items[3][field], user.ids)) in r.errors[0]["message"]
    )
    events = (await user.client.op("Events", {"range": RANGE})).data["events"]
    assert events["totalCount"] == 1  # the user's one event from before


@pytest.mark.parametrize(
    ("calendar", "field"),
    [
        pytest.param(
            {"provider": "GOOGLE", "externalId": "primary"}, "oauth", id="GOOGLE-no-oauth"
        ),
        pytest.param(
            {"provider": "GOOGLE", "oauth": {"accessToken": ""}},
            "oauth.accessToken",
            id="GOOGLE-empty",
        ),
        pytest.param(
            {"provider": "CALDAV", "username": "u", "password": "p"}, "url", id="CALDAV-no-url"
        ),
        pytest.param(
            {"provider": "CALDAV", "url": "https://dav.example.com/cal/", "username": "u"},
            "password",
            id="CALDAV-no-password",
        ),
        pytest.param(
            {
                "provider": "CALDAV",
                "url": "ftp://dav.example.com/",
                "username": "u",
                "password": "p",
            },
            "url",
            id="CALDAV-ftp",
        ),
        pytest.param({"provider": "ICS"}, "url", id="ICS-no-url"),
        pytest.param({"provider": "ICS", "url": "file:///etc/passwd"}, "url", id="ICS-file"),
        pytest.param({"provider": "ICS", "url": "not a url"}, "url", id="ICS-garbage"),
    ],
)
async def test_connecting_a_provider_needs_its_source(
    user: User, app_state: AppState, calendar: dict[str, Any], field: str
) -> None:
    # when
    r = await refused(app_state, user, "ConnectCalendar", {"input": calendar}, field)
    # then
    assert r.errors[0]["extensions"]["field"] == field

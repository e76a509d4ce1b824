"""Calendars as a user sees them: connecting one (defaults, zone, color, primary), listing
them per user, disconnecting one with its events."""

from __future__ import annotations

import pytest

from tests.conftest import Client
from tests.events.helpers import (
    DISCONNECT_CALENDAR,
    event_node,
    events_in,
    node_ids,
)
from tests.helpers import connect_local, create_event, set_timezone

# ---------------------------------------------------------------- ConnectCalendar


async def test_connect_local_calendar_has_defaults(alice: Client) -> None:
    # given
    await set_timezone(alice, "Europe/Berlin")
    # when
    r = await alice.op("ConnectCalendar", {"input": {"provider": "LOCAL"}})
    # then
    calendar = r.data["connectCalendar"]
    assert calendar["id"]
    assert calendar["name"] == "My calendar"
    assert calendar["provider"] == "LOCAL"
    assert calendar["timezone"] == "Europe/Berlin"
    assert calendar["syncState"] is None


async def test_connect_local_calendar_takes_name_timezone_and_color(alice: Client) -> None:
    # given
    await set_timezone(alice, "Europe/Berlin")
    # when
    created = await connect_local(
        alice, name="Family", timezone="Pacific/Auckland", color="#1A73e8"
    )
    # then
    assert created["name"] == "Family"
    assert created["timezone"] == "Pacific/Auckland"
    listed = (await alice.op("Calendars")).data["calendars"]
    assert listed == [
        {
            "id": created["id"],
            "name": "Family",
            "provider": "LOCAL",
            "timezone": "Pacific/Auckland",
            "color": "#1A73e8",
            "isPrimary": True,
            "syncState": None,
        }
    ]


async def test_calendar_timezone_defaults_to_utc_for_a_user_without_a_zone(alice: Client) -> None:
    # when
    calendar = await connect_local(alice)
    # then
    assert calendar["timezone"] == "UTC"


async def test_first_calendar_is_primary_and_listed_first(alice: Client) -> None:
    # given
    first = await connect_local(alice, name="First")
    second = await connect_local(alice, name="Second")
    third = await connect_local(alice, name="Third")
    # when
    calendars = (await alice.op("Calendars")).data["calendars"]
    # then
    assert calendars[0]["id"] == first["id"]
    assert {c["id"] for c in calendars} == {first["id"], second["id"], third["id"]}
    assert [c["isPrimary"] for c in calendars] == [True, False, False]


async def test_calendars_are_per_user(alice: Client, bob: Client) -> None:
    # given
    await connect_local(alice, name="Alice's")
    bobs = await connect_local(bob, name="Bob's")
    # when
    calendars = (await bob.op("Calendars")).data["calendars"]
    # then
    assert [c["id"] for c in calendars] == [bobs["id"]]
    assert calendars[0]["isPrimary"] is True


@pytest.mark.parametrize(
    "color", ["red", "#12345", "1a73e8", "#1a73e8ff", "#1a73g8", "#1a73e8\n", " #1a73e8"]
)
async def test_connect_calendar_rejects_a_bad_color(alice: Client, color: str) -> None:
    # when
    r = await alice.op("ConnectCalendar", {"input": {"provider": "LOCAL", "color": color}})
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert (await alice.op("Calendars")).data["calendars"] == []


async def test_connect_calendar_rejects_an_unknown_timezone(alice: Client) -> None:
    # when
    r = await alice.op(
        "ConnectCalendar", {"input": {"provider": "LOCAL", "timezone": "Mars/Olympus_Mons"}}
    )
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert (await alice.op("Calendars")).data["calendars"] == []


async def test_disconnect_calendar_removes_it_and_its_events(alice: Client) -> None:
    # given
    kept = await connect_local(alice, name="Kept")
    dropped = await connect_local(alice, name="Dropped")
    start, end = "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    kept_event = await create_event(alice, kept["id"], start, end, title="Stays")
    dropped_event = await create_event(alice, dropped["id"], start, end, title="Goes")
    # when
    r = await alice.execute(DISCONNECT_CALENDAR, {"id": dropped["id"]})
    # then
    assert r.data["disconnectCalendar"] is True
    calendars = (await alice.op("Calendars")).data["calendars"]
    assert [c["id"] for c in calendars] == [kept["id"]]
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    assert node_ids(found) == [kept_event["id"]]
    assert found["totalCount"] == 1
    assert await event_node(alice, dropped_event["id"]) is None


async def test_disconnect_calendar_twice_or_someone_elses_is_not_found(
    alice: Client, bob: Client
) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    by_bob = await bob.execute(DISCONNECT_CALENDAR, {"id": calendar["id"]})
    # then
    assert by_bob.codes == ["NOT_FOUND"]
    assert await event_node(alice, event["id"]) is not None
    # when
    await alice.execute(DISCONNECT_CALENDAR, {"id": calendar["id"]})
    again = await alice.execute(DISCONNECT_CALENDAR, {"id": calendar["id"]})
    # then
    assert again.codes == ["NOT_FOUND"]

"""updateEvent: moving, reordering, partial updates, all-day dates, ownership."""

from __future__ import annotations

from datetime import date

from tests.conftest import Client
from tests.events.helpers import (
    EVENT_DATES_IN_RANGE,
    UPDATE_EVENT,
    event_node,
    events_in,
    local_day_range,
    node_ids,
)
from tests.helpers import connect_local, create_event

# ---------------------------------------------------------------- updateEvent


async def test_update_event_moves_it_and_events_follow(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z", title="Review"
    )
    monday = ("2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    tuesday = ("2026-03-25T00:00:00Z", "2026-03-26T00:00:00Z")
    # when
    r = await alice.execute(
        UPDATE_EVENT,
        {
            "id": event["id"],
            "input": {"start": "2026-03-25T14:00:00+01:00", "end": "2026-03-25T15:30:00+01:00"},
        },
    )
    # then
    updated = r.data["updateEvent"]
    assert updated["id"] == event["id"]
    assert updated["title"] == "Review"
    assert (updated["start"], updated["end"]) == ("2026-03-25T13:00:00Z", "2026-03-25T14:30:00Z")
    assert (await events_in(alice, *monday))["totalCount"] == 0
    moved = await events_in(alice, *tuesday)
    assert node_ids(moved) == [event["id"]]
    assert moved["edges"][0]["node"]["start"] == "2026-03-25T13:00:00Z"
    assert moved["edges"][0]["node"]["end"] == "2026-03-25T14:30:00Z"


async def test_update_event_reorders_events(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    cid = calendar["id"]
    first = await create_event(alice, cid, "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z")
    second = await create_event(alice, cid, "2026-03-24T11:00:00Z", "2026-03-24T12:00:00Z")
    # when
    await alice.execute(
        UPDATE_EVENT,
        {
            "id": first["id"],
            "input": {"start": "2026-03-24T13:00:00Z", "end": "2026-03-24T14:00:00Z"},
        },
    )
    # then
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    assert node_ids(found) == [second["id"], first["id"]]


async def test_update_event_changes_only_the_fields_given(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice,
        calendar["id"],
        "2026-03-24T09:00:00Z",
        "2026-03-24T10:00:00Z",
        title="Old",
        location="Room 1",
    )
    # when
    r = await alice.execute(
        UPDATE_EVENT,
        {"id": event["id"], "input": {"title": "New", "busy": False, "description": "notes"}},
    )
    # then
    updated = r.data["updateEvent"]
    assert updated["title"] == "New"
    assert updated["busy"] is False
    assert updated["description"] == "notes"
    assert updated["location"] == "Room 1"
    assert (updated["start"], updated["end"]) == ("2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z")
    assert updated["status"] == "CONFIRMED"


async def test_update_event_end_only_extends_it(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    r = await alice.execute(
        UPDATE_EVENT, {"id": event["id"], "input": {"end": "2026-03-24T13:00:00+02:00"}}
    )
    # then
    assert r.data["updateEvent"]["start"] == "2026-03-24T09:00:00Z"
    assert r.data["updateEvent"]["end"] == "2026-03-24T11:00:00Z"
    found = await events_in(alice, "2026-03-24T10:30:00Z", "2026-03-24T11:00:00Z")
    assert node_ids(found) == [event["id"]]


async def test_update_event_rejects_a_start_after_its_end(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    r = await alice.execute(
        UPDATE_EVENT, {"id": event["id"], "input": {"start": "2026-03-24T11:00:00Z"}}
    )
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    node = await event_node(alice, event["id"])
    assert node is not None
    assert (node["start"], node["end"]) == ("2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z")


async def test_update_event_to_cancelled_leaves_it_out_of_events(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    r = await alice.execute(UPDATE_EVENT, {"id": event["id"], "input": {"status": "CANCELLED"}})
    # then
    assert r.data["updateEvent"]["status"] == "CANCELLED"
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    assert found["totalCount"] == 0


async def test_update_of_someone_elses_event_is_not_found(alice: Client, bob: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z", title="Mine"
    )
    # when
    r = await bob.execute(UPDATE_EVENT, {"id": event["id"], "input": {"title": "Theirs"}})
    # then
    assert r.codes == ["NOT_FOUND"]
    node = await event_node(alice, event["id"])
    assert node is not None
    assert node["title"] == "Mine"


async def test_update_all_day_event_moves_its_dates(alice: Client) -> None:
    # given
    calendar = await connect_local(alice, timezone="Pacific/Auckland")
    event = await create_event(
        alice,
        calendar["id"],
        "2026-03-29T00:00:00+13:00",
        "2026-03-30T00:00:00+13:00",
        allDay=True,
    )
    # when
    r = await alice.execute(
        UPDATE_EVENT,
        {
            "id": event["id"],
            "input": {"start": "2026-04-02T00:00:00+13:00", "end": "2026-04-04T00:00:00+13:00"},
        },
    )
    # then
    updated = r.data["updateEvent"]
    assert (updated["startDate"], updated["endDate"]) == ("2026-04-02", "2026-04-04")
    assert updated["allDay"] is True
    old_day = await alice.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(date(2026, 3, 29), "Pacific/Auckland")}
    )
    new_day = await alice.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(date(2026, 4, 3), "Pacific/Auckland")}
    )
    assert old_day.data["events"]["totalCount"] == 0
    assert node_ids(new_day.data["events"]) == [event["id"]]


async def test_update_all_day_event_title_keeps_its_dates(alice: Client) -> None:
    # given
    calendar = await connect_local(alice, timezone="America/Los_Angeles")
    event = await create_event(
        alice,
        calendar["id"],
        "2026-03-29T00:00:00-07:00",
        "2026-03-31T00:00:00-07:00",
        allDay=True,
    )
    # when
    r = await alice.execute(UPDATE_EVENT, {"id": event["id"], "input": {"title": "Trip"}})
    # then
    updated = r.data["updateEvent"]
    assert (updated["startDate"], updated["endDate"]) == ("2026-03-29", "2026-03-31")
    found = await alice.execute(
        EVENT_DATES_IN_RANGE,
        {"range": local_day_range(date(2026, 3, 30), "America/Los_Angeles")},
    )
    assert node_ids(found.data["events"]) == [event["id"]]


async def test_update_timed_event_to_all_day_keeps_its_local_day(alice: Client) -> None:
    """A morning event on 29 March in Auckland (still 28 March in UTC) made all-day
    belongs to 29 March, the day it is on in its calendar."""
    # given
    zone = "Pacific/Auckland"
    calendar = await connect_local(alice, timezone=zone)
    event = await create_event(
        alice, calendar["id"], "2026-03-29T08:00:00+13:00", "2026-03-29T09:00:00+13:00"
    )
    # when
    r = await alice.execute(UPDATE_EVENT, {"id": event["id"], "input": {"allDay": True}})
    # then
    updated = r.data["updateEvent"]
    assert updated["allDay"] is True
    assert (updated["startDate"], updated["endDate"]) == ("2026-03-29", "2026-03-30")
    found = await alice.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(date(2026, 3, 29), zone)}
    )
    assert node_ids(found.data["events"]) == [event["id"]]


async def test_a_page_seen_before_an_update_shows_the_event_as_updated(alice: Client) -> None:
    # given: two events, and their page read once (what a page shows of an event is
    # kept per process, by the stored event it came from)
    calendar = await connect_local(alice)
    cid = calendar["id"]
    first = await create_event(
        alice, cid, "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z", title="Old"
    )
    second = await create_event(
        alice, cid, "2026-03-24T11:00:00Z", "2026-03-24T12:00:00Z", title="Other"
    )
    day = ("2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    before = await events_in(alice, *day)
    # when: the first is renamed and moved after the second
    moved = {"title": "New", "start": "2026-03-24T13:00:00Z", "end": "2026-03-24T14:00:00Z"}
    await alice.execute(UPDATE_EVENT, {"id": first["id"], "input": moved})
    # then: the page shows it as it is now, at its new place, with that place's cursor
    after = await events_in(alice, *day)
    shown = [(e["node"]["id"], e["node"]["title"], e["node"]["start"]) for e in after["edges"]]
    assert shown == [
        (second["id"], "Other", "2026-03-24T11:00:00Z"),
        (first["id"], "New", "2026-03-24T13:00:00Z"),
    ]
    assert after["edges"][0]["cursor"] == before["edges"][1]["cursor"]  # the same event's
    rest = await events_in(alice, *day, first=1, after=after["edges"][0]["cursor"])
    assert node_ids(rest) == [first["id"]]
    assert rest["edges"][0]["cursor"] != before["edges"][0]["cursor"]  # its place moved

"""Writing events: one at a time (UTC answers, optional fields, ownership) and in batches
(input order, all or nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Client
from tests.events.helpers import (
    batch_create,
    event_input,
    events_in,
    node_ids,
    utc,
)
from tests.helpers import connect_local, create_event

# ---------------------------------------------------------------- CreateEvent


async def test_create_event_answers_in_utc_with_defaults(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    # when
    r = await alice.op(
        "CreateEvent",
        {
            "input": {
                "calendarId": calendar["id"],
                "title": "Standup",
                "start": "2026-03-29T09:30:00+02:00",
                "end": "2026-03-29T10:00:00+02:00",
            }
        },
    )
    # then
    event = r.data["createEvent"]
    assert event["id"]
    assert event["title"] == "Standup"
    assert event["start"] == "2026-03-29T07:30:00Z"
    assert event["end"] == "2026-03-29T08:00:00Z"
    assert event["allDay"] is False
    assert event["busy"] is True
    assert event["calendar"] == {"id": calendar["id"]}


async def test_create_event_keeps_optional_fields(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    # when
    event = await create_event(
        alice,
        calendar["id"],
        "2026-03-24T12:00:00-05:00",
        "2026-03-24T13:15:00-05:00",
        title="Lunch",
        busy=False,
        description="with Bob",
        location="Cafe",
        status="TENTATIVE",
    )
    # then
    assert event["start"] == "2026-03-24T17:00:00Z"
    assert event["end"] == "2026-03-24T18:15:00Z"
    assert event["busy"] is False
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    node = found["edges"][0]["node"]
    assert node["description"] == "with Bob"
    assert node["location"] == "Cafe"
    assert node["status"] == "TENTATIVE"
    assert node["busy"] is False
    assert node["calendar"]["id"] == calendar["id"]
    assert node["recurringEventId"] is None
    assert node["habit"] is None


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-24T10:00:00Z", "2026-03-24T10:00:00Z"),
        ("2026-03-24T10:00:00Z", "2026-03-24T09:00:00Z"),
        ("2026-03-24T10:00:00+02:00", "2026-03-24T07:30:00Z"),
    ],
)
async def test_create_event_rejects_an_end_not_after_its_start(
    alice: Client, start: str, end: str
) -> None:
    # given
    calendar = await connect_local(alice)
    # when
    r = await alice.op(
        "CreateEvent",
        {"input": {"calendarId": calendar["id"], "title": "Bad", "start": start, "end": end}},
    )
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert (await events_in(alice, "2026-03-23T00:00:00Z", "2026-03-26T00:00:00Z"))[
        "totalCount"
    ] == 0


async def test_create_event_on_someone_elses_calendar_is_not_found(
    alice: Client, bob: Client
) -> None:
    # given
    calendar = await connect_local(alice)
    # when
    r = await bob.op(
        "CreateEvent",
        {
            "input": {
                "calendarId": calendar["id"],
                "title": "Intrusion",
                "start": "2026-03-24T09:00:00Z",
                "end": "2026-03-24T10:00:00Z",
            }
        },
    )
    # then
    assert r.codes == ["NOT_FOUND"]
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    assert found["totalCount"] == 0


# ---------------------------------------------------------------- BatchCreateEvents


async def test_batch_create_writes_many_events_in_input_order(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    base = datetime(2026, 3, 23, tzinfo=UTC)
    # starts deliberately not in input order
    inputs = [
        event_input(
            calendar["id"],
            f"Event {i:03d}",
            base + timedelta(minutes=30 * ((i * 7) % 120)),
            base + timedelta(minutes=30 * ((i * 7) % 120) + 20),
        )
        for i in range(120)
    ]
    # when
    created = await batch_create(alice, inputs)
    # then
    assert [e["title"] for e in created] == [f"Event {i:03d}" for i in range(120)]
    assert [e["start"] for e in created] == [
        utc(datetime.fromisoformat(i["start"])) for i in inputs
    ]
    assert [e["end"] for e in created] == [utc(datetime.fromisoformat(i["end"])) for i in inputs]
    ids = [e["id"] for e in created]
    assert all(ids)
    assert len(set(ids)) == 120
    found = await events_in(alice, "2026-03-23T00:00:00Z", "2026-03-26T00:00:00Z", first=500)
    assert found["totalCount"] == 120
    assert set(node_ids(found)) == set(ids)


@pytest.mark.parametrize("bad_index", [0, 57, 119])
async def test_batch_with_one_bad_event_writes_nothing(alice: Client, bad_index: int) -> None:
    # given
    calendar = await connect_local(alice)
    base = datetime(2026, 3, 24, tzinfo=UTC)
    inputs = [
        event_input(
            calendar["id"], f"Event {i}", base + timedelta(minutes=i), base + timedelta(hours=3)
        )
        for i in range(120)
    ]
    inputs[bad_index]["end"] = inputs[bad_index]["start"]
    # when
    r = await alice.op("BatchCreateEvents", {"inputs": inputs})
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["index"] == bad_index
    assert r.body.get("data") is None
    found = await events_in(alice, "2026-03-23T00:00:00Z", "2026-03-26T00:00:00Z")
    assert found["totalCount"] == 0


async def test_batch_with_someone_elses_calendar_writes_nothing(alice: Client, bob: Client) -> None:
    # given
    mine = await connect_local(alice)
    bobs = await connect_local(bob)
    start = datetime(2026, 3, 24, 9, tzinfo=UTC)
    inputs = [event_input(mine["id"], f"E{i}", start, start + timedelta(hours=1)) for i in range(5)]
    inputs[3]["calendarId"] = bobs["id"]
    # when
    r = await alice.op("BatchCreateEvents", {"inputs": inputs})
    # then
    assert r.codes == ["NOT_FOUND"]
    assert r.errors[0]["extensions"]["index"] == 3
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    assert found["totalCount"] == 0
    assert (await events_in(bob, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z"))["totalCount"] == 0

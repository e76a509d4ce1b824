"""Calendars and events as a user sees them: connecting calendars, writing events,
all-day dates, range queries (half-open, ordered, paginated), DST and batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Client
from tests.helpers import connect_local, create_event, set_timezone

NewUser = Callable[..., Client]

DISCONNECT_CALENDAR = """
mutation DisconnectCalendar($id: ID!) { disconnectCalendar(id: $id) }
"""

DELETE_EVENT = """
mutation DeleteEvent($id: ID!) { deleteEvent(id: $id) }
"""

UPDATE_EVENT = """
mutation UpdateEvent($id: ID!, $input: UpdateEventInput!) {
  updateEvent(id: $id, input: $input) {
    id title start end allDay startDate endDate busy status description location
  }
}
"""

EVENT_NODE = """
query EventNode($id: ID!) {
  node(id: $id) {
    ... on Event { id title start end allDay startDate endDate busy status calendar { id } }
  }
}
"""

EVENT_DATES_IN_RANGE = """
query EventDates($range: TimeRangeInput!) {
  events(range: $range, first: 100) {
    totalCount
    edges { node { id title start end allDay startDate endDate } }
  }
}
"""

BERLIN = ZoneInfo("Europe/Berlin")
# A Monday; Europe's clocks go forward in the night of Sunday 29 March 2026.
WEEK_START = datetime(2026, 3, 23, tzinfo=UTC)


def utc(value: datetime) -> str:
    """How the API writes an instant: UTC with `Z`, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_midnight(day: date, zone: str) -> datetime:
    """The instant a local day starts in `zone` (a skipped midnight maps to the day's start)."""
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(UTC)


def local_day_range(day: date, zone: str) -> dict[str, str]:
    """The range of one local day in `zone`, written with that zone's offsets."""
    tz = ZoneInfo(zone)
    return {
        "start": local_midnight(day, zone).astimezone(tz).isoformat(),
        "end": local_midnight(day + timedelta(days=1), zone).astimezone(tz).isoformat(),
    }


def node_ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


def titles(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


async def events_in(client: Client, start: str, end: str, **variables: Any) -> dict[str, Any]:
    r = await client.op("Events", {"range": {"start": start, "end": end}, **variables})
    connection: dict[str, Any] = r.data["events"]
    return connection


async def event_node(client: Client, event_id: str) -> dict[str, Any] | None:
    r = await client.execute(EVENT_NODE, {"id": event_id})
    node: dict[str, Any] | None = r.data["node"]
    return node


async def batch_create(client: Client, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = await client.op("BatchCreateEvents", {"inputs": inputs})
    created: list[dict[str, Any]] = r.data["batchCreateEvents"]
    return created


def event_input(calendar_id: str, title: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "calendarId": calendar_id,
        "title": title,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


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


# ---------------------------------------------------------------- all-day events


async def test_all_day_event_keeps_the_dates_it_was_written_with(alice: Client) -> None:
    # given
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    # when
    event = await create_event(
        alice,
        calendar["id"],
        "2026-03-29T00:00:00+02:00",
        "2026-03-30T00:00:00+02:00",
        title="Holiday",
        allDay=True,
    )
    # then
    assert event["allDay"] is True
    assert event["start"] == "2026-03-29T00:00:00Z"
    assert event["end"] == "2026-03-30T00:00:00Z"
    node = await event_node(alice, event["id"])
    assert node is not None
    assert node["startDate"] == "2026-03-29"
    assert node["endDate"] == "2026-03-30"


async def test_timed_event_has_no_dates(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    node = await event_node(alice, event["id"])
    # then
    assert node is not None
    assert node["startDate"] is None
    assert node["endDate"] is None


@pytest.mark.parametrize(
    ("start", "end", "end_date"),
    [
        ("2026-03-29T00:00:00+02:00", "2026-03-29T12:00:00+02:00", "2026-03-30"),
        ("2026-03-29T00:00:00Z", "2026-03-29T00:00:01Z", "2026-03-30"),
        ("2026-03-29T08:00:00+02:00", "2026-03-31T17:30:00+02:00", "2026-04-01"),
        ("2026-03-29T00:00:00-10:00", "2026-04-01T00:00:00-10:00", "2026-04-01"),
    ],
)
async def test_all_day_event_end_that_is_not_midnight_covers_its_whole_day(
    alice: Client, start: str, end: str, end_date: str
) -> None:
    # given
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    # when
    event = await create_event(alice, calendar["id"], start, end, allDay=True)
    # then
    node = await event_node(alice, event["id"])
    assert node is not None
    assert node["startDate"] == "2026-03-29"
    assert node["endDate"] == end_date
    assert node["start"] == "2026-03-29T00:00:00Z"
    assert node["end"] == f"{end_date}T00:00:00Z"


async def test_all_day_event_with_end_on_its_start_date_is_rejected(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    # when
    r = await alice.op(
        "CreateEvent",
        {
            "input": {
                "calendarId": calendar["id"],
                "title": "Backwards",
                "start": "2026-03-29T00:00:00Z",
                "end": "2026-03-28T00:00:00Z",
                "allDay": True,
            }
        },
    )
    # then
    assert r.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Berlin",
        "Pacific/Auckland",
        "America/Los_Angeles",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "Asia/Kathmandu",
    ],
)
@pytest.mark.parametrize("written_in", ["calendar", "utc"])
async def test_all_day_event_is_found_on_its_local_day_in_the_calendars_zone(
    alice: Client, zone: str, written_in: str
) -> None:
    # given
    calendar = await connect_local(alice, timezone=zone)
    day = date(2026, 3, 29)
    tz: timezone | ZoneInfo = ZoneInfo(zone) if written_in == "calendar" else UTC
    # midnight as a wall clock in the zone it is written in
    start = datetime.combine(day, time(), tz)
    end = datetime.combine(day + timedelta(days=1), time(), tz)
    event = await create_event(
        alice, calendar["id"], start.isoformat(), end.isoformat(), title="Day off", allDay=True
    )
    # when
    r = await alice.execute(EVENT_DATES_IN_RANGE, {"range": local_day_range(day, zone)})
    before = await alice.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(day - timedelta(days=1), zone)}
    )
    after = await alice.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(day + timedelta(days=1), zone)}
    )
    # then
    found = r.data["events"]
    assert node_ids(found) == [event["id"]]
    node = found["edges"][0]["node"]
    assert node["startDate"] == "2026-03-29"
    assert node["endDate"] == "2026-03-30"
    assert node["start"] == "2026-03-29T00:00:00Z"
    assert node["end"] == "2026-03-30T00:00:00Z"
    assert before.data["events"]["totalCount"] == 0
    assert after.data["events"]["totalCount"] == 0


ALL_ZONES = sorted(available_timezones())


AllDayCase = tuple[str, date, int, int, int]
all_day_cases = st.tuples(
    st.sampled_from(ALL_ZONES),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: q * 15),
    st.integers(min_value=0, max_value=23),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=all_day_cases)
async def test_all_day_events_are_never_shifted_by_a_time_zone(
    new_user: NewUser, case: AllDayCase
) -> None:
    """Whatever offset the client writes with and whatever the calendar's zone, the
    dates stay the written ones and the event sits on those local days."""
    # given: calendar zone, first date, number of days, offset written with, end hour
    zone, day, days, offset_minutes, end_hour = case
    client = new_user()
    calendar = await connect_local(client, timezone=zone)
    written = timezone(timedelta(minutes=offset_minutes))
    start = datetime.combine(day, time(), written)
    # a midnight end is exclusive; any other time covers its whole day
    end_day = day + timedelta(days=days if end_hour == 0 else days - 1)
    end = datetime.combine(end_day, time(end_hour), written)
    last = day + timedelta(days=days)
    event = await create_event(
        client, calendar["id"], start.isoformat(), end.isoformat(), allDay=True
    )
    # when
    on_first_day = await client.execute(EVENT_DATES_IN_RANGE, {"range": local_day_range(day, zone)})
    on_last_day = await client.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(last - timedelta(days=1), zone)}
    )
    day_before = await client.execute(
        EVENT_DATES_IN_RANGE, {"range": local_day_range(day - timedelta(days=1), zone)}
    )
    day_after = await client.execute(EVENT_DATES_IN_RANGE, {"range": local_day_range(last, zone)})
    # then
    assert event["start"] == f"{day.isoformat()}T00:00:00Z"
    assert event["end"] == f"{last.isoformat()}T00:00:00Z"
    for found in (on_first_day.data["events"], on_last_day.data["events"]):
        assert node_ids(found) == [event["id"]]
        node = found["edges"][0]["node"]
        assert node["startDate"] == day.isoformat()
        assert node["endDate"] == last.isoformat()
    assert day_before.data["events"]["totalCount"] == 0
    assert day_after.data["events"]["totalCount"] == 0


# ---------------------------------------------------------------- Events(range:)


async def test_events_range_is_half_open_and_ordered_by_start(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    cid = calendar["id"]
    day = "2026-03-24T"
    specs = [
        ("ends at range start", "09:00", "10:00"),
        ("starts at range end", "12:00", "13:00"),
        ("spans the range", "08:00", "14:00"),
        ("overlaps the start", "09:30", "10:01"),
        ("overlaps the end", "11:59", "12:30"),
        ("exactly the range", "10:00", "12:00"),
        ("inside", "10:30", "11:00"),
        ("long before", "06:00", "07:00"),
    ]
    for title, start, end in specs:
        await create_event(alice, cid, f"{day}{start}:00Z", f"{day}{end}:00Z", title=title)
    # when
    found = await events_in(alice, f"{day}10:00:00Z", f"{day}12:00:00+00:00")
    # then
    assert titles(found) == [
        "spans the range",
        "overlaps the start",
        "exactly the range",
        "inside",
        "overlaps the end",
    ]
    assert found["totalCount"] == 5
    assert found["pageInfo"]["hasNextPage"] is False
    starts = [e["node"]["start"] for e in found["edges"]]
    assert starts == sorted(starts)


async def test_events_range_written_with_offsets_means_the_same_instants(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    ending_at_start = await events_in(
        alice, "2026-03-24T12:00:00+02:00", "2026-03-24T13:00:00+02:00"
    )
    overlapping = await events_in(alice, "2026-03-24T04:59:00-05:00", "2026-03-24T05:00:00-05:00")
    # then
    assert ending_at_start["totalCount"] == 0
    assert node_ids(overlapping) == [event["id"]]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-24T10:00:00Z", "2026-03-24T10:00:00Z"),
        ("2026-03-24T10:00:00Z", "2026-03-24T09:00:00Z"),
        ("2026-01-01T00:00:00Z", "2027-01-03T00:00:00Z"),
    ],
)
async def test_events_rejects_an_empty_or_too_long_range(
    alice: Client, start: str, end: str
) -> None:
    # when
    r = await alice.op("Events", {"range": {"start": start, "end": end}})
    # then
    assert r.codes == ["BAD_USER_INPUT"]


async def test_events_leaves_out_cancelled_events(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    cid = calendar["id"]
    confirmed = await create_event(
        alice, cid, "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z", title="Confirmed"
    )
    await create_event(
        alice,
        cid,
        "2026-03-24T10:00:00Z",
        "2026-03-24T11:00:00Z",
        title="Cancelled",
        status="CANCELLED",
    )
    tentative = await create_event(
        alice,
        cid,
        "2026-03-24T11:00:00Z",
        "2026-03-24T12:00:00Z",
        title="Tentative",
        status="TENTATIVE",
    )
    # when
    found = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    # then
    assert node_ids(found) == [confirmed["id"], tentative["id"]]
    assert [e["node"]["status"] for e in found["edges"]] == ["CONFIRMED", "TENTATIVE"]
    assert found["totalCount"] == 2


async def test_events_filters_by_calendar_ids(alice: Client, bob: Client) -> None:
    # given
    work = await connect_local(alice, name="Work")
    home = await connect_local(alice, name="Home")
    bobs = await connect_local(bob, name="Bob's")
    start, end = "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    at_work = await create_event(alice, work["id"], start, end, title="Work")
    at_home = await create_event(
        alice, home["id"], "2026-03-24T08:00:00Z", "2026-03-24T09:30:00Z", title="Home"
    )
    await create_event(bob, bobs["id"], start, end, title="Bob's")
    day = ("2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    # when
    only_work = await events_in(alice, *day, calendarIds=[work["id"]])
    both = await events_in(alice, *day, calendarIds=[work["id"], home["id"]])
    unfiltered = await events_in(alice, *day)
    with_bobs = await events_in(alice, *day, calendarIds=[bobs["id"]])
    # then
    assert node_ids(only_work) == [at_work["id"]]
    assert only_work["totalCount"] == 1
    assert only_work["edges"][0]["node"]["calendar"] == {"id": work["id"], "name": "Work"}
    assert node_ids(both) == [at_home["id"], at_work["id"]]
    assert node_ids(unfiltered) == [at_home["id"], at_work["id"]]
    assert unfiltered["totalCount"] == 2
    assert with_bobs["totalCount"] == 0
    assert with_bobs["edges"] == []


async def test_events_paginates_through_every_event_once(alice: Client) -> None:
    # given 23 events, in threes with identical starts
    calendar = await connect_local(alice)
    base = datetime(2026, 3, 24, 8, tzinfo=UTC)
    inputs = [
        event_input(
            calendar["id"],
            f"Event {i:02d}",
            base + timedelta(hours=i // 3),
            base + timedelta(hours=i // 3, minutes=30 + i),
        )
        for i in range(23)
    ]
    created = await batch_create(alice, inputs)
    range_ = ("2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    # when
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = await events_in(alice, *range_, first=5, after=after)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 10, "pagination does not end"
    # then
    assert [len(p["edges"]) for p in pages] == [5, 5, 5, 5, 3]
    assert all(p["totalCount"] == 23 for p in pages)
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, True, True, False]
    for p in pages:
        assert p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"]
    seen = [i for p in pages for i in node_ids(p)]
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {e["id"] for e in created}
    starts = [e["node"]["start"] for p in pages for e in p["edges"]]
    assert starts == sorted(starts)


async def test_events_page_after_the_last_cursor_is_empty(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    await create_event(alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z")
    first = await events_in(alice, "2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z", first=5)
    # when
    after = await events_in(
        alice,
        "2026-03-24T00:00:00Z",
        "2026-03-25T00:00:00Z",
        first=5,
        after=first["pageInfo"]["endCursor"],
    )
    # then
    assert after["edges"] == []
    assert after["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert after["totalCount"] == 1


async def test_events_page_stays_right_when_earlier_events_are_deleted(alice: Client) -> None:
    # given 12 events, the last four sharing one start
    calendar = await connect_local(alice)
    base = datetime(2026, 3, 24, 8, tzinfo=UTC)
    inputs = [
        event_input(
            calendar["id"],
            f"Event {i:02d}",
            base + timedelta(minutes=15 * min(i, 8)),
            base + timedelta(hours=3),
        )
        for i in range(12)
    ]
    created = await batch_create(alice, inputs)
    range_ = ("2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    page1 = await events_in(alice, *range_, first=5)
    assert node_ids(page1) == [e["id"] for e in created[:5]]
    # when an event before the cursor, and the cursor's own event, are deleted
    for gone in (created[1], created[4]):
        r = await alice.execute(DELETE_EVENT, {"id": gone["id"]})
        assert r.data["deleteEvent"] is True
    page2 = await events_in(alice, *range_, first=5, after=page1["pageInfo"]["endCursor"])
    page3 = await events_in(alice, *range_, first=5, after=page2["pageInfo"]["endCursor"])
    # then
    assert node_ids(page2) == [e["id"] for e in created[5:10]]
    assert page2["pageInfo"]["hasNextPage"] is True
    assert node_ids(page3) == [e["id"] for e in created[10:]]
    assert page3["pageInfo"]["hasNextPage"] is False
    assert page2["totalCount"] == page3["totalCount"] == 10


async def test_delete_event_of_someone_else_is_not_found(alice: Client, bob: Client) -> None:
    # given
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-24T09:00:00Z", "2026-03-24T10:00:00Z"
    )
    # when
    by_bob = await bob.execute(DELETE_EVENT, {"id": event["id"]})
    # then
    assert by_bob.codes == ["NOT_FOUND"]
    assert await event_node(alice, event["id"]) is not None
    # when
    await alice.execute(DELETE_EVENT, {"id": event["id"]})
    again = await alice.execute(DELETE_EVENT, {"id": event["id"]})
    # then
    assert again.codes == ["NOT_FOUND"]
    assert await event_node(alice, event["id"]) is None


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/St_Johns",
]
WEEK_MINUTES = 7 * 24 * 60
minutes_in_week = st.integers(min_value=0, max_value=WEEK_MINUTES)
durations = st.integers(min_value=1, max_value=2 * 24 * 60)
EventSpec = tuple[int, int, str]


@st.composite
def events_and_range(draw: st.DrawFn) -> tuple[list[EventSpec], tuple[int, int], str]:
    """Events as (start minute, duration, zone written in); a range in minutes."""
    specs = draw(
        st.lists(st.tuples(minutes_in_week, durations, st.sampled_from(ZONES)), max_size=12)
    )
    boundaries = sorted({m for start, length, _ in specs for m in (start, start + length)})
    point = st.integers(min_value=-24 * 60, max_value=WEEK_MINUTES + 3 * 24 * 60)
    if boundaries:
        point = st.one_of(point, st.sampled_from(boundaries))
    range_start = draw(point)
    range_end = st.integers(min_value=range_start + 1, max_value=range_start + 8 * 24 * 60)
    later = [m for m in boundaries if m > range_start]
    if later:
        range_end = st.one_of(range_end, st.sampled_from(later))
    return specs, (range_start, draw(range_end)), draw(st.sampled_from(ZONES))


def at(minute: int, zone: str) -> datetime:
    return (WEEK_START + timedelta(minutes=minute)).astimezone(ZoneInfo(zone))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=events_and_range())
async def test_events_returns_exactly_the_overlapping_events_ordered_by_start(
    new_user: NewUser, scenario: tuple[list[EventSpec], tuple[int, int], str]
) -> None:
    # given
    specs, (range_start, range_end), range_zone = scenario
    client = new_user()
    calendar = await connect_local(client)
    inputs = [
        event_input(calendar["id"], f"Event {i}", at(s, zone), at(s + d, zone))
        for i, (s, d, zone) in enumerate(specs)
    ]
    created = await batch_create(client, inputs) if inputs else []
    # when
    found = await events_in(
        client,
        at(range_start, range_zone).isoformat(),
        at(range_end, range_zone).isoformat(),
        first=50,
    )
    # then
    expected = [
        (s, created[i]["id"])
        for i, (s, d, _) in enumerate(specs)
        if s < range_end and s + d > range_start
    ]
    assert found["totalCount"] == len(expected)
    assert found["pageInfo"]["hasNextPage"] is False
    assert sorted(node_ids(found)) == sorted(event_id for _, event_id in expected)
    starts = [edge["node"]["start"] for edge in found["edges"]]
    assert starts == [utc(at(s, "UTC")) for s, _ in sorted(expected, key=lambda x: x[0])]


# ---------------------------------------------------------------- DST


async def test_event_on_the_night_berlin_springs_forward(alice: Client) -> None:
    # given
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    # when
    event = await create_event(
        alice,
        calendar["id"],
        "2026-03-29T09:00:00+02:00",
        "2026-03-29T10:00:00+02:00",
        title="Brunch",
    )
    # then
    assert event["start"] == "2026-03-29T07:00:00Z"
    assert event["end"] == "2026-03-29T08:00:00Z"
    start = datetime.fromisoformat(event["start"])
    end = datetime.fromisoformat(event["end"])
    assert end - start == timedelta(hours=1)
    assert start.astimezone(BERLIN).hour == 9


async def test_berlin_local_day_of_23_hours_holds_exactly_its_events(alice: Client) -> None:
    # given
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    cid = calendar["id"]
    specs = [
        ("day before", "2026-03-28T22:00:00+01:00", "2026-03-29T00:00:00+01:00"),
        ("just after midnight", "2026-03-29T00:30:00+01:00", "2026-03-29T01:30:00+01:00"),
        ("across the change", "2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"),
        ("brunch", "2026-03-29T09:00:00+02:00", "2026-03-29T10:00:00+02:00"),
        ("late", "2026-03-29T23:00:00+02:00", "2026-03-30T00:00:00+02:00"),
        ("day after", "2026-03-30T00:00:00+02:00", "2026-03-30T01:00:00+02:00"),
    ]
    ids = {
        title: (await create_event(alice, cid, start, end, title=title))["id"]
        for title, start, end in specs
    }
    all_day = await create_event(
        alice,
        cid,
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        title="Sunday",
        allDay=True,
    )
    await create_event(
        alice,
        cid,
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        title="Saturday",
        allDay=True,
    )
    range_start, range_end = "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"
    assert datetime.fromisoformat(range_end) - datetime.fromisoformat(range_start) == timedelta(
        hours=23
    )
    # when
    found = await events_in(alice, range_start, range_end)
    # then
    assert set(node_ids(found)) == {
        ids["just after midnight"],
        ids["across the change"],
        ids["brunch"],
        ids["late"],
        all_day["id"],
    }
    timed = [e["node"] for e in found["edges"] if not e["node"]["allDay"]]
    assert [n["title"] for n in timed] == [
        "just after midnight",
        "across the change",
        "brunch",
        "late",
    ]
    across = next(n for n in timed if n["title"] == "across the change")
    assert (across["start"], across["end"]) == ("2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z")
    assert found["totalCount"] == 5


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


# ---------------------------------------------------------------- Dashboard


async def test_dashboard_lists_events_with_their_calendars(alice: Client) -> None:
    # given
    await set_timezone(alice, "Europe/Berlin")
    work = await connect_local(alice, name="Work")
    home = await connect_local(alice, name="Home")
    later = await create_event(
        alice, work["id"], "2026-03-24T15:00:00+01:00", "2026-03-24T16:00:00+01:00", title="1:1"
    )
    earlier = await create_event(
        alice,
        home["id"],
        "2026-03-24T07:00:00+01:00",
        "2026-03-24T07:30:00+01:00",
        title="Run",
        busy=False,
    )
    # when
    r = await alice.op(
        "Dashboard",
        {"range": {"start": "2026-03-24T00:00:00+01:00", "end": "2026-03-25T00:00:00+01:00"}},
    )
    # then
    data = r.data
    assert data["me"]["timezone"] == "Europe/Berlin"
    assert data["goals"]["totalCount"] == 0
    events = data["events"]
    assert events["totalCount"] == 2
    assert [e["node"] for e in events["edges"]] == [
        {
            "id": earlier["id"],
            "title": "Run",
            "start": "2026-03-24T06:00:00Z",
            "end": "2026-03-24T06:30:00Z",
            "allDay": False,
            "busy": False,
            "calendar": {"id": home["id"], "name": "Home", "provider": "LOCAL"},
        },
        {
            "id": later["id"],
            "title": "1:1",
            "start": "2026-03-24T14:00:00Z",
            "end": "2026-03-24T15:00:00Z",
            "allDay": False,
            "busy": True,
            "calendar": {"id": work["id"], "name": "Work", "provider": "LOCAL"},
        },
    ]

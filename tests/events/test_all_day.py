"""All-day dates (never shifted by a time zone) and events around DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Client
from tests.events.helpers import (
    BERLIN,
    EVENT_DATES_IN_RANGE,
    NewUser,
    event_node,
    events_in,
    local_day_range,
    node_ids,
)
from tests.helpers import connect_local, create_event

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

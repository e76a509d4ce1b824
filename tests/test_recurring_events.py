"""Recurring series on LOCAL calendars: written with an RRULE, expanded in their own
zone, and saying how they repeat on the series and on each instance."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Client
from tests.helpers import SERIES_FIELDS, connect_local, event_node, repeating

CREATE_SERIES = f"""
mutation CreateSeries($input: CreateEventInput!) {{
  createEvent(input: $input) {{ {SERIES_FIELDS} }}
}}
"""
UPDATE_EVENT = f"""
mutation UpdateEvent($id: ID!, $input: UpdateEventInput!) {{
  updateEvent(id: $id, input: $input) {{ {SERIES_FIELDS} }}
}}
"""
NEW_YORK_WEEKLY = {"rrule": "FREQ=WEEKLY;COUNT=4", "timezone": "America/New_York"}
# 09:00 in New York; the US clocks go forward on Sunday 8 March 2026.
MONDAY_NINE = {"start": "2026-03-02T09:00:00-05:00", "end": "2026-03-02T10:00:00-05:00"}
MARCH = ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")


async def create_series(client: Client, calendar_id: str, **fields: Any) -> dict[str, Any]:
    data = {"calendarId": calendar_id, "title": "Standup", **fields}
    series: dict[str, Any] = (await client.execute(CREATE_SERIES, {"input": data})).data[
        "createEvent"
    ]
    return series


def times(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["start"], e["end"]) for e in events]


async def test_a_weekly_series_keeps_its_new_york_time_across_dst(alice: Client) -> None:
    # given: a UTC calendar, and a series written in New York's zone
    calendar = await connect_local(alice)
    # when
    series = await create_series(alice, calendar["id"], **MONDAY_NINE, recurrence=NEW_YORK_WEEKLY)
    # then: 09:00 New York is 14:00Z before 8 March, 13:00Z after
    instances = await repeating(alice, *MARCH)
    assert times(instances) == [
        ("2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z"),
        ("2026-03-09T13:00:00Z", "2026-03-09T14:00:00Z"),
        ("2026-03-16T13:00:00Z", "2026-03-16T14:00:00Z"),
        ("2026-03-23T13:00:00Z", "2026-03-23T14:00:00Z"),
    ]
    assert {e["recurringEventId"] for e in instances} == {series["id"]}
    assert all(e["recurrence"] == NEW_YORK_WEEKLY for e in instances)
    # and the series' own node is its first occurrence, saying how it repeats
    for shown in (series, await event_node(alice, series["id"])):
        assert (shown["start"], shown["end"]) == ("2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z")
        assert shown["recurrence"] == NEW_YORK_WEEKLY
        assert shown["recurringEventId"] is None
    instance = await event_node(alice, instances[2]["id"])
    assert (instance["start"], instance["recurrence"]) == ("2026-03-16T13:00:00Z", NEW_YORK_WEEKLY)


async def test_single_events_do_not_repeat(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    single = await create_series(alice, calendar["id"], **MONDAY_NINE)
    # when
    listed = await repeating(alice, *MARCH)
    # then
    assert [e["recurrence"] for e in listed] == [None]
    assert (await event_node(alice, single["id"]))["recurrence"] is None


async def test_an_endless_series_runs_on_and_its_node_is_its_first_occurrence(
    alice: Client,
) -> None:
    # given: every day at 07:00 in the calendar's zone, with no end
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    series = await create_series(
        alice,
        calendar["id"],
        start="2026-01-05T07:00:00+01:00",
        end="2026-01-05T07:30:00+01:00",
        recurrence={"rrule": "FREQ=DAILY"},
    )
    # when: a summer's day a year and a half later
    later = await repeating(alice, "2027-07-01T00:00:00Z", "2027-07-02T00:00:00Z")
    # then
    assert times(later) == [("2027-07-01T05:00:00Z", "2027-07-01T05:30:00Z")]
    assert later[0]["recurrence"] == {"rrule": "FREQ=DAILY", "timezone": "Europe/Berlin"}
    node = await event_node(alice, series["id"])
    assert (node["start"], node["end"]) == ("2026-01-05T06:00:00Z", "2026-01-05T06:30:00Z")


async def test_an_all_day_series_stays_on_its_dates(alice: Client) -> None:
    # given: Berlin's clocks go forward in the night of 29 March
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    # when: every Friday, three times, all day
    series = await create_series(
        alice,
        calendar["id"],
        start="2026-03-27T00:00:00+01:00",
        end="2026-03-28T00:00:00+01:00",
        allDay=True,
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
    )
    # then
    instances = await repeating(alice, "2026-03-20T00:00:00Z", "2026-04-30T00:00:00Z")
    assert [(e["startDate"], e["endDate"]) for e in instances] == [
        ("2026-03-27", "2026-03-28"),
        ("2026-04-03", "2026-04-04"),
        ("2026-04-10", "2026-04-11"),
    ]
    bins = {"rrule": "FREQ=WEEKLY;COUNT=3", "timezone": "Europe/Berlin"}
    assert all(e["allDay"] and e["recurrence"] == bins for e in instances)
    node = await event_node(alice, series["id"])
    assert (node["startDate"], node["endDate"]) == ("2026-03-27", "2026-03-28")
    assert (node["start"], node["end"]) == ("2026-03-27T00:00:00Z", "2026-03-28T00:00:00Z")
    assert node["recurrence"] == bins


async def test_moving_a_series_moves_every_instance(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    series = await create_series(alice, calendar["id"], **MONDAY_NINE, recurrence=NEW_YORK_WEEKLY)
    # when: an hour later, 10:00 to 10:45 New York time
    moved = (
        await alice.execute(
            UPDATE_EVENT,
            {
                "id": series["id"],
                "input": {
                    "start": "2026-03-02T10:00:00-05:00",
                    "end": "2026-03-02T10:45:00-05:00",
                },
            },
        )
    ).data["updateEvent"]
    retitled = (
        await alice.execute(UPDATE_EVENT, {"id": series["id"], "input": {"title": "Sync"}})
    ).data["updateEvent"]
    # then
    assert (moved["start"], moved["end"]) == ("2026-03-02T15:00:00Z", "2026-03-02T15:45:00Z")
    assert (retitled["start"], retitled["end"]) == (moved["start"], moved["end"])
    instances = await repeating(alice, *MARCH)
    assert times(instances) == [
        ("2026-03-02T15:00:00Z", "2026-03-02T15:45:00Z"),
        ("2026-03-09T14:00:00Z", "2026-03-09T14:45:00Z"),
        ("2026-03-16T14:00:00Z", "2026-03-16T14:45:00Z"),
        ("2026-03-23T14:00:00Z", "2026-03-23T14:45:00Z"),
    ]
    assert {e["title"] for e in instances} == {"Sync"}
    assert all(e["recurrence"] == NEW_YORK_WEEKLY for e in instances)


async def test_deleting_a_series_removes_every_instance(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    series = await create_series(alice, calendar["id"], **MONDAY_NINE, recurrence=NEW_YORK_WEEKLY)
    # when
    r = await alice.execute("mutation($id: ID!) { deleteEvent(id: $id) }", {"id": series["id"]})
    # then
    assert r.data["deleteEvent"] is True
    assert await repeating(alice, *MARCH) == []


async def test_an_instance_is_changed_through_its_series(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    await create_series(alice, calendar["id"], **MONDAY_NINE, recurrence=NEW_YORK_WEEKLY)
    instance = (await repeating(alice, *MARCH))[1]
    # when
    updated = await alice.execute(
        UPDATE_EVENT, {"id": instance["id"], "input": {"title": "Only this one"}}
    )
    deleted = await alice.execute(
        "mutation($id: ID!) { deleteEvent(id: $id) }", {"id": instance["id"]}
    )
    # then
    for refused in (updated, deleted):
        assert refused.codes == ["BAD_USER_INPUT"]
        assert "through its series" in refused.errors[0]["message"]
    assert {e["title"] for e in await repeating(alice, *MARCH)} == {"Standup"}


async def test_a_move_the_rule_does_not_start_on_is_refused(alice: Client) -> None:
    # given: Mondays and Wednesdays
    calendar = await connect_local(alice)
    rule = {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", "timezone": "America/New_York"}
    series = await create_series(alice, calendar["id"], **MONDAY_NINE, recurrence=rule)
    # when: to a Tuesday
    moved = {"start": "2026-03-03T09:00:00-05:00", "end": "2026-03-03T10:00:00-05:00"}
    r = await alice.execute(UPDATE_EVENT, {"id": series["id"], "input": moved})
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert "not an occurrence" in r.errors[0]["message"]
    assert [e["start"][:10] for e in await repeating(alice, *MARCH)] == [
        "2026-03-02",
        "2026-03-04",
        "2026-03-09",
        "2026-03-11",
    ]


async def test_a_series_too_close_to_the_year_9999_is_refused(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    late = {"start": "9990-01-01T09:00:00Z", "end": "9990-01-01T10:00:00Z"}
    # when
    r = await alice.execute(
        CREATE_SERIES,
        {
            "input": {
                "calendarId": calendar["id"],
                "title": "Late",
                **late,
                "recurrence": {"rrule": "FREQ=DAILY"},
            }
        },
    )
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert "before the year 9978" in r.errors[0]["message"]


@pytest.mark.parametrize(
    ("recurrence", "field", "says"),
    [
        ({"rrule": "every monday"}, "recurrence.rrule", "not an RRULE"),
        ({"rrule": "COUNT=3"}, "recurrence.rrule", "needs a FREQ"),
        ({"rrule": "FREQ=MINUTELY"}, "recurrence.rrule", "FREQ=MINUTELY is not supported"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "recurrence.rrule", "BYDAY=XX is not supported"),
        ({"rrule": "FREQ=WEEKLY;COUNT=0"}, "recurrence.rrule", "COUNT=0 is not supported"),
        ({"rrule": "FREQ=WEEKLY;COUNT=1001"}, "recurrence.rrule", "COUNT must be between"),
        (
            {"rrule": "FREQ=WEEKLY;COUNT=2;UNTIL=20260401T000000Z"},
            "recurrence.rrule",
            "not both",
        ),
        ({"rrule": "FREQ=DAILY;UNTIL=20500101T000000Z"}, "recurrence.rrule", "at most 20 years"),
        ({"rrule": "FREQ=YEARLY;COUNT=30"}, "recurrence.rrule", "at most 20 years"),
        ({"rrule": "FREQ=DAILY;UNTIL=20290101T000000Z"}, "recurrence.rrule", "1000 occurrences"),
        ({"rrule": "FREQ=DAILY;UNTIL=20260101T000000Z"}, "recurrence.rrule", "no occurrence"),
        # local UNTIL with a zoned start: RFC 5545 wants it in UTC
        ({"rrule": "FREQ=WEEKLY;UNTIL=20260401T090000"}, "recurrence.rrule", "not a valid"),
        # rules that may never match, which dateutil would look for until the year 9999:
        # 30 February, the first Monday that is a 15th, Mondays of a daily rule
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence.rrule", "BYMONTHDAY=30"),
        (
            {"rrule": "FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=15"},
            "recurrence.rrule",
            "cannot be combined",
        ),
        ({"rrule": "FREQ=DAILY;INTERVAL=7;BYDAY=TU"}, "recurrence.rrule", "FREQ=DAILY"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=TU"}, "recurrence.rrule", "its first is 2026-03-03"),
        ({"rrule": "FREQ=WEEKLY", "timezone": "Mars/Olympus"}, "recurrence.timezone", "IANA"),
    ],
)
async def test_a_rule_that_cannot_be_kept_is_refused_and_nothing_is_written(
    alice: Client, recurrence: dict[str, str], field: str, says: str
) -> None:
    # given
    calendar = await connect_local(alice)
    data = {"calendarId": calendar["id"], "title": "Bad", **MONDAY_NINE, "recurrence": recurrence}
    # when
    r = await alice.execute(CREATE_SERIES, {"input": data})
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == field
    assert says in r.errors[0]["message"]
    assert await repeating(alice, *MARCH) == []

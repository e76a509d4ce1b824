"""Events(range:): half-open, ordered by start, filtered, paginated through every event once."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphql_api.cache import codecs
from graphql_api.events.service import by_week, week_with
from graphql_api.relay import decode_cursor, ref_of
from graphql_api.state import AppState
from loaders.base import naive_times
from models import Event
from models.base import as_read
from tests.conftest import Client
from tests.events.helpers import (
    DELETE_EVENT,
    WEEK_START,
    NewUser,
    batch_create,
    event_input,
    event_node,
    events_in,
    node_ids,
    titles,
    utc,
)
from tests.helpers import connect_local, create_event

QUARTER = timedelta(minutes=15)

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


# ---------------------------------------------------------------- the weeks' buckets

INSTANTS = st.integers(0, 6 * 96).map(lambda q: datetime(2026, 3, 22, tzinfo=UTC) + q * QUARTER)


@settings(max_examples=300, deadline=None)
@given(
    spans=st.lists(st.tuples(INSTANTS, st.integers(0, 9 * 96), st.sampled_from("ab")), max_size=12),
    first=st.integers(0, 2),
    count=st.integers(1, 3),
)
def test_each_week_holds_exactly_the_events_that_overlap_it(
    spans: list[tuple[datetime, int, str]], first: int, count: int
) -> None:
    # given: events of two calendars as stored (some of no length, some over several
    # days and weeks, some starting together), in no particular order, and the weeks of
    # calendar "a" and the first of calendar "b" not cached yet
    rows: list[dict[str, Any]] = [
        {"_id": ObjectId(), "calendarId": c, "startTime": s, "endTime": s + n * QUARTER}
        for s, n, c in spans
    ]
    for i, row in enumerate(rows):
        row["title"] = f"e{i}"
    mondays = [date(2026, 3, 16) + timedelta(weeks=first + i) for i in range(count)]
    missing = [*(("a", m) for m in mondays), ("b", mondays[0])]
    low = datetime.combine(mondays[0], time(), UTC)
    high = datetime.combine(mondays[-1], time(), UTC) + timedelta(weeks=1)

    # when
    filled = by_week(rows, missing, low, high)

    # then: each (calendar, week) holds its events overlapping the week, by start, then id
    for calendar_id, monday in missing:
        begin = datetime.combine(monday, time(), UTC)
        end = begin + timedelta(weeks=1)
        expected = [
            r
            for r in rows
            if r["calendarId"] == calendar_id and r["startTime"] < end and r["endTime"] > begin
        ]
        expected.sort(key=lambda r: (r["startTime"], str(r["_id"])))
        assert filled[calendar_id, monday] == expected
    # and the same rows read with naive times (UTC: how the weeks' rows are read) fill
    # the same weeks alike
    naive = [
        {
            **r,
            "startTime": r["startTime"].replace(tzinfo=None),
            "endTime": r["endTime"].replace(tzinfo=None),
        }
        for r in rows
    ]
    filled_naive = by_week(naive, missing, low, high)
    for slot in missing:
        assert [r["title"] for r in filled_naive[slot]] == [r["title"] for r in filled[slot]]


def _row(start: datetime, quarters: int, cancelled: bool, oid: int) -> dict[str, Any]:
    """A stored event as a week's query reads it (naive times, in UTC)."""
    naive = start.replace(tzinfo=None)
    return {
        "_id": ObjectId(f"{oid:024x}"),
        "calendarId": "a",
        "title": f"e{oid}",
        "startTime": naive,
        "endTime": naive + quarters * QUARTER,
        "status": "CANCELLED" if cancelled else "CONFIRMED",
    }


@settings(max_examples=300, deadline=None)
@given(
    spans=st.lists(
        st.tuples(INSTANTS, st.integers(0, 9 * 96), st.booleans(), st.integers(0, 999)),
        max_size=10,
        unique_by=lambda span: span[3],
    ),
    new=st.tuples(INSTANTS, st.integers(0, 9 * 96), st.booleans(), st.integers(1000, 1999)),
    milliseconds=st.integers(0, 999),
    week=st.integers(0, 1),
    shuffled=st.randoms(use_true_random=False),
)
def test_a_week_carried_over_a_new_event_is_the_json_its_query_would_make(
    spans: list[tuple[datetime, int, bool, int]],
    new: tuple[datetime, int, bool, int],
    milliseconds: int,
    week: int,
    shuffled: Any,
) -> None:
    # given: a calendar's stored events (some cancelled, some of no length, some over
    # weeks, some starting together), read in an order of Mongo's; and a week of them
    # as cached
    monday = date(2026, 3, 16) + timedelta(weeks=week)
    low = datetime.combine(monday, time(), UTC)
    high = low + timedelta(weeks=1)

    def cached(rows: list[dict[str, Any]]) -> bytes:
        """The week as `_stored_between` caches it: the query's rows, by week."""
        found = [
            r
            for r in rows
            if r["status"] != "CANCELLED"
            and r["startTime"] < high.replace(tzinfo=None)
            and r["endTime"] > low.replace(tzinfo=None)
        ]
        shuffled.shuffle(found)
        return codecs.stored(by_week(found, [("a", monday)], low, high)["a", monday])

    rows = [_row(*span) for span in spans]
    added = _row(*new)
    added["startTime"] += timedelta(milliseconds=milliseconds)  # mixed JSON forms

    # when: a new event is carried into the cached week
    raw = cached(rows)
    grown = week_with(raw, added, codecs.stored_each([added])[0], monday)
    carried = raw if grown is None else grown[0]

    # then: the very bytes the week's query would have cached with the event stored,
    # the event where it says
    assert carried == cached([*rows, added])
    if grown is not None:
        assert orjson.loads(carried)[grown[1]]["_id"] == str(added["_id"])


async def test_an_event_read_back_is_the_row_mongo_gives_for_it(app_state: AppState) -> None:
    # given: new events as the API writes them: microseconds in their times, text
    # beyond ASCII, optional fields unset or set
    start = datetime(2026, 3, 18, 9, 15, 7, 123456, tzinfo=UTC)
    events = [
        Event(
            user_id="read-back",
            calendar_id="c" * 24,
            title="Réunion 会議",
            start_time=start,
            end_time=start + timedelta(minutes=45),
        ),
        Event(
            user_id="read-back",
            calendar_id="c" * 24,
            title="Day",
            description="all of it",
            location="Köln",
            all_day=True,
            start_time=datetime(2026, 3, 18, tzinfo=UTC),
            end_time=datetime(2026, 3, 19, tzinfo=UTC),
            start_date="2026-03-18",
            end_date="2026-03-19",
            busy=False,
        ),
    ]
    collection = naive_times(Event.get_pymongo_collection())
    for event in events:
        await event.insert()

        # when: the event as the week it is carried into takes it, and as Mongo has it
        row = await collection.find_one({"_id": event.id})

        # then: the same row, the same JSON
        assert as_read(event) == row
        assert codecs.stored([as_read(event)]) == codecs.stored([row])


async def test_the_weeks_rows_read_without_time_zones_make_the_same_json(
    alice: Client, app_state: AppState
) -> None:
    # given: events of a user in a time zone with DST, timed and all-day, one with
    # milliseconds, over the DST change (what the cached weeks are made of)
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    cid = calendar["id"]
    await create_event(alice, cid, "2026-03-28T23:30:00.123Z", "2026-03-29T01:30:00Z")
    await create_event(alice, cid, "2026-03-29T08:00:00+02:00", "2026-03-29T09:00:00+02:00")
    day = await create_event(
        alice, cid, "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z", title="Day", allDay=True
    )
    assert day["allDay"] is True
    collection = Event.get_pymongo_collection()
    query = {"calendarId": ref_of(cid, "Calendar")}

    # when: the rows read as the client reads them, and with naive times
    aware = await collection.find(query).sort("_id").to_list()
    naive = await naive_times(collection).find(query).sort("_id").to_list()

    # then: the times are the same instants, and the weeks' JSON is the same bytes
    assert len(aware) == 3
    assert all(a["startTime"].tzinfo is not None for a in aware)
    assert all(n["startTime"].tzinfo is None for n in naive)
    assert [a["startTime"] for a in aware] == [n["startTime"].replace(tzinfo=UTC) for n in naive]
    assert codecs.stored(naive) == codecs.stored(aware)


async def test_a_cursor_kept_from_before_cursors_were_compact_still_pages(alice: Client) -> None:
    # given: three events; a client that kept the second page's cursor as it was made
    # before (json.dumps, with spaces)
    calendar = await connect_local(alice)
    base = datetime(2026, 3, 24, 8, tzinfo=UTC)
    inputs = [
        event_input(
            calendar["id"], f"Event {i}", base + timedelta(hours=i), base + timedelta(hours=4)
        )
        for i in range(3)
    ]
    created = await batch_create(alice, inputs)
    range_ = ("2026-03-24T00:00:00Z", "2026-03-25T00:00:00Z")
    page1 = await events_in(alice, *range_, first=1)
    key = decode_cursor(page1["pageInfo"]["endCursor"])
    old = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    # when
    page2 = await events_in(alice, *range_, first=5, after=old)
    # then
    assert node_ids(page2) == [e["id"] for e in created[1:]]
    assert page1["pageInfo"]["endCursor"] != old  # today's are compact

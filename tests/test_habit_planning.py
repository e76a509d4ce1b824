"""Auto-scheduled habits through the API: booked by the planner (the worker's re-plan, run
here in process) `frequency.times` a week inside their windows, moved one by one when a
meeting lands on them, removed when auto-scheduling stops or the habit goes; bad input
refused with nothing written."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from graphql_api.lifespan import AppState
from graphql_api.planning.jobs import plan_user
from graphql_api.relay import to_global_id
from tests.conftest import Client
from tests.helpers import connect_local, create_event, next_plan_update, set_timezone

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 30 March 2026, 06:00 in Berlin (summer time since Sunday): 04:00 UTC.
MONDAY_6 = datetime(2026, 3, 30, 4, 0, tzinfo=UTC)
TWO_WEEKS = {"start": "2026-03-30T00:00:00+02:00", "end": "2026-04-14T00:00:00+02:00"}
MORNINGS = [{"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "07:00", "end": "09:00"}]
RUN = {
    "name": "Run",
    "frequency": {"times": 3, "per": "WEEK"},
    "durationMinutes": 30,
    "preferredWindows": MORNINGS,
    "autoSchedule": True,
}
HABIT = "query($id: ID!) { node(id: $id) { ... on Habit { autoSchedule isActive } } }"


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def schedule(client: Client) -> list[dict[str, Any]]:
    r = await client.op("Schedule", {"range": TWO_WEEKS})
    return [edge["node"] for edge in r.data["events"]["edges"]]


async def bookings(client: Client) -> list[dict[str, Any]]:
    return [e for e in await schedule(client) if e["habit"]]


def week_of(event: dict[str, Any]) -> date:
    day = moment(event["start"]).astimezone(BERLIN).date()
    return day - timedelta(days=day.isoweekday() - 1)


async def create_habit(client: Client, **fields: Any) -> dict[str, Any]:
    r = await client.op("CreateHabit", {"input": {**RUN, **fields}})
    habit: dict[str, Any] = r.data["createHabit"]
    return habit


@pytest.fixture
async def monday(alice: Client, clock: Any, app_state: AppState) -> dict[str, Any]:
    """Alice in Berlin on Monday 30 March at 06:00, with a LOCAL calendar."""
    clock(MONDAY_6)
    await set_timezone(alice, "Europe/Berlin")
    calendar = await connect_local(alice, name="Home")
    await plan_user(app_state, alice.sub)  # the re-plan the new calendar asked for
    return calendar


async def test_an_auto_scheduled_habit_is_booked_times_a_week_inside_its_windows(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given: a subscriber to Alice's plan updates
    listening = await next_plan_update(app_state, alice.sub)

    # when: a habit of three runs a week, 07:00-09:00 any day, booked by the planner
    habit = await create_habit(alice)
    await plan_user(app_state, alice.sub)
    heard = [await asyncio.wait_for(listening, 5)]

    # then: three bookings in each of the two weeks the horizon covers (up to Monday 13 April
    # 06:00, which leaves the third week none), on three days, 30 minutes, inside the window
    booked = await bookings(alice)
    weeks = [week_of(e) for e in booked]
    assert {w: weeks.count(w) for w in weeks} == {date(2026, 3, 30): 3, date(2026, 4, 6): 3}
    for event in booked:
        start, end = moment(event["start"]), moment(event["end"])
        assert end - start == timedelta(minutes=30)
        assert time(7) <= start.astimezone(BERLIN).time()
        assert end.astimezone(BERLIN).time() <= time(9)
        assert event["habit"] == {"id": habit["id"], "name": "Run"}
        assert (event["title"], event["busy"]) == ("Run", True)
        assert event["calendar"]["id"] == monday["id"]
    days = [moment(e["start"]).astimezone(BERLIN).date() for e in booked]
    assert len(set(days)) == len(days)
    node = (await alice.execute(HABIT, {"id": habit["id"]})).data["node"]
    assert node == {"autoSchedule": True, "isActive": True}
    # and the subscriber heard which habit the planner booked, and why
    (update,) = heard
    assert update["reason"] == "HABIT_CHANGED"
    assert [to_global_id("Habit", h) for h in update["habits"]] == [habit["id"]]


async def test_a_meeting_over_a_booking_moves_that_booking_alone(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given: the habit booked
    await create_habit(alice)
    await plan_user(app_state, alice.sub)
    before = await bookings(alice)
    hit = before[1]

    # when: a meeting lands on the second booking, and the worker's re-plan runs
    await create_event(alice, monday["id"], hit["start"], hit["end"], title="Dentist")
    await plan_user(app_state, alice.sub)

    # then: the others stay as they were (the same events), the hit one is booked again in
    # its week, away from the meeting
    after = await bookings(alice)
    assert [e for e in after if e["id"] != hit["id"] and e in before] == [
        e for e in before if e["id"] != hit["id"]
    ]
    (moved,) = [e for e in after if e not in before]
    assert week_of(moved) == week_of(hit)
    assert moved["start"] != hit["start"]
    assert len(after) == len(before)


async def test_turning_auto_scheduling_off_removes_the_bookings_not_yet_started(
    alice: Client, monday: dict[str, Any], app_state: AppState, clock: Any
) -> None:
    # given: the habit booked, and its first booking over by now
    habit = await create_habit(alice)
    await plan_user(app_state, alice.sub)
    first = (await bookings(alice))[0]
    clock(moment(first["end"]) + timedelta(minutes=5))

    # when
    r = await alice.op("UpdateHabit", {"id": habit["id"], "input": {"autoSchedule": False}})
    await plan_user(app_state, alice.sub)

    # then: the past booking stays, as history; nothing else is booked
    assert r.errors == []
    assert [e["id"] for e in await bookings(alice)] == [first["id"]]
    node = (await alice.execute(HABIT, {"id": habit["id"]})).data["node"]
    assert node["autoSchedule"] is False

    # and turned on again, the habit is booked again (the past booking counts for its week)
    await alice.op("UpdateHabit", {"id": habit["id"], "input": {"autoSchedule": True}})
    await plan_user(app_state, alice.sub)
    weeks = [week_of(e) for e in await bookings(alice)]
    assert {w: weeks.count(w) for w in weeks} == {date(2026, 3, 30): 3, date(2026, 4, 6): 3}


async def test_pausing_or_deleting_the_habit_removes_its_bookings(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given: two auto-scheduled habits, booked
    paused = await create_habit(alice, name="Swim")
    deleted = await create_habit(alice, name="Read", frequency={"times": 1, "per": "DAY"})
    await plan_user(app_state, alice.sub)
    assert {e["habit"]["name"] for e in await bookings(alice)} == {"Swim", "Read"}

    # when
    await alice.op("UpdateHabit", {"id": paused["id"], "input": {"isActive": False}})
    await alice.op("DeleteHabit", {"id": deleted["id"]})
    await plan_user(app_state, alice.sub)

    # then
    assert await bookings(alice) == []
    assert [e for e in await schedule(alice) if e["title"] in {"Swim", "Read"}] == []


BAD = [
    ({"durationMinutes": 150}, "durationMinutes"),  # longer than its 2-hour window
    ({"frequency": {"times": 8, "per": "WEEK"}}, "frequency.times"),
    (
        {"preferredWindows": [{"weekdays": [8], "start": "07:00", "end": "09:00"}]},
        "preferredWindows[0].weekdays",
    ),
]


@pytest.mark.parametrize(("fields", "field"), BAD, ids=["duration", "frequency", "weekday"])
async def test_bad_input_is_refused_and_nothing_is_written_or_booked(
    alice: Client,
    monday: dict[str, Any],
    app_state: AppState,
    fields: dict[str, Any],
    field: str,
) -> None:
    # when
    r = await alice.op("CreateHabit", {"input": {**RUN, **fields}})
    await plan_user(app_state, alice.sub)

    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == field
    assert (await alice.op("Habits")).data["habits"]["edges"] == []
    assert await bookings(alice) == []


async def test_a_bad_update_is_refused_and_the_habit_keeps_its_bookings(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given: a 90-minute habit, not auto-scheduled, and a booked one
    long = await create_habit(alice, name="Hike", durationMinutes=90, autoSchedule=False)
    habit = await create_habit(alice)
    await plan_user(app_state, alice.sub)
    before = await bookings(alice)

    # when: a window too short for the hike's 90 minutes with auto-scheduling on, a null,
    # and a window too short for the run's 30 minutes
    short = [{"weekdays": [1], "start": "07:00", "end": "08:00"}]
    attempts = [
        (long["id"], {"autoSchedule": True, "preferredWindows": short}),
        (habit["id"], {"autoSchedule": None}),
        (habit["id"], {"preferredWindows": [{"weekdays": [1], "start": "07:00", "end": "07:15"}]}),
    ]
    answers = [await alice.op("UpdateHabit", {"id": i, "input": x}) for i, x in attempts]
    await plan_user(app_state, alice.sub)

    # then
    assert [(r.codes, r.errors[0]["extensions"]["field"]) for r in answers] == [
        (["BAD_USER_INPUT"], "durationMinutes"),
        (["BAD_USER_INPUT"], "autoSchedule"),
        (["BAD_USER_INPUT"], "durationMinutes"),
    ]
    nodes = [(await alice.execute(HABIT, {"id": h["id"]})).data["node"] for h in (long, habit)]
    assert [n["autoSchedule"] for n in nodes] == [False, True]
    assert await bookings(alice) == before


UPDATE_EVENT = (
    "mutation($id: ID!, $input: UpdateEventInput!) "
    "{ updateEvent(id: $id, input: $input) { id start end } }"
)
DELETE_EVENT = "mutation($id: ID!) { deleteEvent(id: $id) }"


async def test_a_booking_the_user_moves_is_theirs_it_stays_and_counts(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given: the habit booked, three runs in each week
    await create_habit(alice)
    await plan_user(app_state, alice.sub)
    before = await bookings(alice)
    mine = before[-1]

    # when: the user moves the last booking to noon of its day (outside the habit's
    # mornings), and the re-plan runs
    noon = moment(mine["start"]).astimezone(BERLIN).replace(hour=12, minute=0)
    times = {"start": noon.isoformat(), "end": (noon + timedelta(minutes=30)).isoformat()}
    r = await alice.execute(UPDATE_EVENT, {"id": mine["id"], "input": times})
    assert not r.errors
    await plan_user(app_state, alice.sub)

    # then: it stays where the user put it and is its week's third booking: nothing is
    # booked in its place, the others are where they were
    after = await bookings(alice)
    assert [e for e in after if e["id"] != mine["id"]] == before[:-1]
    (moved,) = [e for e in after if e["id"] == mine["id"]]
    assert (moment(moved["start"]), moment(moved["end"])) == (
        noon,
        noon + timedelta(minutes=30),
    )
    # and a meeting over it does not move it either: it is the user's now
    await create_event(alice, monday["id"], moved["start"], moved["end"], title="Dentist")
    await plan_user(app_state, alice.sub)
    assert await bookings(alice) == after


@pytest.mark.parametrize(
    "frequency", [{"times": 3, "per": "WEEK"}, {"times": 1, "per": "DAY"}], ids=["week", "day"]
)
async def test_a_booking_the_user_deletes_is_skipped_for_its_period(
    alice: Client, monday: dict[str, Any], app_state: AppState, frequency: dict[str, Any]
) -> None:
    # given: the habit booked
    await create_habit(alice, frequency=frequency)
    await plan_user(app_state, alice.sub)
    before = await bookings(alice)
    gone = before[1]

    # when: the user deletes its second booking, and the re-plan runs (twice: again after
    # the habit changes)
    r = await alice.execute(DELETE_EVENT, {"id": gone["id"]})
    assert r.data == {"deleteEvent": True}
    await plan_user(app_state, alice.sub)
    after = await bookings(alice)
    await create_event(alice, monday["id"], before[-1]["start"], before[-1]["end"])
    await plan_user(app_state, alice.sub)

    # then: it is not booked again in its period (its week, or its day), though the others
    # are there and the one the meeting landed on moved within its own
    def period(event: dict[str, Any]) -> date:
        day = moment(event["start"]).astimezone(BERLIN).date()
        return week_of(event) if frequency["per"] == "WEEK" else day

    wanted = Counter(period(e) for e in before)
    wanted[period(gone)] -= 1
    assert after == [e for e in before if e["id"] != gone["id"]]
    again = await bookings(alice)
    assert Counter(period(e) for e in again) == wanted
    assert [e for e in again if e in after] == after[:-1]

"""Re-planning as it runs in production: an API process, a worker process, real clients.
A meeting booked over a task's block (through the API, or brought by a sync) moves the
block within seconds, and `PlanUpdates` (the operation as written) tells the user."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gql import Client as GqlClient
from gql import gql
from gql.transport.websockets import WebsocketsTransport

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import api_process, operation, process_env, stop
from tests.sync.conftest import Feed, vcalendar, vevent
from tests.sync.test_worker import graphql, start_worker

ALL_DAY = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(1, 8)]
TASKS = "query { tasks { edges { node { id scheduledMinutes atRisk blocks { start end } } } } }"


@pytest.fixture(scope="module")
def env(settings: Settings) -> dict[str, str]:
    return process_env(settings, PLAN_DEBOUNCE_S="1", SYNC_HEARTBEAT_S="3")


@pytest.fixture(scope="module")
def api(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_process(env, tmp_path_factory.mktemp("api") / "api.log") as url:
        yield url


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(env, tmp_path / "worker.log")
    yield proc
    stop(proc)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_user(api: str, settings: Settings) -> str:
    """A user who works around the clock (UTC): their token."""
    token = mint_dev_token(settings, f"planner-{uuid.uuid4().hex[:8]}")
    graphql(api, token, operation("UpdateProfile"), {"input": {"workingHours": ALL_DAY}})
    return token


def planned_user(api: str, settings: Settings, token: str = "") -> tuple[str, dict[str, Any]]:
    """A user who works around the clock (UTC), with an hour's task planned: its block."""
    token = token or new_user(api, settings)
    task = graphql(
        api,
        token,
        operation("CreateTask"),
        {"input": {"title": "Essay", "durationMinutes": 60, "minChunkMinutes": 60}},
    )["createTask"]
    (block,) = task["blocks"]
    return token, block


def blocks_of(api: str, token: str) -> list[tuple[datetime, datetime]]:
    (edge,) = graphql(api, token, TASKS)["tasks"]["edges"]
    return [(at(b["start"]), at(b["end"])) for b in edge["node"]["blocks"]]


def wait_for_move(api: str, token: str, block: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    """The task's blocks once the block has moved. A read in the middle of the worker's
    write (the old block deleted, the new one not yet inserted) sees none: not a plan."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = blocks_of(api, token)
        if now and now != [(at(block["start"]), at(block["end"]))]:
            return now
        time.sleep(0.2)
    raise AssertionError("the block did not move within 60 s")


async def first_update(api: str, token: str, started: asyncio.Event) -> dict[str, Any]:
    transport = WebsocketsTransport(
        url=api.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=["graphql-transport-ws"],
    )
    async with GqlClient(transport=transport) as session:
        iterator = aiter(session.subscribe(gql(operation("PlanUpdates"))))
        await asyncio.sleep(0.5)  # the subscription is in place on the server
        started.set()
        async for result in iterator:
            update: dict[str, Any] = result["planUpdates"]
            return update
    raise AssertionError("the subscription ended")


async def test_a_meeting_booked_over_a_block_moves_it_and_subscribers_hear_of_it(
    api: str, settings: Settings, worker: Any
) -> None:
    # given: a planned hour, and a client subscribed to the user's plan updates
    token, block = planned_user(api, settings)
    started = asyncio.Event()
    listening = asyncio.create_task(first_update(api, token, started))
    await asyncio.wait_for(started.wait(), 20)

    # when: a meeting is booked over the middle of the block
    calendar = graphql(
        api, token, operation("ConnectCalendar"), {"input": {"provider": "LOCAL", "name": "Work"}}
    )["connectCalendar"]
    begins = at(block["start"]) + timedelta(minutes=15)
    meeting = (begins, begins + timedelta(minutes=30))
    graphql(
        api,
        token,
        operation("CreateEvent"),
        {
            "input": {
                "calendarId": calendar["id"],
                "title": "Call",
                "start": meeting[0].isoformat(),
                "end": meeting[1].isoformat(),
            }
        },
    )

    # then: the worker moves the block clear of the meeting within seconds (the suite's
    # earlier re-plans may still be queued before it on a busy machine)
    update = await asyncio.wait_for(listening, 60)
    assert update["reason"] == "CALENDAR_CHANGED"
    assert [(t["scheduledMinutes"], t["atRisk"]) for t in update["tasks"]] == [(60, False)]
    ((start, end),) = blocks_of(api, token)
    assert end - start == timedelta(hours=1)
    assert start >= meeting[1] or end <= meeting[0]


async def test_an_event_a_sync_brings_over_a_block_moves_it(
    api: str, settings: Settings, worker: Any, feed: Feed
) -> None:
    # given: a planned hour, and a feed with an offsite over it
    token, block = planned_user(api, settings)
    offsite = (at(block["start"]) - timedelta(minutes=30), at(block["end"]) + timedelta(hours=1))
    feed.publish(vcalendar(vevent("offsite@example.com", "Offsite", *offsite)))

    # when: the user connects the feed (the worker syncs it)
    graphql(
        api,
        token,
        operation("ConnectCalendar"),
        {"input": {"provider": "ICS", "url": feed.url, "timezone": "UTC"}},
    )

    # then: within seconds the block is after the offsite
    ((start, end),) = await asyncio.to_thread(wait_for_move, api, token, block)
    assert start >= offsite[1]
    assert end - start == timedelta(hours=1)
    assert datetime.now(UTC) < start


def synced_at(api: str, token: str, calendar_id: str, after: str | None = None) -> str:
    """Waits for the calendar's next successful sync (after `after`): its time."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        calendars = graphql(api, token, operation("Calendars"))["calendars"]
        state = next(c for c in calendars if c["id"] == calendar_id)["syncState"]
        if state and state["status"] == "SUCCEEDED" and state["lastSyncedAt"] != after:
            synced: str = state["lastSyncedAt"]
            return synced
        time.sleep(0.2)
    raise AssertionError("the calendar did not sync within 60 s")


async def test_an_event_a_later_sync_brings_to_a_synced_calendar_moves_the_block(
    api: str, settings: Settings, worker: Any, feed: Feed
) -> None:
    # given: a local calendar for the blocks, a feed calendar synced while it had nothing
    # on it, then an hour planned (the plan read the user's busy time, and its own writes
    # leave that cached)
    token = new_user(api, settings)
    local = {"input": {"provider": "LOCAL", "name": "Work"}}
    graphql(api, token, operation("ConnectCalendar"), local)
    feed.publish(vcalendar())
    calendar = graphql(
        api,
        token,
        operation("ConnectCalendar"),
        {"input": {"provider": "ICS", "url": feed.url, "timezone": "UTC"}},
    )["connectCalendar"]
    first = await asyncio.to_thread(synced_at, api, token, calendar["id"])
    token, block = planned_user(api, settings, token)

    # when: the feed brings an offsite over the block, and the calendar is synced again
    offsite = (at(block["start"]) - timedelta(minutes=30), at(block["end"]) + timedelta(hours=1))
    feed.publish(vcalendar(vevent("offsite@example.com", "Offsite", *offsite)))
    graphql(api, token, operation("SyncCalendar"), {"calendarId": calendar["id"]})
    await asyncio.to_thread(synced_at, api, token, calendar["id"], first)

    # then: within seconds the block is after the offsite
    ((start, end),) = await asyncio.to_thread(wait_for_move, api, token, block)
    assert start >= offsite[1]
    assert end - start == timedelta(hours=1)


DAILY = {
    "name": "Read",
    "frequency": {"times": 1, "per": "DAY"},
    "durationMinutes": 60,
    "preferredWindows": [{"weekdays": list(range(1, 8)), "start": "00:00", "end": "24:00"}],
    "autoSchedule": True,
}


Bookings = dict[str, tuple[datetime, datetime]]


def bookings_of(api: str, token: str) -> Bookings:
    """The habit's bookings in the coming 15 days, by event id."""
    now = datetime.now(UTC)
    span = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(days=15)).isoformat(),
    }
    edges = graphql(api, token, operation("Schedule"), {"range": span})["events"]["edges"]
    return {
        e["node"]["id"]: (at(e["node"]["start"]), at(e["node"]["end"]))
        for e in edges
        if e["node"]["habit"]
    }


def wait_for_bookings(
    api: str, token: str, until: Callable[[Bookings], object], what: str
) -> Bookings:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        booked = bookings_of(api, token)
        if until(booked):
            return booked
        time.sleep(0.2)
    raise AssertionError(f"{what} within 60 s")


async def test_an_event_a_sync_brings_over_a_habits_booking_moves_that_booking_alone(
    api: str, settings: Settings, worker: Any, feed: Feed
) -> None:
    # given: an hour's reading a day, auto-scheduled (the worker books it); the booking of
    # the day after tomorrow (a whole day of room around it)
    token = new_user(api, settings)
    graphql(api, token, operation("CreateHabit"), {"input": DAILY})
    later = (datetime.now(UTC) + timedelta(days=2)).date()

    def on(day: date, booked: Bookings) -> list[str]:
        return [i for i, (start, _) in booked.items() if start.date() == day]

    before = await asyncio.to_thread(
        wait_for_bookings, api, token, lambda b: on(later, b), "the habit was not booked"
    )
    (hit,) = on(later, before)
    meeting = (before[hit][0] + timedelta(minutes=15), before[hit][0] + timedelta(minutes=45))
    feed.publish(vcalendar(vevent("call@example.com", "Call", *meeting)))

    # when: the user connects a feed with a meeting over it (the worker syncs it)
    graphql(
        api,
        token,
        operation("ConnectCalendar"),
        {"input": {"provider": "ICS", "url": feed.url, "timezone": "UTC"}},
    )

    # then: within seconds that booking is gone, another is booked clear of the meeting on
    # the same day, and every other booking is where it was
    after = await asyncio.to_thread(
        wait_for_bookings,
        api,
        token,
        lambda b: hit not in b and on(later, b),
        "the booking did not move",
    )
    assert {i: t for i, t in after.items() if i in before} == {
        i: t for i, t in before.items() if i != hit
    }
    (moved,) = [after[i] for i in on(later, after)]
    assert moved[1] - moved[0] == timedelta(hours=1)
    assert moved[0] >= meeting[1] or moved[1] <= meeting[0]

"""Small builders over the client operations, so tests read as what a user does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from graphql_api.planning import updates
from graphql_api.state import AppState
from tests.conftest import Client


async def create_goal(client: Client, **fields: Any) -> dict[str, Any]:
    r = await client.op("CreateGoal", {"input": {"title": "Goal", **fields}})
    goal: dict[str, Any] = r.data["createGoal"]
    return goal


async def create_habit(client: Client, **fields: Any) -> dict[str, Any]:
    data = {"name": "Habit", "frequency": {"times": 1, "per": "DAY"}, **fields}
    r = await client.op("CreateHabit", {"input": data})
    habit: dict[str, Any] = r.data["createHabit"]
    return habit


async def check_in(
    client: Client, habit_id: str, date: str, status: str = "DONE"
) -> dict[str, Any]:
    r = await client.op("CheckInHabit", {"habitId": habit_id, "date": date, "status": status})
    result: dict[str, Any] = r.data["checkInHabit"]
    return result


async def connect_local(client: Client, **fields: Any) -> dict[str, Any]:
    r = await client.op("ConnectCalendar", {"input": {"provider": "LOCAL", **fields}})
    calendar: dict[str, Any] = r.data["connectCalendar"]
    return calendar


async def create_event(
    client: Client, calendar_id: str, start: str, end: str, **fields: Any
) -> dict[str, Any]:
    data = {"calendarId": calendar_id, "title": "Event", "start": start, "end": end, **fields}
    r = await client.op("CreateEvent", {"input": data})
    event: dict[str, Any] = r.data["createEvent"]
    return event


async def set_timezone(client: Client, zone: str) -> None:
    r = await client.op("UpdateProfile", {"input": {"timezone": zone}})
    assert r.data["updateProfile"]["timezone"] == zone


SERIES_FIELDS = """
  id title start end allDay startDate endDate recurringEventId recurrence { rrule timezone }
"""
REPEATING = f"""
query Repeating($range: TimeRangeInput!) {{
  events(range: $range, first: 500) {{ edges {{ node {{ {SERIES_FIELDS} }} }} }}
}}
"""
EVENT_NODE = (
    f"query EventNode($id: ID!) {{ node(id: $id) {{ ... on Event {{ {SERIES_FIELDS} }} }} }}"
)


async def repeating(client: Client, start: str, end: str) -> list[dict[str, Any]]:
    """The events of the range, with how each repeats."""
    r = await client.execute(REPEATING, {"range": {"start": start, "end": end}})
    return [edge["node"] for edge in r.data["events"]["edges"]]


async def event_node(client: Client, event_id: str) -> dict[str, Any]:
    """An event (a series, an instance) by its ID, with how it repeats."""
    node: dict[str, Any] = (await client.execute(EVENT_NODE, {"id": event_id})).data["node"]
    return node


def logged_errors(log: Path) -> list[str]:
    """The ERROR and CRITICAL lines of a server process's JSON log."""
    return [
        line
        for line in log.read_text().splitlines()
        if line.startswith("{") and json.loads(line)["level"] in {"ERROR", "CRITICAL"}
    ]


async def next_plan_update(app_state: AppState, sub: str) -> asyncio.Task[dict[str, Any]]:
    """A task that ends with the next `planUpdates` message of the user `sub`; already
    listening when this returns."""

    async def listen() -> dict[str, Any]:
        async for update in updates.follow(
            app_state.events_redis, app_state.settings.cache_prefix, sub
        ):
            return update
        raise AssertionError("the plan updates ended without a message")

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    return listening

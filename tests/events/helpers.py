"""Shared by the calendar and event tests: their operations, instants and small helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import Client

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

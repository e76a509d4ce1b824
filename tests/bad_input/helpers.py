"""Shared by the bad-input tests: the user's objects as placeholders, what is stored,
and the refusal every bad input must get (BAD_USER_INPUT, nothing written).

Variables are templates: the strings GOAL, HABIT, CALENDAR and EVENT stand for
the IDs of the user's own objects (see `fill`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql_api.state import AppState
from tests.conftest import Client, Response

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
MONTH = {"from": "2026-03-01", "to": "2026-03-31"}
DAILY = {"times": 1, "per": "DAY"}
COLLECTIONS = (
    "goals",
    "goal_progress",
    "habits",
    "check_in_years",
    "calendars",
    "events",
    "recommendation_feedback",
)
GOAL, HABIT, CALENDAR, EVENT = "<goal>", "<habit>", "<calendar>", "<event>"


@dataclass(frozen=True)
class User:
    client: Client
    ids: dict[str, str]


def fill(template: Any, ids: dict[str, str]) -> Any:
    """The template with its placeholders (also inside strings) replaced by the user's IDs."""
    if isinstance(template, dict):
        return {key: fill(value, ids) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, ids) for value in template]
    if isinstance(template, str):
        for placeholder, real in ids.items():
            template = template.replace(placeholder, real)
    return template


async def stored(app_state: AppState, client: Client) -> dict[str, list[dict[str, Any]]]:
    """Everything stored for the user, collection by collection."""
    db = app_state.mongo[app_state.settings.mongodb_db]
    docs = {
        name: await db[name].find({"userId": client.sub}).sort("_id", 1).to_list()
        for name in COLLECTIONS
    }
    docs["users"] = await db["users"].find({"sub": client.sub}).to_list()
    return docs


def assert_bad_user_input(r: Response, mention: str) -> None:
    """Only BAD_USER_INPUT errors, each naming the offending field or value."""
    assert r.errors, r.body
    assert set(r.codes) == {"BAD_USER_INPUT"}, r.body
    for error in r.errors:
        assert mention in error["message"], (mention, error["message"])


async def refused(
    app_state: AppState, user: User, name: str, variables: dict[str, Any], mention: str
) -> Response:
    """Sends the operation; asserts BAD_USER_INPUT naming `mention` and nothing written."""
    before = await stored(app_state, user.client)
    r = await user.client.op(name, fill(variables, user.ids))
    assert_bad_user_input(r, fill(mention, user.ids))
    assert await stored(app_state, user.client) == before
    return r


LONG_TITLE = "x" * 201
LONG_DESCRIPTION = "d" * 5001
EVENT_INPUT = {
    "calendarId": CALENDAR,
    "start": "2026-03-30T09:00:00Z",
    "end": "2026-03-30T10:00:00Z",
}


def _goal(**fields: Any) -> dict[str, Any]:
    return {"input": {"title": "Goal", **fields}}


def _event(**fields: Any) -> dict[str, Any]:
    return {"input": {**EVENT_INPUT, "title": "Event", **fields}}


def _update(**fields: Any) -> dict[str, Any]:
    return {"id": GOAL, "input": fields}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

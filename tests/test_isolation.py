"""Every object belongs to the user of the bearer token.

Another user's ID behaves exactly like an ID that does not exist: same errors,
same messages, or null from `node()`; lists never show another user's objects,
and nothing another user tries changes the owner's data.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from graphql_api.relay import to_global_id
from graphql_api.state import AppState
from tests.conftest import Client
from tests.helpers import check_in, connect_local, create_event, create_goal, create_habit

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
MONTH = {"from": "2026-03-01", "to": "2026-03-31"}
COLLECTIONS = ("goals", "goal_progress", "habits", "check_in_years", "calendars", "events")
KINDS = ("Goal", "Habit", "Calendar", "Event", "User")


@dataclass(frozen=True)
class World:
    """One user's objects: an ID of each kind, and every ID they were handed."""

    client: Client
    ids: dict[str, str]
    all_ids: frozenset[str]


def ids_in(value: Any) -> set[str]:
    """Every `id` anywhere in a response."""
    if isinstance(value, dict):
        found = {value["id"]} if isinstance(value.get("id"), str) else set()
        return found.union(*(ids_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(ids_in(v) for v in value))
    return set()


def missing_id(kind: str) -> str:
    """A well-formed ID of `kind` that no object has."""
    return to_global_id(kind, ObjectId())


def decoded(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()


async def stored(app_state: AppState, client: Client) -> dict[str, list[dict[str, Any]]]:
    """Everything stored for the user, collection by collection."""
    db = app_state.mongo[app_state.settings.mongodb_db]
    docs = {
        name: await db[name].find({"userId": client.sub}).sort("_id", 1).to_list()
        for name in COLLECTIONS
    }
    docs["users"] = await db["users"].find({"sub": client.sub}).to_list()
    return docs


async def seen_by(world: World) -> dict[str, Any]:
    """What the owner reads of her data through the API."""
    client, goal = world.client, world.ids["Goal"]
    return {
        "goal": (await client.op("GoalDetail", {"id": goal, **MONTH})).data,
        "events": (await client.op("Events", {"range": RANGE})).data,
        "habits": (await client.op("Habits")).data,
        "goals": (await client.op("Goals")).data,
        "calendars": (await client.op("Calendars")).data,
        "me": (await client.op("Me")).data,
    }


async def build_world(client: Client) -> World:
    """A goal with a target and progress, a habit on it with check-ins, a LOCAL calendar
    with events."""
    goal = await create_goal(
        client, title="Run a marathon", targetDate="2026-10-01", target={"value": 42, "unit": "km"}
    )
    logged = await client.op("LogGoalProgress", {"goalId": goal["id"], "value": 5, "note": "5k"})
    assert logged.data["logGoalProgress"]["progressLog"]
    habit = await create_habit(client, name="Run", goalId=goal["id"])
    for day, status in (("2026-03-27", "DONE"), ("2026-03-28", "SKIPPED"), ("2026-03-29", "DONE")):
        await check_in(client, habit["id"], day, status)
    calendar = await connect_local(client, name="Training")
    event = await create_event(
        client, calendar["id"], "2026-03-30T07:00:00Z", "2026-03-30T08:00:00Z", title="Long run"
    )
    batch = await client.op(
        "BatchCreateEvents",
        {
            "inputs": [
                {
                    "calendarId": calendar["id"],
                    "title": f"Interval {i}",
                    "start": f"2026-03-2{i}T18:00:00Z",
                    "end": f"2026-03-2{i}T19:00:00Z",
                }
                for i in range(1, 4)
            ]
        },
    )
    me = (await client.op("Me")).data["me"]
    ids = {
        "Goal": goal["id"],
        "Habit": habit["id"],
        "Calendar": calendar["id"],
        "Event": event["id"],
        "User": me["id"],
    }
    all_ids = set(ids.values()) | {e["id"] for e in batch.data["batchCreateEvents"]}
    return World(client=client, ids=ids, all_ids=frozenset(all_ids))


@pytest.fixture
async def alice_world(alice: Client, clock: Any) -> World:
    clock(NOW)
    return await build_world(alice)


@pytest.fixture
async def bob_world(bob: Client, clock: Any) -> World:
    clock(NOW)
    return await build_world(bob)


# Each case: an operation that takes an ID, the kind of that ID, and the
# variables Bob sends with it (given that ID and Bob's own objects).
Variables = Callable[[str, dict[str, str]], dict[str, Any]]
DAILY = {"times": 1, "per": "DAY"}


def _event(calendar_id: str, title: str = "Sneaky") -> dict[str, Any]:
    return {
        "calendarId": calendar_id,
        "title": title,
        "start": "2026-03-30T12:00:00Z",
        "end": "2026-03-30T13:00:00Z",
    }


MUTATIONS: list[Any] = [
    pytest.param(
        "UpdateGoal",
        "Goal",
        lambda i, own: {"id": i, "input": {"title": "Hijacked", "status": "ARCHIVED"}},
        id="UpdateGoal",
    ),
    pytest.param("DeleteGoal", "Goal", lambda i, own: {"id": i}, id="DeleteGoal"),
    pytest.param(
        "LogGoalProgress",
        "Goal",
        lambda i, own: {"goalId": i, "value": 100.0, "note": "not mine"},
        id="LogGoalProgress",
    ),
    pytest.param(
        "CreateHabit",
        "Goal",
        lambda i, own: {"input": {"name": "Sneaky", "goalId": i, "frequency": DAILY}},
        id="CreateHabit-goalId",
    ),
    pytest.param(
        "UpdateHabit",
        "Goal",
        lambda i, own: {"id": own["Habit"], "input": {"goalId": i}},
        id="UpdateHabit-goalId",
    ),
    pytest.param(
        "UpdateHabit",
        "Habit",
        lambda i, own: {"id": i, "input": {"name": "Hijacked", "isActive": False}},
        id="UpdateHabit",
    ),
    pytest.param("DeleteHabit", "Habit", lambda i, own: {"id": i}, id="DeleteHabit"),
    pytest.param(
        "CheckInHabit",
        "Habit",
        lambda i, own: {"habitId": i, "date": "2026-03-29", "status": "MISSED"},
        id="CheckInHabit",
    ),
    pytest.param(
        "CreateEvent", "Calendar", lambda i, own: {"input": _event(i)}, id="CreateEvent-calendarId"
    ),
    pytest.param(
        "BatchCreateEvents",
        "Calendar",
        lambda i, own: {"inputs": [_event(own["Calendar"], "Mine"), _event(i)]},
        id="BatchCreateEvents-calendarId",
    ),
]

QUERIES: list[Any] = [
    *(
        pytest.param("GoalDetail", kind, lambda i, own: {"id": i, **MONTH}, id=f"node-{kind}")
        for kind in KINDS
    ),
    pytest.param(
        "Events",
        "Calendar",
        lambda i, own: {"range": RANGE, "calendarIds": [i]},
        id="Events-calendarIds",
    ),
]


async def test_alice_ids_have_the_shape_of_made_up_ones(alice_world: World) -> None:
    # given
    ids = alice_world.ids
    # when
    shapes = {kind: decoded(ids[kind]) for kind in KINDS}
    # then
    for kind, text in shapes.items():
        assert re.fullmatch(rf"{kind}:[0-9a-f]{{24}}", text), text
        assert re.fullmatch(rf"{kind}:[0-9a-f]{{24}}", decoded(missing_id(kind)))


@pytest.mark.parametrize(("name", "kind", "variables"), MUTATIONS)
async def test_another_users_id_fails_like_a_missing_one(
    alice_world: World,
    bob_world: World,
    app_state: AppState,
    *,
    name: str,
    kind: str,
    variables: Variables,
) -> None:
    # given
    bob = bob_world.client
    alice_before = (await stored(app_state, alice_world.client), await seen_by(alice_world))
    # when
    with_alices = await bob.op(name, variables(alice_world.ids[kind], bob_world.ids))
    with_missing = await bob.op(name, variables(missing_id(kind), bob_world.ids))
    # then
    assert with_missing.codes == ["NOT_FOUND"], with_missing.body
    assert with_alices.body == with_missing.body
    assert with_alices.status == with_missing.status
    assert (await stored(app_state, alice_world.client), await seen_by(alice_world)) == alice_before


@pytest.mark.parametrize(("name", "kind", "variables"), QUERIES)
async def test_another_users_id_reads_like_a_missing_one(
    alice_world: World,
    bob_world: World,
    name: str,
    kind: str,
    variables: Variables,
) -> None:
    # given
    bob = bob_world.client
    # when
    with_alices = await bob.op(name, variables(alice_world.ids[kind], bob_world.ids))
    with_missing = await bob.op(name, variables(missing_id(kind), bob_world.ids))
    # then
    assert with_missing.errors == [], with_missing.body
    assert with_alices.body == with_missing.body
    assert not ids_in(with_alices.data) & alice_world.all_ids
    if name == "GoalDetail":
        assert with_alices.data == {"node": None}
    else:
        assert with_alices.data["events"]["totalCount"] == 0


LISTS: list[Any] = [
    pytest.param("Goals", {}, id="Goals"),
    pytest.param("Goals", {"status": "ACTIVE", "orderBy": "CREATED_AT"}, id="Goals-active"),
    pytest.param("Habits", {}, id="Habits"),
    pytest.param("Habits", {"active": True}, id="Habits-active"),
    pytest.param("Calendars", {}, id="Calendars"),
    pytest.param("Events", {"range": RANGE}, id="Events"),
    pytest.param("Dashboard", {"range": RANGE}, id="Dashboard"),
    pytest.param("Me", {}, id="Me"),
]


@pytest.mark.parametrize(("name", "variables"), LISTS)
async def test_lists_show_only_the_users_own_objects(
    alice_world: World, bob_world: World, name: str, variables: dict[str, Any]
) -> None:
    # given
    bob = bob_world.client
    # when
    seen = ids_in((await bob.op(name, variables)).data)
    # then
    assert seen, "Bob's own objects are listed"
    assert seen <= bob_world.all_ids
    assert not seen & alice_world.all_ids


async def test_bobs_lists_count_only_his_objects(alice_world: World, bob_world: World) -> None:
    # given
    bob = bob_world.client
    # when
    goals = (await bob.op("Goals")).data["goals"]
    habits = (await bob.op("Habits")).data["habits"]
    events = (await bob.op("Events", {"range": RANGE})).data["events"]
    calendars = (await bob.op("Calendars")).data["calendars"]
    # then
    assert (goals["totalCount"], habits["totalCount"], events["totalCount"]) == (1, 1, 4)
    assert len(calendars) == 1
    assert calendars[0]["isPrimary"] is True


async def test_alices_data_is_unchanged_after_all_of_bobs_attempts(
    alice_world: World, bob_world: World, app_state: AppState
) -> None:
    # given
    bob = bob_world.client
    alice_stored = await stored(app_state, alice_world.client)
    alice_sees = await seen_by(alice_world)
    # when
    for case in [*MUTATIONS, *QUERIES]:
        name, kind, variables = case.values
        r = await bob.op(name, variables(alice_world.ids[kind], bob_world.ids))
        assert set(r.codes) <= {"NOT_FOUND"}, r.body
    # then
    assert await seen_by(alice_world) == alice_sees
    assert await stored(app_state, alice_world.client) == alice_stored

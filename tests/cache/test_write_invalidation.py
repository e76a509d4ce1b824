"""A write retires what the cache holds about it: the next read shows the write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Client
from tests.helpers import check_in, create_goal, create_habit

SetClock = Callable[[datetime], None]
NOW = datetime(2026, 3, 18, 15, tzinfo=UTC)
GOAL = "query($id: ID!) { node(id: $id) { ... on Goal { progress } } }"
HABIT = "query($id: ID!) { node(id: $id) { ... on Habit { streak { current longest } strength } } }"


async def node(client: Client, query: str, node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.execute(query, {"id": node_id})).data["node"]
    return found


async def assert_a_check_in_shows_at_once(alice: Client) -> None:
    # given: the habit's stats and the goal's progress are read (cached, if there is a cache)
    goal = await create_goal(alice, title="Fitness")
    habit = await create_habit(alice, name="Run", goalId=goal["id"])
    assert (await node(alice, HABIT, habit["id"]))["streak"] == {"current": 0, "longest": 0}
    assert (await node(alice, GOAL, goal["id"]))["progress"] == 0.0
    # when
    done = await check_in(alice, habit["id"], "2026-03-18")
    # then: the mutation's answer and every later read count the check-in
    assert done["habit"]["streak"] == {"current": 1, "longest": 1}
    stats = await node(alice, HABIT, habit["id"])
    assert stats["streak"] == {"current": 1, "longest": 1}
    assert stats["strength"] > 0
    assert (await node(alice, GOAL, goal["id"]))["progress"] == stats["strength"]


async def test_a_check_in_retires_the_cached_streak_strength_and_goal_progress(
    alice: Client, clock: SetClock
) -> None:
    clock(NOW)
    await assert_a_check_in_shows_at_once(alice)


@pytest.mark.usefixtures("no_cache")
async def test_a_check_in_shows_at_once_without_the_cache(alice: Client, clock: SetClock) -> None:
    """The control: the same reads, uncached."""
    clock(NOW)
    await assert_a_check_in_shows_at_once(alice)

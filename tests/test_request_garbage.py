"""A request's objects go when it ends: none of them is left for the garbage collector.

graphql-core's execution held its resolvers' helpers as its own bound methods, a cycle
that kept each request's context (its caches, loaders and documents) alive until the
collector's next run (graphql_api.execution._helpers)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graphql_api.context import Context
from graphql_api.execution import _ORPHANED, _helpers
from graphql_api.http import GraphQLApp
from tests.conftest import Client
from tests.helpers import check_in, connect_local, create_event, create_goal, create_habit


@pytest.fixture
def contexts(monkeypatch: pytest.MonkeyPatch) -> list[weakref.ref[Context]]:
    """Every request's context from now on, held weakly."""
    made: list[weakref.ref[Context]] = []
    original = GraphQLApp.get_context

    async def watched(self: GraphQLApp, request: Any, response: Any) -> Context:
        context = await original(self, request, response)
        made.append(weakref.ref(context))
        return context

    monkeypatch.setattr(GraphQLApp, "get_context", watched)
    return made


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_requests_leave_nothing_for_the_collector(
    alice: Client, contexts: list[weakref.ref[Context]], no_collector: None
) -> None:
    # given: a user with a goal, a habit and a calendar of events
    goal = await create_goal(alice, title="Run")
    habit = await create_habit(alice, goalId=goal["id"])
    calendar = await connect_local(alice)
    start = datetime.now(UTC).replace(microsecond=0)
    await create_event(
        alice, calendar["id"], start.isoformat(), (start + timedelta(hours=1)).isoformat()
    )
    week = {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}
    contexts.clear()
    # when: queries executed, answered by parts and from the cache, and writes
    await alice.op("Dashboard", {"range": week})
    await check_in(alice, habit["id"], (start - timedelta(days=1)).date().isoformat())
    await alice.op("Dashboard", {"range": week})
    await alice.op("Dashboard", {"range": week})
    await alice.op("Events", {"range": week})
    await create_goal(alice, title="Read")
    await asyncio.sleep(0.05)  # what the requests left running (their cache writes) ends
    # then: every request's context is gone, with the collector off
    assert len(contexts) == 6
    assert [ref for ref in contexts if ref() is not None] == []


class _Execution:
    """What the helpers ask of an execution."""

    def __init__(self) -> None:
        self.tracked: list[Any] = []

    def track_async_work(self, values: list[Any]) -> None:
        self.tracked.extend(values)


async def test_work_tracked_after_its_execution_ended_still_runs() -> None:
    # given: the resolvers' helpers of an execution, which then ends
    execution = _Execution()
    helpers = _helpers(execution)  # type: ignore[arg-type] # the one method they use
    helpers.track([1])
    assert execution.tracked == [1]
    del execution
    ran: list[str] = []

    async def failing() -> None:
        ran.append("failing")
        raise ValueError("nobody awaits this")

    # when: a resolver still running hands it work to settle
    helpers.track([failing(), 2])
    await asyncio.sleep(0.01)
    # then: it ran, its error was taken (no "never retrieved"), and nothing is kept
    assert ran == ["failing"]
    assert not _ORPHANED
    # and the helpers' gather is graphql-core's: every value, in order
    assert await helpers.gather([asyncio.sleep(0, "a"), asyncio.sleep(0, "b")]) == ["a", "b"]

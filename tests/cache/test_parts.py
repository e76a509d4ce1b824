"""A query of several root fields is stored part by part: a write makes again only the
parts that showed what it changed (graphql_api.parts)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from graphql import parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from graphql_api import http as http_module
from graphql_api.parts import document_of, parts_of
from graphql_api.schema import schema
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.cache.test_consistency import (
    ACTIONS,
    NOW,
    WEEK,
    Twin,
    apply,
    differences,
)
from tests.conftest import Client, operation
from tests.helpers import check_in, connect_local, create_event, create_goal, create_habit


def counted(level: str, result: str) -> float:
    labels = {"level": level, "result": result}
    return REGISTRY.get_sample_value("cache_requests_total", labels) or 0.0


def parts_made() -> tuple[float, float]:
    """(parts sent as stored, parts executed again after a stale answer)."""
    return counted("part", "hit"), counted("part", "miss")


def operations_measured(name: str) -> float:
    labels = {"operation_name": name, "operation_type": "query"}
    return REGISTRY.get_sample_value("graphql_operation_duration_seconds_count", labels) or 0.0


def test_the_dashboard_has_a_part_per_root_field_each_alone_with_only_what_it_uses() -> None:
    query = operation("Dashboard")
    assert parts_of(query, None) == ("me", "goals", "events")
    for keys, variables in [
        (("me",), ()),
        (("goals",), ("goalsFirst",)),
        (("events",), ("range",)),
        (("me", "events"), ("range",)),
    ]:
        alone, names = document_of(query, None, keys)
        assert names == variables
        assert alone.startswith("query Dashboard")
        assert not validate(schema._schema, parse(alone))  # no unused variable or fragment


def test_a_fragment_goes_with_the_part_that_spreads_it() -> None:
    query = """
        query Two($n: Int) { a: goals(first: $n) { ...G } me { ...U } }
        fragment G on GoalConnection { totalCount }
        fragment U on User { id }
    """
    assert parts_of(query, "Two") == ("a", "me")
    first, _ = document_of(query, "Two", ("a",))
    second, names = document_of(query, "Two", ("me",))
    assert "fragment G" in first
    assert "fragment U" not in first
    assert "fragment U" in second
    assert "fragment G" not in second
    assert names == ()


@pytest.mark.parametrize(
    "query",
    [
        "{ me { id } }",  # one root field: nothing to split
        "{ me { id } ...F } fragment F on Query { goals { totalCount } }",
        "{ me { id } goals @include(if: true) { totalCount } }",
        "{ me { id } me { displayName } }",  # one response key, two fields
        "{ me { id } __typename }",
        "mutation { deleteGoal(id: 1) }",
        "{ me { id } goals { totalCount } ... @defer { calendars { id } } }",
        "{ not valid",
    ],
)
def test_what_is_answered_whole(query: str) -> None:
    assert parts_of(query, None) is None


async def test_a_check_in_makes_again_only_the_goals_of_a_dashboard(
    alice: Client, clock: Any
) -> None:
    # given: a Dashboard answered and stored, with a goal's habit and an event in its week
    clock(NOW)
    goal = await create_goal(alice, title="Run more")
    habit = await create_habit(alice, goalId=goal["id"])
    calendar = await connect_local(alice)
    await create_event(alice, calendar["id"], "2026-03-17T08:00:00Z", "2026-03-17T09:00:00Z")
    first = await alice.op("Dashboard", {"range": WEEK})
    kept, made = parts_made()
    measured = operations_measured("Dashboard")
    # when
    await check_in(alice, habit["id"], "2026-03-18")
    after = await alice.op("Dashboard", {"range": WEEK})
    # then: `me` and `events` sent as stored, `goals` executed again
    assert parts_made() == (kept + 2, made + 1)
    assert after.data["goals"]["edges"][0]["node"]["habits"][0]["streak"]["current"] == 1
    assert after.data["me"] == first.data["me"]
    assert after.data["events"] == first.data["events"]
    assert list(after.data) == ["me", "goals", "events"]
    assert after.headers["cache-control"] == first.headers["cache-control"]
    assert first.headers["cache-control"].startswith("private, max-age=")
    # and the query is measured once, not once per part
    assert operations_measured("Dashboard") == measured + 1


async def test_a_new_event_makes_again_only_the_events_of_a_dashboard(
    alice: Client, clock: Any
) -> None:
    # given
    clock(NOW)
    goal = await create_goal(alice, title="Read")
    await create_habit(alice, goalId=goal["id"])
    calendar = await connect_local(alice)
    first = await alice.op("Dashboard", {"range": WEEK})
    assert first.data["events"]["totalCount"] == 0
    kept, made = parts_made()
    # when
    await create_event(alice, calendar["id"], "2026-03-19T10:00:00Z", "2026-03-19T11:00:00Z")
    after = await alice.op("Dashboard", {"range": WEEK})
    # then
    assert parts_made() == (kept + 2, made + 1)
    assert after.data["events"]["totalCount"] == 1
    assert after.data["goals"] == first.data["goals"]
    # and the answer made by parts is itself served whole next time, as sent
    again = await alice.op("Dashboard", {"range": WEEK})
    assert again.raw == after.raw


async def test_the_first_answer_is_stored_by_parts_and_each_is_counted(
    alice: Client, clock: Any
) -> None:
    # given
    clock(NOW)
    habit = await create_habit(alice, goalId=(await create_goal(alice, title="Swim"))["id"])
    kept, made = parts_made()
    # when: a first answer (nothing stored yet), then another after a check-in
    await alice.op("Dashboard", {"range": WEEK})
    first = parts_made()
    await check_in(alice, habit["id"], "2026-03-18")
    await alice.op("Dashboard", {"range": WEEK})
    # then: all three made the first time, one the second
    assert first == (kept, made + 3)
    assert parts_made() == (kept + 2, made + 4)


async def test_when_the_parts_alone_fail_the_whole_query_is_executed(
    alice: Client, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a stored Dashboard retired by a check-in, and its goals alone made a document
    # that fails
    clock(NOW)
    habit = await create_habit(alice, goalId=(await create_goal(alice, title="Row"))["id"])
    before = await alice.op("Dashboard", {"range": WEEK})

    def broken(*_: object) -> tuple[str, tuple[str, ...]]:
        return "query Dashboard { goals { nope } }", ()

    monkeypatch.setattr(http_module, "document_of", broken)
    await check_in(alice, habit["id"], "2026-03-18")
    # when
    answer = await alice.op("Dashboard", {"range": WEEK})
    # then: the whole query's answer, with the check-in
    assert not answer.errors
    assert answer.data["goals"]["edges"][0]["node"]["habits"][0]["streak"]["current"] == 1
    assert answer.data["events"] == before.data["events"]
    assert list(answer.data) == ["me", "goals", "events"]


async def test_a_part_with_an_error_is_answered_as_the_whole_query_would_be(
    alice: Client,
) -> None:
    # given: two root fields, one of which fails
    query = '{ me { id } node(id: "not an id") { id } }'
    # when: asked twice (the second time, a stored answer would be found if there were one)
    first = await alice.execute(query)
    second = await alice.execute(query)
    # then: the error, located at its root field, and the other field's data
    for answer in (first, second):
        assert answer.codes == ["BAD_USER_INPUT"]
        assert answer.errors[0]["path"] == ["node"]
        assert answer.body["data"]["me"]["id"]
        assert answer.body["data"]["node"] is None
        assert answer.headers["cache-control"] == "no-store"


# What a client may put in one query: several root fields, one of them aliased, sharing
# a fragment and a variable, each of which a different write retires.
OVERVIEW = """query Overview($range: TimeRangeInput!) {
  me { id displayName timezone }
  active: habits(active: true) { edges { node { ...H } } }
  calendars { id name }
  events(range: $range, first: 50) {
    totalCount
    edges { node { id title start end calendar { name } habit { ...H } } }
  }
  goals(status: ACTIVE) { totalCount edges { node { title progress habits { ...H } } } }
}
fragment H on Habit { id name streak { current longest } }
"""


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=st.lists(ACTIONS, min_size=3, max_size=10), days=st.lists(st.integers(0, 2)))
async def test_an_answer_made_by_parts_always_equals_the_uncached_one(
    http: httpx.AsyncClient,
    uncached: httpx.AsyncClient,
    settings: Settings,
    clock: Any,
    actions: list[tuple[Any, ...]],
    days: list[int],
) -> None:
    # given: a fresh user on both servers
    clock(NOW)
    token = mint_dev_token(settings, f"parts-{uuid.uuid4().hex[:10]}")
    twin = Twin(Client(http=http, token=token), Client(http=uncached, token=token))
    variables = {"range": WEEK}
    # when / then: after every write (and now and then a later day), the query answered
    # by parts, twice, is the uncached server's answer
    for n, action in enumerate(actions):
        await apply(twin, action)
        if n < len(days):
            clock(NOW + timedelta(days=days[n]))
        for _ in range(2):
            got = await twin.cached.execute(OVERVIEW, variables)
            want = await twin.uncached.execute(OVERVIEW, variables)
            assert got.body == want.body, differences(got.body, want.body)

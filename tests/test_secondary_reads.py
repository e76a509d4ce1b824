"""MONGO_SECONDARY_READS: queries read goals and habits with secondaryPreferred; mutations don't."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ReadPreference
from pymongo.asynchronous.collection import AsyncCollection

from graphql_api.state import AppState
from tests.conftest import Client
from tests.test_dataloaders import mongo_commands

LIST = "query Goals { goals(first: 50) { totalCount edges { node { title } } } }"
CREATE = "mutation C($t: String!) { createGoal(input: {title: $t}) { id title } }"


@pytest.fixture
def finds(no_cache: None) -> Iterator[list[str]]:
    """The read preference of every read of goals and habits, in order: their finds, and
    the aggregates that read them along with other collections (loaders.reads)."""
    seen: list[str] = []
    find, aggregate = AsyncCollection.find, AsyncCollection.aggregate

    def spy(self: AsyncCollection[Any], *args: Any, **kwargs: Any) -> Any:
        if self.name in {"goals", "habits"}:
            seen.append(self.read_preference.mongos_mode)
        return find(self, *args, **kwargs)

    def spy_aggregate(self: AsyncCollection[Any], pipeline: Any, *args: Any, **kwargs: Any) -> Any:
        names = {self.name} | {s["$unionWith"]["coll"] for s in pipeline if "$unionWith" in s}
        if names & {"goals", "habits"}:
            seen.append(self.read_preference.mongos_mode)
        return aggregate(self, pipeline, *args, **kwargs)

    AsyncCollection.find = spy  # type: ignore[method-assign]
    AsyncCollection.aggregate = spy_aggregate  # type: ignore[method-assign]
    yield seen
    AsyncCollection.find = find  # type: ignore[method-assign]
    AsyncCollection.aggregate = aggregate  # type: ignore[method-assign]


@pytest.fixture
def secondary_reads(app_state: AppState, finds: list[str]) -> Iterator[list[str]]:
    settings = app_state.settings
    app_state.settings = settings.model_copy(update={"mongo_secondary_reads": True})
    yield finds
    app_state.settings = settings


async def test_queries_read_goals_from_secondaries_and_mutations_from_the_primary(
    alice: Client, secondary_reads: list[str]
) -> None:
    # when: a mutation (which reads the user's goals to check for duplicates and limits)
    created = await alice.execute(CREATE, {"t": "Swim"})
    after_mutation = list(secondary_reads)
    # and a query
    listed = await alice.execute(LIST)
    # then: the data is the same as ever
    assert created.data["createGoal"]["title"] == "Swim"
    assert listed.data["goals"]["totalCount"] == 1
    assert listed.data["goals"]["edges"][0]["node"]["title"] == "Swim"
    # and only the query's reads went to secondaries
    assert "secondaryPreferred" not in after_mutation
    assert secondary_reads[len(after_mutation) :] == [
        ReadPreference.SECONDARY_PREFERRED.mongos_mode
    ]


async def test_without_the_setting_everything_reads_the_primary(
    alice: Client, finds: list[str]
) -> None:
    await alice.execute(CREATE, {"t": "Row"})
    listed = await alice.execute(LIST)
    assert listed.data["goals"]["totalCount"] == 1
    assert finds
    assert set(finds) == {ReadPreference.PRIMARY.mongos_mode}


async def test_an_answer_read_from_a_secondary_is_kept_only_briefly(
    alice: Client,
    app_state: AppState,
    clock: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: secondary reads on, the caches on, and a goal
    settings = app_state.settings
    app_state.settings = settings.model_copy(update={"mongo_secondary_reads": True})
    caplog.set_level(logging.INFO, logger="graphql_api.access")
    try:
        now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        clock(now)
        await alice.execute(CREATE, {"t": "Climb"})
        # when: the same query now, a moment later, and past the secondary's allowance
        for moment in (now, now + timedelta(seconds=1), now + timedelta(seconds=6)):
            clock(moment)
            assert (await alice.execute(LIST)).data["goals"]["totalCount"] == 1
    finally:
        app_state.settings = settings
    # then: only the second was answered whole from the cache
    served: list[Any] = [r for r in caplog.records if r.name == "graphql_api.access"]
    assert [bool(r.cached) for r in served[-3:]] == [False, True, False]


async def test_a_new_goal_is_not_carried_into_a_goal_list_read_from_secondaries(
    alice: Client, app_state: AppState, clock: Any
) -> None:
    # given: secondary reads on, the caches on, and the goals listed (as a secondary
    # had them: kept briefly)
    settings = app_state.settings
    app_state.settings = settings.model_copy(update={"mongo_secondary_reads": True})
    try:
        clock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
        await alice.execute(CREATE, {"t": "Climb"})
        await alice.execute(LIST)
        # when: a goal is created, and the goals listed again
        await alice.execute(CREATE, {"t": "Dive"})
        before = mongo_commands()
        listed = await alice.execute(LIST)
    finally:
        app_state.settings = settings
    # then: the list is read again (a list a secondary gave is never kept longer by
    # a carry), and shows both goals
    assert mongo_commands() - before >= 1
    titles = {e["node"]["title"] for e in listed.data["goals"]["edges"]}
    assert titles == {"Climb", "Dive"}

"""A request's Mongo reads asked for together go as one command, and each still gets
exactly what its own find would have (loaders.reads)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient, ReadPreference, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from graphql_api.observability.metrics import MongoCommandMetrics
from loaders.base import naive_times
from loaders.reads import Reads, find
from models import Calendar, Event
from models.base import matching, ref
from tests.conftest import Client
from tests.test_dataloaders import RANGE, dashboard_commands, mongo_commands

COLLECTIONS = ("goals", "habits", "events")
USERS = ("ann", "bo")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[tuple[AsyncDatabase[Any], Commands]]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[commands]
    )
    name = f"reads_{uuid.uuid4().hex[:8]}"
    database = client[name]
    for i, collection in enumerate(COLLECTIONS):
        await database[collection].create_index("userId")
        await database[collection].insert_many(
            [
                {"userId": user, "n": n, "kind": collection, "at": T0 + timedelta(days=n)}
                for user in USERS
                for n in range(3 + i)
            ]
        )
    commands.names.clear()
    yield database, commands
    await client.drop_database(name)
    await client.close()


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: str(row["_id"]))


Query = tuple[str, dict[str, Any]]
N = st.integers(0, 5)
# The shapes callers send: by the user, by references (`$in` of strings), as `matching`
# writes them or bare.
filters = st.fixed_dictionaries(
    {"userId": st.sampled_from([*USERS, "nobody"])},
    optional={
        "n": st.one_of(N, st.fixed_dictionaries({"$gte": N})),
        "kind": st.fixed_dictionaries({"$in": st.lists(st.sampled_from(COLLECTIONS))}),
    },
)
queries = st.tuples(st.sampled_from(COLLECTIONS), st.one_of(filters, filters.map(matching)))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(asked=st.lists(queries, min_size=1, max_size=6))
async def test_reads_asked_for_together_are_what_each_find_reads(
    db: tuple[AsyncDatabase[Any], Commands], asked: list[Query]
) -> None:
    database, commands = db
    expected = [by_id(await find(database[name], query)) for name, query in asked]
    commands.names.clear()
    # when: the reads are asked for in one turn of the event loop
    reads = Reads()
    found = await asyncio.gather(*(reads.rows(database[name], query) for name, query in asked))
    # then: each its own rows, in one command
    assert [by_id(rows) for rows in found] == expected
    assert commands.names == (["find"] if len(asked) == 1 else ["aggregate"])


async def test_reads_a_turn_apart_go_together_but_not_later_ones(
    db: tuple[AsyncDatabase[Any], Commands],
) -> None:
    database, commands = db
    reads = Reads()

    async def a_turn_later() -> list[Any]:
        await asyncio.sleep(0)
        return await reads.rows(database["habits"], {"userId": "bo"})

    async def once_those_are_read() -> list[Any]:
        await reads.rows(database["events"], {"userId": "ann"})
        return await reads.rows(database["goals"], {"userId": "bo"})

    # when
    goals, habits, later = await asyncio.gather(
        reads.rows(database["goals"], {"userId": "ann"}), a_turn_later(), once_those_are_read()
    )
    # then: the first three in one command; the one asked for after their answer in another
    assert commands.names == ["aggregate", "find"]
    assert {(r["userId"], r["kind"]) for r in goals + habits + later} == {
        ("ann", "goals"),
        ("bo", "habits"),
        ("bo", "goals"),
    }


async def test_a_failing_read_fails_alone(db: tuple[AsyncDatabase[Any], Commands]) -> None:
    database, _ = db
    reads = Reads()
    # when: a read the server refuses, beside two it answers
    found = await asyncio.gather(
        reads.rows(database["goals"], {"userId": "ann"}),
        reads.rows(database["habits"], {"userId": {"$nosuchoperator": 1}}),
        reads.rows(database["events"], {"userId": "bo"}),
        return_exceptions=True,
    )
    # then: the refused one gets the server's error, the others their rows
    assert isinstance(found[1], OperationFailure)
    assert [len(rows) for rows in (found[0], found[2])] == [3, 5]  # type: ignore[arg-type]


async def test_collections_read_differently_are_read_apart(
    db: tuple[AsyncDatabase[Any], Commands],
) -> None:
    database, commands = db
    reads = Reads()
    # when: one collection read with time zones, the other without
    zoned, naive = await asyncio.gather(
        reads.rows(database["goals"], {"userId": "ann"}),
        reads.rows(naive_times(database["habits"]), {"userId": "ann"}),
    )
    # then: each as its collection reads it, in a command of its own
    assert commands.names == ["find", "find"]
    assert all(row["at"].tzinfo is not None for row in zoned)
    assert all(row["at"].tzinfo is None for row in naive)


async def test_a_reader_that_gives_up_leaves_the_others_their_rows(
    db: tuple[AsyncDatabase[Any], Commands],
) -> None:
    database, _ = db
    reads = Reads()
    # when: one of two reads asked for together is cancelled before the answer
    gone = asyncio.ensure_future(reads.rows(database["goals"], {"userId": "ann"}))
    kept = asyncio.ensure_future(reads.rows(database["events"], {"userId": "ann"}))
    await asyncio.sleep(0)
    gone.cancel()
    # then
    assert len(await kept) == 5
    assert gone.cancelled()


@pytest.mark.usefixtures("no_cache")
async def test_a_dashboard_read_from_mongo_sends_its_lists_together(alice: Client) -> None:
    # given: a Dashboard with nothing cached, in (at most) four commands: the user, then
    # the goals, habits and calendars together, the week's events, and the check-ins and
    # progress together (seven finds one at a time)
    assert await dashboard_commands(alice, 5) <= 4
    # when: the next one, which knows the lists the last one read
    before = mongo_commands()
    shown = await alice.op("Dashboard", {"range": RANGE, "goalsFirst": 200})
    # then: the user and the lists in one command, the events, the check-ins and progress
    assert mongo_commands() - before == 3
    streaks = [h["streak"] for e in shown.data["goals"]["edges"] for h in e["node"]["habits"]]
    assert len(streaks) == 15
    assert all(s["longest"] == 30 for s in streaks)


@pytest.mark.usefixtures("no_cache")
async def test_dashboards_at_once_each_read_the_user_with_the_lists(alice: Client) -> None:
    # given: a Dashboard run once
    await dashboard_commands(alice, 5)
    # when: eight at once (each starts before the others have read their lists)
    before = mongo_commands()
    variables = {"range": RANGE, "goalsFirst": 200}
    shown = await asyncio.gather(*(alice.op("Dashboard", variables) for _ in range(8)))
    # then: each in three commands, the same answer
    assert mongo_commands() - before == 8 * 3
    assert all(s.data == shown[0].data for s in shown)


@pytest.mark.usefixtures("no_cache")
async def test_a_first_request_reads_its_lists_with_its_user_and_sees_only_its_own(
    alice: Client, bob: Client
) -> None:
    # given: alice's Dashboards taught the server which lists a Dashboard reads
    await dashboard_commands(alice, 5)
    await alice.op("Dashboard", {"range": RANGE, "goalsFirst": 200})
    # when: bob, never seen before, asks for his (his user is made as it is read)
    shown = await bob.op("Dashboard", {"range": RANGE, "goalsFirst": 200})
    me = await bob.op("Me")
    # then: his own lists, empty, and his own profile
    assert shown.data["goals"]["edges"] == []
    assert shown.data["events"]["totalCount"] == 0
    assert me.data["me"]["email"] == "bob@example.com"


def test_a_collection_read_without_zones_keeps_its_other_options() -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(connect=False, tz_aware=True, tzinfo=UTC)
    primary = client["db"]["goals"]
    secondary = primary.with_options(read_preference=ReadPreference.SECONDARY_PREFERRED)
    # when: each is read without time zones (made once per collection)
    naive, naive_secondary = naive_times(primary), naive_times(secondary)
    # then: the two differ only where they did, though they compare equal
    assert naive_times(primary) is naive
    assert not naive.codec_options.tz_aware
    assert not naive_secondary.codec_options.tz_aware
    assert naive.read_preference == ReadPreference.PRIMARY
    assert naive_secondary.read_preference == ReadPreference.SECONDARY_PREFERRED


@pytest.mark.usefixtures("no_cache")
async def test_the_exceptions_of_series_on_two_calendars_are_read_in_one_command(
    alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: alice's Dashboard, and on each of her two calendars a daily series through
    # the month with its instance of March 10 cancelled
    await dashboard_commands(alice, 5)
    nine = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for calendar in await Calendar.find({"userId": alice.sub}).to_list():
        series = Event(
            user_id=alice.sub,
            calendar_id=ref(calendar),
            title="stand-up",
            start_time=nine,
            end_time=nine + timedelta(days=30, minutes=15),
            recurrence=["RRULE:FREQ=DAILY;COUNT=31"],
            timezone="UTC",
            duration_s=900,
        )
        cancelled = Event(
            user_id=alice.sub,
            calendar_id=ref(calendar),
            title="stand-up",
            start_time=nine + timedelta(days=9),
            end_time=nine + timedelta(days=9, minutes=15),
            status="CANCELLED",
            recurring_event_id=ref(series),
            external_id=str(series.id),
            instance="20260310T090000Z",
        )
        await Event.insert_many([series, cancelled])
    # when
    sent: list[str] = []
    started = MongoCommandMetrics.started

    def seen(self: MongoCommandMetrics, event: monitoring.CommandStartedEvent) -> None:
        sent.append(repr(event.command))
        started(self, event)

    monkeypatch.setattr(MongoCommandMetrics, "started", seen)
    shown = await alice.op("Dashboard", {"range": RANGE, "goalsFirst": 200})
    # then: the user and lists, the events, the check-ins and progress, and both
    # calendars' exceptions together: in a command of their own, or in the check-ins'
    # when they are asked for as those are (either, as the reads' timing goes)
    exceptions = [c for c in sent if "'instance': {'$ne': ''}" in c]
    assert len(exceptions) == 1
    assert exceptions[0].count("'instance': {'$ne': ''}") == 2
    assert len(sent) in (3, 4)
    titles = [e["node"]["title"] for e in shown.data["events"]["edges"]]
    assert titles.count("stand-up") == 60  # 31 days on each, one cancelled on each

"""The cache never changes an answer: random edits, every read compared with an uncached server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from graphql_api.cache import codecs
from graphql_api.cache.request import RequestCache
from graphql_api.events import mutations as event_mutations
from graphql_api.relay import decode_global_id
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.state import AppState
from loaders.base import find_rows, naive_times
from models import Event as EventDoc
from models import Goal
from tests.conftest import Client
from tests.helpers import check_in, connect_local, create_event, create_goal, create_habit
from tests.test_dataloaders import mongo_commands

NOW = datetime(2026, 3, 18, 15, tzinfo=UTC)
WEEK = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-23T00:00:00Z"}
READS: list[tuple[str, dict[str, Any]]] = [
    ("Dashboard", {"range": WEEK}),
    ("Goals", {"orderBy": "TARGET_DATE"}),
    ("Goals", {"status": "ACTIVE", "first": 2}),
    ("Habits", {}),
    ("Calendars", {}),
    ("Events", {"range": {"start": "2026-03-17T00:00:00+01:00", "end": "2026-03-19T12:00:00Z"}}),
    ("Me", {}),
]


class Twin:
    """One user, seen through the cached and the uncached server."""

    def __init__(self, cached: Client, uncached: Client) -> None:
        self.cached = cached
        self.uncached = uncached
        self.goals: list[str] = []
        self.habits: list[str] = []
        self.calendars: list[str] = []
        self.events: list[str] = []

    @classmethod
    def of_new_user(
        cls, http: httpx.AsyncClient, uncached: httpx.AsyncClient, settings: Settings, name: str
    ) -> Twin:
        """A user of their own (`name` and a random suffix), on both servers."""
        token = mint_dev_token(settings, f"{name}-{uuid.uuid4().hex[:10]}")
        return cls(Client(http=http, token=token), Client(http=uncached, token=token))

    async def assert_same_answers(self) -> None:
        reads = [
            *READS,
            *(
                ("GoalDetail", {"id": g, "from": "2026-03-01", "to": "2026-03-31"})
                for g in self.goals
            ),
        ]
        for name, variables in reads:
            # cached twice (the second one is served warm), uncached once
            first = await self.cached.op(name, variables)
            warm = await self.cached.op(name, variables)
            truth = await self.uncached.op(name, variables)
            assert first.body == truth.body, (name, variables, differences(first.body, truth.body))
            assert warm.body == truth.body, (name, variables, differences(warm.body, truth.body))


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where two JSON answers differ, as readable paths."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [
            d
            for k in sorted(got.keys() | want.keys())
            for d in differences(got.get(k), want.get(k), f"{path}.{k}")
        ]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]")
        ]
    return [] if got == want else [f"{path}: cached {got!r} != uncached {want!r}"]


def pick(items: list[str], index: int) -> str | None:
    return items[index % len(items)] if items else None


async def apply(twin: Twin, action: tuple[Any, ...]) -> None:  # noqa: PLR0912 - a branch per write
    """One write through the cached server, as a client would make it."""
    kind, a, b = action
    c = twin.cached
    if kind == "goal":
        target = {"value": 10, "unit": "km"} if a % 2 else None
        twin.goals.append(
            (
                await create_goal(
                    c, title=f"g{a}", targetDate=f"2026-04-{1 + a % 28:02d}", target=target
                )
            )["id"]
        )
    elif kind == "update goal" and (goal := pick(twin.goals, a)):
        status = ["ACTIVE", "PAUSED", "COMPLETED"][b % 3]
        await c.op(
            "UpdateGoal", {"id": goal, "input": {"status": status, "priority": f"P{1 + b % 4}"}}
        )
    elif kind == "delete goal" and (goal := pick(twin.goals, a)):
        await c.op("DeleteGoal", {"id": goal})
        twin.goals.remove(goal)
    elif kind == "progress" and (goal := pick(twin.goals, a)):
        await c.op("LogGoalProgress", {"goalId": goal, "value": b % 7})
    elif kind == "habit":
        fields: dict[str, Any] = {"frequency": {"times": 1 + b % 3, "per": "WEEK"}}
        if goal := pick(twin.goals, a):
            fields["goalId"] = goal
        twin.habits.append((await create_habit(c, **fields))["id"])
    elif kind == "update habit" and (habit := pick(twin.habits, a)):
        changes: dict[str, Any] = {"isActive": bool(b % 2)}
        if goal := pick(twin.goals, b):
            changes["goalId"] = goal
        await c.op("UpdateHabit", {"id": habit, "input": changes})
    elif kind == "delete habit" and (habit := pick(twin.habits, a)):
        await c.op("DeleteHabit", {"id": habit})
        twin.habits.remove(habit)
    elif kind == "check in" and (habit := pick(twin.habits, a)):
        await check_in(c, habit, f"2026-03-{18 - b % 10:02d}", ["DONE", "SKIPPED", "MISSED"][b % 3])
    elif kind == "clear check in" and (habit := pick(twin.habits, a)):
        await c.execute(
            "mutation($h: ID!, $d: Date!) { clearCheckIn(habitId: $h, date: $d) }",
            {"h": habit, "d": f"2026-03-{18 - b % 10:02d}"},
        )
    elif kind == "calendar":
        twin.calendars.append((await connect_local(c, name=f"c{a}"))["id"])
    elif kind == "event" and (calendar := pick(twin.calendars, a)):
        start = f"2026-03-{16 + b % 6:02d}T{8 + a % 10:02d}:00:00Z"
        end = f"2026-03-{16 + b % 6:02d}T{9 + a % 10:02d}:30:00Z"
        twin.events.append((await create_event(c, calendar, start, end, title=f"e{a}"))["id"])
    elif kind == "long event" and (calendar := pick(twin.calendars, a)):
        # over UTC midnights: kept on every day it covers
        start = f"2026-03-{15 + b % 6:02d}T22:00:00Z"
        end = f"2026-03-{17 + b % 6 + a % 2:02d}T01:30:00Z"
        twin.events.append((await create_event(c, calendar, start, end, title=f"l{a}"))["id"])
    elif kind == "stretch event" and (event := pick(twin.events, a)):
        # its end moved days on (or its status changed): the days before and after
        change: dict[str, Any] = (
            {"end": f"2026-03-{19 + b % 3:02d}T07:00:00Z"}
            if b % 3
            else {"status": ["CANCELLED", "CONFIRMED"][a % 2]}
        )
        await c.execute(
            "mutation($id: ID!, $i: UpdateEventInput!) { updateEvent(id: $id, input: $i) { id } }",
            {"id": event, "i": change},
        )
    elif kind == "move event" and (event := pick(twin.events, a)):
        moved = {
            "start": f"2026-03-{17 + b % 5:02d}T10:00:00Z",
            "end": f"2026-03-{17 + b % 5:02d}T11:00:00Z",
        }
        await c.execute(
            "mutation($id: ID!, $i: UpdateEventInput!) { updateEvent(id: $id, input: $i) { id } }",
            {"id": event, "i": moved},
        )
    elif kind == "delete event" and (event := pick(twin.events, a)):
        await c.execute("mutation($id: ID!) { deleteEvent(id: $id) }", {"id": event})
        twin.events.remove(event)
    elif kind == "time zone":
        zone = ["Europe/Berlin", "Pacific/Auckland", "America/Los_Angeles", "UTC"][a % 4]
        await c.op("UpdateProfile", {"input": {"timezone": zone}})


ACTIONS = st.tuples(
    st.sampled_from(
        [
            "goal",
            "update goal",
            "delete goal",
            "progress",
            "habit",
            "update habit",
            "delete habit",
            "check in",
            "clear check in",
            "calendar",
            "event",
            "long event",
            "stretch event",
            "move event",
            "delete event",
            "time zone",
        ]
    ),
    st.integers(0, 50),
    st.integers(0, 50),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=st.lists(ACTIONS, min_size=4, max_size=12))
async def test_random_edits_never_make_the_cache_disagree(
    http: httpx.AsyncClient,
    uncached: httpx.AsyncClient,
    settings: Settings,
    clock: Any,
    actions: list[tuple[Any, ...]],
) -> None:
    # given: a fresh user on both servers
    clock(NOW)
    twin = Twin.of_new_user(http, uncached, settings, "twin")
    await twin.assert_same_answers()
    # when / then: after every write, every read agrees, cold and warm
    for action in actions:
        await apply(twin, action)
        await twin.assert_same_answers()


async def test_check_ins_of_one_habit_at_once_leave_the_cache_agreeing_with_mongo(
    http: httpx.AsyncClient, uncached: httpx.AsyncClient, settings: Settings, clock: Any
) -> None:
    # given: a habit whose history is cached (its streak shown), so that each check-in
    # may carry it over its write
    clock(NOW)
    twin = Twin.of_new_user(http, uncached, settings, "race")
    habit = (await create_habit(twin.cached))["id"]
    await twin.cached.op("Habits")
    statuses = ["DONE", "MISSED", "SKIPPED"]
    for round_ in range(8):
        # when: check-ins sent together, some of them of the same day with other statuses
        days = [18 - round_ % 4, 18 - round_ % 4, 17 - round_ % 3, 15]
        await asyncio.gather(
            *(
                check_in(twin.cached, habit, f"2026-03-{day:02d}", statuses[(round_ + i) % 3])
                for i, day in enumerate(days)
            ),
            twin.cached.op("Habits"),
        )
        # then: what the cache shows is what Mongo holds, whichever write landed last
        await twin.assert_same_answers()


@contextlib.contextmanager
def decoding() -> Iterator[list[tuple[Any, ...]]]:
    """The documents decoded meanwhile in this process (`codecs._document`: each looked
    up by its JSON among those kept, or built)."""
    calls: list[tuple[Any, ...]] = []
    document = codecs._document

    def counted(*args: Any) -> Any:
        calls.append(args)
        return document(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codecs, "_document", counted)
        yield calls


async def test_a_new_event_is_carried_into_the_cached_week_it_falls_in(
    alice: Client, uncached: httpx.AsyncClient, clock: Any
) -> None:
    # given: a week of a calendar shown, on the Dashboard and a page of events
    clock(NOW)
    calendar = (await connect_local(alice))["id"]
    await create_event(alice, calendar, "2026-03-17T09:00:00Z", "2026-03-17T10:00:00Z", title="a")
    await alice.op("Dashboard", {"range": WEEK})
    await alice.op("Events", {"range": WEEK})
    # when: an event is added to the week, and the week is shown again
    await create_event(alice, calendar, "2026-03-19T08:00:00Z", "2026-03-19T08:30:00Z", title="b")
    before = mongo_commands()
    with decoding() as decoded:
        page = await alice.op("Events", {"range": WEEK})
        dashboard = await alice.op("Dashboard", {"range": WEEK})
    # then: neither reads the week from Mongo again, nor decodes its JSON (the write
    # kept the week it carried decoded), and both show it with the new event, as a
    # server without the cache does
    assert mongo_commands() - before == 0
    assert decoded == []
    assert [e["node"]["title"] for e in page.data["events"]["edges"]] == ["a", "b"]
    truth = Client(http=uncached, token=alice.token)
    assert page.body == (await truth.op("Events", {"range": WEEK})).body
    assert dashboard.body == (await truth.op("Dashboard", {"range": WEEK})).body


async def test_events_added_to_one_week_at_once_leave_the_cache_agreeing_with_mongo(
    http: httpx.AsyncClient, uncached: httpx.AsyncClient, settings: Settings, clock: Any
) -> None:
    # given: a calendar whose week is cached, so that each new event may carry it over
    # its write
    clock(NOW)
    twin = Twin.of_new_user(http, uncached, settings, "race")
    calendar = (await connect_local(twin.cached))["id"]
    twin.calendars.append(calendar)
    for round_ in range(6):
        await twin.cached.op("Events", {"range": WEEK})
        # when: events of that week created together (one over the week's end), with a
        # page of it read meanwhile
        starts = [f"2026-03-{16 + i:02d}T{8 + round_:02d}:00:00Z" for i in range(3)]
        await asyncio.gather(
            *(
                create_event(twin.cached, calendar, s, s.replace(":00:00Z", ":45:00Z"))
                for s in starts
            ),
            create_event(twin.cached, calendar, "2026-03-22T23:00:00Z", "2026-03-23T01:00:00Z"),
            twin.cached.op("Events", {"range": WEEK}),
        )
        # then: what the cache shows is what Mongo holds
        await twin.assert_same_answers()
        page = await twin.cached.op("Events", {"range": WEEK})
        assert len(page.data["events"]["edges"]) == 4 * (round_ + 1)


async def test_a_new_goal_is_carried_into_the_cached_goal_list(
    alice: Client, uncached: httpx.AsyncClient, app_state: AppState, clock: Any
) -> None:
    # given: the Dashboard shown before any goal (the user's empty goal list cached)
    truth = Client(http=uncached, token=alice.token)
    await alice.op("Dashboard", {"range": WEEK})
    made: list[dict[str, Any]] = [
        {"title": "Run", "targetDate": "2026-04-01"},
        {"title": "Read", "target": {"value": 12, "unit": "books"}},
        {"title": "Swim", "priority": "P1", "targetDate": "2026-05-02"},
    ]
    for i, fields in enumerate(made):
        # when: a goal is created (at a time with microseconds, which Mongo keeps to the
        # millisecond), and the Dashboard is shown again
        clock(NOW + timedelta(minutes=i, microseconds=123_456))
        await create_goal(alice, **fields)
        before = mongo_commands()
        with decoding() as decoded:
            dashboard = await alice.op("Dashboard", {"range": WEEK})
        # then: the Dashboard reads no goal from Mongo, nor decodes the list's JSON
        # (kept decoded by the write), and shows the new goal, as a server without the
        # cache does
        assert mongo_commands() - before == 0
        assert decoded == []
        assert dashboard.body == (await truth.op("Dashboard", {"range": WEEK})).body
    titles = [e["node"]["title"] for e in dashboard.data["goals"]["edges"]]
    assert titles == ["Swim", "Run", "Read"]
    # and the list the cache holds is, byte for byte, the one a query of Mongo makes
    cache = RequestCache(app_state.cache, alice.sub)
    key = cache.key("goals", await cache.tokens(["goals"]) or [])
    kept = (await app_state.cache.get_many([key]))[key]
    rows = await find_rows(naive_times(Goal.get_pymongo_collection()), {"userId": alice.sub})
    assert [g["title"] for g in rows] == ["Run", "Read", "Swim"]
    assert kept == codecs.stored(rows)


async def test_goals_created_at_once_leave_the_cache_agreeing_with_mongo(
    http: httpx.AsyncClient, uncached: httpx.AsyncClient, settings: Settings, clock: Any
) -> None:
    # given: a user whose goal list is cached, so that each new goal may carry it over
    # its write
    clock(NOW)
    twin = Twin.of_new_user(http, uncached, settings, "race")
    for round_ in range(6):
        await twin.cached.op("Dashboard", {"range": WEEK})
        # when: goals created together, with the Dashboard and the goal list read meanwhile
        made, *_ = await asyncio.gather(
            asyncio.gather(*(create_goal(twin.cached, title=f"g{round_}-{i}") for i in range(3))),
            twin.cached.op("Dashboard", {"range": WEEK}),
            twin.cached.op("Goals", {}),
        )
        twin.goals += [goal["id"] for goal in made]
        # then: what the cache shows is what Mongo holds
        await twin.assert_same_answers()
        goals = await twin.cached.op("Goals", {"first": 50})
        assert goals.data["goals"]["totalCount"] == 3 * (round_ + 1)


async def test_lists_read_from_mongo_are_read_again_without_decoding_them(
    alice: Client, clock: Any
) -> None:
    # given: a user's goals, habits and calendar, written before any was read
    clock(NOW)
    calendar = await connect_local(alice)
    goal = await create_goal(alice, title="Fit")
    await create_habit(alice, goalId=goal["id"])
    await create_goal(alice, title="Read")
    # when: a query reads the lists from Mongo (and caches them), and other queries read
    # them again from the cache
    await alice.op("Dashboard", {"range": WEEK})
    with decoding() as decoded:
        goals = await alice.op("Goals", {"first": 10})
        habits = await alice.op("Habits", {})
        calendars = await alice.op("Calendars", {})
    # then: they find the documents the first read built, decoding none of them again
    assert decoded == []
    assert sorted(e["node"]["title"] for e in goals.data["goals"]["edges"]) == ["Fit", "Read"]
    assert habits.data["habits"]["totalCount"] == 1
    assert calendar["id"] in [c["id"] for c in calendars.data["calendars"]]


async def test_a_warm_dashboard_needs_no_mongo_command(alice: Client, clock: Any) -> None:
    # given
    clock(NOW)
    calendar = await connect_local(alice)
    goal = await create_goal(alice, title="Fit")
    habit = await create_habit(alice, goalId=goal["id"])
    await check_in(alice, habit["id"], "2026-03-18")
    await create_event(alice, calendar["id"], "2026-03-18T09:00:00Z", "2026-03-18T10:00:00Z")
    cold = await alice.op("Dashboard", {"range": WEEK})
    # when
    before = mongo_commands()
    warm = await alice.op("Dashboard", {"range": WEEK})
    # then
    assert mongo_commands() - before == 0
    assert warm.body == cold.body
    # and a check-in makes the next read fresh again
    await check_in(alice, habit["id"], "2026-03-17")
    after = (await alice.op("Dashboard", {"range": WEEK})).data
    streak = after["goals"]["edges"][0]["node"]["habits"][0]["streak"]
    assert streak == {"current": 2, "longest": 2}


async def test_a_check_in_leaves_the_sum_of_its_goals_log_cached(alice: Client, clock: Any) -> None:
    # given: a goal with a target, some progress logged, and a habit of it; the
    # Dashboard shown once after a first check-in (the habit's history and the log's
    # sum both cached)
    clock(NOW)
    goal = await create_goal(alice, title="Run", target={"value": 100, "unit": "km"})
    habit = await create_habit(alice, goalId=goal["id"])
    await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 25})
    await check_in(alice, habit["id"], "2026-03-17")
    await alice.op("Dashboard", {"range": WEEK})
    await check_in(alice, habit["id"], "2026-03-18")
    # when: the Dashboard after the next check-in
    before = mongo_commands()
    shown = (await alice.op("Dashboard", {"range": WEEK})).data["goals"]["edges"][0]["node"]
    # then: its goals are made again without the database: the check-in changed the
    # habit's streak, not the goal's logged progress
    assert mongo_commands() - before == 0
    assert shown["progress"] == 0.25
    assert shown["habits"][0]["streak"] == {"current": 2, "longest": 2}
    # and logging progress is shown at once
    await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 25})
    again = (await alice.op("Dashboard", {"range": WEEK})).data["goals"]["edges"][0]["node"]
    assert again["progress"] == 0.5


async def test_cache_requests_are_counted_on_metrics(
    alice: Client, http: httpx.AsyncClient
) -> None:
    await alice.op("Me")
    await alice.op("Habits")
    await alice.op("Habits")
    text = (await http.get("/metrics")).text
    assert 'cache_requests_total{level="l1",result="hit"}' in text
    assert 'cache_requests_total{level="l2",result="miss"}' in text
    assert REGISTRY.get_sample_value("cache_requests_total", {"level": "l1", "result": "hit"})


async def test_a_repeated_query_is_answered_whole_until_something_it_showed_changes(
    alice: Client, clock: Any
) -> None:
    # given
    clock(NOW)
    goal = await create_goal(alice, title="Whole")
    habit = await create_habit(alice, goalId=goal["id"])
    first = await alice.op("Dashboard", {"range": WEEK})

    def answered_whole() -> float:
        return (
            REGISTRY.get_sample_value(
                "cache_requests_total", {"level": "response", "result": "hit"}
            )
            or 0.0
        )

    # when
    before = answered_whole()
    again = await alice.op("Dashboard", {"range": WEEK})
    # then
    assert answered_whole() == before + 1
    assert again.body == first.body
    assert again.raw == first.raw  # the very bytes: stored as JSON, sent as stored
    assert again.headers["cache-control"] == first.headers["cache-control"]
    # when: something it showed changes
    await check_in(alice, habit["id"], "2026-03-18")
    after = await alice.op("Dashboard", {"range": WEEK})
    # then: a fresh answer
    assert answered_whole() == before + 1
    assert after.data["goals"]["edges"][0]["node"]["habits"][0]["streak"]["current"] == 1
    # and the next day the same query is worked out again (streaks move with the day)
    clock(NOW + timedelta(days=1))
    await alice.op("Dashboard", {"range": WEEK})
    assert answered_whole() == before + 1


async def test_an_event_deleted_after_another_request_moved_it_goes_from_its_new_day(
    alice: Client, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an event on Tuesday, read by a delete's request before another request moves
    # it to Saturday (whose page is then read and cached)
    clock(NOW)
    cid = (await connect_local(alice))["id"]
    made = await create_event(alice, cid, "2026-03-17T09:00:00Z", "2026-03-17T10:00:00Z")
    read_before = await EventDoc.get(decode_global_id(made["id"])[1])
    await alice.execute(
        "mutation($id: ID!, $i: UpdateEventInput!) { updateEvent(id: $id, input: $i) { id } }",
        {"id": made["id"], "i": {"start": "2026-03-21T09:00:00Z", "end": "2026-03-21T10:00:00Z"}},
    )
    saturday = {"range": {"start": "2026-03-21T00:00:00Z", "end": "2026-03-22T00:00:00Z"}}
    assert len((await alice.op("Events", saturday)).data["events"]["edges"]) == 1

    async def as_read_before(ctx: Any, event_id: str) -> Any:
        return read_before

    # when: the delete goes through with what it read
    monkeypatch.setattr(event_mutations, "event_by_id", as_read_before)
    deleted = await alice.execute("mutation($id: ID!) { deleteEvent(id: $id) }", {"id": made["id"]})
    monkeypatch.undo()

    # then: Saturday's page no longer shows it
    assert deleted.data == {"deleteEvent": True}
    assert (await alice.op("Events", saturday)).data["events"]["edges"] == []


async def test_a_change_of_one_event_reads_again_every_week_it_covered_and_no_other(
    alice: Client, clock: Any
) -> None:
    # given: two weeks of a calendar read once (their days kept), then an event written
    # straight to the database in the second week, as no client can: it shows only once
    # that week is read from the database again
    clock(NOW)
    calendar = (await connect_local(alice))["id"]
    await create_event(alice, calendar, "2026-03-16T09:00:00Z", "2026-03-16T10:00:00Z", title="m")
    weeks = {"range": {"start": "2026-03-16T00:00:00Z", "end": "2026-03-30T00:00:00Z"}}

    async def titles() -> list[str]:
        page = (await alice.op("Events", weeks)).data["events"]["edges"]
        return [edge["node"]["title"] for edge in page]

    assert await titles() == ["m"]
    tuesday = datetime(2026, 3, 24, 9, tzinfo=UTC)
    await EventDoc(
        user_id=alice.sub,
        calendar_id=decode_global_id(calendar)[1],
        title="unseen",
        start_time=tuesday,
        end_time=tuesday + timedelta(hours=1),
    ).insert()
    # when: an event over a night of the first week is created through the API
    late = await create_event(
        alice, calendar, "2026-03-17T22:00:00Z", "2026-03-18T02:00:00Z", title="late"
    )
    # then: its week is read again, the second week is not
    assert await titles() == ["m", "late"]
    # when: its end moves into the second week
    await alice.execute(
        "mutation($id: ID!, $i: UpdateEventInput!) { updateEvent(id: $id, input: $i) { id } }",
        {"id": late["id"], "i": {"end": "2026-03-23T12:00:00Z"}},
    )
    # then: every week it covers now is read again, the second among them
    assert await titles() == ["m", "late", "unseen"]


async def test_the_days_of_a_week_are_kept_together_so_the_rest_of_it_needs_no_database_read(
    alice: Client, clock: Any
) -> None:
    # given: an event on Friday, and Tuesday to Wednesday of the same week read once
    clock(NOW)
    calendar = (await connect_local(alice))["id"]
    await create_event(alice, calendar, "2026-03-20T09:00:00Z", "2026-03-20T10:00:00Z", title="f")
    early = {"range": {"start": "2026-03-17T00:00:00Z", "end": "2026-03-19T00:00:00Z"}}
    assert (await alice.op("Events", early)).data["events"]["edges"] == []
    # when: the rest of the week is asked for
    before = mongo_commands()
    late = await alice.op(
        "Events", {"range": {"start": "2026-03-19T00:00:00Z", "end": "2026-03-23T00:00:00Z"}}
    )
    # then: it was kept with the days first read, and is answered without the database
    assert mongo_commands() - before == 0
    assert [e["node"]["title"] for e in late.data["events"]["edges"]] == ["f"]

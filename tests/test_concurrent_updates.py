"""Concurrent partial updates: no change the user was told succeeded is ever lost.

Each update names a few fields; updates sent at the same moment through the API
must all hold for the fields only they changed, and a field changed by several
ends with one of their values, whole.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
import models.base
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.conftest import Client
from tests.helpers import connect_local, create_event, create_goal, create_habit

TRIALS = 20


def mutation(name: str, input_type: str, fields: str) -> str:
    return (
        f"mutation($id: ID!, $input: {input_type}!) {{ {name}(id: $id, input: $input) {fields} }}"
    )


def node(type_name: str, fields: str) -> str:
    return f"query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {fields} }} }}"


GOAL = "{ id title description priority status targetDate target { value unit } }"
UPDATE_GOAL = mutation("updateGoal", "UpdateGoalInput", GOAL)
READ_GOAL = node("Goal", GOAL)
HABIT = "{ id name durationMinutes isActive frequency { times per } }"
UPDATE_HABIT = mutation("updateHabit", "UpdateHabitInput", HABIT)
READ_HABIT = node("Habit", HABIT)
EVENT = "{ id title location busy start end }"
UPDATE_EVENT = mutation("updateEvent", "UpdateEventInput", EVENT)
READ_EVENT = node("Event", EVENT)
PROFILE = "{ displayName timezone workingHours { weekday start end } }"
UPDATE_PROFILE = (
    f"mutation($input: UpdateProfileInput!) {{ updateProfile(input: $input) {PROFILE} }}"
)


@pytest.fixture(params=["asgi", "process"])
async def client(
    request: pytest.FixtureRequest, new_user: Any, settings: Settings
) -> AsyncIterator[Client]:
    """A new user, talking to the app in this process or to a real server process."""
    if request.param == "asgi":
        yield new_user()
        return
    url: str = request.getfixturevalue("live_server")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        sub = f"user-{uuid.uuid4().hex[:12]}"
        yield Client(http=http, token=mint_dev_token(settings, sub), sub=sub)


async def all_at_once(client: Client, query: str, inputs: list[dict[str, Any]]) -> list[Any]:
    """Sends one mutation per input at the same moment; every one must succeed."""
    answers = await asyncio.gather(*(client.execute(query, i) for i in inputs))
    return [a.data for a in answers]


async def read(client: Client, query: str, id_: str) -> dict[str, Any]:
    node: dict[str, Any] = (await client.execute(query, {"id": id_})).data["node"]
    return node


async def test_concurrent_goal_updates_of_different_fields_all_hold(client: Client) -> None:
    for trial in range(TRIALS):
        # given
        goal = await create_goal(client, title="Old", description="old", priority="P4")
        # when
        await all_at_once(
            client,
            UPDATE_GOAL,
            [
                {"id": goal["id"], "input": {"title": f"Title {trial}"}},
                {"id": goal["id"], "input": {"description": f"Description {trial}"}},
                {"id": goal["id"], "input": {"priority": "P1"}},
                {"id": goal["id"], "input": {"status": "PAUSED"}},
            ],
        )
        # then
        stored = await read(client, READ_GOAL, goal["id"])
        assert stored == {
            **stored,
            "title": f"Title {trial}",
            "description": f"Description {trial}",
            "priority": "P1",
            "status": "PAUSED",
        }, f"trial {trial}"


async def test_concurrent_habit_updates_of_different_fields_all_hold(client: Client) -> None:
    for trial in range(TRIALS):
        # given
        habit = await create_habit(client, name="Old", durationMinutes=30)
        # when
        await all_at_once(
            client,
            UPDATE_HABIT,
            [
                {"id": habit["id"], "input": {"name": f"Name {trial}"}},
                {"id": habit["id"], "input": {"durationMinutes": 45 + trial}},
                {"id": habit["id"], "input": {"isActive": False}},
            ],
        )
        # then
        stored = await read(client, READ_HABIT, habit["id"])
        assert (stored["name"], stored["durationMinutes"], stored["isActive"]) == (
            f"Name {trial}",
            45 + trial,
            False,
        ), f"trial {trial}"


async def test_concurrent_moves_of_an_events_start_and_end_both_hold(alice: Client) -> None:
    # given
    calendar = await connect_local(alice)
    for trial in range(TRIALS // 2):
        event = await create_event(
            alice, calendar["id"], "2026-05-04T10:00:00Z", "2026-05-04T11:00:00Z", title="Old"
        )
        # when: one client moves the start, another the end, others the details
        await all_at_once(
            alice,
            UPDATE_EVENT,
            [
                {"id": event["id"], "input": {"start": "2026-05-04T09:00:00Z"}},
                {"id": event["id"], "input": {"end": "2026-05-04T12:30:00Z"}},
                {"id": event["id"], "input": {"title": "New"}},
                {"id": event["id"], "input": {"location": "Room 1", "busy": False}},
            ],
        )
        # then
        stored = await read(alice, READ_EVENT, event["id"])
        assert stored == {
            "id": event["id"],
            "title": "New",
            "location": "Room 1",
            "busy": False,
            "start": "2026-05-04T09:00:00Z",
            "end": "2026-05-04T12:30:00Z",
        }, f"trial {trial}"


async def test_concurrent_profile_updates_of_different_fields_all_hold(new_user: Any) -> None:
    for trial in range(TRIALS // 2):
        # given
        user: Client = new_user()
        hours = [{"weekday": 1 + trial % 7, "start": "08:00", "end": "16:00"}]
        # when
        await all_at_once(
            user,
            UPDATE_PROFILE,
            [
                {"input": {"displayName": f"Name {trial}"}},
                {"input": {"timezone": "Asia/Kolkata"}},
                {"input": {"workingHours": hours}},
            ],
        )
        # then
        me = (await user.execute(f"{{ me {PROFILE} }}")).data["me"]
        assert me == {
            "displayName": f"Name {trial}",
            "timezone": "Asia/Kolkata",
            "workingHours": hours,
        }, f"trial {trial}"


async def test_concurrent_updates_of_one_field_end_with_one_of_the_values_whole(
    alice: Client,
) -> None:
    # given
    goal = await create_goal(alice, title="Old", target={"value": 1, "unit": "km"})
    targets = [{"value": float(10 * i), "unit": f"unit-{i}"} for i in range(1, 9)]
    # when: eight writers set the same (structured) field, four others other fields
    answers = await all_at_once(
        alice,
        UPDATE_GOAL,
        [
            *({"id": goal["id"], "input": {"target": t}} for t in targets),
            {"id": goal["id"], "input": {"title": "New"}},
            {"id": goal["id"], "input": {"targetDate": "2027-01-31"}},
        ],
    )
    # then
    stored = await read(alice, READ_GOAL, goal["id"])
    assert stored["target"] in targets
    assert (stored["title"], stored["targetDate"]) == ("New", "2027-01-31")
    assert all(a["updateGoal"]["target"] in targets for a in answers)


async def test_a_rejected_update_writes_nothing_even_among_concurrent_ones(alice: Client) -> None:
    # given
    goal = await create_goal(alice, title="Old")
    # when: one update is invalid (an empty title), the others are fine
    answers = await asyncio.gather(
        alice.execute(UPDATE_GOAL, {"id": goal["id"], "input": {"title": "", "status": "PAUSED"}}),
        alice.execute(UPDATE_GOAL, {"id": goal["id"], "input": {"priority": "P1"}}),
    )
    # then
    assert answers[0].codes == ["BAD_USER_INPUT"]
    stored = await read(alice, READ_GOAL, goal["id"])
    assert (stored["title"], stored["status"], stored["priority"]) == ("Old", "ACTIVE", "P1")


GOAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "title": st.text("abcxyz ", min_size=1, max_size=8).filter(str.strip),
    "description": st.none() | st.text("abc", max_size=5),
    "priority": st.sampled_from(["P1", "P2", "P3", "P4"]),
    "status": st.sampled_from(["ACTIVE", "PAUSED", "COMPLETED", "ARCHIVED"]),
    "targetDate": st.none() | st.sampled_from(["2026-06-01", "2027-02-28"]),
}
EDIT = st.fixed_dictionaries({}, optional=GOAL_FIELDS).filter(bool)


# Rounds of concurrent edits through the API, each round a few edits sent at once.
ROUNDS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def rounds_of(edit: st.SearchStrategy[Any]) -> st.SearchStrategy[list[list[Any]]]:
    return st.lists(st.lists(edit, min_size=1, max_size=6), min_size=1, max_size=4)


@ROUNDS
@given(rounds=rounds_of(EDIT))
async def test_random_concurrent_edit_sequences_lose_nothing(
    alice: Client, rounds: list[list[dict[str, Any]]]
) -> None:
    # given
    goal = await create_goal(alice, title="Start")
    expected: dict[str, list[Any]] = {}
    for edits in rounds:
        # when: a round of concurrent edits, each of a random set of fields
        await all_at_once(alice, UPDATE_GOAL, [{"id": goal["id"], "input": e} for e in edits])
        # then: each field holds a value written in that round, if any wrote it
        for name in GOAL_FIELDS:
            written = [e[name] for e in edits if name in e]
            if written:
                expected[name] = written
        stored = await read(alice, READ_GOAL, goal["id"])
        for name, values in expected.items():
            assert stored[name] in values, (name, stored[name], values)


async def test_goals_stored_before_revisions_existed_take_concurrent_updates(
    alice: Client, app_state: AppState
) -> None:
    # given: a goal as an older version of the server stored it, without `rev`
    goal = await create_goal(alice, title="Old")
    goals = app_state.mongo[app_state.settings.mongodb_db]["goals"]
    await goals.update_many({"title": "Old", "userId": alice.sub}, {"$unset": {"rev": ""}})
    assert "rev" not in (await goals.find_one({"userId": alice.sub}) or {})
    # when
    await all_at_once(
        alice,
        UPDATE_GOAL,
        [
            {"id": goal["id"], "input": {"title": "New"}},
            {"id": goal["id"], "input": {"priority": "P1"}},
        ],
    )
    # then
    stored = await read(alice, READ_GOAL, goal["id"])
    assert (stored["title"], stored["priority"]) == ("New", "P1")
    assert (await goals.find_one({"userId": alice.sub}) or {}).get("rev") == 2


async def test_an_update_that_keeps_losing_the_race_is_a_conflict_and_writes_nothing(
    alice: Client, app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: every attempt finds that another write got there first
    goal = await create_goal(alice, title="Old")
    monkeypatch.setattr(models.base, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(models.base, "_at_revision", lambda rev: {"rev": -1})
    # when
    r = await alice.execute(UPDATE_GOAL, {"id": goal["id"], "input": {"title": "New"}})
    # then
    assert r.codes == ["CONFLICT"]
    assert r.body["data"] is None
    goals = app_state.mongo[app_state.settings.mongodb_db]["goals"]
    assert (await goals.find_one({"userId": alice.sub}) or {}).get("title") == "Old"
    # and once the race is over, the same update goes through
    monkeypatch.undo()
    r = await alice.execute(UPDATE_GOAL, {"id": goal["id"], "input": {"title": "New"}})
    assert r.data["updateGoal"]["title"] == "New"


async def test_a_change_answers_the_document_as_it_was_before(
    alice: Client, app_state: AppState
) -> None:
    # given: a goal, read as a document
    await create_goal(alice, title="Before")
    goal = await models.Goal.find_one({"userId": alice.sub, "title": "Before"})
    assert goal is not None
    # when: the first round of the change wins
    before = await models.base.save_changes(goal, {"userId": alice.sub}, title="After")
    # then: the answer is the document before the write, `goal` what was written
    assert before is not None
    assert before.title == "Before"
    assert goal.title == "After"
    assert (before.rev, goal.rev) == (goal.rev - 1, before.rev + 1)


CHECK_IN = (
    "mutation($h: ID!, $d: Date!, $s: CheckInStatus!, $v: Float) {"
    " checkInHabit(habitId: $h, date: $d, status: $s, value: $v) { date status value } }"
)
CLEAR = "mutation($h: ID!, $d: Date!) { clearCheckIn(habitId: $h, date: $d) }"
CHECK_INS = (
    'query($id: ID!) { node(id: $id) { ... on Habit { checkIns(from: "2025-12-01",'
    ' to: "2026-01-31") { date status value } streak { current longest } } } }'
)
# Across a new year: a habit's check-ins are kept a document a year.
DAYS = [f"2025-12-{d}" for d in range(26, 32)] + [f"2026-01-0{d}" for d in range(1, 6)]


async def test_concurrent_check_ins_of_one_habit_all_hold(client: Client) -> None:
    # given: a habit with no check-ins yet, so each year's first check-ins race to make it
    habit = await create_habit(client)
    said = {day: ("DONE" if i % 3 else "SKIPPED", float(i)) for i, day in enumerate(DAYS)}
    # when: a check-in of every day, all at the same moment
    answers = await asyncio.gather(
        *(
            client.execute(CHECK_IN, {"h": habit["id"], "d": day, "s": s, "v": v})
            for day, (s, v) in said.items()
        )
    )
    # then: each was answered, and each is kept, in order of its day
    assert [a.errors for a in answers] == [[]] * len(DAYS)
    stored = await read(client, CHECK_INS, habit["id"])
    assert stored["checkIns"] == [
        {"date": day, "status": s, "value": v} for day, (s, v) in said.items()
    ]
    # every day done or skipped, skipped days carried by the streak (it ended long ago)
    assert stored["streak"]["longest"] == len(DAYS)


CHECK_IN_EDIT = st.tuples(
    st.sampled_from(DAYS), st.sampled_from(["DONE", "SKIPPED", "MISSED", None])
)


@ROUNDS
@given(rounds=rounds_of(CHECK_IN_EDIT))
async def test_random_concurrent_check_ins_and_clears_lose_nothing(
    alice: Client, rounds: list[list[tuple[str, str | None]]]
) -> None:
    # given
    habit = await create_habit(alice)
    expected: dict[str, set[str | None]] = {}
    for edits in rounds:
        # when: a round of check-ins (a status) and clears (None) sent at once
        answers = await asyncio.gather(
            *(
                alice.execute(CHECK_IN, {"h": habit["id"], "d": day, "s": status})
                if status
                else alice.execute(CLEAR, {"h": habit["id"], "d": day})
                for day, status in edits
            )
        )
        assert [a.errors for a in answers] == [[]] * len(edits)
        # then: a day edited in the round holds one of its edits; the others are as they were
        for day in {day for day, _ in edits}:
            expected[day] = {status for d, status in edits if d == day}
        stored = await read(alice, CHECK_INS, habit["id"])
        held = {c["date"]: c["status"] for c in stored["checkIns"]}
        for day, statuses in expected.items():
            assert held.get(day) in statuses, (day, held.get(day), statuses)
        assert set(held) <= set(expected)
        assert list(held) == sorted(held)

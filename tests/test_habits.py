from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from graphql_api.state import AppState
from tests.conftest import Client
from tests.helpers import check_in, create_goal, create_habit, set_timezone
from tests.test_dataloaders import mongo_commands

SetClock = Callable[[datetime], None]
STATS = "query($id: ID!) { node(id: $id) { ... on Habit { streak { current longest } strength } } }"


async def stats(client: Client, habit_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (await client.execute(STATS, {"id": habit_id})).data["node"]
    return node


def days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def daily_strength(history: dict[str, str], today: str) -> float:
    """Loop's score for a daily habit, straight from its definition."""
    multiplier = 0.5 ** (1 / 13)
    score = 0.0
    for day in days(min(history), today):
        status = history.get(day)
        if status != "SKIPPED":
            score = score * multiplier + (1 - multiplier) * (status == "DONE")
    return score


async def test_create_habit_returns_its_settings(alice: Client) -> None:
    # given
    goal = await create_goal(alice, title="Fitness")
    # when
    habit = await create_habit(
        alice,
        name="Run",
        goalId=goal["id"],
        frequency={"times": 3, "per": "WEEK"},
        durationMinutes=45,
        preferredWindows=[{"weekdays": [5, 1, 3], "start": "06:30", "end": "08:00"}],
    )
    # then
    assert habit["name"] == "Run"
    assert habit["isActive"] is True
    assert habit["frequency"] == {"times": 3, "per": "WEEK"}
    assert habit["durationMinutes"] == 45
    assert habit["preferredWindows"] == [{"weekdays": [1, 3, 5], "start": "06:30", "end": "08:00"}]
    assert habit["goal"] == {"id": goal["id"], "title": "Fitness"}
    assert habit["streak"] == {"current": 0, "longest": 0}
    assert habit["strength"] == 0.0


async def test_duration_defaults_to_30_minutes(alice: Client) -> None:
    assert (await create_habit(alice))["durationMinutes"] == 30


async def test_update_habit_moves_it_to_another_goal(alice: Client) -> None:
    # given
    a, b = await create_goal(alice, title="A"), await create_goal(alice, title="B")
    habit = await create_habit(alice, goalId=a["id"])
    # when
    r = await alice.op(
        "UpdateHabit",
        {"id": habit["id"], "input": {"goalId": b["id"], "durationMinutes": 20, "isActive": False}},
    )
    # then
    assert r.data["updateHabit"]["durationMinutes"] == 20
    assert r.data["updateHabit"]["isActive"] is False
    detail = await alice.op("GoalDetail", {"id": b["id"], "from": "2026-01-01", "to": "2026-01-02"})
    assert [h["id"] for h in detail.data["node"]["habits"]] == [habit["id"]]
    old = await alice.op("GoalDetail", {"id": a["id"], "from": "2026-01-01", "to": "2026-01-02"})
    assert old.data["node"]["habits"] == []


async def test_a_habit_moved_away_leaves_its_old_goal_already_read(alice: Client) -> None:
    # given: both goals' details read (and cached) before the move
    a, b = await create_goal(alice, title="A"), await create_goal(alice, title="B")
    habit = await create_habit(alice, goalId=a["id"])
    span = {"from": "2026-01-01", "to": "2026-01-02"}
    first = await alice.op("GoalDetail", {"id": a["id"], **span})
    assert [h["id"] for h in first.data["node"]["habits"]] == [habit["id"]]
    assert (await alice.op("GoalDetail", {"id": b["id"], **span})).data["node"]["habits"] == []
    # when
    await alice.op("UpdateHabit", {"id": habit["id"], "input": {"goalId": b["id"]}})
    # then: the old goal no longer shows it, the new one does
    old = await alice.op("GoalDetail", {"id": a["id"], **span})
    assert old.data["node"]["habits"] == []
    new = await alice.op("GoalDetail", {"id": b["id"], **span})
    assert [h["id"] for h in new.data["node"]["habits"]] == [habit["id"]]


async def test_delete_habit_removes_its_check_ins(alice: Client, app_state: AppState) -> None:
    # given
    habit = await create_habit(alice)
    await check_in(alice, habit["id"], datetime.now(UTC).date().isoformat())
    check_ins = app_state.mongo[app_state.settings.mongodb_db]["check_in_years"]
    assert await check_ins.count_documents({"userId": alice.sub}) == 1
    # when
    r = await alice.op("DeleteHabit", {"id": habit["id"]})
    # then
    assert r.data["deleteHabit"] is True
    assert await check_ins.count_documents({"userId": alice.sub}) == 0
    assert (await alice.op("DeleteHabit", {"id": habit["id"]})).codes == ["NOT_FOUND"]


async def test_habits_filter_by_active_and_page_oldest_first(alice: Client) -> None:
    # given
    names = [f"h{i}" for i in range(7)]
    ids = [(await create_habit(alice, name=n))["id"] for n in names]
    await alice.op("UpdateHabit", {"id": ids[3], "input": {"isActive": False}})
    # when
    pages: list[str] = []
    after = None
    while True:
        r = (await alice.op("Habits", {"active": True, "first": 2, "after": after})).data["habits"]
        pages += [e["node"]["name"] for e in r["edges"]]
        if not r["pageInfo"]["hasNextPage"]:
            break
        after = r["pageInfo"]["endCursor"]
    # then
    assert r["totalCount"] == 6
    assert pages == ["h0", "h1", "h2", "h4", "h5", "h6"]
    inactive = (await alice.op("Habits", {"active": False})).data["habits"]["edges"]
    assert [e["node"]["name"] for e in inactive] == ["h3"]


async def test_a_second_check_in_on_a_day_replaces_the_first(
    alice: Client, clock: SetClock
) -> None:
    # given
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    habit = await create_habit(alice)
    await check_in(alice, habit["id"], "2026-03-10", "DONE")
    # when
    replaced = await check_in(alice, habit["id"], "2026-03-10", "MISSED")
    # then
    assert replaced["status"] == "MISSED"
    assert replaced["habit"]["streak"] == {"current": 0, "longest": 0}
    query = (
        "query($id: ID!) { node(id: $id) { ... on Habit {"
        ' checkIns(from: "2026-03-01", to: "2026-03-31") { date status } } } }'
    )
    listed = await alice.execute(query, {"id": habit["id"]})
    assert listed.data["node"]["checkIns"] == [{"date": "2026-03-10", "status": "MISSED"}]


CHECK_IN_SHOWING_THE_HABIT = """
mutation($h: ID!, $d: Date!) {
  checkInHabit(habitId: $h, date: $d, status: DONE) {
    habit { name frequency { times per } streak { current } }
  }
}"""


async def test_a_check_in_shows_its_habit_as_changed_since_the_list_was_read(
    alice: Client, clock: SetClock
) -> None:
    # given: the habit list read (and cached), then the habit changed
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    habit = await create_habit(alice, name="Run")
    assert (await alice.op("Habits")).data["habits"]["edges"][0]["node"]["name"] == "Run"
    changed = {"name": "Swim", "frequency": {"times": 3, "per": "WEEK"}}
    await alice.op("UpdateHabit", {"id": habit["id"], "input": changed})
    # when
    r = await alice.execute(CHECK_IN_SHOWING_THE_HABIT, {"h": habit["id"], "d": "2026-03-10"})
    # then
    shown = r.data["checkInHabit"]["habit"]
    assert shown["name"] == "Swim"
    assert shown["frequency"] == {"times": 3, "per": "WEEK"}
    assert shown["streak"] == {"current": 1}


async def test_a_check_in_reads_the_habits_history_when_nothing_has_read_it_since_a_change(
    alice: Client, clock: SetClock
) -> None:
    # given: a habit changed since its streak was last shown (so its history is not
    # cached), and the user's habits already listed, as every screen before a check-in does
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    habit = await create_habit(alice)
    rename = 'mutation($id: ID!) { updateHabit(id: $id, input: {name: "Swim"}) { id } }'
    await alice.execute(rename, {"id": habit["id"]})
    await alice.execute("{ habits { edges { node { id name } } } }")
    before = mongo_commands()
    # when
    done = await check_in(alice, habit["id"], "2026-03-10")
    # then: the upsert and one read of the history for the streak; the habit is the list's
    assert done["habit"]["streak"] == {"current": 1, "longest": 1}
    assert mongo_commands() - before == 2


async def test_a_check_in_after_the_streak_was_shown_sends_mongo_only_its_write(
    alice: Client, clock: SetClock
) -> None:
    # given: the habits listed with their streaks (their histories read and cached)
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    habit = await create_habit(alice)
    await check_in(alice, habit["id"], "2026-03-08")
    await alice.op("Habits")
    before = mongo_commands()
    # when: two check-ins, the second replacing a day's
    first = await check_in(alice, habit["id"], "2026-03-10")
    second = await check_in(alice, habit["id"], "2026-03-09")
    replaced = await check_in(alice, habit["id"], "2026-03-08", "MISSED")
    # then: each the upsert only; the history it had read is carried over its write
    assert first["habit"]["streak"] == {"current": 1, "longest": 1}
    assert second["habit"]["streak"] == {"current": 3, "longest": 3}
    assert replaced["habit"]["streak"] == {"current": 2, "longest": 2}
    assert mongo_commands() - before == 3
    # and what is shown next is what Mongo holds
    listed = (await alice.op("Habits")).data["habits"]["edges"][0]["node"]
    assert listed["streak"] == {"current": 2, "longest": 2}


async def test_a_check_in_of_another_users_habit_is_not_found_and_writes_nothing(
    alice: Client, bob: Client
) -> None:
    # given
    habit = await create_habit(alice)
    await bob.op("Habits")
    # when
    r = await bob.execute(CHECK_IN_SHOWING_THE_HABIT, {"h": habit["id"], "d": "2026-03-10"})
    # then
    assert r.codes == ["NOT_FOUND"]
    assert (await stats(alice, habit["id"]))["streak"] == {"current": 0, "longest": 0}


async def test_clear_check_in_removes_the_day(alice: Client, clock: SetClock) -> None:
    # given
    clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    habit = await create_habit(alice)
    await check_in(alice, habit["id"], "2026-03-10")
    mutation = "mutation($h: ID!, $d: Date!) { clearCheckIn(habitId: $h, date: $d) }"
    # when
    first = await alice.execute(mutation, {"h": habit["id"], "d": "2026-03-10"})
    second = await alice.execute(mutation, {"h": habit["id"], "d": "2026-03-10"})
    # then
    assert first.data["clearCheckIn"] is True
    assert second.data["clearCheckIn"] is False
    assert (await stats(alice, habit["id"]))["streak"] == {"current": 0, "longest": 0}


async def test_check_ins_between_from_and_to_inclusive_oldest_first(
    alice: Client, clock: SetClock
) -> None:
    # given
    clock(datetime(2026, 3, 31, 12, tzinfo=UTC))
    goal = await create_goal(alice)
    habit = await create_habit(alice, goalId=goal["id"])
    for day in ["2026-03-01", "2026-03-05", "2026-03-02", "2026-03-10", "2026-02-28"]:
        await check_in(alice, habit["id"], day, "SKIPPED" if day == "2026-03-02" else "DONE")
    # when
    r = await alice.op("GoalDetail", {"id": goal["id"], "from": "2026-03-01", "to": "2026-03-05"})
    # then
    [listed] = r.data["node"]["habits"]
    assert listed["checkIns"] == [
        {"date": "2026-03-01", "status": "DONE", "value": None},
        {"date": "2026-03-02", "status": "SKIPPED", "value": None},
        {"date": "2026-03-05", "status": "DONE", "value": None},
    ]


# --- streaks and strength on hand-made histories -----------------------------


async def test_twenty_days_in_a_row_give_loops_score(alice: Client, clock: SetClock) -> None:
    # given: Loop's own test vector, 20 check-ins ending today
    clock(datetime(2026, 3, 29, 18, tzinfo=UTC))
    habit = await create_habit(alice)
    for day in days("2026-03-10", "2026-03-29"):
        await check_in(alice, habit["id"], day)
    # then
    result = await stats(alice, habit["id"])
    assert result["strength"] == pytest.approx(0.655747, abs=1e-6)
    assert result["streak"] == {"current": 20, "longest": 20}


async def test_skips_extend_streaks_and_misses_break_them(alice: Client, clock: SetClock) -> None:
    # given
    clock(datetime(2026, 3, 26, 20, tzinfo=UTC))
    habit = await create_habit(alice)
    history = {
        "2026-03-20": "DONE",
        "2026-03-21": "DONE",
        "2026-03-22": "SKIPPED",
        "2026-03-23": "DONE",
        "2026-03-24": "MISSED",
        "2026-03-25": "DONE",
        "2026-03-26": "DONE",
    }
    for day, status in history.items():
        await check_in(alice, habit["id"], day, status)
    # then
    result = await stats(alice, habit["id"])
    assert result["streak"] == {"current": 2, "longest": 4}
    assert result["strength"] == pytest.approx(daily_strength(history, "2026-03-26"), abs=1e-9)


@pytest.mark.parametrize(
    ("now", "current"),
    [
        (datetime(2026, 3, 15, 12, tzinfo=UTC), 16),  # the streak reaches today
        (datetime(2026, 3, 16, 12, tzinfo=UTC), 16),  # no check-in today: yesterday's streak
        (datetime(2026, 3, 17, 12, tzinfo=UTC), 0),  # ended two days ago
    ],
)
async def test_three_times_a_week_fills_the_days_between(
    alice: Client, clock: SetClock, now: datetime, current: int
) -> None:
    # given: Monday, Wednesday and Friday of two weeks
    clock(now)
    habit = await create_habit(alice, frequency={"times": 3, "per": "WEEK"})
    for day in ["2026-03-02", "2026-03-04", "2026-03-06", "2026-03-09", "2026-03-11", "2026-03-13"]:
        await check_in(alice, habit["id"], day)
    # then: Loop snaps the intervals together, from Feb 28 to Mar 15
    assert (await stats(alice, habit["id"]))["streak"] == {"current": current, "longest": 16}


async def test_twice_a_month_counts_the_month_as_kept(alice: Client, clock: SetClock) -> None:
    # given
    clock(datetime(2026, 1, 25, 12, tzinfo=UTC))
    habit = await create_habit(alice, frequency={"times": 2, "per": "MONTH"})
    await check_in(alice, habit["id"], "2026-01-05")
    await check_in(alice, habit["id"], "2026-01-20")
    # then: the interval runs from Jan 5 for a month; streaks stop at today
    result = await stats(alice, habit["id"])
    assert result["streak"] == {"current": 21, "longest": 21}
    assert 0 < result["strength"] < 1


async def test_today_is_the_users_day_across_the_spring_dst_change(
    alice: Client, clock: SetClock
) -> None:
    # given: 23:30 UTC on Mar 28 is already 00:30 on Mar 29 in Berlin
    await set_timezone(alice, "Europe/Berlin")
    clock(datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    habit = await create_habit(alice)
    # when
    for day in days("2026-03-20", "2026-03-29"):
        await check_in(alice, habit["id"], day)
    # then: Mar 29 (23 hours long in Berlin) is today and counts
    result = await stats(alice, habit["id"])
    assert result["streak"] == {"current": 10, "longest": 10}
    tomorrow = await alice.op(
        "CheckInHabit", {"habitId": habit["id"], "date": "2026-03-30", "status": "DONE"}
    )
    assert tomorrow.codes == ["BAD_USER_INPUT"]


async def test_today_is_the_users_day_across_the_autumn_dst_change(
    alice: Client, clock: SetClock
) -> None:
    # given: 04:30 UTC on Nov 2 is still 23:30 on Nov 1 in New York (a 25-hour day)
    await set_timezone(alice, "America/New_York")
    clock(datetime(2026, 11, 2, 4, 30, tzinfo=UTC))
    habit = await create_habit(alice)
    for day in days("2026-10-30", "2026-10-31"):
        await check_in(alice, habit["id"], day)
    # then: no check-in yet on Nov 1, so yesterday's streak is current
    assert (await stats(alice, habit["id"]))["streak"] == {"current": 2, "longest": 2}
    # when
    await check_in(alice, habit["id"], "2026-11-01")
    # then
    result = await stats(alice, habit["id"])
    assert result["streak"] == {"current": 3, "longest": 3}
    history = dict.fromkeys(days("2026-10-30", "2026-11-01"), "DONE")
    assert result["strength"] == pytest.approx(daily_strength(history, "2026-11-01"), abs=1e-9)


async def test_changing_the_time_zone_changes_which_day_is_today(
    alice: Client, clock: SetClock
) -> None:
    # given: 10:00 UTC on Mar 10 is already Mar 11 in Auckland
    clock(datetime(2026, 3, 10, 20, tzinfo=UTC))
    habit = await create_habit(alice)
    await check_in(alice, habit["id"], "2026-03-10")
    # when
    await set_timezone(alice, "Pacific/Auckland")
    # then: Mar 10 is yesterday there, and Mar 11 has no check-in yet
    assert (await stats(alice, habit["id"]))["streak"] == {"current": 1, "longest": 1}
    assert (await check_in(alice, habit["id"], "2026-03-11"))["habit"]["streak"]["current"] == 2

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from graphql_api import execution
from graphql_api.habits import loop
from tests.conftest import Client
from tests.helpers import check_in, create_goal, create_habit


async def test_create_goal_returns_what_the_client_sent(alice: Client) -> None:
    # when
    r = await alice.op(
        "CreateGoal",
        {
            "input": {
                "title": "Run a marathon",
                "description": "Spring race",
                "priority": "P1",
                "targetDate": "2026-04-19",
                "target": {"value": 500, "unit": "km"},
            }
        },
    )
    # then
    goal = r.data["createGoal"]
    assert goal["title"] == "Run a marathon"
    assert goal["description"] == "Spring race"
    assert goal["status"] == "ACTIVE"
    assert goal["priority"] == "P1"
    assert goal["targetDate"] == "2026-04-19"
    assert goal["target"] == {"value": 500.0, "unit": "km"}
    assert goal["progress"] == 0.0


async def test_priority_defaults_to_p3(alice: Client) -> None:
    goal = await create_goal(alice)
    assert goal["priority"] == "P3"
    assert goal["targetDate"] is None
    assert goal["target"] is None


async def test_update_goal_changes_only_the_fields_sent(alice: Client) -> None:
    # given
    goal = await create_goal(alice, title="Read", description="Books", targetDate="2026-12-31")
    # when
    r = await alice.op(
        "UpdateGoal", {"id": goal["id"], "input": {"priority": "P2", "status": "PAUSED"}}
    )
    # then
    updated = r.data["updateGoal"]
    assert updated == {**updated, "title": "Read", "priority": "P2", "status": "PAUSED"}
    assert updated["targetDate"] == "2026-12-31"


async def test_update_goal_clears_the_target_date_with_null(alice: Client) -> None:
    goal = await create_goal(alice, targetDate="2026-12-31")
    r = await alice.op("UpdateGoal", {"id": goal["id"], "input": {"targetDate": None}})
    assert r.data["updateGoal"]["targetDate"] is None


async def test_progress_is_logged_value_over_target(alice: Client) -> None:
    # given
    goal = await create_goal(alice, target={"value": 200, "unit": "km"})
    # when
    await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 50})
    r = await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 30, "note": "long run"})
    # then
    logged = r.data["logGoalProgress"]
    assert logged["progress"] == pytest.approx(0.4)
    assert [(e["value"], e["note"]) for e in logged["progressLog"]] == [
        (50.0, None),
        (30.0, "long run"),
    ]
    assert all(e["at"].endswith("Z") for e in logged["progressLog"])


async def test_progress_never_leaves_zero_to_one(alice: Client) -> None:
    # given
    goal = await create_goal(alice, target={"value": 10, "unit": "pages"})
    # when
    over = await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 25})
    under = await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": -100})
    # then
    assert over.data["logGoalProgress"]["progress"] == 1.0
    assert under.data["logGoalProgress"]["progress"] == 0.0


async def test_progress_without_target_is_mean_strength_of_active_habits(alice: Client) -> None:
    # given
    goal = await create_goal(alice)
    daily = await create_habit(alice, goalId=goal["id"])
    idle = await create_habit(alice, goalId=goal["id"])
    paused = await create_habit(alice, goalId=goal["id"])
    done = await check_in(alice, daily["id"], _today_utc())
    await alice.op("UpdateHabit", {"id": paused["id"], "input": {"isActive": False}})
    await check_in(alice, paused["id"], _today_utc())
    # when
    r = await alice.op("GoalDetail", {"id": goal["id"], "from": "2000-01-01", "to": "2000-01-02"})
    # then
    strength = done["habit"]["strength"]
    assert strength == pytest.approx(0.051922, abs=1e-6)  # Loop: one check-in today
    assert r.data["node"]["progress"] == pytest.approx(strength / 2)
    assert {h["id"] for h in r.data["node"]["habits"]} == {daily["id"], idle["id"], paused["id"]}


async def test_progress_is_zero_without_target_or_habits_and_one_when_completed(
    alice: Client,
) -> None:
    goal = await create_goal(alice)
    assert goal["progress"] == 0.0
    r = await alice.op("UpdateGoal", {"id": goal["id"], "input": {"status": "COMPLETED"}})
    assert r.data["updateGoal"]["progress"] == 1.0


async def test_delete_goal_keeps_its_habits_without_a_goal(alice: Client) -> None:
    # given
    goal = await create_goal(alice)
    habit = await create_habit(alice, goalId=goal["id"])
    # when
    r = await alice.op("DeleteGoal", {"id": goal["id"]})
    # then
    assert r.data["deleteGoal"] is True
    habits = (await alice.op("Habits")).data["habits"]["edges"]
    assert [(e["node"]["id"], e["node"]["goal"]) for e in habits] == [(habit["id"], None)]
    gone = await alice.op("DeleteGoal", {"id": goal["id"]})
    assert gone.codes == ["NOT_FOUND"]


def _today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


async def _titles(client: Client, **variables: Any) -> list[str]:
    r = await client.op("Goals", variables)
    return [e["node"]["title"] for e in r.data["goals"]["edges"]]


async def test_goals_order_by_priority_then_nearest_target_date(alice: Client) -> None:
    # given
    for title, priority, target_date in [
        ("p3 soon", "P3", "2026-05-01"),
        ("p1 none", "P1", None),
        ("p1 late", "P1", "2026-12-01"),
        ("p1 soon", "P1", "2026-06-01"),
        ("p2", "P2", "2026-01-01"),
    ]:
        await create_goal(alice, title=title, priority=priority, targetDate=target_date)
    # then
    assert await _titles(alice) == ["p1 soon", "p1 late", "p1 none", "p2", "p3 soon"]
    assert await _titles(alice, orderBy="PRIORITY") == await _titles(alice)


async def test_goals_order_by_target_date_puts_none_last(alice: Client) -> None:
    for title, target_date in [("none", None), ("late", "2027-01-01"), ("soon", "2026-02-01")]:
        await create_goal(alice, title=title, targetDate=target_date)
    assert await _titles(alice, orderBy="TARGET_DATE") == ["soon", "late", "none"]


async def test_goals_order_by_created_at_newest_first(alice: Client) -> None:
    for title in ["first", "second", "third"]:
        await create_goal(alice, title=title)
    assert await _titles(alice, orderBy="CREATED_AT") == ["third", "second", "first"]


async def test_goals_filter_by_status(alice: Client) -> None:
    # given
    await create_goal(alice, title="active")
    paused = await create_goal(alice, title="paused")
    await alice.op("UpdateGoal", {"id": paused["id"], "input": {"status": "PAUSED"}})
    # then
    assert await _titles(alice, status="ACTIVE") == ["active"]
    assert await _titles(alice, status="PAUSED") == ["paused"]
    assert sorted(await _titles(alice)) == ["active", "paused"]


async def test_goals_pages_walk_every_goal_once(alice: Client) -> None:
    # given
    for i in range(13):
        await create_goal(alice, title=f"g{i:02d}", priority=["P1", "P2", "P3", "P4"][i % 4])
    expected = await _titles(alice, first=100)
    # when
    seen: list[str] = []
    after = None
    while True:
        r = (await alice.op("Goals", {"first": 5, "after": after})).data["goals"]
        assert r["totalCount"] == 13
        seen += [e["node"]["title"] for e in r["edges"]]
        if not r["pageInfo"]["hasNextPage"]:
            break
        after = r["pageInfo"]["endCursor"]
        assert after == r["edges"][-1]["cursor"]
    # then
    assert seen == expected


async def test_goals_page_survives_a_deletion_before_the_cursor(alice: Client) -> None:
    # given
    ids = [(await create_goal(alice, title=f"g{i}"))["id"] for i in range(6)]
    first = (await alice.op("Goals", {"first": 3, "orderBy": "CREATED_AT"})).data["goals"]
    # when
    await alice.op("DeleteGoal", {"id": ids[-1]})  # the newest: on the first page
    second = (
        await alice.op(
            "Goals", {"first": 3, "after": first["pageInfo"]["endCursor"], "orderBy": "CREATED_AT"}
        )
    ).data["goals"]
    # then
    assert [e["node"]["title"] for e in second["edges"]] == ["g2", "g1", "g0"]


PAGE = """
query Page($yes: Boolean!) {
  goals {
    edges { node { id p: progress ...Habits hidden: progress @skip(if: true) } }
  }
}
fragment Habits on Goal {
  habits @include(if: $yes) { id s: streak { current longest } strength }
}
"""
ALONE = """
query Alone($id: ID!) {
  node(id: $id) {
    ... on Goal { id p: progress habits { id s: streak { current longest } strength } }
  }
}
"""


async def test_a_page_of_goals_shows_what_each_goal_shows_alone(alice: Client) -> None:
    """A page works out its goals' progress and habits at once (graphql_api.lookahead),
    through fragments, aliases, @skip and @include; each goal alone works its own out."""
    # given: goals with and without a target, habits with and without check-ins
    measured = await create_goal(alice, target={"value": 10, "unit": "km"})
    await alice.op("LogGoalProgress", {"goalId": measured["id"], "value": 4})
    habitual = await create_goal(alice)
    daily = await create_habit(alice, goalId=habitual["id"])
    await create_habit(alice, goalId=habitual["id"])
    await check_in(alice, daily["id"], _today_utc())
    await create_goal(alice)

    # when
    page = await alice.execute(PAGE, {"yes": True})
    bare = await alice.execute(PAGE, {"yes": False})

    # then
    nodes = [e["node"] for e in page.data["goals"]["edges"]]
    assert len(nodes) == 3
    for node in nodes:
        alone = await alice.execute(ALONE, {"id": node["id"]})
        assert node == alone.data["node"]
    progress = {n["id"]: n["p"] for n in nodes}
    assert progress[measured["id"]] == pytest.approx(0.4)
    assert progress[habitual["id"]] > 0
    assert [len(n["habits"]) for n in nodes if n["id"] == habitual["id"]] == [2]
    assert [sorted(e["node"]) for e in bare.data["goals"]["edges"]] == [["id", "p"]] * 3


async def test_a_dashboards_goals_with_their_habits_streaks_are_completed_by_plans(
    alice: Client,
) -> None:
    """Progress, habits, streaks and strength, worked out by the page, are read by the
    compiled plans (graphql_api.execution), not field by field through graphql-core."""
    # given
    goal = await create_goal(alice, target={"value": 10, "unit": "km"})
    habit = await create_habit(alice, goalId=goal["id"])
    await check_in(alice, habit["id"], _today_utc())
    execution._SHARED.clear()
    # when
    week = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-23T00:00:00Z"}
    shown = (await alice.op("Dashboard", {"range": week})).data["goals"]["edges"][0]["node"]
    # then
    assert shown["habits"][0]["streak"] == {"current": 1, "longest": 1}
    planned = {entry[2].object_type.name for entry in execution._SHARED.values() if entry[2]}
    assert {"GoalConnection", "Goal", "Habit", "Streak"} <= planned


@pytest.mark.usefixtures("no_cache")  # the stats are worked out by the Dashboard itself
async def test_a_habit_whose_stats_fail_fails_the_dashboard_at_that_goal_until_they_work(
    alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two goals, each with a habit; working out the weekly one's stats fails
    daily_goal = await create_goal(alice, title="Daily", priority="P1")
    weekly_goal = await create_goal(alice, title="Weekly", priority="P2")
    await create_habit(alice, name="Read", goalId=daily_goal["id"])
    weekly = {"times": 2, "per": "WEEK"}
    await create_habit(alice, name="Swim", goalId=weekly_goal["id"], frequency=weekly)
    worked_out = loop.habit_stats

    def failing(check_ins: Any, times: int, per: str, today: Any) -> Any:
        if per == "WEEK":
            raise RuntimeError("stats went wrong")
        return worked_out(check_ins, times, per, today)

    monkeypatch.setattr("graphql_api.habits.service.loop_stats", failing)
    week = {"range": {"start": "2026-03-02T00:00:00Z", "end": "2026-03-09T00:00:00Z"}}
    # when
    failed = await alice.op("Dashboard", week)
    monkeypatch.undo()
    answered = await alice.op("Dashboard", week)
    # then: the error is the weekly goal's (its progress, its habit's stats), with a code
    assert failed.errors
    assert failed.codes == ["INTERNAL"] * len(failed.errors)
    assert {tuple(e["path"][:4]) for e in failed.errors} == {("goals", "edges", 1, "node")}
    # and the failure stayed with its request: the next Dashboard answers whole
    goals = [e["node"] for e in answered.data["goals"]["edges"]]
    assert [g["title"] for g in goals] == ["Daily", "Weekly"]
    swim = goals[1]["habits"][0]
    assert (swim["name"], swim["streak"], swim["strength"]) == (
        "Swim",
        {"current": 0, "longest": 0},
        0.0,
    )
    assert goals[1]["progress"] == 0.0

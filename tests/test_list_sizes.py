"""The sizes the API keeps for the cost limit: a goal's habits, the progress log
shown, working hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graphql_api.relay import ref_of
from models import GoalProgress
from tests.conftest import Client
from tests.helpers import create_goal, create_habit

# --- the caps behind the sizes ----------------------------------------------------------


async def test_a_goal_holds_ten_habits_and_an_eleventh_is_refused(alice: Client) -> None:
    # given
    goal = await create_goal(alice, title="Fit")
    other = await create_goal(alice, title="Calm")
    habits = [await create_habit(alice, name=f"H{i}", goalId=goal["id"]) for i in range(10)]
    loose = await create_habit(alice, name="Loose")
    daily = {"times": 1, "per": "DAY"}
    # when: an eleventh, created there or moved there
    created = await alice.op(
        "CreateHabit", {"input": {"name": "Eleventh", "goalId": goal["id"], "frequency": daily}}
    )
    moved = await alice.op("UpdateHabit", {"id": loose["id"], "input": {"goalId": goal["id"]}})
    # then
    for refused in (created, moved):
        assert refused.codes == ["BAD_USER_INPUT"]
        assert refused.errors[0]["extensions"]["field"] == "goalId"
        assert "at most 10 habits" in refused.errors[0]["message"]
    listed = (await alice.op("Habits", {"first": 50})).data["habits"]
    assert listed["totalCount"] == 11
    assert [e["node"]["goal"] for e in listed["edges"]].count(None) == 1
    # and a habit of the full goal may still change, even naming its own goal
    same = await alice.op(
        "UpdateHabit", {"id": habits[0]["id"], "input": {"goalId": goal["id"], "name": "Run"}}
    )
    assert same.data["updateHabit"]["name"] == "Run"
    # and once one leaves, another may join
    await alice.op("UpdateHabit", {"id": habits[0]["id"], "input": {"goalId": other["id"]}})
    joined = await alice.op("UpdateHabit", {"id": loose["id"], "input": {"goalId": goal["id"]}})
    assert joined.errors == []


async def test_the_progress_log_shows_the_latest_500_entries_and_progress_counts_all(
    alice: Client,
) -> None:
    # given: 501 entries of 1 km logged, on a goal of 1000 km
    goal = await create_goal(alice, title="Ride", target={"value": 1000, "unit": "km"})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    await GoalProgress.insert_many(
        [
            GoalProgress(
                user_id=alice.sub,
                goal_id=ref_of(goal["id"], "Goal"),
                at=start + timedelta(hours=i),
                value=1,
            )
            for i in range(501)
        ]
    )
    # when: the 502nd, through the API
    r = await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 1, "note": "last"})
    # then
    logged = r.data["logGoalProgress"]
    assert logged["progress"] == pytest.approx(0.502)
    assert len(logged["progressLog"]) == 500
    assert logged["progressLog"][0]["at"] == "2025-01-01T02:00:00Z"
    assert logged["progressLog"][-1]["note"] == "last"


async def test_working_hours_hold_fifty_windows_and_refuse_more(alice: Client) -> None:
    # given: 50 half-hour windows over the week
    windows = [
        {"weekday": i % 7 + 1, "start": f"{i // 7:02d}:00", "end": f"{i // 7:02d}:30"}
        for i in range(51)
    ]
    # when
    kept = await alice.op("UpdateProfile", {"input": {"workingHours": windows[:50]}})
    refused = await alice.op("UpdateProfile", {"input": {"workingHours": windows}})
    # then
    assert len(kept.data["updateProfile"]["workingHours"]) == 50
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "workingHours"
    assert len((await alice.op("Me")).data["me"]["workingHours"]) == 50

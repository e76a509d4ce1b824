"""Every client operation, exactly as the clients send it, in one user's day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import OPERATIONS, Client
from tests.test_schema import SYNC


class Recorder:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.ran: set[str] = set()

    async def __call__(self, name: str, variables: dict[str, Any] | None = None) -> Any:
        r = await self.client.op(name, variables)
        assert r.status == 200
        self.ran.add(name)
        return r.data


async def test_every_operation_runs_as_written(alice: Client, clock: Any) -> None:
    clock(datetime(2026, 3, 29, 18, tzinfo=UTC))
    op = Recorder(alice)

    profile = await op(
        "UpdateProfile",
        {
            "input": {
                "displayName": "Alice",
                "timezone": "Europe/Berlin",
                "workingHours": [{"weekday": 1, "start": "09:00", "end": "17:30"}],
            }
        },
    )
    assert profile["updateProfile"]["timezone"] == "Europe/Berlin"
    me = (await op("Me"))["me"]
    assert me["displayName"] == "Alice"
    assert me["workingHours"] == [{"weekday": 1, "start": "09:00", "end": "17:30"}]

    calendar = (await op("ConnectCalendar", {"input": {"provider": "LOCAL", "name": "Home"}}))[
        "connectCalendar"
    ]
    assert calendar["timezone"] == "Europe/Berlin"
    assert (await op("Calendars"))["calendars"][0]["isPrimary"] is True

    goal = (
        await op(
            "CreateGoal",
            {
                "input": {
                    "title": "Marathon",
                    "priority": "P1",
                    "target": {"value": 100, "unit": "km"},
                }
            },
        )
    )["createGoal"]
    assert (await op("Goals", {"status": "ACTIVE", "first": 10}))["goals"]["totalCount"] == 1
    habit = (
        await op(
            "CreateHabit",
            {
                "input": {
                    "name": "Run",
                    "goalId": goal["id"],
                    "frequency": {"times": 3, "per": "WEEK"},
                    "durationMinutes": 45,
                    "preferredWindows": [{"weekdays": [1, 3, 5], "start": "07:00", "end": "08:00"}],
                }
            },
        )
    )["createHabit"]
    checked = await op(
        "CheckInHabit",
        {"habitId": habit["id"], "date": "2026-03-29", "status": "DONE", "value": 10.5},
    )
    assert checked["checkInHabit"]["habit"]["streak"]["current"] >= 1
    assert (await op("Habits", {"active": True}))["habits"]["totalCount"] == 1
    detail = await op("GoalDetail", {"id": goal["id"], "from": "2026-03-01", "to": "2026-03-31"})
    assert detail["node"]["habits"][0]["checkIns"] == [
        {"date": "2026-03-29", "status": "DONE", "value": 10.5}
    ]
    await op("UpdateGoal", {"id": goal["id"], "input": {"title": "Spring marathon"}})
    await op("UpdateHabit", {"id": habit["id"], "input": {"durationMinutes": 50}})
    logged = await op("LogGoalProgress", {"goalId": goal["id"], "value": 12, "note": "long run"})
    assert logged["logGoalProgress"]["progress"] == 0.12

    created = await op(
        "CreateEvent",
        {
            "input": {
                "calendarId": calendar["id"],
                "title": "Dentist",
                "start": "2026-03-30T09:30:00+02:00",
                "end": "2026-03-30T10:30:00+02:00",
            }
        },
    )
    assert created["createEvent"]["start"] == "2026-03-30T07:30:00Z"
    batch = await op(
        "BatchCreateEvents",
        {
            "inputs": [
                {
                    "calendarId": calendar["id"],
                    "title": f"Lecture {i}",
                    "start": f"2026-03-{i + 1:02d}T14:00:00+01:00",
                    "end": f"2026-03-{i + 1:02d}T15:30:00+01:00",
                }
                for i in range(20)
            ]
        },
    )
    assert len(batch["batchCreateEvents"]) == 20
    events = await op(
        "Events",
        {
            "range": {"start": "2026-03-01T00:00:00+01:00", "end": "2026-04-01T00:00:00+02:00"},
            "first": 50,
        },
    )
    assert events["events"]["totalCount"] == 21
    dashboard = await op(
        "Dashboard",
        {"range": {"start": "2026-03-30T00:00:00+02:00", "end": "2026-03-31T00:00:00+02:00"}},
    )
    assert [e["node"]["title"] for e in dashboard["events"]["edges"]] == ["Dentist"]

    week = {"start": "2026-03-30T00:00:00+02:00", "end": "2026-04-06T00:00:00+02:00"}
    picks = (await op("Recommendations", {"habitId": habit["id"], "range": week, "limit": 3}))[
        "recommendations"
    ]
    assert len(picks) == 3
    assert all(p["reasons"] and 0 <= p["score"] <= 1 for p in picks)
    said = await op(
        "RecommendationFeedback",
        {"habitId": habit["id"], "start": picks[1]["start"], "accepted": False},
    )
    assert said["recommendationFeedback"] is True
    booked = (
        await op(
            "ScheduleHabit",
            {"habitId": habit["id"], "start": picks[0]["start"], "calendarId": calendar["id"]},
        )
    )["scheduleHabit"]
    assert (booked["start"], booked["habit"]["id"]) == (picks[0]["start"], habit["id"])

    task = (
        await op(
            "CreateTask",
            {
                "input": {
                    "title": "Race plan",
                    "priority": "P1",
                    "durationMinutes": 120,
                    "maxChunkMinutes": 60,
                    "due": "2026-04-03T17:00:00+02:00",
                    "goalId": goal["id"],
                }
            },
        )
    )["createTask"]
    assert (task["scheduledMinutes"], task["remainingMinutes"], task["atRisk"]) == (120, 0, False)
    assert {b["task"]["id"] for b in task["blocks"]} == {task["id"]}
    updated = (await op("UpdateTask", {"id": task["id"], "input": {"durationMinutes": 90}}))[
        "updateTask"
    ]
    assert sum(1 for _ in updated["blocks"]) >= 2
    assert updated["scheduledMinutes"] == 90
    listed = (await op("Tasks", {"status": "OPEN"}))["tasks"]
    assert listed["edges"][0]["node"]["goal"]["title"] == "Spring marathon"
    shown = (await op("Schedule", {"range": week}))["events"]["edges"]
    assert {e["node"]["task"]["id"] for e in shown if e["node"]["task"]} == {task["id"]}
    finished = (await op("CompleteTask", {"id": task["id"]}))["completeTask"]
    assert (finished["status"], finished["scheduledMinutes"], finished["blocks"]) == ("DONE", 0, [])
    assert (await op("DeleteTask", {"id": task["id"]}))["deleteTask"] is True

    assert (await op("DeleteHabit", {"id": habit["id"]}))["deleteHabit"] is True
    assert (await op("DeleteGoal", {"id": goal["id"]}))["deleteGoal"] is True

    # PlanUpdates, a subscription, runs against a worker: tests/test_planning_worker.py.
    in_scope = {p.stem for p in OPERATIONS.glob("*.graphql")} - SYNC - {"PlanUpdates"}
    assert op.ran == in_scope

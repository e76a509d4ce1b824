"""No request makes one Mongo query per item: command counts stay flat as data grows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from models import Calendar, CheckInEntry, CheckInYear, Event, Frequency, Goal, Habit
from models.base import ref, utcnow
from models.habit import year_documents
from tests.conftest import Client

RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}


def mongo_commands() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "mongo_commands":
            total += sum(s.value for s in metric.samples if s.name == "mongo_commands_total")
    return total


async def seed(sub: str, goals: int) -> None:
    """`goals` goals with 3 habits each, 30 days of check-ins per habit, events on 2 calendars."""
    calendars = [
        Calendar(user_id=sub, name=f"c{i}", provider="LOCAL", timezone="UTC") for i in range(2)
    ]
    await Calendar.insert_many(calendars)
    goal_docs = [Goal(user_id=sub, title=f"goal {i}") for i in range(goals)]
    await Goal.insert_many(goal_docs)
    habits = [
        Habit(
            user_id=sub, goal_id=ref(g), name=f"habit {j}", frequency=Frequency(times=1, per="DAY")
        )
        for g in goal_docs
        for j in range(3)
    ]
    await Habit.insert_many(habits)
    first = date(2026, 3, 1)
    days = [(first + timedelta(days=d)).isoformat() for d in range(30)]
    entries = [CheckInEntry(ref(h), day, "DONE", None) for h in habits for day in days]
    await CheckInYear.insert_many(year_documents(sub, entries, utcnow()))
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    await Event.insert_many(
        [
            Event(
                user_id=sub,
                calendar_id=ref(calendars[i % 2]),
                title=f"event {i}",
                start_time=start + timedelta(hours=5 * i),
                end_time=start + timedelta(hours=5 * i + 1),
            )
            for i in range(goals)
        ]
    )


async def dashboard_commands(client: Client, goals: int) -> float:
    await seed(client.sub, goals)
    await client.op("Me")  # the user document exists before we count
    before = mongo_commands()
    r = await client.op("Dashboard", {"range": RANGE, "goalsFirst": 200})
    after = mongo_commands()
    assert len(r.data["goals"]["edges"]) == goals
    assert all(len(e["node"]["habits"]) == 3 for e in r.data["goals"]["edges"])
    assert r.data["events"]["totalCount"] == goals
    return after - before


@pytest.mark.usefixtures("no_cache")
async def test_dashboard_issues_the_same_commands_for_5_and_100_goals(new_user: object) -> None:
    # given: a Dashboard run before (a query's first reads are learnt from its last run)
    small, large = new_user(), new_user()  # type: ignore[operator]
    await dashboard_commands(new_user(), 1)  # type: ignore[operator]
    # when
    few = await dashboard_commands(small, 5)
    many = await dashboard_commands(large, 100)
    # then
    assert few == many
    assert many <= 10, f"the Dashboard needs {many} Mongo commands"

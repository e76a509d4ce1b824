"""Check-ins kept a document per habit and year: those stored one a document before are
folded in, and cache warming counts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from graphql_api import warm
from graphql_api.relay import ref_of
from graphql_api.state import AppState
from models import User
from models.habit import day_set, year_key
from models.migrations import migrate
from tests.conftest import Client
from tests.helpers import check_in, create_habit

READ = (
    'query($id: ID!) { node(id: $id) { ... on Habit { checkIns(from: "2025-12-01",'
    ' to: "2026-01-31") { date status value } } } }'
)
EARLIER = datetime(2026, 1, 10, 8, tzinfo=UTC)


def old_check_in(sub: str, habit_id: str, day: str, status: str, value: float | None) -> Any:
    """A check-in as the code before year documents stored it."""
    return {
        "_id": ObjectId(),
        "userId": sub,
        "habitId": habit_id,
        "date": day,
        "status": status,
        "value": value,
        "recordedAt": EARLIER,
    }


async def test_check_ins_stored_one_a_document_are_folded_into_their_years(
    alice: Client, app_state: AppState
) -> None:
    # given: a habit's check-ins as the old code stored them, across a new year, and one
    # day the new code has recorded since (as another instance would while this one starts)
    habit = await create_habit(alice)
    habit_id = ref_of(habit["id"], "Habit")
    db = app_state.mongo[app_state.settings.mongodb_db]
    days = ["2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02"]
    old = [old_check_in(alice.sub, habit_id, d, "DONE", float(i)) for i, d in enumerate(days)]
    await db["check_ins"].insert_many(old)
    key = year_key(alice.sub, habit_id, "2026-01-02")
    since = day_set("2026-01-02", "SKIPPED", None, datetime(2026, 1, 11, tzinfo=UTC))
    await db["check_in_years"].update_one(key, since, upsert=True)
    # when: the server starts, twice (the second finds nothing left to fold)
    await migrate(db)
    await migrate(db)
    # then: every old check-in is read back, the newer answer of the day it shares kept
    stored = (await alice.execute(READ, {"id": habit["id"]})).data["node"]
    assert stored["checkIns"] == [
        {"date": "2025-12-30", "status": "DONE", "value": 0.0},
        {"date": "2025-12-31", "status": "DONE", "value": 1.0},
        {"date": "2026-01-01", "status": "DONE", "value": 2.0},
        {"date": "2026-01-02", "status": "SKIPPED", "value": None},
    ]
    # a document per year, and none of the old ones left
    assert await db["check_ins"].count_documents({}) == 0
    years = await db["check_in_years"].find({"habitId": habit_id}).to_list()
    assert sorted(y["year"] for y in years) == [2025, 2026]
    assert all(y["userId"] == alice.sub for y in years)


async def test_cache_warming_picks_the_users_who_checked_in_on_recent_days(
    new_user: Any, app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: one user checked in today, twice; another, just now, only for a month ago
    active, catching_up = new_user(), new_user()
    today = datetime.now(UTC).date()
    for _ in range(2):
        await check_in(active, (await create_habit(active))["id"], today.isoformat())
    month_ago = (today - timedelta(days=30)).isoformat()
    await check_in(catching_up, (await create_habit(catching_up))["id"], month_ago)
    warmed: list[str] = []

    async def record(state: AppState, user: User) -> None:
        warmed.append(user.sub)

    monkeypatch.setattr(warm, "warm_user", record)
    # when
    await warm.warm_most_active(app_state, since=datetime.now(UTC) - timedelta(days=7), limit=10**6)
    # then: the first warmed; the second's check-in is of no day of the week
    assert active.sub in warmed
    assert catching_up.sub not in warmed

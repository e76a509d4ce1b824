"""Cache warming (the seed's job, every 4 hours): the most active users' dashboards."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

from graphql_api.context import Context
from graphql_api.events.service import events_between
from graphql_api.goals.service import goal_progress
from graphql_api.habits.service import habit_stats
from graphql_api.reads import user_calendars, user_goals, user_habits
from graphql_api.state import AppState
from models import CheckInYear, User
from models.base import ref


async def warm_most_active(state: AppState, since: datetime, limit: int = 50) -> int:
    """Warms the users with the most check-ins recorded since `since` of days since then
    (a habit's year keeps when its latest check-in was recorded, not each one's); how
    many were warmed."""
    counts: Counter[str] = Counter()
    first = since.date().isoformat()
    async for year in CheckInYear.get_pymongo_collection().find({"recordedAt": {"$gte": since}}):
        recent = sum(1 for day in year["days"] if day >= first)
        if recent:
            counts[year["userId"]] += recent
    warmed = 0
    for user_id, _ in counts.most_common(limit):
        user = await User.find_one({"sub": user_id})
        if user is not None:
            await warm_user(state, user)
            warmed += 1
    return warmed


async def warm_user(state: AppState, user: User) -> None:
    """What a Dashboard reads, computed into the cache: lists, streaks, progress, this week."""
    ctx = Context.for_user(state, user, request_id="cache-warm")
    for habit in await user_habits(ctx):
        if habit.is_active:
            await habit_stats(ctx, habit)
    for goal in await user_goals(ctx):
        await goal_progress(ctx, goal)
    monday = ctx.today - timedelta(days=ctx.today.weekday())
    start = datetime.combine(monday, time(), ctx.zone)
    calendars = [ref(c) for c in await user_calendars(ctx)]
    await events_between(ctx, calendars, start, start + timedelta(days=7))

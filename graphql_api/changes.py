"""Changes: what a write retires, announced in one place that every domain calls.

A write calls the function for what it changed; the function bumps the cache scopes
that cover it (every cached value and whole answer read under them is retired, in
every process) and drops what this request has already read under them. Domains never call
each other for this: a habit's change retires its goal's progress here, not through
the goals' service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from graphql_api.cache.scopes import calendar_scope, calendar_scopes, week_scope
from graphql_api.context import Context
from graphql_api.replans import BUSY_SCOPE
from models import Habit
from models.base import Ref, ref


def _goals(*goal_ids: Ref | None, kind: str = "goal") -> list[str]:
    return [f"{kind}:{g}" for g in goal_ids if g]


async def goal_changed(
    ctx: Context, *goal_ids: Ref | None, listed: bool = False, logged: bool = False
) -> None:
    """Retires what was cached about these goals (and the goal list when `listed`; and
    the sums of their progress logs when `logged`: a log written or deleted)."""
    logs = _goals(*goal_ids, kind="progress") if logged else []
    listing = "goals" if listed else None
    await ctx.cache.bump(*_goals(*goal_ids), *logs, listing)
    ctx.forget_documents(listing)


async def goal_progress_logged(ctx: Context, goal_id: Ref) -> None:
    """A progress entry was logged: the goal's progress and log are read afresh. (Its
    logged total is kept under a scope of its own, `progress:<id>`, which only this
    and the goal's deletion retire: a check-in of one of its habits changes the goal's
    progress only when it has no target, so it leaves the sum of the log cached.)"""
    ctx.loaders.progress_total_by_goal.clear(goal_id)
    ctx.loaders.progress_log_by_goal.clear(goal_id)
    await goal_changed(ctx, goal_id, logged=True)


async def habits_changed(ctx: Context) -> None:
    """Retires the habit list after a write to several habits at once."""
    await ctx.cache.bump("habits")


async def habit_changed(
    ctx: Context, habit: Habit, *goal_ids: Ref | None, listed: bool = False
) -> None:
    """Retires what was cached about the habit, the goals it counts for, and maybe the list."""
    # What goal_changed retires, in the same bump: one round trip.
    goals = _goals(habit.goal_id, *goal_ids)
    listing = "habits" if listed else None
    await ctx.cache.bump(f"habit:{ref(habit)}", listing, *goals)
    ctx.forget_documents(listing)
    ctx.loaders.check_ins_by_habit.clear(ref(habit))
    ctx.forget("habit_stats")


async def habit_history_changed(ctx: Context, habit_id: Ref) -> None:
    """The habit's feedback or bookings changed: what is cached under the habit (its
    recommendations among it) is retired; its goals' progress is not."""
    await ctx.cache.bump(f"habit:{habit_id}")


async def calendars_changed(ctx: Context, *calendar_ids: Ref, listed: bool = False) -> None:
    """Retires the cached events of these calendars (and the calendar list when `listed`),
    and the user's busy time as the planner reads it (`BUSY_SCOPE`)."""
    scopes = [scope for c in calendar_ids for scope in calendar_scopes(c)]
    listing = "calendars" if listed else None
    await ctx.cache.bump(*scopes, BUSY_SCOPE, listing)
    ctx.forget_documents(listing)


async def event_changed(ctx: Context, calendar_id: Ref, days: Iterable[date]) -> None:
    """One event of the calendar changed, on these UTC days only (all it covered before
    and after): not a series nor an occurrence of one, whose days have no end. Retires
    what showed the calendar's events, and of the events kept by week only those of
    these days' weeks: the calendar's other weeks stay cached. And the busy time, as
    `calendars_changed`."""
    weeks = (week_scope(calendar_id, day) for day in days)
    await ctx.cache.bump(calendar_scope(calendar_id), BUSY_SCOPE, *weeks)


async def blocks_changed(ctx: Context, *calendar_ids: Ref) -> None:
    """The planner's own events changed on these calendars, nothing else (blocks: events
    of a task; `planned` bookings of habits): their cached events are retired, the busy
    time is not (the planner's events are not busy time to it, so a plan's own writes
    leave it cached). A booking handed over as history becomes busy time: that write
    calls `calendars_changed`."""
    await ctx.cache.bump(*(scope for c in calendar_ids for scope in calendar_scopes(c)))


async def profile_changed(ctx: Context) -> None:
    """Retires what was cached about the user's profile (time zone, working hours)."""
    await ctx.cache.bump("profile")

"""Reads: the one home of every read of the user's documents, below every domain.

Resolvers and services read through here, never through `ctx.loaders` or another
domain's service. Two kinds of read, each with one function per kind of document:

- `<kind>_by_id`: an id the client sent (`node`, a mutation's target) or a document
  that names another (a check-in's habit, an instance's series). Read through the
  request's DataLoader: the ids one request asks for are read in one query.
- `<kind>_of`: one of the user's goals, habits or calendars, picked from the user's
  whole list (`user_goals`, `user_habits`, `user_calendars`). These are few per user
  and nearly every operation reads the lists anyway (one cached read per request, see
  `Context.documents`); what is picked from them is cached under the list's version,
  so a whole cached answer that showed it is retired by a write to the list. A
  check-in's habit is one of these: the check-in writes only the check-in, and the
  list's version vouches for the habit it reads (one Mongo round trip fewer).

Either way the read is the user's own: another user's id is simply a miss (None).
"""

from __future__ import annotations

from graphql_api.cache import codecs
from graphql_api.cache.request import Held
from graphql_api.context import Context
from models import Calendar, Event, Goal, Habit, Task
from models.base import Ref, matching, ref


async def user_goals(ctx: Context) -> list[Goal]:
    """The user's goals, from the request's (cached) list."""
    return await ctx.documents(Goal, "goals", ctx.settings.cache_ttl_goals)


async def hold_goals(ctx: Context) -> Held[bytes] | None:
    """Before a new goal is written: the user's goal list as cached, if it is."""
    return await ctx.hold_documents("goals")


async def carry_new_goal(ctx: Context, held: Held[bytes] | None, goal: Goal) -> None:
    """After the new goal's write and the bump of the list: the held list with the goal
    added, cached, so that the next read of the goals makes no query
    (`Context.carry_documents`)."""
    await ctx.carry_documents(held, goal, ctx.settings.cache_ttl_goals)


async def goal_of(ctx: Context, goal_id: Ref) -> Goal | None:
    """One of the user's goals, from the request's (cached) list."""
    return next((g for g in await user_goals(ctx) if ref(g) == goal_id), None)


async def user_habits(ctx: Context) -> list[Habit]:
    """The user's habits, oldest first, from the request's (cached) list."""
    habits = await ctx.documents(Habit, "habits", ctx.settings.cache_ttl_habits)
    return sorted(habits, key=lambda h: (h.created_at, str(h.id)))


async def habit_of(ctx: Context, habit_id: Ref) -> Habit | None:
    """One of the user's habits, from the request's (cached) list."""
    return next((h for h in await user_habits(ctx) if ref(h) == habit_id), None)


async def user_calendars(ctx: Context) -> list[Calendar]:
    """The user's calendars, the primary one first, from the request's (cached) list."""
    calendars = await ctx.documents(Calendar, "calendars", ctx.settings.cache_ttl_user_calendars)
    return sorted(calendars, key=lambda c: (not c.is_primary, c.created_at, str(c.id)))


async def calendar_of(ctx: Context, calendar_id: Ref) -> Calendar | None:
    """One of the user's calendars, from the request's (cached) list."""
    return next((c for c in await user_calendars(ctx) if ref(c) == calendar_id), None)


async def plans_anything(ctx: Context) -> bool:
    """Whether the planner has anything of the user's to place: an open task or an active
    auto-scheduled habit. Cached under the task and habit lists' scopes (every task write
    bumps `tasks`, every habit write `habits`), so a change to the calendar of a user
    without either queues no re-plan that would find nothing to do."""
    if any(h.planner_books for h in await user_habits(ctx)):
        return True

    async def open_task() -> bool:
        found = await Task.get_pymongo_collection().find_one(
            matching({"userId": ctx.user_id, "status": "OPEN"}), {"_id": 1}
        )
        return found is not None

    ttl = ctx.settings.cache_ttl_goals
    return await ctx.cache.cached("open-task", ["tasks"], ttl, open_task, codecs.JSON)


async def goal_by_id(ctx: Context, goal_id: Ref) -> Goal | None:
    """One of the user's goals by id, through the request's DataLoader."""
    return await ctx.loaders.goal_by_id.load(goal_id)


async def habit_by_id(ctx: Context, habit_id: Ref) -> Habit | None:
    """One of the user's habits by id, through the request's DataLoader."""
    return await ctx.loaders.habit_by_id.load(habit_id)


async def event_by_id(ctx: Context, event_id: Ref) -> Event | None:
    """One of the user's stored events (a single event or a series), through the request's
    DataLoader: the ids asked for at once are read in one query."""
    return await ctx.loaders.event_by_id.load(event_id)

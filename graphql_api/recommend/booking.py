"""Booking a recommended slot (under a per-user Redis lock, so two requests cannot take
the same free time) and the user's feedback on a slot.

Split from the ranking (graphql_api.recommend.ranking) as it was, function for function.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from graphql_api.changes import calendars_changed, habit_history_changed
from graphql_api.errors import BadUserInput
from graphql_api.events.service import events_between, writable
from graphql_api.reads import calendar_of, user_calendars
from graphql_api.redis_clients import held_if_possible
from graphql_api.relay import ref_of
from models import Calendar, Event, Feedback, Habit
from models.base import ref

if TYPE_CHECKING:
    from graphql_api.context import Context


# --- feedback and booking ---------------------------------------------------------


async def give_feedback(ctx: Context, habit: Habit, start: datetime, accepted: bool) -> None:
    """Records (or replaces) what the user said of the slot starting at `start`."""
    moment = start.astimezone(UTC).replace(microsecond=0)
    said = Feedback(
        user_id=ctx.user_id,
        habit_id=ref(habit),
        start=moment,
        accepted=accepted,
        recorded_at=ctx.now.astimezone(UTC),
    )
    stored = said.model_dump(by_alias=True, exclude={"id", "revision_id"})
    await Feedback.get_pymongo_collection().replace_one(
        {"userId": ctx.user_id, "habitId": ref(habit), "start": moment}, stored, upsert=True
    )
    await habit_history_changed(ctx, ref(habit))


async def schedule_habit(
    ctx: Context, habit: Habit, start: datetime, calendar_id: str | None
) -> Event:
    """Books the habit at `start` for its duration, if that time is still free."""
    if not habit.is_active:
        raise BadUserInput("the habit is paused: resume it to schedule it", field="habitId")
    begins = start.astimezone(UTC).replace(microsecond=0)
    if begins < ctx.now.astimezone(UTC) - timedelta(minutes=1):
        raise BadUserInput("start is in the past", field="start")
    ends = begins + timedelta(minutes=habit.duration_minutes)
    calendars = await user_calendars(ctx)
    if calendar_id is not None:
        calendar = writable(await calendar_of(ctx, ref_of(calendar_id, "Calendar")))
    else:
        calendar = await _habit_calendar(ctx, calendars)
    async with _booking(ctx):
        return await _book(ctx, habit, calendar, calendars, (begins, ends))


@asynccontextmanager
async def _booking(ctx: Context) -> AsyncIterator[None]:
    """One booking at a time per user, so two requests cannot take the same free time.

    Without Redis the booking goes ahead unguarded rather than failing.
    """
    name = f"{ctx.settings.cache_prefix}booking:{ctx.user_id}"
    async with held_if_possible(ctx.state.redis, name, expires_s=10, wait_s=5):
        yield


async def _book(
    ctx: Context,
    habit: Habit,
    calendar: Calendar,
    calendars: list[Calendar],
    slot: tuple[datetime, datetime],
) -> Event:
    begins, ends = slot
    taken = [
        e
        for e in await events_between(ctx, [ref(c) for c in calendars], begins, ends)
        if e.busy and e.status != "CANCELLED"
    ]
    if taken:
        first = min(taken, key=lambda e: e.start_time)
        raise BadUserInput(
            f"the slot is no longer free: it overlaps {first.title!r} "
            f"({first.start_time:%Y-%m-%dT%H:%MZ}-{first.end_time:%H:%MZ})",
            field="start",
        )
    event = Event(
        user_id=ctx.user_id,
        calendar_id=ref(calendar),
        title=habit.name,
        start_time=begins,
        end_time=ends,
        busy=True,
        habit_id=ref(habit),
    )
    await event.insert()
    await calendars_changed(ctx, ref(calendar))
    await habit_history_changed(ctx, ref(habit))
    return event


async def _habit_calendar(ctx: Context, calendars: list[Calendar]) -> Calendar:
    """The primary LOCAL calendar, else the first LOCAL one, else a new one for habits."""
    local = [c for c in calendars if c.provider == "LOCAL"]
    if local:
        return next((c for c in local if c.is_primary), local[0])
    calendar = Calendar(
        user_id=ctx.user_id,
        name="Habits",
        provider="LOCAL",
        timezone=ctx.viewer.timezone,
        is_primary=not any(c.is_primary for c in calendars),
    )
    await calendar.insert()
    await calendars_changed(ctx, ref(calendar), listed=True)
    return calendar

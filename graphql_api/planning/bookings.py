"""Auto-scheduled habits in a re-plan: what the planner is told of them (their windows, the
recommender's scores of their free slots, their bookings) and their bookings written as
events linked by `Event.habit` (`planned`: the planner's, which it moves and removes)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from graphql_api.planning.planner import Booking, HabitSpec, Plan
from graphql_api.reads import user_habits
from graphql_api.recommend.ranking import slot_scores
from graphql_api.scheduling.slots import windows_for
from loaders.base import find_all
from models import Event, Habit
from models.base import matching, ref
from models.habit import SKIPS_KEPT

if TYPE_CHECKING:
    from graphql_api.context import Context

# Bookings this far back may count toward the period under way (a month at most); the
# skipped ones are kept as long (models.habit.SKIPS_KEPT).
COUNTED_SINCE = SKIPS_KEPT


@dataclass
class HabitInput:
    habits: list[Habit] = field(default_factory=list)
    specs: list[HabitSpec] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)  # the planner's, not ended
    events: dict[str, Event] = field(default_factory=dict)  # those bookings' events by id


async def habit_input(
    ctx: Context, busy: list[tuple[datetime, datetime]], until: datetime
) -> HabitInput:
    """The user's active auto-scheduled habits as the planner sees them (`busy`: the time
    no task block or booking holds)."""
    habits = sorted(
        (h for h in await user_habits(ctx) if h.planner_books),
        key=lambda h: (h.created_at, str(h.id)),
    )
    if not habits:
        return HabitInput()
    now, ids = ctx.now, [ref(h) for h in habits]
    events = await find_all(
        Event,
        matching(
            {
                "userId": ctx.user_id,
                "habitId": {"$in": ids},
                "endTime": {"$gt": now - COUNTED_SINCE},
            }
        ),
    )
    found = HabitInput(habits)
    counted: dict[str, list[datetime]] = {}
    for event in events:
        if event.status == "CANCELLED" or event.habit_id is None:
            continue
        if event.planned and event.end_time > now:
            found.bookings.append(
                Booking(event.habit_id, event.start_time, event.end_time, ref(event))
            )
            found.events[ref(event)] = event
        else:  # booked by hand, or past: it counts toward its period
            counted.setdefault(event.habit_id, []).append(event.start_time)
    for habit in habits:  # the bookings the user deleted count too (skipped)
        skips = [at for at in habit.skipped if at > now - COUNTED_SINCE]
        counted.setdefault(ref(habit), []).extend(skips)
    scores = await asyncio.gather(*(slot_scores(ctx, h, busy, until) for h in habits))
    hours = [(w.weekday, w.start, w.end) for w in ctx.viewer.working_hours]
    for rank, (habit, scored) in enumerate(zip(habits, scores, strict=True)):
        windows = windows_for(
            [(w.weekdays, w.start, w.end) for w in habit.preferred_windows], hours
        )
        found.specs.append(
            HabitSpec(
                id=ref(habit),
                minutes=habit.duration_minutes,
                times=habit.frequency.times,
                per=habit.frequency.per,
                windows=windows,
                scores=scored,
                counted=counted.get(ref(habit), []),
                rank=rank,
            )
        )
    return found


async def apply_bookings(
    ctx: Context,
    found: HabitInput,
    result: Plan,
    calendar: Callable[[], Awaitable[str]],
) -> tuple[set[str], list[str]]:
    """Writes the plan's bookings: the removed ones deleted, the new ones inserted on
    `calendar()` (the primary LOCAL calendar, as task blocks). Returns the calendars touched
    and the habits whose bookings changed."""
    touched: set[str] = set()
    changed = {b.habit_id for b in [*result.remove_bookings, *result.add_bookings]}
    gone = [found.events[b.id] for b in result.remove_bookings if b.id in found.events]
    if gone:
        await Event.get_pymongo_collection().delete_many(
            {"userId": ctx.user_id, "_id": {"$in": [e.id for e in gone]}}
        )
        touched |= {e.calendar_id for e in gone}
    if result.add_bookings:
        names = {ref(h): h.name for h in found.habits}
        home = await calendar()
        await Event.insert_many(
            [
                Event(
                    user_id=ctx.user_id,
                    calendar_id=home,
                    title=names[b.habit_id],
                    start_time=b.start,
                    end_time=b.end,
                    busy=True,
                    habit_id=b.habit_id,
                    planned=True,
                )
                for b in result.add_bookings
            ]
        )
        touched.add(home)
    return touched, sorted(changed)

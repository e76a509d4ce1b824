from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError
from strawberry import UNSET

from graphql_api import validation
from graphql_api.cache import codecs
from graphql_api.changes import calendars_changed, habit_changed
from graphql_api.errors import BadUserInput, NotFound, not_found
from graphql_api.habits.loop import DENOMINATOR_BY_PERIOD, HabitStats
from graphql_api.habits.loop import habit_stats as loop_stats
from graphql_api.reads import goal_of, user_habits
from graphql_api.relay import ref_of
from graphql_api.replans import request_replan
from loaders.base import find_all
from models import CheckInEntry, CheckInYear, Event, Frequency, Habit, PreferredWindow
from models.base import Ref, matching, ref, save_changes, utcnow
from models.habit import day_set, day_unset, year_key

if TYPE_CHECKING:
    from graphql_api.cache.request import Held
    from graphql_api.context import Context
    from graphql_api.habits.inputs import (
        CreateHabitInput,
        FrequencyInput,
        PreferredWindowInput,
        UpdateHabitInput,
    )

MAX_DURATION_MINUTES = 24 * 60
MAX_WINDOWS = 50
# Goal.habits is a list inside the goals page: its size multiplies the query's cost.
MAX_HABITS_PER_GOAL = 10
# Streaks are computed day by day from the first check-in: keep history bounded.
MAX_HISTORY = timedelta(days=3660)


def habit_not_found() -> NotFound:
    return not_found("Habit")


def frequency(data: FrequencyInput) -> Frequency:
    limit = DENOMINATOR_BY_PERIOD[data.per.value]
    if not 1 <= data.times <= limit:
        if data.per.value == "DAY":
            raise BadUserInput(
                "frequency.times must be 1 when per is DAY: a habit is checked in once a day",
                field="frequency.times",
            )
        raise BadUserInput(
            f"frequency.times must be between 1 and {limit} per {data.per.value}, got {data.times}",
            field="frequency.times",
        )
    return Frequency(times=data.times, per=data.per.value)


def duration(minutes: int) -> int:
    if not 1 <= minutes <= MAX_DURATION_MINUTES:
        raise BadUserInput(
            f"durationMinutes must be between 1 and {MAX_DURATION_MINUTES}, got {minutes}",
            field="durationMinutes",
        )
    return minutes


def preferred_windows(items: list[PreferredWindowInput]) -> list[PreferredWindow]:
    if len(items) > MAX_WINDOWS:
        raise BadUserInput(f"at most {MAX_WINDOWS} preferred windows", field="preferredWindows")
    result = []
    for i, item in enumerate(items):
        field = f"preferredWindows[{i}]"
        if not item.weekdays:
            raise BadUserInput(f"{field}.weekdays must name at least one day", field=field)
        days = sorted({validation.weekday(d, f"{field}.weekdays") for d in item.weekdays})
        validation.time_window(item.start, item.end, field)
        result.append(PreferredWindow(weekdays=days, start=item.start, end=item.end))
    return result


def longest_window(ctx: Context, windows: list[PreferredWindow]) -> int:
    """Minutes of the longest time a booking of the habit may take: its preferred windows
    (those of a weekday joined where they meet), else the user's working hours, else
    07:00-22:00, as the planner and the recommender place it."""
    spans = [(d, w.start, w.end) for w in windows for d in w.weekdays] or [
        (w.weekday, w.start, w.end) for w in ctx.viewer.working_hours
    ]
    if not spans:
        return 15 * 60
    by_day: dict[int, list[tuple[int, int]]] = {}
    for day, start, end in spans:
        by_day.setdefault(day, []).append(validation.time_window(start, end, "window"))
    longest = 0
    for intervals in by_day.values():
        run_start, run_end = -1, -1
        for low, high in sorted(intervals):
            if low > run_end:
                run_start, run_end = low, high
            run_end = max(run_end, high)
            longest = max(longest, run_end - run_start)
    return longest


def bookable(ctx: Context, minutes: int, windows: list[PreferredWindow]) -> None:
    """An auto-scheduled habit must fit in one of its windows, or it could never be booked."""
    longest = longest_window(ctx, windows)
    if minutes > longest:
        raise BadUserInput(
            f"durationMinutes ({minutes}) is longer than every window the habit may be booked "
            f"in (the longest is {longest} minutes): autoSchedule could never book it",
            field="durationMinutes",
        )


async def unbook(ctx: Context, habit_id: Ref) -> None:
    """The planner's bookings of the habit not yet started go; those under way or past stay,
    as history (and as bookings of the habit), no longer the planner's to move."""
    owner = {"userId": ctx.user_id}
    booked = await find_all(Event, matching({**owner, "habitId": habit_id, "planned": True}))
    future = [e for e in booked if e.start_time >= ctx.now]
    kept = [e for e in booked if e.start_time < ctx.now]
    if future:
        await Event.get_pymongo_collection().delete_many(
            {**owner, "_id": {"$in": [e.id for e in future]}}
        )
    if kept:
        await Event.get_pymongo_collection().update_many(
            {**owner, "_id": {"$in": [e.id for e in kept]}},
            {"$set": {"planned": False}, "$inc": {"rev": 1}},
        )
    if booked:
        await calendars_changed(ctx, *sorted({e.calendar_id for e in booked}))


async def goal_reference(
    ctx: Context, goal_id: str | None, habit: Habit | None = None
) -> Ref | None:
    """The id of one of the user's goals with room for one more habit (`habit` itself
    not counted), or NOT_FOUND, or BAD_USER_INPUT when the goal is full."""
    if goal_id is None:
        return None
    oid = ref_of(goal_id, "Goal")
    if await goal_of(ctx, oid) is None:
        raise not_found("Goal")
    # Two writes at once may both find room: the goal then holds one habit more than
    # the cost counts, which a lock on every habit write would not be worth.
    moving = ref(habit) if habit else None
    others = [h for h in await user_habits(ctx) if h.goal_id == oid and ref(h) != moving]
    if len(others) >= MAX_HABITS_PER_GOAL:
        raise BadUserInput(
            f"a goal has at most {MAX_HABITS_PER_GOAL} habits; this one is full", field="goalId"
        )
    return oid


async def create_habit(ctx: Context, data: CreateHabitInput) -> Habit:
    habit = Habit(
        user_id=ctx.user_id,
        name=validation.text(data.name, "name", validation.NAME_MAX),
        frequency=frequency(data.frequency),
        duration_minutes=duration(data.duration_minutes),
        preferred_windows=preferred_windows(data.preferred_windows or []),
        goal_id=await goal_reference(ctx, data.goal_id),
        auto_schedule=bool(data.auto_schedule),
    )
    if habit.auto_schedule:
        bookable(ctx, habit.duration_minutes, habit.preferred_windows)
    await habit.insert()
    await habit_changed(ctx, habit, listed=True)
    if habit.auto_schedule:
        await request_replan(ctx.state, ctx.user_id, "HABIT_CHANGED")
    return habit


# Changes that move an auto-scheduled habit's bookings.
PLANNED_BY = {"frequency", "duration_minutes", "preferred_windows", "is_active", "auto_schedule"}


async def update_habit(ctx: Context, habit: Habit, data: UpdateHabitInput) -> Habit:
    changes: dict[str, Any] = {}
    if data.name is not UNSET:
        name = validation.not_null(data.name, "name")
        changes["name"] = validation.text(name, "name", validation.NAME_MAX)
    if data.frequency is not UNSET:
        changes["frequency"] = frequency(validation.not_null(data.frequency, "frequency"))
    if data.duration_minutes is not UNSET:
        minutes = validation.not_null(data.duration_minutes, "durationMinutes")
        changes["duration_minutes"] = duration(minutes)
    if data.preferred_windows is not UNSET:
        changes["preferred_windows"] = preferred_windows(data.preferred_windows or [])
    if data.is_active is not UNSET:
        changes["is_active"] = validation.not_null(data.is_active, "isActive")
    if data.auto_schedule is not UNSET:
        changes["auto_schedule"] = validation.not_null(data.auto_schedule, "autoSchedule")
    if data.goal_id is not UNSET:
        changes["goal_id"] = await goal_reference(ctx, data.goal_id, habit)
    if changes.get("auto_schedule", habit.auto_schedule):
        bookable(
            ctx,
            changes.get("duration_minutes", habit.duration_minutes),
            changes.get("preferred_windows", habit.preferred_windows),
        )
    if changes:
        before = await save_changes(habit, {"userId": habit.user_id}, **changes)
        if before is None:
            raise habit_not_found()
        await habit_changed(ctx, habit, before.goal_id, listed=True)
        if (before.auto_schedule or habit.auto_schedule) and PLANNED_BY & changes.keys():
            if not habit.planner_books:
                await unbook(ctx, ref(habit))
            await request_replan(ctx.state, ctx.user_id, "HABIT_CHANGED")
    return habit


async def delete_habit(ctx: Context, habit: Habit) -> None:
    """Deletes the habit and its check-ins, and the planner's bookings of it not yet started;
    the other events booked for it stay, unlinked."""
    owner = {"userId": ctx.user_id}
    result = await Habit.get_pymongo_collection().delete_one({"_id": habit.id, **owner})
    if result.deleted_count == 0:
        raise habit_not_found()
    await CheckInYear.get_pymongo_collection().delete_many({"habitId": ref(habit), **owner})
    await unbook(ctx, ref(habit))
    unlinked = await Event.get_pymongo_collection().distinct(
        "calendarId", {"habitId": ref(habit), **owner}
    )
    await Event.get_pymongo_collection().update_many(
        {"habitId": ref(habit), **owner}, {"$set": {"habitId": None}, "$inc": {"rev": 1}}
    )
    await habit_changed(ctx, habit, listed=True)
    await calendars_changed(ctx, *unlinked)
    if habit.auto_schedule:
        await request_replan(ctx.state, ctx.user_id, "HABIT_CHANGED")


def check_in_date(day: date, today: date) -> str:
    if day > today:
        raise BadUserInput(f"{day} is after the user's today ({today})", field="date")
    if today - day > MAX_HISTORY:
        raise BadUserInput("check-ins may go back at most ten years", field="date")
    return day.isoformat()


async def check_in(
    ctx: Context, habit: Habit, day: date, status: str, value: float | None
) -> CheckInEntry:
    """Records the user's check-in for the day, replacing any earlier one for that day."""
    iso_day = check_in_date(day, ctx.today)
    if value is not None:
        validation.finite(value, "value")
    entry = CheckInEntry(ref(habit), iso_day, status, value)
    held = await _hold_history(ctx, habit)
    # An upsert of the day's field alone, in the year's document: a retry changes nothing
    # more, and a check-in of another day at the same time is kept beside it.
    await _upsert_year(
        year_key(ctx.user_id, entry.habit_id, iso_day), day_set(iso_day, status, value, utcnow())
    )
    await habit_changed(ctx, habit)
    await _carry_history(ctx, habit, held, iso_day, entry)
    return entry


async def _upsert_year(key: dict[str, Any], update: dict[str, Any]) -> None:
    collection = CheckInYear.get_pymongo_collection()
    try:
        await collection.update_one(matching(key), update, upsert=True)
    except DuplicateKeyError:
        # Another check-in made the year's document between this upsert's lookup and its
        # insert; now it exists. (MongoDB retries that itself only when the filter is the
        # unique key's fields alone, and this one names the owner too.)
        await collection.update_one(matching(key), update)


async def clear_check_in(ctx: Context, habit: Habit, day: date) -> bool:
    held = await _hold_history(ctx, habit)
    iso_day = day.isoformat()
    result = await CheckInYear.get_pymongo_collection().update_one(
        matching(year_key(ctx.user_id, ref(habit), iso_day)), day_unset(iso_day)
    )
    await habit_changed(ctx, habit)
    await _carry_history(ctx, habit, held, iso_day, None)
    return result.modified_count > 0


def _history_codec(habit_id: Ref) -> codecs.Codec[list[CheckInEntry]]:
    def encode(entries: list[CheckInEntry]) -> bytes:
        return codecs.JSON.encode([[e.date, e.status, e.value] for e in entries])

    def decode(raw: bytes) -> list[CheckInEntry]:
        return [CheckInEntry(habit_id, *item) for item in codecs.JSON.decode(raw)]

    return codecs.Codec(encode, decode)


async def habit_history(ctx: Context, habit: Habit) -> list[CheckInEntry]:
    """The habit's whole history, oldest first, cached under the habit's version (a
    check-in carries it over to the version its bump makes: `check_in`)."""
    habit_id = ref(habit)

    async def load() -> list[CheckInEntry]:
        return await ctx.loaders.check_ins_by_habit.load(habit_id)

    ttl = ctx.settings.cache_ttl_habit_stats
    codec = _history_codec(habit_id)
    return await ctx.cache.cached(f"history:{habit_id}", [f"habit:{habit_id}"], ttl, load, codec)


async def _hold_history(ctx: Context, habit: Habit) -> Held[list[CheckInEntry]] | None:
    habit_id = ref(habit)
    codec = _history_codec(habit_id)
    return await ctx.cache.hold(f"history:{habit_id}", [f"habit:{habit_id}"], codec)


async def _carry_history(
    ctx: Context,
    habit: Habit,
    held: Held[list[CheckInEntry]] | None,
    day: str,
    entry: CheckInEntry | None,
) -> None:
    """The history as held before the write, with the day's check-in now `entry` (None:
    cleared): the next read (this check-in's streak and strength first) need not read
    it from Mongo."""
    if held is None or held.value is None:
        return
    others = [e for e in held.value if e.date != day]
    history = sorted([*others, entry] if entry else others, key=lambda e: e.date)
    ttl = ctx.settings.cache_ttl_habit_stats
    await ctx.cache.carry(held, history, ttl, _history_codec(ref(habit)))


def _encode_stats(stats: HabitStats) -> bytes:
    return codecs.JSON.encode([stats.current_streak, stats.longest_streak, stats.strength])


def _decode_stats(raw: bytes) -> HabitStats:
    current, longest, strength = codecs.JSON.decode(raw)
    return HabitStats(current_streak=current, longest_streak=longest, strength=strength)


STATS = codecs.Codec(_encode_stats, _decode_stats)


def habit_stats(ctx: Context, habit: Habit) -> asyncio.Future[HabitStats]:
    """Streaks and strength on the user's today: once per request, cached between requests.
    The request's one future of them (`Context.memo`): gathered as it is, with no task
    to await it."""

    async def compute() -> HabitStats:
        docs = await habit_history(ctx, habit)
        history = {date.fromisoformat(d.date): d.status for d in docs}
        return loop_stats(history, habit.frequency.times, habit.frequency.per, ctx.today)

    frequency = f"{habit.frequency.times}/{habit.frequency.per}"
    name = f"habit_stats:{ref(habit)}:{ctx.today}:{frequency}"

    async def cached() -> HabitStats:
        ttl = ctx.settings.cache_ttl_habit_stats
        return await ctx.cache.cached(name, [f"habit:{ref(habit)}"], ttl, compute, STATS)

    return ctx.memo(("habit_stats", name), cached)

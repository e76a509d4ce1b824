"""Recommended slots for a habit, feedback on them, and booking one.

`recommend` finds the free slots in the range (graphql_api.scheduling.slots),
computes their features in one pass, and ranks them with the user's or the
global XGBoost model, or with the heuristic while there is no model or the
habit has too little history. Each answer is cached per user, habit, range and
quarter hour (slots starting sooner than the minimum notice are never offered)
under the versions of the habit, the calendars and the profile, and names the
model version, so check-ins, feedback, new events and new models retire it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from graphql_api import validation
from graphql_api.cache import codecs
from graphql_api.cache.scopes import calendar_scope
from graphql_api.errors import BadUserInput
from graphql_api.events.service import events_between
from graphql_api.habits.loop import HabitStats
from graphql_api.habits.loop import habit_stats as loop_stats
from graphql_api.habits.service import STATS, habit_not_found
from graphql_api.reads import habit_of, user_calendars, user_habits
from graphql_api.recommend import adaptive, personal
from graphql_api.recommend.data import (
    HORIZON,
    Busy,
    HabitData,
    HabitRecord,
    Tally,
    busy_of,
    decode_busy,
    encode_busy,
    habit_data,
    rate,
    rows_for,
    window_bounds,
)
from graphql_api.recommend.model import MODELS_SCOPE, Ranker
from graphql_api.relay import ref_of
from graphql_api.scheduling.slots import STEP, free_slots
from models import Calendar, Event, Feedback, Habit
from models.base import matching, ref

if TYPE_CHECKING:
    from graphql_api.context import Context

MAX_RANGE = timedelta(days=31)
MAX_LIMIT = 50
REASONS = personal.REASONS
HEURISTIC = "heuristic"


@dataclass(frozen=True)
class Pick:
    start: datetime
    end: datetime
    score: float
    reasons: list[tuple[str, float]]
    ranked_by: str


def _encode(picks: list[Pick]) -> bytes:
    return codecs.JSON.encode(
        [[p.start.isoformat(), p.end.isoformat(), p.score, p.reasons, p.ranked_by] for p in picks]
    )


def _decode(raw: bytes) -> list[Pick]:
    return [
        Pick(
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
            score,
            [(feature, contribution) for feature, contribution in reasons],
            ranked_by,
        )
        for start, end, score, reasons, ranked_by in codecs.JSON.decode(raw)
    ]


PICKS = codecs.Codec(_encode, _decode)


async def habit_named(ctx: Context, habit_id: str) -> Habit:
    """The user's habit by its global ID, from the (cached) list of their habits."""
    habit = await habit_of(ctx, ref_of(habit_id, "Habit"))
    if habit is None:
        raise habit_not_found()
    return habit


def earliest_start(ctx: Context) -> datetime:
    """Now plus the minimum notice, up to the next quarter hour."""
    soonest = ctx.now.astimezone(UTC) + timedelta(minutes=ctx.settings.schedule_min_notice_min)
    quarter = STEP.total_seconds()
    return datetime.fromtimestamp(math.ceil(soonest.timestamp() / quarter) * quarter, UTC)


async def recommend(
    ctx: Context, habit: Habit, start: datetime, end: datetime, limit: int
) -> list[Pick]:
    start, end = validation.time_range(start, end)
    if end - start > MAX_RANGE:
        raise BadUserInput("range may span at most 31 days for recommendations", field="range")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if not habit.is_active:
        raise BadUserInput("the habit is paused: resume it to get recommendations", field="habitId")
    not_before = earliest_start(ctx)
    # The answer holds until the earliest start moves on to the next quarter hour, and
    # while the models are the same (`train` bumps their scope).
    ctx.cache.valid_until(not_before - timedelta(minutes=ctx.settings.schedule_min_notice_min))
    generation, calendars = await asyncio.gather(
        ctx.cache.tokens([MODELS_SCOPE]), user_calendars(ctx)
    )
    ranker = await ctx.state.rankers.for_user(ctx.user_id, generation[-1] if generation else None)
    model = f"{ranker.scope}-{ranker.version}" if ranker else HEURISTIC
    name = (
        f"recommendations:{ref(habit)}:{start:%Y%m%dT%H%M%S}:{end:%Y%m%dT%H%M%S}:"
        f"{limit}:{not_before:%Y%m%dT%H%M}:{model}"
    )
    scopes = [
        "profile",
        "calendars",
        f"habit:{ref(habit)}",
        *(calendar_scope(ref(c)) for c in calendars),
    ]

    async def compute() -> list[Pick]:
        asked = Asked(habit, calendars, start, end, limit, not_before)
        return await _rank(ctx, asked, ranker)

    ttl = ctx.settings.cache_ttl_recommendations
    if ttl <= 0:  # switched off (the benchmark measures ranking itself this way)
        return await compute()
    return await ctx.cache.cached(name, scopes, ttl, compute, PICKS)


@dataclass(frozen=True)
class Asked:
    habit: Habit
    calendars: list[Calendar]
    start: datetime
    end: datetime
    limit: int
    not_before: datetime


async def _rank(ctx: Context, asked: Asked, ranker: Ranker | None) -> list[Pick]:
    habit, limit = asked.habit, asked.limit
    data = await _habit_data(
        ctx, habit, asked.calendars, asked.start - HORIZON, asked.end + HORIZON
    )
    slots = free_slots(
        busy=[(b.start, b.end) for b in data.busy],
        start=asked.start,
        end=asked.end,
        zone=data.zone,
        windows=data.windows,
        duration=timedelta(minutes=habit.duration_minutes),
        buffer_before=timedelta(minutes=ctx.settings.schedule_buffer_before_min),
        buffer_after=timedelta(minutes=ctx.settings.schedule_buffer_after_min),
        not_before=asked.not_before,
    )
    if not slots:
        return []
    rows = rows_for(data, ctx.now, [s.start for s in slots], window_bounds(slots))
    history = len(data.scheduled) + len(data.feedback)
    use = ranker if ranker is not None and history >= ctx.settings.recommend_min_history else None
    said = adaptive.answers(data.zone, ctx.now, data.outcomes(), data.feedback)
    key = f"{ref(habit)}:{asked.not_before:%Y%m%dT%H%M}"
    if use is not None:  # XGBoost in a worker thread
        picks = await asyncio.to_thread(personal.rank, rows, said, use, limit, key)
    else:
        picks = personal.rank(rows, said, None, limit, key)
    chosen = [(slots[p.row], p) for p in picks]
    return [Pick(s.start, s.end, p.score, p.reasons, p.ranked_by) for s, p in chosen]


def _encode_scores(scores: dict[datetime, float]) -> bytes:
    return codecs.JSON.encode([[at.timestamp(), value] for at, value in scores.items()])


def _decode_scores(raw: bytes) -> dict[datetime, float]:
    return {datetime.fromtimestamp(at, UTC): value for at, value in codecs.JSON.decode(raw)}


SCORES = codecs.Codec(_encode_scores, _decode_scores)


async def slot_scores(
    ctx: Context,
    habit: Habit,
    busy: list[tuple[datetime, datetime]],
    end: datetime,
) -> dict[datetime, float]:
    """The recommender's score of every start the habit may be booked at from the minimum
    notice to `end`: its free slots around `busy` inside its windows, ranked as
    `recommendations` ranks them (the model where one serves the user, then their answers)
    but with `busy` as the busy time around them too, and without exploration, so that the
    same calendar gets the same scores (the planner books the best of them).

    Cached per quarter hour under the habit, the profile and the models, keyed by `busy`
    (the planner's busy time, without its own blocks and bookings, which each re-plan
    rewrites: so re-plans of an unchanged calendar rank nothing again)."""
    start = earliest_start(ctx)
    end = start + max(timedelta(0), end - start)
    end = datetime.fromtimestamp(math.ceil(end.timestamp() / 900) * 900, UTC)
    if end <= start:
        return {}
    generation = await ctx.cache.tokens([MODELS_SCOPE])
    ranker = await ctx.state.rankers.for_user(ctx.user_id, generation[-1] if generation else None)
    model = f"{ranker.scope}-{ranker.version}" if ranker else HEURISTIC
    digest = hashlib.blake2b(
        b"".join(struct.pack("<dd", s.timestamp(), e.timestamp()) for s, e in sorted(busy)),
        digest_size=12,
    ).hexdigest()
    name = f"slot_scores:{ref(habit)}:{start:%Y%m%dT%H%M}:{end:%Y%m%dT%H%M}:{model}:{digest}"

    async def compute() -> dict[datetime, float]:
        return await _slot_scores(ctx, habit, busy, (start, end), ranker)

    ttl = ctx.settings.cache_ttl_recommendations
    if ttl <= 0:
        return await compute()
    scopes = ["profile", f"habit:{ref(habit)}", MODELS_SCOPE]
    return await ctx.cache.cached(name, scopes, ttl, compute, SCORES)


async def _slot_scores(
    ctx: Context,
    habit: Habit,
    busy: list[tuple[datetime, datetime]],
    span: tuple[datetime, datetime],
    ranker: Ranker | None,
) -> dict[datetime, float]:
    start, end = span
    around = [Busy(s, e, str(i)) for i, (s, e) in enumerate(busy)]
    data = await _habit_data(ctx, habit, [], start - HORIZON, end + HORIZON, busy=around)
    slots = free_slots(
        busy=busy,
        start=start,
        end=end,
        zone=data.zone,
        windows=data.windows,
        duration=timedelta(minutes=habit.duration_minutes),
    )
    if not slots:
        return {}
    rows = rows_for(data, ctx.now, [s.start for s in slots], window_bounds(slots))
    history = len(data.scheduled) + len(data.feedback)
    use = ranker if ranker is not None and history >= ctx.settings.recommend_min_history else None
    said = adaptive.answers(data.zone, ctx.now, data.outcomes(), data.feedback)
    if use is not None:  # XGBoost in a worker thread
        scored = await asyncio.to_thread(personal.scored, rows, said, use)
    else:
        scored = personal.scored(rows, said, None)
    return {s.start: float(v) for s, v in zip(slots, scored.score.tolist(), strict=True)}


async def _habit_data(
    ctx: Context,
    habit: Habit,
    calendars: list[Calendar],
    start: datetime,
    end: datetime,
    *,
    busy: list[Busy] | None = None,
) -> HabitData:
    """What the features of the habit's slots are computed from: `busy`, else the busy time
    of `calendars` from `start` to `end`."""
    habits = await user_habits(ctx)
    calendars = calendars or await user_calendars(ctx)
    busy_now = _known(busy) if busy is not None else _busy(ctx, calendars, start, end)
    around, record, (total, done), stats = await asyncio.gather(
        busy_now,
        _record(ctx, habit, calendars),
        _tally(ctx, habits),
        _stats_before_today(ctx, habit),
    )
    overall = rate(total, done)
    data = habit_data(
        user=ctx.viewer, habit=habit, busy=around, record=record, user_rate=lambda _: overall
    )
    data.known_stats[ctx.today] = stats
    return data


async def _stats_before_today(ctx: Context, habit: Habit) -> HabitStats:
    """Streak and strength from the check-ins before today (as the model was trained)."""

    async def compute() -> HabitStats:
        entries = await ctx.loaders.check_ins_by_habit.load(ref(habit))
        days = {date.fromisoformat(c.date): c.status for c in entries}
        before = {d: s for d, s in days.items() if d < ctx.today}
        return loop_stats(before, habit.frequency.times, habit.frequency.per, ctx.today)

    frequency = f"{habit.frequency.times}/{habit.frequency.per}"
    name = f"stats_before:{ref(habit)}:{ctx.today}:{frequency}"
    ttl = ctx.settings.cache_ttl_habit_stats
    return await ctx.cache.cached(name, [f"habit:{ref(habit)}"], ttl, compute, STATS)


BUSY = codecs.Codec(encode_busy, decode_busy)


async def _known(busy: list[Busy]) -> list[Busy]:
    return busy


async def _busy(
    ctx: Context, calendars: list[Calendar], start: datetime, end: datetime
) -> list[Busy]:
    """The busy time of all the user's calendars in the range, kept compact in the cache."""

    async def load() -> list[Busy]:
        return busy_of(await events_between(ctx, [ref(c) for c in calendars], start, end))

    scopes = ["calendars", *(calendar_scope(ref(c)) for c in calendars)]
    name = f"busy:{start:%Y%m%dT%H%M%S}:{end:%Y%m%dT%H%M%S}"
    ttl = ctx.settings.cache_ttl_calendar_events
    return await ctx.cache.cached(name, scopes, ttl, load, BUSY)


RECORD = codecs.Codec(HabitRecord.encode, HabitRecord.decode)


async def _record(ctx: Context, habit: Habit, calendars: list[Calendar]) -> HabitRecord:
    """The habit's booked instances, check-ins and feedback, cached until one changes (its
    events may also change on their calendars)."""

    async def load() -> HabitRecord:
        booked, check_ins, feedback = await asyncio.gather(
            Event.find(matching({"userId": ctx.user_id, "habitId": ref(habit)})).to_list(),
            ctx.loaders.check_ins_by_habit.load(ref(habit)),
            Feedback.find(matching({"userId": ctx.user_id, "habitId": ref(habit)})).to_list(),
        )
        return HabitRecord.of(ctx.zone, booked, check_ins, feedback)

    scopes = ["profile", f"habit:{ref(habit)}", *(calendar_scope(ref(c)) for c in calendars)]
    ttl = ctx.settings.cache_ttl_habit_stats
    return await ctx.cache.cached(f"habit_record:{ref(habit)}", scopes, ttl, load, RECORD)


async def _tally(ctx: Context, habits: list[Habit]) -> tuple[int, int]:
    """The user's check-ins of all habits before today, and how many are DONE."""

    async def load() -> tuple[int, int]:
        entries = await ctx.loaders.check_ins_by_habit.load_many([ref(h) for h in habits])
        statuses = ((date.fromisoformat(c.date), c.status) for e in entries for c in e)
        return Tally.of(statuses).counts_before(ctx.today)

    scopes = ["profile", "habits", *(f"habit:{ref(h)}" for h in habits)]
    ttl = ctx.settings.cache_ttl_habit_stats
    total, done = await ctx.cache.cached(f"tally:{ctx.today}", scopes, ttl, load, codecs.JSON)
    return int(total), int(done)

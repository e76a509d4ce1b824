"""Re-planning a user: their tasks, calendar and booked blocks read (and their
auto-scheduled habits: `bookings`), the planner run, its changes written as events (blocks,
bookings) and told to the user's subscribers.

Runs in the worker (`plan_user`, queued by `graphql_api.replans`) and in the task mutations, whose
answers show the task already planned; one run per user at a time (`plan_lock`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from graphql_api.cache import codecs
from graphql_api.changes import blocks_changed, calendars_changed
from graphql_api.events.service import busy_between
from graphql_api.planning import updates
from graphql_api.planning.bookings import HabitInput, apply_bookings, habit_input
from graphql_api.planning.planner import Block, Plan, PlanInput, TaskSpec, plan
from graphql_api.reads import user_calendars, user_habits
from graphql_api.redis_clients import held_if_possible
from graphql_api.replans import BUSY_SCOPE, IMPROVE, request_replan
from graphql_api.scheduling.slots import windows_for
from loaders.base import find_all, find_rows
from models import Calendar, Event, Task
from models.base import Ref, matching, ref, save_changes

if TYPE_CHECKING:
    from graphql_api.context import Context
    from graphql_api.lifespan import AppState

log = logging.getLogger(__name__)

# Working hours when the user has set none: 09:00-17:00, Monday to Friday, in their zone.
DEFAULT_HOURS = [(weekday, "09:00", "17:00") for weekday in range(1, 6)]
TASKS_CALENDAR = "Tasks"  # the LOCAL calendar made for blocks when the user has none
# Reasons a run tells subscribers of only when it changed something.
QUIET = {"CALENDAR_CHANGED", "HORIZON", IMPROVE}


@dataclass
class Replanned:
    """What a run changed: the plan, and the tasks it says something about."""

    plan: Plan
    tasks: list[Task] = field(default_factory=list)
    changed: bool = False
    habits: list[str] = field(default_factory=list)  # those whose bookings changed
    # The tasks' blocks as the run left them: as stored before it (rows), less those it
    # removed, and those it added.
    stored: list[dict[str, Any]] = field(default_factory=list)
    removed: set[Ref] = field(default_factory=set)
    added: list[Event] = field(default_factory=list)

    def blocks_of(self, task_id: Ref) -> list[Event]:
        """The task's blocks after the run, by start (as `BlocksByTaskLoader` lists them)."""
        kept = [
            Event.model_validate(row)
            for row in self.stored
            if row["taskId"] == task_id and str(row["_id"]) not in self.removed
        ]
        blocks = [*kept, *(e for e in self.added if e.task_id == task_id)]
        return sorted(blocks, key=lambda e: (e.start_time, e.id))


@asynccontextmanager
async def plan_lock(state: AppState, user_id: str) -> AsyncIterator[None]:
    """One planner run per user at a time, across processes. Without Redis the run goes
    ahead unguarded rather than failing."""
    name = f"{state.settings.cache_prefix}lock:plan:{user_id}"
    async with held_if_possible(state.redis, name, expires_s=60, wait_s=30):
        yield


def horizon_end(now: datetime, tasks: Sequence[Task], days: int, max_days: int) -> datetime:
    """`days` ahead, or as far as the latest due, at most `max_days` ahead."""
    end = now + timedelta(days=days)
    dues = [t.due for t in tasks if t.due is not None]
    return min(max([end, *dues]), now + timedelta(days=max_days))


def specs_of(
    tasks: Sequence[Task], blocks: Sequence[Block], now: datetime
) -> tuple[list[TaskSpec], list[Block]]:
    """The tasks' open work (blocks that ended count as done) and their blocks not ended."""
    done: dict[str, int] = {}
    future: list[Block] = []
    for block in blocks:
        if block.end <= now:
            minutes = int((block.end - block.start).total_seconds()) // 60
            done[block.task_id] = done.get(block.task_id, 0) + minutes
        else:
            future.append(block)
    ordered = sorted(tasks, key=lambda t: (t.created_at, str(t.id)))
    specs = [
        TaskSpec(
            id=ref(task),
            priority=int(task.priority[1:]),
            minutes=max(0, task.duration_minutes - done.get(ref(task), 0)),
            min_chunk=min(task.min_chunk_minutes, task.duration_minutes),
            max_chunk=task.max_chunk,
            due=task.due,
            not_before=task.not_before,
            rank=rank,
        )
        for rank, task in enumerate(ordered)
    ]
    return specs, future


async def replan(ctx: Context, reasons: Sequence[str], *, improve: bool = False) -> Replanned:
    """Plans the user's open tasks again and applies the changes; tells subscribers.

    The greedy plan first (`planner.plan`, milliseconds); when it leaves tasks at risk, the
    solver's pass (`solver.improve`, seconds) with `improve` (the worker), or else a worker
    run is queued for it (`IMPROVE`): a request never waits for the solver."""
    async with plan_lock(ctx.state, ctx.user_id):
        inputs = await _read(ctx)
        done = Replanned(Plan()) if inputs is None else await _write(ctx, inputs, plan(inputs.data))
    await _tell(ctx, done, reasons)
    if done.plan.at_risk and ctx.settings.plan_solver_s > 0:
        if not improve:
            await request_replan(ctx.state, ctx.user_id, IMPROVE)
        elif (better := await _improved(ctx)) is not None:
            await _tell(ctx, better, [*reasons, "TASK_CHANGED"])
            return better
    return done


async def _tell(ctx: Context, done: Replanned, reasons: Sequence[str]) -> None:
    """Tells the user's subscribers what the run changed (and, for a task's or a habit's
    change, how the tasks stand even when nothing moved)."""
    if done.changed or set(reasons) - QUIET:
        # an improvement queued by a task's change is told as one
        reason = next((r for r in updates.REASONS if r in reasons), "TASK_CHANGED")
        await updates.publish(
            ctx.state.redis,
            ctx.settings.cache_prefix,
            ctx.user_id,
            update_of(done, reason, ctx.now),
        )


async def _improved(ctx: Context) -> Replanned | None:
    """The solver's pass over the plan as stored (`solver.improve`), applied when it found
    fewer tasks at risk and nothing the plan reads changed while it ran. The solver runs in
    a thread, outside the user's plan lock: a task's change meanwhile waits for no solver
    (and its own re-plan, queued, sees the change)."""
    # OR-Tools adds ~88 MB to a process: loaded where the solver runs (the worker) only
    from graphql_api.planning import solver  # noqa: PLC0415

    settings = ctx.settings
    async with plan_lock(ctx.state, ctx.user_id):
        inputs = await _read(await ctx.afresh())  # the plan as the greedy run just wrote it
    if inputs is None:
        return None
    greedy = plan(inputs.data)
    better = await asyncio.to_thread(
        solver.improve,
        inputs.data,
        greedy,
        limit_s=settings.plan_solver_s,
        workers=settings.plan_solver_workers,
    )
    if better is None:
        return None
    async with plan_lock(ctx.state, ctx.user_id):
        now = await ctx.afresh()
        fresh = await _read(now)
        if fresh is None or fresh.data != inputs.data:
            log.info("the solver's plan of %s is dropped: the plan changed", ctx.user_id)
            return None
        # the plan was made for the clock when it began: none of its new blocks or
        # bookings may now start inside the minimum notice
        soonest = ctx.state.clock() + inputs.data.notice
        starts = [b.start for b in better.add] + [b.start for b in better.add_bookings]
        if any(start < soonest for start in starts):
            log.info("the solver's plan of %s is dropped: its time went by", ctx.user_id)
            return None
        return await _write(now, fresh, better)


def update_of(done: Replanned, reason: str, now: datetime) -> dict[str, Any]:
    blocks = done.plan.blocks
    return {
        "at": now.isoformat(),
        "reason": reason,
        "tasks": [
            {
                "id": ref(task),
                "atRisk": task.at_risk,
                "scheduledMinutes": sum(b.minutes for b in blocks if b.task_id == ref(task)),
            }
            for task in done.tasks
        ],
        "habits": done.habits,
    }


async def busy_time(
    ctx: Context, calendars: list[Calendar], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The busy time of the user's calendars in [start, end), blocks left out.

    Cached for the whole UTC days around the range under the calendar list's and the
    user's busy scope (`BUSY_SCOPE`), which every write of events bumps except the
    planner's own blocks: a plan's writes leave it cached for the next plan."""
    low = datetime.combine(start.astimezone(UTC).date(), time(), UTC)
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    high = datetime.combine(last + timedelta(days=1), time(), UTC)

    async def load() -> list[tuple[datetime, datetime]]:
        return await busy_between(ctx, [ref(c) for c in calendars], low, high)

    spans = await ctx.cache.cached(
        f"plan-busy:{low:%Y%m%d}:{high:%Y%m%d}",
        ["calendars", BUSY_SCOPE],
        ctx.settings.cache_ttl_calendar_events,
        load,
        codecs.SPANS,
    )
    return [(s, e) for s, e in spans if s < end and e > start]


async def _blocks(ctx: Context, task_ids: list[Ref]) -> list[dict[str, Any]]:
    """The tasks' blocks as stored rows (the run needs five fields of each, and builds a
    document only for the answer's task: see `Replanned.blocks_of`)."""
    if not task_ids:
        return []
    query = matching({"userId": ctx.user_id, "taskId": {"$in": task_ids}})
    rows: list[dict[str, Any]] = await find_rows(Event.get_pymongo_collection(), query)
    return rows


@dataclass
class _Inputs:
    """What a plan reads: the open tasks, the calendars, the tasks' stored blocks (rows),
    the auto-scheduled habits, and the planner's input made of them."""

    tasks: list[Task]
    calendars: list[Calendar]
    stored: list[dict[str, Any]]
    habits: HabitInput
    data: PlanInput
    elsewhere: list[Block]  # blocks on another calendar than their task's: booked again


async def _read(ctx: Context) -> _Inputs | None:
    """The plan's inputs; None when there is nothing to plan (a calendar change of a user
    without tasks or auto-scheduled habits)."""
    settings, user, now = ctx.settings, ctx.viewer, ctx.now
    tasks, calendars = await asyncio.gather(
        find_all(Task, matching({"userId": ctx.user_id, "status": "OPEN"})), user_calendars(ctx)
    )
    if not tasks and not any(h.planner_books for h in await user_habits(ctx)):
        return None
    end = horizon_end(now, tasks, settings.plan_horizon_days, settings.plan_max_days)
    stored, busy = await asyncio.gather(
        _blocks(ctx, [ref(t) for t in tasks]), busy_time(ctx, calendars, now, end)
    )
    booked = [
        Block(row["taskId"], row["startTime"], row["endTime"], str(row["_id"])) for row in stored
    ]
    until = now + timedelta(days=settings.plan_horizon_days)
    habits = await habit_input(ctx, busy, until)
    specs, future = specs_of(tasks, booked, now)
    # A block on another calendar than its task's (the task moved) is booked again there.
    homes = _homes(calendars, tasks)
    on = {str(row["_id"]): row["calendarId"] for row in stored}
    elsewhere = [
        b for b in future if b.start >= now and b.id and homes.get(b.task_id, on[b.id]) != on[b.id]
    ]
    future = [b for b in future if b not in elsewhere]
    hours = [(w.weekday, w.start, w.end) for w in user.working_hours] or DEFAULT_HOURS
    data = PlanInput(
        now=now,
        horizon_end=end,
        zone=ZoneInfo(user.timezone),
        windows=windows_for([], hours),
        busy=busy,
        tasks=specs,
        blocks=future,
        notice=timedelta(minutes=settings.schedule_min_notice_min),
        habits=habits.specs,
        bookings=habits.bookings,
        habits_until=until,
    )
    return _Inputs(tasks, calendars, stored, habits, data, elsewhere)


async def _write(ctx: Context, inputs: _Inputs, result: Plan) -> Replanned:
    """Applies the plan: blocks and bookings removed and added, tasks' `atRisk`; retires
    what shows them."""
    owner = {"userId": ctx.user_id}
    tasks, calendars, stored, habits = inputs.tasks, inputs.calendars, inputs.stored, inputs.habits
    elsewhere = inputs.elsewhere
    on = {str(row["_id"]): row["calendarId"] for row in stored}
    result.remove.extend(elsewhere)
    changed = bool(result.add or result.remove)
    touched: set[str] = set()
    gone = {b.id for b in result.remove if b.id}
    new: list[Event] = []
    rebooked: list[str] = []
    try:
        if gone:
            touched |= {on[i] for i in gone}
            await Event.get_pymongo_collection().delete_many(
                {**owner, "_id": {"$in": [row["_id"] for row in stored if str(row["_id"]) in gone]}}
            )
        if result.add:
            by_id = {ref(t): t for t in tasks}
            homes = await _calendars(ctx, calendars, tasks)
            new = [
                Event(
                    user_id=ctx.user_id,
                    calendar_id=homes[b.task_id],
                    title=by_id[b.task_id].title,
                    start_time=b.start,
                    end_time=b.end,
                    busy=True,
                    task_id=b.task_id,
                )
                for b in result.add
            ]
            touched |= {e.calendar_id for e in new}
            await Event.insert_many(new)
        for task in tasks:
            risky = ref(task) in result.at_risk
            if task.at_risk != risky:
                await save_changes(task, owner, at_risk=risky)
                changed = True
        try:
            habit_calendars, rebooked = await apply_bookings(
                ctx, habits, result, partial(_home, ctx, calendars)
            )
        except BaseException:
            touched |= {ref(c) for c in calendars}  # where its bookings may have gone
            raise
        touched |= habit_calendars
    finally:
        # what was written is retired even when a later write failed
        if touched:
            await blocks_changed(ctx, *sorted(touched))
    if changed:
        await ctx.cache.bump("tasks")
    return Replanned(
        result,
        tasks,
        changed or bool(rebooked),
        rebooked,
        stored=stored,
        removed=gone,
        added=new,
    )


async def _home(ctx: Context, calendars: list[Calendar]) -> str:
    """Where new bookings of habits go: the primary LOCAL calendar (made on first need)."""
    return ref(await primary_local(ctx, calendars))


def _homes(calendars: list[Calendar], tasks: Sequence[Task]) -> dict[str, str]:
    """Each task's calendar for blocks, where it exists already (see `_calendars`)."""
    local = {ref(c): c for c in calendars if c.provider == "LOCAL"}
    primary = next((c for c in local.values() if c.is_primary), None)
    default = primary or next(iter(local.values()), None)
    homes: dict[str, str] = {}
    for task in tasks:
        if task.calendar_id in local:
            homes[ref(task)] = task.calendar_id
        elif default is not None:
            homes[ref(task)] = ref(default)
    return homes


async def _calendars(
    ctx: Context, calendars: list[Calendar], tasks: Sequence[Task]
) -> dict[str, str]:
    """Each task's calendar for new blocks: its own while that is a LOCAL calendar of the
    user, else the primary LOCAL one (made on first need)."""
    local = {ref(c): c for c in calendars if c.provider == "LOCAL"}
    homes: dict[str, str] = {}
    default: str | None = None
    for task in tasks:
        if task.calendar_id in local:
            homes[ref(task)] = task.calendar_id
            continue
        if default is None:
            default = ref(await primary_local(ctx, calendars))
        homes[ref(task)] = default
    return homes


async def primary_local(ctx: Context, calendars: list[Calendar]) -> Calendar:
    """The primary LOCAL calendar, else the first LOCAL one, else a new one."""
    local = [c for c in calendars if c.provider == "LOCAL"]
    if local:
        return next((c for c in local if c.is_primary), local[0])
    calendar = Calendar(
        user_id=ctx.user_id,
        name=TASKS_CALENDAR,
        provider="LOCAL",
        timezone=ctx.viewer.timezone,
        is_primary=not any(c.is_primary for c in calendars),
    )
    await calendar.insert()
    await calendars_changed(ctx, ref(calendar), listed=True)
    calendars.append(calendar)
    return calendar

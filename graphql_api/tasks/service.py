from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from strawberry import UNSET

from graphql_api import validation
from graphql_api.changes import blocks_changed
from graphql_api.errors import BadUserInput, not_found
from graphql_api.planning.service import Replanned, replan
from graphql_api.reads import calendar_of
from graphql_api.relay import ref_of
from graphql_api.replans import request_replan
from loaders.base import find_all
from models import Event, Task
from models.base import Ref, apply_change, matching, ref

if TYPE_CHECKING:
    from graphql_api.context import Context
    from graphql_api.tasks.inputs import CreateTaskInput, UpdateTaskInput

NOTES_MAX = validation.DESCRIPTION_MAX
STEP_MINUTES = 15
DURATION_MAX = 7 * 24 * 60  # a week of work
BLOCKS_SHOWN = 40  # Task.blocks: those nearest now (the next ones, then the latest past)


def _minutes(value: int, field: str, most: int = DURATION_MAX) -> int:
    if value % STEP_MINUTES or not STEP_MINUTES <= value <= most:
        raise BadUserInput(
            f"{field} must be a multiple of 15 from 15 to {most}, got {value}", field=field
        )
    return value


def _instant(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(microsecond=0) if value is not None else None


def checked(task: Task) -> Task:
    """The rules a task's numbers and times keep together; BAD_USER_INPUT naming the field."""
    duration = _minutes(task.duration_minutes, "durationMinutes")
    _minutes(task.min_chunk_minutes, "minChunkMinutes")
    if task.max_chunk_minutes is not None:
        _minutes(task.max_chunk_minutes, "maxChunkMinutes", duration)
    if min(task.min_chunk_minutes, duration) > task.max_chunk:
        raise BadUserInput(
            "minChunkMinutes must not be more than maxChunkMinutes", field="minChunkMinutes"
        )
    if task.due is not None and task.not_before is not None and task.due <= task.not_before:
        raise BadUserInput("due must be after notBefore", field="due")
    return task


async def _goal_id(ctx: Context, goal_id: str | None) -> Ref | None:
    if goal_id is None:
        return None
    goal = await ctx.loaders.goal_by_id.load(ref_of(goal_id, "Goal"))
    if goal is None:
        raise BadUserInput("goalId is not one of your goals", field="goalId")
    return ref(goal)


async def _calendar_id(ctx: Context, calendar_id: str | None) -> Ref | None:
    if calendar_id is None:
        return None
    calendar = await calendar_of(ctx, ref_of(calendar_id, "Calendar"))
    if calendar is None:
        raise BadUserInput("calendarId is not one of your calendars", field="calendarId")
    if calendar.provider != "LOCAL":
        raise BadUserInput(
            f"calendar {calendar.name!r} is synced from {calendar.provider}: blocks go on a "
            "LOCAL calendar",
            field="calendarId",
        )
    return ref(calendar)


async def _planned(ctx: Context, task: Task) -> Task:
    """Plans the user's tasks; the task as the plan left it."""
    done: Replanned = await replan(ctx, ["TASK_CHANGED"])
    planned = next((t for t in done.tasks if t.id == task.id), None)
    # The answer shows the task's blocks as the plan left them: known here, not read again.
    ctx.loaders.blocks_by_task.clear(ref(task))
    if planned is not None:
        ctx.loaders.blocks_by_task.prime(ref(task), done.blocks_of(ref(task)))
    ctx.loaders.task_by_id.clear(ref(task))
    return planned or task


async def create_task(ctx: Context, data: CreateTaskInput) -> Task:
    task = checked(
        Task(
            user_id=ctx.user_id,
            title=validation.text(data.title, "title", validation.TITLE_MAX),
            notes=validation.optional_text(data.notes, "notes", NOTES_MAX),
            priority=data.priority.value,
            duration_minutes=data.duration_minutes,
            min_chunk_minutes=data.min_chunk_minutes,
            max_chunk_minutes=data.max_chunk_minutes,
            not_before=_instant(data.not_before),
            due=_instant(data.due),
            goal_id=await _goal_id(ctx, data.goal_id),
            calendar_id=await _calendar_id(ctx, data.calendar_id),
        )
    )
    await task.insert()
    await ctx.cache.bump("tasks")
    return await _planned(ctx, task)


def _changes(data: UpdateTaskInput) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if data.title is not UNSET:
        title = validation.not_null(data.title, "title")
        changes["title"] = validation.text(title, "title", validation.TITLE_MAX)
    if data.notes is not UNSET:
        changes["notes"] = validation.optional_text(data.notes, "notes", NOTES_MAX)
    if data.priority is not UNSET:
        changes["priority"] = validation.not_null(data.priority, "priority").value
    if data.duration_minutes is not UNSET:
        changes["duration_minutes"] = validation.not_null(data.duration_minutes, "durationMinutes")
    if data.min_chunk_minutes is not UNSET:
        changes["min_chunk_minutes"] = validation.not_null(
            data.min_chunk_minutes, "minChunkMinutes"
        )
    if data.max_chunk_minutes is not UNSET:
        changes["max_chunk_minutes"] = data.max_chunk_minutes  # null: the whole duration
    if data.not_before is not UNSET:
        changes["not_before"] = _instant(data.not_before)
    if data.due is not UNSET:
        changes["due"] = _instant(data.due)
    return changes


async def update_task(ctx: Context, task: Task, data: UpdateTaskInput) -> Task:
    changes = _changes(data)
    if data.goal_id is not UNSET:
        changes["goal_id"] = await _goal_id(ctx, data.goal_id)
    if data.calendar_id is not UNSET:
        changes["calendar_id"] = await _calendar_id(ctx, data.calendar_id)
    if not changes:
        return task
    changes["updated_at"] = datetime.now(UTC)

    def change(stored: Task) -> dict[str, Any]:
        # Checked against the task as stored at the moment of the write.
        checked(stored.model_copy(update=changes))
        return changes

    before = await apply_change(task, {"userId": ctx.user_id}, change)
    if before is None:
        raise not_found("Task")
    if before.title != task.title:
        await _retitle_blocks(ctx, task)
    await ctx.cache.bump("tasks")
    return await _planned(ctx, task)


async def _retitle_blocks(ctx: Context, task: Task) -> None:
    """A task's blocks carry its title."""
    owner = {"userId": ctx.user_id, "taskId": ref(task)}
    blocks = await find_all(Event, owner)
    await Event.get_pymongo_collection().update_many(
        owner, {"$set": {"title": task.title}, "$inc": {"rev": 1}}
    )
    await blocks_changed(ctx, *sorted({b.calendar_id for b in blocks}))


async def _remove_future_blocks(ctx: Context, task_id: Ref) -> None:
    """The task's blocks not yet started go; those under way or past stay, as history."""
    owner = {"userId": ctx.user_id}
    blocks = await find_all(Event, {**owner, "taskId": task_id})
    future = [b for b in blocks if b.start_time >= ctx.now]
    if future:
        await Event.get_pymongo_collection().delete_many(
            {**owner, "_id": {"$in": [b.id for b in future]}}
        )
        await blocks_changed(ctx, *sorted({b.calendar_id for b in future}))
    ctx.loaders.blocks_by_task.clear(task_id)


async def complete_task(ctx: Context, task: Task) -> Task:
    now = ctx.now
    done = {"status": "DONE", "completed_at": now, "updated_at": now, "at_risk": False}
    if await apply_change(task, {"userId": ctx.user_id}, lambda _: done) is None:
        raise not_found("Task")
    await _remove_future_blocks(ctx, ref(task))
    await ctx.cache.bump("tasks")
    await request_replan(ctx.state, ctx.user_id, "TASK_CHANGED")
    return task


async def delete_task(ctx: Context, task_id: Ref) -> None:
    result = await Task.get_pymongo_collection().delete_one(
        {"_id": ObjectId(task_id), "userId": ctx.user_id}
    )
    if result.deleted_count == 0:
        raise not_found("Task")
    await _remove_future_blocks(ctx, task_id)
    await ctx.cache.bump("tasks")
    await request_replan(ctx.state, ctx.user_id, "TASK_CHANGED")


async def list_tasks(ctx: Context, status: str | None) -> list[Task]:
    """The user's tasks: P1 first, then the sooner due (none last), then the oldest."""
    query: dict[str, Any] = {"userId": ctx.user_id}
    if status is not None:
        query["status"] = status
    tasks = await find_all(Task, matching(query))
    tasks.sort(key=task_key)
    return tasks


def shown_blocks(blocks: list[Event], now: datetime) -> list[Event]:
    """At most BLOCKS_SHOWN of a task's blocks (sorted by start): the ones not yet ended
    first, then the latest past ones; by start."""
    ahead = [b for b in blocks if b.end_time > now][:BLOCKS_SHOWN]
    past = [b for b in blocks if b.end_time <= now]
    room = BLOCKS_SHOWN - len(ahead)
    return [*past[max(0, len(past) - room) :], *ahead] if room else ahead


def task_key(task: Task) -> list[Any]:
    due = task.due.astimezone(UTC).isoformat() if task.due else ""
    return [task.priority, 0 if task.due else 1, due, task.created_at.isoformat(), str(task.id)]

"""Sync runs: asked for by a mutation, a schedule or a webhook; carried out by a worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from graphql_api.cache.scopes import calendar_scopes
from graphql_api.cache.store import Cache, user_tag
from graphql_api.replans import BUSY_SCOPE, request_replan
from graphql_api.state import AppState
from graphql_api.sync import channels, engine, status
from graphql_api.sync.providers import provider_for
from graphql_api.sync.providers.base import ProviderRefused
from models import Calendar, Event, SyncRun, SyncState
from models.base import apply_change, matching, ref, save_changes

log = logging.getLogger(__name__)


async def request_sync(
    state: AppState, calendar: Calendar, *, full: bool, delay_s: float = 0.0
) -> SyncRun:
    """A queued run of this calendar: the one already waiting, if any, else a new one."""
    waiting = await SyncRun.find_one(
        matching({"userId": calendar.user_id, "calendarId": ref(calendar), "status": "QUEUED"})
    )
    if waiting is not None:
        if full and not waiting.full:
            await save_changes(waiting, {"userId": calendar.user_id}, full=True)
        return waiting
    run = SyncRun(user_id=calendar.user_id, calendar_id=ref(calendar), full=full)
    await run.insert()
    await _mark_calendar(state, calendar, "QUEUED")
    scheduled = int((datetime.now(UTC) + timedelta(seconds=delay_s)).timestamp()) if delay_s else 0
    await state.queue.enqueue(
        "sync_calendar",
        key=f"sync-run:{run.id}",
        run_id=str(run.id),
        timeout=3600,
        heartbeat=state.settings.sync_heartbeat_s,
        retries=state.settings.sync_retries,
        retry_delay=1.0,
        retry_backoff=60.0,
        scheduled=scheduled,
    )
    await status.publish(state.redis, state.settings.cache_prefix, run)
    return run


async def _mark_calendar(
    state: AppState, calendar: Calendar, run_status: str, **fields: Any
) -> None:
    def change(stored: Calendar) -> dict[str, Any]:
        previous = stored.sync_state or SyncState(status=run_status)
        return {"sync_state": previous.model_copy(update={"status": run_status, **fields})}

    await apply_change(calendar, {"userId": calendar.user_id}, change)
    await retire(state.cache, calendar.user_id, "calendars")


async def retire(cache: Cache, user_id: str, *scopes: str) -> None:
    """What a sync changed, retired from the field and answer caches of that user."""
    await cache.bump([f"{user_tag(user_id)}:{scope}" for scope in scopes])


async def retire_events(cache: Cache, calendar: Calendar) -> None:
    """What a sync of the calendar may have changed: the calendar list (its sync state),
    the calendar's events and the busy time the planner reads."""
    await retire(cache, calendar.user_id, "calendars", *calendar_scopes(ref(calendar)), BUSY_SCOPE)


@contextlib.asynccontextmanager
async def calendar_lock(state: AppState, calendar_id: str) -> AsyncIterator[None]:
    """At most one run per calendar at a time, across workers; renewed while held."""
    key = f"{state.settings.cache_prefix}lock:sync:{calendar_id}"
    token = secrets.token_hex(8)
    # As long as a heartbeat: a killed worker's lock is gone as soon as its run is rerun.
    ttl = max(2, state.settings.sync_heartbeat_s)
    # The holder may be another process: nothing here to wait on but Redis.
    while not await state.redis.set(key, token, nx=True, ex=ttl):  # noqa: ASYNC110
        await asyncio.sleep(0.5)

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            await state.redis.expire(key, ttl)

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()
        if (await state.redis.get(key) or b"").decode() == token:
            await state.redis.delete(key)


async def carry_out(
    state: AppState, http: httpx.AsyncClient, run_id: str, *, last_attempt: bool
) -> None:
    """Runs one sync. Raises (for the queue to retry) only when another attempt will follow."""
    run = await SyncRun.get(run_id)
    if run is None or run.status in ("SUCCEEDED", "FAILED"):
        return
    calendar = await Calendar.get(run.calendar_id)
    if calendar is None:
        await _finish(state, run, None, "FAILED", error="the calendar was removed")
        return
    async with calendar_lock(state, ref(calendar)):
        started = datetime.now(UTC)
        await apply_change(
            run,
            {},
            lambda stored: {
                "status": "RUNNING",
                "started_at": started,
                "attempts": stored.attempts + 1,
            },
        )
        await status.publish(state.redis, state.settings.cache_prefix, run)
        await _mark_calendar(state, calendar, "RUNNING")

        published = _counts(run)  # what the RUNNING update above said

        async def report(progress: engine.Progress) -> None:
            # One update per step: a page that changed no count (an empty last page)
            # tells the subscriber nothing new.
            counts = _counts(progress)
            if counts == published:
                return
            published.update(counts)
            await save_changes(run, {}, **counts)
            await status.publish(state.redis, state.settings.cache_prefix, run)

        # A push channel first (when configured): what changes during the listing is told.
        await channels.keep_channel(state, http, calendar)
        try:
            provider = provider_for(calendar, state.settings, http)
            progress = await engine.sync(calendar, provider, full=run.full, on_page=report)
        except ProviderRefused as e:
            # Refused for good (revoked credentials, a calendar gone): no channel either.
            await channels.forget_channel(state, http, calendar)
            await _finish(state, run, calendar, "FAILED", error=str(e))
            return
        except Exception as e:
            log.warning("sync of calendar %s failed: %s", calendar.id, e)
            if last_attempt:
                await _finish(state, run, calendar, "FAILED", error=str(e)[:500])
                return
            # what the attempt wrote is retired now, not when a later one ends
            await retire_events(state.cache, calendar)
            await save_changes(run, {}, status="QUEUED", error=str(e)[:500])
            await status.publish(state.redis, state.settings.cache_prefix, run)
            await _mark_calendar(state, calendar, "QUEUED", last_error=str(e)[:500])
            raise
        # The final counts go out with SUCCEEDED, not as one more RUNNING update.
        await _finish(
            state,
            run,
            calendar,
            "SUCCEEDED",
            counts=_counts(progress),
            held=progress.held,
            wrote=progress.wrote,
        )


def _counts(progress: engine.Progress | SyncRun) -> dict[str, Any]:
    return {
        "processed": progress.processed,
        "total": progress.total,
        "created": progress.created,
        "updated": progress.updated,
        "deleted": progress.deleted,
    }


async def _finish(
    state: AppState,
    run: SyncRun,
    calendar: Calendar | None,
    outcome: str,
    *,
    error: str | None = None,
    counts: dict[str, Any] | None = None,
    held: int | None = None,
    wrote: bool = True,
) -> None:
    """Records the outcome (with the run's final counts, when given; with the events the
    calendar holds when the sync counted them); subscribers hear of it only once caches
    show the new state. `wrote=False`: the run changed no event (a quiet sync), so what
    the caches hold of the calendar's events and busy time stays; its sync state moves."""
    now = datetime.now(UTC)
    await save_changes(run, {}, status=outcome, error=error, finished_at=now, **(counts or {}))
    if calendar is not None:
        interval = max(60, calendar.cursor.refresh_interval_s or state.settings.sync_interval_s)
        count = held if held is not None else await _event_count(calendar, run)

        def change(stored: Calendar) -> dict[str, Any]:
            previous = stored.sync_state.last_synced_at if stored.sync_state else None
            sync_state = SyncState(
                status=outcome,
                last_synced_at=now if outcome == "SUCCEEDED" else previous,
                last_error=error,
                event_count=count,
                channel=stored.sync_state.channel if stored.sync_state else None,
            )
            return {"sync_state": sync_state, "next_sync_at": now + timedelta(seconds=interval)}

        await apply_change(calendar, {"userId": calendar.user_id}, change)
        if wrote:
            # The run may have written events (all of them, some, or none): their
            # calendar's cached events and the busy time the planner reads are retired.
            await retire_events(state.cache, calendar)
        else:
            # A periodic or pushed sync that found nothing new (most of them): the
            # calendar list shows the new sync state; the events' caches survive it.
            await retire(state.cache, calendar.user_id, "calendars")
        if any((counts or {}).get(n) for n in ("created", "updated", "deleted")):
            # Events the sync brought or took away: the user's tasks are planned again.
            await request_replan(state, calendar.user_id, "CALENDAR_CHANGED")
    await status.publish(state.redis, state.settings.cache_prefix, run)


async def _event_count(calendar: Calendar, run: SyncRun) -> int:
    """How many events the calendar holds. An incremental run that added and removed
    nothing, at its first attempt (no earlier attempt wrote part of it), after a
    counted success, keeps that count: a quiet sync costs no scan of the calendar."""
    last = calendar.sync_state
    quiet = not run.full and run.attempts == 1 and run.created == 0 and run.deleted == 0
    if quiet and last is not None and last.last_synced_at is not None:
        return last.event_count
    # Counted by reading the ids (through the {userId, calendarId} index): the same
    # number as count_documents, whose $group stage the embedded Mongo-wire server
    # runs over every event of every user.
    ids = Event.get_pymongo_collection().find(
        matching({"userId": calendar.user_id, "calendarId": ref(calendar)}), {"_id": 1}
    )
    return len(await ids.to_list())


async def schedule_due(state: AppState) -> int:
    """Every synced calendar whose time has come gets a run; how many were asked for."""
    now = datetime.now(UTC)
    synced = {"provider": {"$in": ["GOOGLE", "OUTLOOK", "CALDAV", "ICS"]}}
    due = await Calendar.find(
        {**synced, "$or": [{"nextSyncAt": None}, {"nextSyncAt": {"$lte": now}}]}
    ).to_list()
    for calendar in due:
        await request_sync(state, calendar, full=False)
    return len(due)

"""The worker process (`scheduling-worker worker`): sync jobs from the queue (saq, on
Redis), the periodic sync of every calendar and the cache warming (cron).

An entry point: it may import anything; nothing imports it but the command line."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from saq import CronJob, Worker
from saq.types import Context, PartialTimersDict

from graphql_api.lifespan import close_state, open_state
from graphql_api.observability.jobs import (
    job_finished,
    job_started,
    serve_metrics,
    watch_queue_depth,
)
from graphql_api.planning import jobs as planning
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync import channels, runs
from graphql_api.warm import warm_most_active

log = logging.getLogger(__name__)


class JobContext(Context, total=False):
    state: AppState
    http: httpx.AsyncClient


async def sync_calendar(ctx: JobContext, *, run_id: str) -> None:
    job = ctx["job"]
    state: AppState = ctx["state"]

    async def heartbeat() -> None:
        while True:  # saq reruns a job whose worker stops beating (killed mid-run)
            await asyncio.sleep(max(1.0, state.settings.sync_heartbeat_s / 3))
            await job.update()

    beating = asyncio.create_task(heartbeat())
    try:
        await runs.carry_out(state, ctx["http"], run_id, last_attempt=job.attempts >= job.retries)
    finally:
        beating.cancel()


async def schedule_syncs(ctx: JobContext) -> None:
    """Every calendar is synced at least every SYNC_INTERVAL_S (ICS: its REFRESH-INTERVAL)."""
    count = await runs.schedule_due(ctx["state"])
    if count:
        log.info("scheduled %d calendar syncs", count)


async def renew_channels(ctx: JobContext) -> None:
    """Google push channels that expire within GOOGLE_CHANNEL_RENEW_MARGIN_S, replaced."""
    count = await channels.renew_due(ctx["state"], ctx["http"])
    if count:
        log.info("renewed %d push channels", count)


async def stop_google_channel(ctx: JobContext, **channel: Any) -> None:
    """A disconnected calendar's push channel, stopped (channels.request_stop)."""
    await channels.stop_detached(ctx["state"], ctx["http"], **channel)


async def warm_caches(ctx: JobContext) -> None:
    """The seed's cache warming: the most active users' dashboards, computed ahead."""
    warmed = await warm_most_active(ctx["state"], since=datetime.now(UTC) - timedelta(days=7))
    log.info("warmed the caches of %d users", warmed)


async def plan_user(ctx: JobContext, *, user_id: str) -> None:
    await planning.plan_user(ctx["state"], user_id)


async def roll_plans(ctx: JobContext) -> None:
    """Every day: each user's plan reaches a day further."""
    count = await planning.roll_horizon(ctx["state"])
    log.info("queued the re-plans of %d users", count)


def worker(settings: Settings, state: AppState, **options: Any) -> Worker[JobContext]:
    depth: asyncio.Task[None] | None = None

    async def startup(ctx: JobContext) -> None:
        nonlocal depth
        ctx["state"] = state
        ctx["http"] = httpx.AsyncClient(timeout=30, follow_redirects=True)
        depth = asyncio.create_task(watch_queue_depth(state.queue))

    async def shutdown(ctx: JobContext) -> None:
        if depth is not None:
            depth.cancel()
        await ctx["http"].aclose()

    return Worker(
        state.queue,
        functions=[sync_calendar, stop_google_channel, plan_user],
        cron_jobs=[
            CronJob(schedule_syncs, cron="* * * * *", timeout=300),
            CronJob(renew_channels, cron="*/5 * * * *", timeout=300),
            CronJob(warm_caches, cron=settings.cache_warm_cron, timeout=3600),
            CronJob(roll_plans, cron=settings.plan_horizon_cron, timeout=600),
        ],
        startup=startup,
        shutdown=shutdown,
        before_process=job_started,
        after_process=job_finished,
        concurrency=4,
        timers=cast("PartialTimersDict", {"sweep": max(1, settings.sync_heartbeat_s // 3)}),
        **options,
    )


async def run_worker(settings: Settings) -> None:
    serve_metrics(settings.worker_metrics_port)
    state = await open_state(settings)
    try:
        await state.queue.connect()
        await worker(settings, state).start()
    finally:
        await close_state(state)

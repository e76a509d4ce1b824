"""The worker's metrics: job durations and queue depth, on its own /metrics port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from prometheus_client import Gauge, Histogram, start_http_server
from saq import Queue

log = logging.getLogger(__name__)

JOB_DURATION = Histogram(
    "job_duration_seconds",
    "Background jobs from start to finish, by function and final status",
    ["function", "status"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
JOB_QUEUE_DEPTH = Gauge(
    "job_queue_depth", "Jobs waiting in the queue", ["queue"], multiprocess_mode="livemax"
)


async def job_started(ctx: Any) -> None:
    ctx["started_at"] = time.perf_counter()


async def job_finished(ctx: Any) -> None:
    job, started = ctx.get("job"), ctx.get("started_at")
    if job is None or started is None:
        return
    status = "failed" if "exception" in ctx else str(getattr(job.status, "value", job.status))
    JOB_DURATION.labels(job.function, status).observe(time.perf_counter() - started)


async def watch_queue_depth(queue: Queue, every_s: float = 5.0) -> None:
    """Reads the queue's length every few seconds until cancelled; Redis hiccups are skipped."""
    while True:
        with contextlib.suppress(Exception):
            JOB_QUEUE_DEPTH.labels(queue.name).set(await queue.count("queued"))
        await asyncio.sleep(every_s)


def serve_metrics(port: int) -> None:
    """/metrics of the worker on `port` (0: none). A port in use is logged, not fatal."""
    if port == 0:
        return
    try:
        start_http_server(port)
    except OSError as e:
        log.warning("worker metrics not served on port %d: %s", port, e)

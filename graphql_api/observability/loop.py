"""How late the event loop runs what is due: the time a ready callback waits for the CPU.

A Redis answer that arrived in time is still read only when the loop gets to it;
on a saturated process that can be later than a short timeout, and a timer that
fires in the same loop pass cancels the read although the answer is there. Calls
bounded by a timeout (the cache, the rate limiter) add the current lag to it, so
a busy process does not take its own slowness for Redis failing (and switch its
cache off just when it needs it most).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Gauge, Histogram

EVENT_LOOP_LAG = Gauge(
    "event_loop_lag_seconds",
    "How late the event loop ran a timer that was due (recent maximum, decaying)",
    # The slowest live process (`serve --workers N`): one replaced after it died is
    # not remembered at its last, perhaps dying, lag.
    multiprocess_mode="livemax",
)

# The other thing a request waits for without any I/O: the garbage collector, which
# stops the process for as long as it walks what it tracks.
GC_PAUSES = Histogram(
    "python_gc_pause_seconds",
    "How long each garbage collection stopped the process, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
_gc_started = 0.0


def _timed_gc(phase: str, info: dict[str, Any]) -> None:
    global _gc_started  # noqa: PLW0603 - one collector per process, one collection at a time
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        GC_PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - _gc_started)


def time_gc() -> None:
    """Observes every collection's pause from now on (once per process)."""
    if _timed_gc not in gc.callbacks:
        gc.callbacks.append(_timed_gc)


INTERVAL_S = 0.05
DECAY = 0.9  # per tick: a burst of lag is remembered for about a second
MAX_ALLOWANCE_S = 1.0  # the most a timeout is stretched by


class LoopLag:
    def __init__(self) -> None:
        self.seconds = 0.0

    def allowance(self) -> float:
        """What to add to a timeout now: twice the recent lag (it comes in bursts), at
        most MAX_ALLOWANCE_S."""
        return min(2 * self.seconds, MAX_ALLOWANCE_S)

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + INTERVAL_S
            await asyncio.sleep(INTERVAL_S)
            late = max(0.0, loop.time() - due)
            self.seconds = max(late, self.seconds * DECAY)
            EVENT_LOOP_LAG.set(self.seconds)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[LoopLag]:
        """Watches the running loop for the length of the block."""
        task = asyncio.create_task(self.watch(), name="loop-lag")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# One loop per process: one measurement.
loop_lag = LoopLag()

"""Graceful shutdown: on SIGTERM, close WebSockets cleanly, then let hypercorn drain HTTP.

Hypercorn, told to shut down, stops accepting connections and waits (up to its
graceful timeout) for the requests in flight, but a WebSocket never finishes by
itself: it would be cut at the timeout with code 1011. `Drain.begin()` makes
every open socket's guard (graphql_api/security/sockets.py) send a 1001 "going
away" close first, so graphql-ws clients reconnect elsewhere at once, and the
subscriptions' resources are released.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


class Drain:
    def __init__(self) -> None:
        self.draining = False
        self._event: asyncio.Event | None = None

    @property
    def event(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def begin(self) -> None:
        self.draining = True
        self.event.set()


def on_termination(drain: Drain) -> Callable[[], Awaitable[None]]:
    """Hypercorn's shutdown trigger: waits for SIGTERM or SIGINT, then begins the drain."""

    async def trigger() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        drain.begin()
        await asyncio.sleep(0.1)  # the close frames leave before the listeners do

    return trigger

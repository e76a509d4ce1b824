"""Graceful shutdown: on SIGTERM, close WebSockets cleanly, then let hypercorn drain HTTP.

Hypercorn, told to shut down, stops accepting connections and waits (up to its
graceful timeout) for the requests in flight, but a WebSocket never finishes by
itself: it would be cut at the timeout with code 1011. `Drain.begin()` sends
every open socket a 1001 "going away" close first, so graphql-ws clients
reconnect elsewhere at once, and the subscriptions' resources are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Send

GOING_AWAY = 1001


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

    def websocket(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """The socket's channels, closed with 1001 by the server when draining begins."""
        closed = False

        async def guarded_send(message: Message) -> None:
            if not closed:  # after our close, the app's own goodbyes go nowhere
                await send(message)

        async def guarded_receive() -> Message:
            nonlocal closed
            incoming = asyncio.ensure_future(receive())
            stopping = asyncio.ensure_future(self.event.wait())
            try:
                await asyncio.wait({incoming, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if incoming.done():
                return incoming.result()
            incoming.cancel()
            if not closed:
                closed = True
                with contextlib.suppress(Exception):  # the client may be gone already
                    await send(
                        {"type": "websocket.close", "code": GOING_AWAY, "reason": "server restart"}
                    )
            return {"type": "websocket.disconnect", "code": GOING_AWAY}

        return guarded_receive, guarded_send


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

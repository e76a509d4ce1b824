"""The server's side of a WebSocket's lifetime: it closes the socket itself when

- no `connection_init` came within WS_INIT_TIMEOUT_S (4408, both protocols),
- the token it was opened with expires (4403),
- the server is shutting down (1001, "going away": clients reconnect elsewhere).

The guard sits between the server and Strawberry's handler: it sends the close
frame, then tells the handler the client left, so the subscriptions end and
their resources are released.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from starlette.types import Message, Receive, Scope, Send

GOING_AWAY = 1001
FORBIDDEN = 4403
INIT_TIMEOUT = 4408


class SocketGuard:
    def __init__(
        self, receive: Receive, send: Send, stopping: asyncio.Event, init_timeout_s: float
    ) -> None:
        self._receive = receive
        self._send = send
        self._stopping = stopping
        self._closing: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._initialised = False
        self._closed = False
        self._refusal: str | None = None
        self._timers = [asyncio.get_running_loop().call_later(init_timeout_s, self._init_overdue)]

    @staticmethod
    def of(scope: Scope) -> SocketGuard | None:
        guard = scope.get("state", {}).get("socket_guard")
        return guard if isinstance(guard, SocketGuard) else None

    def install(self, scope: Scope) -> None:
        scope.setdefault("state", {})["socket_guard"] = self

    def close_soon(self, code: int, reason: str) -> None:
        if not self._closing.done():
            self._closing.set_result((code, reason))

    def expire_at(self, moment: datetime) -> None:
        """Ends the connection when its token expires."""
        delay = max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds())
        self._timers.append(
            asyncio.get_running_loop().call_later(
                delay, self.close_soon, FORBIDDEN, "token expired"
            )
        )

    def _init_overdue(self) -> None:
        if not self._initialised:
            self.close_soon(INIT_TIMEOUT, "connection_init timeout")

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()

    def refuse(self, reason: str) -> None:
        """The token in connection_init is not valid: whichever protocol closes the
        socket (the legacy one would say 1011), it closes with 4403."""
        self._refusal = reason

    async def send(self, message: Message) -> None:
        if self._closed:  # after our close, the handler's goodbyes go nowhere
            return
        if message["type"] == "websocket.close" and self._refusal is not None:
            message = {**message, "code": FORBIDDEN, "reason": self._refusal}
        await self._send(message)

    async def receive(self) -> Message:
        incoming = asyncio.ensure_future(self._receive())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {incoming, stopping, self._closing}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if incoming.done():
            message = incoming.result()
            if not self._initialised and "connection_init" in (message.get("text") or ""):
                self._initialised = True
            return message
        incoming.cancel()
        code, reason = (
            self._closing.result() if self._closing.done() else (GOING_AWAY, "server restart")
        )
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # the client may be gone already
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
        return {"type": "websocket.disconnect", "code": code}

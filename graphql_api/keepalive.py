"""A kept-alive connection's wait for its next request, as a timer of the event loop.

hypercorn closes a connection that stays idle for `keep_alive_timeout`. Its asyncio
`TCPServer` waits in a task of its own (`_idle_timeout`, in `wait_for`), started after
every answer and cancelled at the next request through an `AsyncioSingleTask` and its
lock: two tasks, a lock and a cancellation a request, some 23 µs of CPU, about 4% of
a `{ __typename }` and 1-2% of the load mix (bench/RESULTS.md, 2026-12-06). It has no
setting for this, so `install` gives hypercorn's asyncio worker a `TCPServer` whose
wait is a timer, re-armed after each answer and cancelled at the next request.

What a connection sees is the same: closed (as hypercorn closes it,
`_initiate_server_close`) once idle for `keep_alive_timeout`, never while a request is
being answered; and when the worker is told to stop, an idle connection is closed at
once and a busy one as soon as it goes idle, as hypercorn's wait ends then too
(`WorkerContext.terminated`; tests/test_keepalive.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from hypercorn.asyncio import run
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext

# The idle connections of each worker, closed at once when it is told to stop.
_IDLE: weakref.WeakKeyDictionary[WorkerContext, set[_IdleTimer]] = weakref.WeakKeyDictionary()
_WATCHERS: set[asyncio.Task[None]] = set()


class _IdleTimer:
    """hypercorn's `AsyncioSingleTask` for `TCPServer`'s idle wait (the only use it has
    for one): `restart` arms the timer (the `_idle_timeout` it is given is what the timer
    replaces), `stop` disarms it."""

    def __init__(self, server: TCPServer) -> None:
        self._server = server
        self._timer: asyncio.TimerHandle | None = None

    async def restart(self, task_group: Any, action: Any) -> None:
        self._disarm()
        context = self._server.context
        if context.terminated.is_set():
            self._close()
            return
        self._timer = asyncio.get_running_loop().call_later(
            self._server.config.keep_alive_timeout, self._close
        )
        _idle_of(context).add(self)

    async def stop(self) -> None:
        self._disarm()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            _IDLE.get(self._server.context, set()).discard(self)

    def _close(self) -> None:
        self._disarm()
        server = self._server
        # As hypercorn's wait ends, in the connection's tasks; once they have ended
        # (RuntimeError) the connection is closing already.
        with contextlib.suppress(RuntimeError):
            server._task_group._task_group.create_task(server._initiate_server_close())


def _idle_of(context: WorkerContext) -> set[_IdleTimer]:
    idle = _IDLE.get(context)
    if idle is None:
        idle = _IDLE[context] = set()
        watcher = asyncio.get_running_loop().create_task(_close_when_terminated(context, idle))
        _WATCHERS.add(watcher)
        watcher.add_done_callback(_WATCHERS.discard)
    return idle


async def _close_when_terminated(context: WorkerContext, idle: set[_IdleTimer]) -> None:
    await context.terminated.wait()
    for timer in list(idle):
        timer._close()


class _TCPServer(TCPServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_task = _IdleTimer(self)  # type: ignore[assignment]


def install() -> None:
    """hypercorn's asyncio worker serves each connection with a `TCPServer` that waits
    for the next request with a timer (once per process, before `serve`)."""
    run.TCPServer = _TCPServer  # type: ignore[attr-defined]

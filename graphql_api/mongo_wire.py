"""A Mongo command's send and reply, awaited in the task that runs the command.

pymongo's asynchronous connections (`pymongo.network_layer`) send each command through
`asyncio.wait_for`, which on Python 3.11 runs the send in a task of its own, and wait
for its reply in two more: one reads, one polls every half second whether the pool has
cancelled the connection's operation (`_poll_cancellation`), both under an
`asyncio.wait`; once the reply is in, the poller is cancelled and waited for. Three tasks,
a wait and a cancellation a command, for a send that never waits (the transport buffers
it) and a reply that is one future. `install` puts in their place functions that await
the same send and the same read in the caller's task, with the same deadline
(`asyncio.timeout`) and the same poll of the cancellation as a timer of the event loop.

Both bind to the task that awaits them (`asyncio.timeout`, the poll's `current_task`),
so a command begun in the first step of a coroutine that `graphql_api.eager.start`
runs in its caller's task, to be carried on by a task of its own, goes through
pymongo's functions instead, as `Cache._call` does.

What a command sees is unchanged: the same reply; `TimeoutError("timed out")` once its
deadline (the client's socketTimeoutMS, or the operation's own timeout) has passed with
no reply; pymongo's `_OperationCancelled` within half a second of the pool cancelling it
(a server marked unknown); the caller's own cancellation passed on. In each failure the
pool closes the connection, as before (`AsyncConnection.receive_message`).
tests/test_mongo_wire.py holds it to that.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pymongo import _csot
from pymongo.asynchronous import pool
from pymongo.common import MAX_MESSAGE_SIZE
from pymongo.errors import ProtocolError, _OperationCancelled
from pymongo.message import _UNPACK_REPLY
from pymongo.network_layer import _POLL_TIMEOUT, PyMongoProtocol

from graphql_api import eager

_PYMONGO_SENDALL = pool.async_sendall  # type: ignore[attr-defined]
_PYMONGO_RECEIVE = pool.async_receive_message  # type: ignore[attr-defined]


async def sendall(conn: PyMongoProtocol, buf: bytes) -> None:
    """`network_layer.async_sendall`: the write within the connection's timeout."""
    if eager.starting():
        await _PYMONGO_SENDALL(conn, buf)
        return
    try:
        async with asyncio.timeout(conn.gettimeout):
            await conn.write(buf)
    except TimeoutError as exc:
        raise TimeoutError("timed out") from exc


async def receive_message(
    conn: Any, request_id: int | None, max_message_size: int = MAX_MESSAGE_SIZE
) -> Any:
    """`network_layer.async_receive_message`: a reply, a timeout or the operation's
    cancellation, whichever comes first."""
    if eager.starting():
        return await _PYMONGO_RECEIVE(conn, request_id, max_message_size)
    timeout: float | None = conn.conn.gettimeout
    if _csot.get_timeout():
        deadline: float | None = _csot.get_deadline()
    elif timeout:
        deadline = time.monotonic() + timeout
    else:
        deadline = None
    if deadline:
        # As pymongo: a deadline already passed still reads a reply already in.
        timeout = max(deadline - time.monotonic(), 0)
    if conn.cancel_context.cancelled:
        raise _OperationCancelled("operation cancelled")
    poll = _CancellationPoll(conn)
    try:
        async with asyncio.timeout(timeout):
            data, op_code = await conn.conn.get_conn.read(request_id, max_message_size)
    except asyncio.CancelledError:
        if poll.cancelled_it():
            raise _OperationCancelled("operation cancelled") from None
        raise
    except TimeoutError as exc:
        raise TimeoutError("timed out") from exc
    finally:
        poll.stop()
    try:
        unpack_reply = _UNPACK_REPLY[op_code]
    except KeyError:
        raise ProtocolError(
            f"Got opcode {op_code!r} but expected {_UNPACK_REPLY.keys()!r}"
        ) from None
    return unpack_reply(data)


class _CancellationPoll:
    """Every `_POLL_TIMEOUT` s, whether the pool cancelled the connection's operation;
    if it did, the waiting task is cancelled (and told apart from any other
    cancellation by `cancelled_it`, as `asyncio.timeout` tells its own)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self._fired = False
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(_POLL_TIMEOUT, self._poll)

    def _poll(self) -> None:
        if self._conn.cancel_context.cancelled and self._task is not None:
            self._timer = None
            self._fired = True
            self._task.cancel()
        else:
            self._timer = self._loop.call_later(_POLL_TIMEOUT, self._poll)

    def cancelled_it(self) -> bool:
        """Whether the poll cancelled the task, and nothing else did too."""
        return self._fired and self._task is not None and self._task.uncancel() == 0

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def install() -> None:
    """pymongo's asynchronous pool sends and receives through the functions above."""
    pool.async_sendall = sendall  # type: ignore[attr-defined]
    pool.async_receive_message = receive_message  # type: ignore[attr-defined]

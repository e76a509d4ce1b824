"""Coroutines started at once, in the caller's turn: a task only for those that wait.

A value the request has at hand (a streak in L1, a version it read already) is worked
out without waiting for anything, yet `asyncio.gather` or a memo's `ensure_future`
gives each such coroutine a task of its own, run a turn of the event loop later (some
8-10 µs apiece, and a Dashboard part starts 20-40). Python 3.12's eager tasks do what
`start` does here; on 3.11 it is done for the few places that start many.

`start` runs the coroutine up to its first wait in the caller's task (as an `await`
would), then carries it on in a task of its own, which hands each future it waits on
to the event loop as a task would, and passes a cancellation on. So code that binds
itself to the task running it (`asyncio.timeout`, `current_task`) must not run in
that first step: it asks `starting()` and, if so, runs in a task of its own (as
`graphql_api.cache.store.Cache._call` does, the one such call on these paths).
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, TypeVar, cast

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")

# How many first steps are running (nested starts): a first step runs to its end before
# anything else runs on the event loop, so a count tells.
_starting = 0


def starting() -> bool:
    """Whether this runs in the first step of a coroutine started with `start`: in the
    caller's task, not in the one that will carry it on."""
    return _starting > 0


@types.coroutine
def _carried(coro: Coroutine[Any, Any, T], waiting_on: Any) -> Generator[Any, None, T]:
    """The rest of a coroutine that is waiting on `waiting_on` (what it yielded)."""
    if waiting_on is not None:
        waiting_on._asyncio_future_blocking = True  # as it was when yielded (see `start`)
    while True:
        try:
            yield waiting_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as e:  # noqa: BLE001 - thrown in by the task: the coroutine's
            try:
                waiting_on = coro.throw(e)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def _rest(coro: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    return await _carried(coro, waiting_on)


def start(coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """The coroutine's result as a future: done at once when it did not wait for
    anything, else the task that carries it on. It runs in a copy of the caller's
    context, as a task's coroutine does, from its first step to its last."""
    global _starting  # noqa: PLW0603 - one event loop per thread runs one first step at a time
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    _starting += 1
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration as stop:
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(stop.value)
        return done
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 - the coroutine's, for whoever awaits it
        failed: asyncio.Future[T] = loop.create_future()
        if isinstance(e, asyncio.CancelledError):
            failed.cancel()
        else:
            failed.set_exception(e)
        return failed
    finally:
        _starting -= 1
    if waiting_on is not None:
        # A future awaited sets this flag as it is yielded, and the task it is handed to
        # clears it at once: the next coroutine to await it (a memo shared by fields)
        # fails while it is set. Cleared here as a task would, and set again as the
        # future is handed to the task that carries the coroutine on.
        waiting_on._asyncio_future_blocking = False
    task = loop.create_task(_rest(coro, waiting_on), context=context)
    task.add_done_callback(lambda done: _unstarted(done, coro, waiting_on, context))
    return task


def _unstarted(
    task: asyncio.Task[Any], coro: Coroutine[Any, Any, Any], waiting_on: Any, context: Any
) -> None:
    """A carrying task cancelled before its first step never reached the coroutine,
    which waits where its first step left it: cancel what it waits on and tell it, as a
    task cancels the future its coroutine awaits and resumes it with the error."""
    if not task.cancelled() or getattr(coro, "cr_frame", None) is None:
        return  # it finished, or the cancellation reached it where it waited
    if waiting_on is not None:
        waiting_on.cancel()
    try:
        context.run(coro.throw, asyncio.CancelledError())
    except BaseException:  # noqa: BLE001, S110 - its end: nobody awaits it any more
        pass
    else:
        coro.close()  # it went on waiting, with no task to carry it: ended here


async def gather(*aws: Awaitable[T]) -> list[T]:
    """`asyncio.gather` of coroutines started with `start`: no task, and no turn of the
    event loop, for those that did not wait."""
    futures = [start(aw) if asyncio.iscoroutine(aw) else asyncio.ensure_future(aw) for aw in aws]
    if all(f.done() for f in futures):
        for f in futures:
            if not f.cancelled():
                f.exception()  # retrieved: the first failure is raised, as gather does
        return [f.result() for f in futures]
    return list(await asyncio.gather(*futures))


async def both(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Two coroutines of different types together, as `gather` does."""
    one, two = await gather(first, second)
    return cast("A", one), cast("B", two)


def retrieved(future: asyncio.Future[Any]) -> None:
    """A done callback for a future nobody may await (a read started early, a batch's
    fetch): its failure counts as seen, so none is logged as never retrieved at its
    end; whoever awaits it still gets it."""
    if not future.cancelled():
        future.exception()

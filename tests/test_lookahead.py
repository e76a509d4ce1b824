"""Values worked out in advance for a page's fields (graphql_api.lookahead): waited on
together, each field getting its own value or its own error."""

from __future__ import annotations

import asyncio

import pytest

from graphql_api.lookahead import all_settled, known, outcome


async def test_all_settled_waits_for_every_future_and_each_keeps_its_own_outcome() -> None:
    # given: one future answered at once, one later, one failing later
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()
    ready.set_result(1)
    later: asyncio.Future[int] = loop.create_future()
    failing: asyncio.Future[int] = loop.create_future()
    loop.call_soon(later.set_result, 2)
    loop.call_soon(failing.set_exception, ValueError("no stats"))
    # when
    await all_settled([ready, later, failing])
    # then: all done, none raised here; the error is the field's to raise
    assert [outcome(ready), outcome(later)] == [1, 2]
    error = outcome(failing)
    assert isinstance(error, ValueError)
    with pytest.raises(ValueError, match="no stats"):
        known(error)


async def test_a_cancelled_future_is_not_an_outcome_but_a_cancellation() -> None:
    # given
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.cancel()
    # when
    await all_settled([future])
    # then
    with pytest.raises(asyncio.CancelledError):
        outcome(future)


async def test_cancelling_the_wait_cancels_what_it_waits_for_as_gather_does() -> None:
    # given: a page's wait for two values that never come
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[int]] = [loop.create_future(), loop.create_future()]
    done: asyncio.Future[int] = loop.create_future()
    done.set_result(3)
    waiting = asyncio.ensure_future(all_settled([done, *pending]))
    await asyncio.sleep(0)
    # when: the request is cancelled (its client went away, its deadline passed)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # then: no work is left running for it
    assert all(f.cancelled() for f in pending)
    assert done.result() == 3

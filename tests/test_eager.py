"""Coroutines started at once (graphql_api.eager): what a task would do, without one
for a coroutine that does not wait."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from redis.asyncio import Redis

from graphql_api import eager
from graphql_api.cache.store import Cache, CacheConfig, Unavailable

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="caller's")


async def test_a_coroutine_that_does_not_wait_is_done_at_once_without_a_task() -> None:
    # given
    async def at_hand() -> int:
        return 7

    before = len(asyncio.all_tasks())
    # when
    future = eager.start(at_hand())
    # then
    assert future.done()
    assert await future == 7
    assert len(asyncio.all_tasks()) == before


async def test_a_coroutine_that_waits_is_carried_on_to_its_result() -> None:
    # given: a coroutine that waits twice, on a future and on a bare turn of the loop
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[int] = loop.create_future()

    async def waits() -> int:
        value = await gate
        await asyncio.sleep(0)
        return value * 2

    # when
    future = eager.start(waits())
    loop.call_soon(gate.set_result, 21)
    # then
    assert not future.done()
    assert await future == 42


async def test_a_future_awaited_by_many_started_coroutines_answers_them_all() -> None:
    # given: a memo shared by several fields, each started at once, the memo's
    # computation waiting (the flag a waiting future carries must not fail the others)
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    memo: dict[str, asyncio.Future[int]] = {}

    async def compute() -> int:
        await gate
        return 7

    async def field() -> int:
        if "k" not in memo:
            memo["k"] = eager.start(compute())
        return await memo["k"]

    async def page() -> int:
        return sum(await eager.gather(field(), field()))

    # when
    loop.call_soon(gate.set_result, None)
    found = await eager.gather(page(), field(), field())
    # then
    assert found == [14, 7, 7]


async def test_a_failure_reaches_whoever_awaits_and_gather_raises_the_first() -> None:
    # given
    async def fails_at_once() -> int:
        raise ValueError("at once")

    async def fails_later() -> int:
        await asyncio.sleep(0)
        raise KeyError("later")

    # then
    with pytest.raises(ValueError, match="at once"):
        await eager.start(fails_at_once())
    with pytest.raises(KeyError):
        await eager.start(fails_later())
    with pytest.raises(ValueError, match="at once"):
        await eager.gather(fails_at_once(), fails_at_once())


async def test_cancelling_a_carried_coroutine_cancels_what_it_waits_on() -> None:
    # given: a coroutine waiting on a future, carried by a task
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    cleaned: list[str] = []

    async def waits() -> None:
        try:
            await gate
        finally:
            cleaned.append("finally ran")

    future = eager.start(waits())
    await asyncio.sleep(0)
    # when
    future.cancel()
    # then: as for a task: the coroutine saw the cancellation where it waited
    with pytest.raises(asyncio.CancelledError):
        await future
    assert gate.cancelled()
    assert cleaned == ["finally ran"]


async def test_the_coroutine_runs_in_a_context_of_its_own_from_first_step_to_last() -> None:
    # given: a coroutine that sets a context variable before it waits, and resets it after
    seen: list[str] = []

    async def sets() -> None:
        token = SEEN.set("the coroutine's")
        await asyncio.sleep(0)
        seen.append(SEEN.get())
        SEEN.reset(token)  # fails in another context than the one it was set in

    # when
    future: Any = eager.start(sets())
    # then: the caller's context is untouched, and the coroutine kept its own
    assert SEEN.get() == "caller's"
    await future
    assert seen == ["the coroutine's"]


async def test_both_answers_two_of_different_types_and_cancels_them_with_itself() -> None:
    # given
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()

    async def number() -> int:
        return 1

    async def word() -> str:
        await asyncio.sleep(0)
        return "one"

    async def stuck() -> str:
        await gate
        return "never"

    # then
    assert await eager.both(number(), word()) == (1, "one")
    waiting = asyncio.ensure_future(eager.both(number(), stuck()))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.cancelled()


async def test_a_cache_call_timed_out_in_a_first_step_is_a_miss_not_a_cancellation() -> None:
    # given: a cache whose Redis answers too late, asked in the first step of a coroutine
    # started at once (the timeout must cancel the task that carries it on, not the caller)
    cache = Cache(Redis(), CacheConfig(timeout_s=0.01))

    async def slow(_: object) -> None:
        await asyncio.sleep(1)

    async def asks() -> str:
        try:
            await cache._call(slow)
        except Unavailable:
            return "a miss"
        return "an answer"

    async def other() -> str:
        await asyncio.sleep(0.05)
        return "the other"

    # when: the caller waits for it beside another
    found = await eager.both(asks(), other())
    # then: the caller carries on, not cancelled
    assert found == ("a miss", "the other")
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]

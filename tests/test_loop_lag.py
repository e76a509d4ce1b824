"""The event loop's lag: how late a due timer runs when the process is busy."""

from __future__ import annotations

import asyncio
import time

from graphql_api.observability.loop import MAX_ALLOWANCE_S, LoopLag


async def test_a_loop_held_busy_shows_its_lag_and_the_lag_fades_when_it_is_free() -> None:
    # given
    lag = LoopLag()
    async with lag.watching():
        await asyncio.sleep(0.2)
        assert lag.seconds < 0.15
        # when: a callback holds the loop for 0.3 s
        asyncio.get_running_loop().call_soon(time.sleep, 0.3)
        await asyncio.sleep(0.1)
        # then
        busy = lag.seconds
        assert busy >= 0.2
        assert lag.allowance() == min(2 * busy, MAX_ALLOWANCE_S)
        # when: the loop is free again
        await asyncio.sleep(1.5)
        # then
        assert lag.seconds < busy / 2

"""WebSocket limits on a real server, for both protocols: init timeout, subscriptions, expiry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import api_process, process_env

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
SUBSCRIBE = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}


@pytest.fixture(scope="module")
def api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = process_env(settings, WS_INIT_TIMEOUT_S="1", WS_MAX_SUBSCRIPTIONS="3")
    with api_process(env, tmp_path_factory.mktemp("ws") / "api.log") as url:
        yield url.replace("http", "ws") + "/graphql"


async def connect(api: str, protocol: str) -> Any:
    return await websockets.connect(api, subprotocols=[Subprotocol(protocol)])


async def init(ws: Any, token: str) -> None:
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"


async def read_until_closed(ws: Any, within_s: float) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), within_s)


async def closed_with(ws: Any, within_s: float) -> tuple[int, float]:
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await read_until_closed(ws, within_s)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, time.monotonic() - started


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_without_connection_init_is_closed_with_4408(
    api: str, protocol: str
) -> None:
    ws = await connect(api, protocol)
    code, after = await closed_with(ws, 5)
    assert code == 4408
    assert after < 3


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_past_the_limit_are_refused(
    api: str, settings: Settings, protocol: str
) -> None:
    # given: a connection with the limit (3) of subscriptions running
    ws = await connect(api, protocol)
    await init(ws, mint_dev_token(settings, f"subs-{protocol}"))
    query = {"query": "subscription { syncStatus { status } }"}
    for i in range(3):
        await ws.send(json.dumps({"id": str(i), "type": SUBSCRIBE[protocol], "payload": query}))
    # when: a fourth
    await ws.send(json.dumps({"id": "3", "type": SUBSCRIBE[protocol], "payload": query}))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    await ws.close()
    # then
    assert answer["id"] == "3"
    assert answer["type"] == "error"
    assert "limit" in json.dumps(answer["payload"]).lower()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_connection_ends_when_its_token_expires(
    api: str, settings: Settings, protocol: str
) -> None:
    # given: a token valid for two more seconds, and a running subscription
    token = mint_dev_token(settings, f"expiring-{protocol}", ttl=timedelta(seconds=2))
    ws = await connect(api, protocol)
    await init(ws, token)
    query = {"query": "subscription { syncStatus { status } }"}
    await ws.send(json.dumps({"id": "1", "type": SUBSCRIBE[protocol], "payload": query}))
    # when / then
    code, after = await closed_with(ws, 10)
    assert code == 4403
    assert after < 5


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_bad_token_in_connection_init_closes_with_4403(api: str, protocol: str) -> None:
    ws = await connect(api, protocol)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
    )
    code, _ = await closed_with(ws, 5)
    assert code == 4403

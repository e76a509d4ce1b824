"""`safelist` over WebSockets: the operations carry their text, held to the manifest too."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import api_process, operation, process_env

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
SUBSCRIBE = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}


@pytest.fixture(scope="module")
def api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = process_env(settings, PERSISTED_QUERIES="safelist", CACHE_PREFIX="safelist-ws:")
    with api_process(env, tmp_path_factory.mktemp("safelist-ws") / "api.log") as url:
        yield url.replace("http", "ws") + "/graphql"


async def connected(api: str, protocol: str, token: str) -> Any:
    ws = await websockets.connect(api, subprotocols=[Subprotocol(protocol)])
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    return ws


async def answer_to(ws: Any, protocol: str, query: str, *, within_s: float = 10) -> Any:
    """The first answer to one operation: its data or errors (any protocol's wrapping)."""
    await ws.send(json.dumps({"id": "1", "type": SUBSCRIBE[protocol], "payload": {"query": query}}))
    return await next_answer(ws, within_s)


async def next_answer(ws: Any, within_s: float) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), within_s))
        if message.get("id") == "1" and message["type"] in ("next", "data", "error"):
            answer: Any = message["payload"]
            if message["type"] != "error":
                return dict(answer)  # {data, errors}
            # graphql-transport-ws sends a list of errors, graphql-ws the first one
            return {"errors": answer if isinstance(answer, list) else [answer]}


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors") or []]


async def test_a_manifest_query_runs_over_a_socket(api: str, settings: Settings) -> None:
    token = mint_dev_token(settings, "ws-safelist-query", email="ws@example.com")
    async with await connected(api, "graphql-transport-ws", token) as ws:
        answer = await answer_to(ws, "graphql-transport-ws", operation("Me"))
    assert answer["data"]["me"]["email"] == "ws@example.com"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_manifest_subscription_runs_over_a_socket(
    api: str, settings: Settings, protocol: str
) -> None:
    # given: SyncStatus as written, subscribed
    token = mint_dev_token(settings, f"ws-safelist-{protocol}")
    async with await connected(api, protocol, token) as ws:
        payload = {"query": operation("SyncStatus")}
        await ws.send(json.dumps({"id": "1", "type": SUBSCRIBE[protocol], "payload": payload}))
        # when: a sync is queued (again, until the subscription, set up on its own, sees one)
        answer = None
        async with httpx.AsyncClient() as http:
            for attempt in range(40):
                feed = {"provider": "ICS", "name": f"feed {attempt}", "url": "http://127.0.0.1:9/"}
                connected_calendar = await http.post(
                    api.replace("ws", "http", 1),
                    json={"query": operation("ConnectCalendar"), "variables": {"input": feed}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert connected_calendar.json()["data"]["connectCalendar"]["id"]
                with contextlib.suppress(TimeoutError):
                    answer = await next_answer(ws, 0.5)
                    break
    # then
    assert answer is not None
    assert answer["data"]["syncStatus"]["status"] == "QUEUED"


@pytest.mark.parametrize(
    ("protocol", "query"),
    [
        ("graphql-transport-ws", "query Mine { me { id email } }"),
        ("graphql-transport-ws", "{ __schema { types { name } } }"),
        ("graphql-transport-ws", "subscription Mine { syncStatus { status } }"),
        ("graphql-ws", "subscription Mine { syncStatus { status } }"),  # it runs nothing else
    ],
)
async def test_other_operations_are_refused_over_a_socket(
    api: str, settings: Settings, protocol: str, query: str
) -> None:
    token = mint_dev_token(settings, f"ws-unlisted-{protocol}")
    async with await connected(api, protocol, token) as ws:
        answer = await answer_to(ws, protocol, query)
    assert answer.get("data") is None
    assert codes(answer) == ["PERSISTED_QUERY_NOT_FOUND"]

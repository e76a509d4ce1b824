"""syncStatus refuses a calendar that is not the user's, over both WebSocket protocols."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from typing import Any

import httpx
import pytest
import websockets
from gql import Client as GqlClient
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.typing import Subprotocol

from graphql_api.relay import to_global_id
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import ROOT, operation

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
LOCAL = {"input": {"provider": "LOCAL", "name": "Bob's"}}
GOAL = 'mutation { createGoal(input: {title: "Run"}) { id } }'


def token_of(settings: Settings) -> str:
    return mint_dev_token(settings, f"status-{uuid.uuid4().hex[:8]}")


def post(api: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    r = httpx.post(
        f"{api}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]


@pytest.fixture(scope="module")
def foreign_ids(live_server: str, settings: Settings) -> dict[str, tuple[str, str]]:
    """Calendar IDs another user may not follow: name -> (ID, the code it gets)."""
    bob = token_of(settings)
    bobs = post(live_server, bob, operation("ConnectCalendar"), LOCAL)["connectCalendar"]["id"]
    goal = post(live_server, bob, GOAL)["createGoal"]["id"]
    return {
        "another user's calendar": (bobs, "NOT_FOUND"),
        "a calendar that does not exist": (to_global_id("Calendar", "0" * 24), "NOT_FOUND"),
        "a malformed ID": ("not-an-id", "BAD_USER_INPUT"),
        "a goal's ID": (goal, "BAD_USER_INPUT"),
    }


CASES = [
    "another user's calendar",
    "a calendar that does not exist",
    "a malformed ID",
    "a goal's ID",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_gql_is_refused_a_calendar_it_cannot_follow(
    live_server: str,
    settings: Settings,
    foreign_ids: dict[str, tuple[str, str]],
    protocol: str,
    case: str,
) -> None:
    # given
    calendar_id, code = foreign_ids[case]
    transport = WebsocketsTransport(
        url=live_server.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {token_of(settings)}"},
        subprotocols=[protocol],
    )
    request = GraphQLRequest(operation("SyncStatus"), variable_values={"calendarId": calendar_id})
    # when
    async with GqlClient(transport=transport) as session:
        with pytest.raises(TransportQueryError) as refused:
            await anext(aiter(session.subscribe(request)))
    # then: the subscription's first answer is the error that ends it
    assert refused.value.errors is not None
    assert [e["extensions"]["code"] for e in refused.value.errors] == [code]


@pytest.mark.parametrize("case", CASES)
def test_the_graphql_ws_npm_client_is_refused_a_calendar_it_cannot_follow(
    live_server: str, settings: Settings, foreign_ids: dict[str, tuple[str, str]], case: str
) -> None:
    # given
    calendar_id, code = foreign_ids[case]
    script = ROOT / "tests" / "js" / "sync_status.mjs"
    url = live_server.replace("http", "ws") + "/graphql"
    variables = json.dumps({"calendarId": calendar_id})
    # when
    done = subprocess.run(
        ["node", str(script), url, token_of(settings), operation("SyncStatus"), variables],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    # then: the client's error sink got the error, and its subscription ended
    lines = [line for line in done.stdout.splitlines() if line != "ready"]
    assert lines[-1] == "done", done.stdout + done.stderr
    heard = [json.loads(line) for line in lines[:-1]]
    assert [[e["extensions"]["code"] for e in h["errors"]] for h in heard] == [[code]]


async def test_the_refused_operation_is_over_on_the_server(
    live_server: str, settings: Settings, foreign_ids: dict[str, tuple[str, str]]
) -> None:
    """graphql-transport-ws: one `error` message, and the id is free again (a
    subscription still running under it would close the socket with 4409)."""
    # given
    calendar_id, _ = foreign_ids["another user's calendar"]
    url = live_server.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        init = {"Authorization": f"Bearer {token_of(settings)}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": operation("SyncStatus"), "variables": {"calendarId": calendar_id}}
        # when
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        # then
        assert refused["type"] == "error"
        assert refused["id"] == "1"
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["NOT_FOUND"]
        everything = {"query": operation("SyncStatus")}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": everything}))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}


@pytest.mark.parametrize("case", CASES)
def test_over_http_the_stream_ends_with_the_error(
    live_server: str, settings: Settings, foreign_ids: dict[str, tuple[str, str]], case: str
) -> None:
    # given
    calendar_id, code = foreign_ids[case]
    body = {"query": operation("SyncStatus"), "variables": {"calendarId": calendar_id}}
    headers = {
        "Authorization": f"Bearer {token_of(settings)}",
        "Accept": 'multipart/mixed;subscriptionSpec="1.0",application/json',
    }
    # when: Apollo's multipart protocol
    r = httpx.post(f"{live_server}/graphql", json=body, headers=headers, timeout=30)
    # then: one part with the error, then the closing boundary
    parts = [p.split(b"\r\n\r\n", 1)[1] for p in r.content.split(b"--graphql") if b"\r\n\r\n" in p]
    payloads = [json.loads(p)["payload"] for p in parts if json.loads(p) != {}]
    assert [[e["extensions"]["code"] for e in p["errors"]] for p in payloads] == [[code]]
    assert r.content.rstrip().endswith(b"--graphql--")

"""SIGTERM on a real server: in-flight requests finish, subscriptions close cleanly, exit 0."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import ROOT, process_env, start_api, stop
from tests.helpers import logged_errors

CONFIG = str(ROOT / "deploy" / "hypercorn.toml")


async def test_sigterm_drains_requests_and_closes_subscriptions(
    settings: Settings, tmp_path: Path
) -> None:
    # given: a server with an open subscription and a request whose body is still arriving
    log = tmp_path / "api.log"
    # with the container's hypercorn settings (keep-alive, graceful timeout, ...)
    proc, url = start_api(process_env(settings, LOG_FORMAT="json"), log, "--config", CONFIG)
    token = mint_dev_token(settings, "draining-user")
    try:
        ws = await websockets.connect(
            url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": "subscription { syncStatus { status } }"},
                }
            )
        )
        rest_of_body = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b'{"query": "query Me { me { id } }",'
            await rest_of_body.wait()
            yield b' "operationName": "Me"}'

        async with httpx.AsyncClient(timeout=30) as client:
            in_flight = asyncio.create_task(
                client.post(
                    f"{url}/graphql",
                    content=body(),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
            )
            await asyncio.sleep(0.5)  # the request has started on the server
            # when
            sent_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            # then: the socket is closed by the server with 1001 ("going away"), promptly
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
            assert time.monotonic() - sent_at < 3
            # and the request in flight still gets its whole answer
            rest_of_body.set()
            response = await asyncio.wait_for(in_flight, 10)
        assert response.status_code == 200
        assert response.json() == {"data": {"me": {"id": response.json()["data"]["me"]["id"]}}}
        # and the process exits cleanly, without cutting anything at the graceful timeout
        assert await asyncio.to_thread(proc.wait, 10) == 0
        assert time.monotonic() - sent_at < 5  # well inside the 20 s graceful timeout
        assert logged_errors(log) == []
    finally:
        if proc.poll() is None:
            stop(proc)

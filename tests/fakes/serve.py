"""An ASGI app on a real port, in a thread: for servers other processes must reach."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from graphql_api.embedded import free_port


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served on 127.0.0.1 until the block ends; its base URL."""
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    stop = threading.Event()

    async def stopped() -> None:
        while not stop.is_set():  # noqa: ASYNC110 - set from another thread
            await asyncio.sleep(0.05)

    thread = threading.Thread(
        target=lambda: asyncio.run(serve(app, config, shutdown_trigger=stopped)), daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        stop.set()
        thread.join(timeout=10)

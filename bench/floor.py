"""The HTTP server alone: hypercorn, configured as `scheduling-worker serve` runs it,
serving an ASGI app that reads the request and answers a fixed body (what `{ __typename }`
answers). bench.cpu measures its CPU per request as the floor under every request of
ours: what no change to the app can take away.

    .venv/bin/python -m bench.floor --port 8123
"""

from __future__ import annotations

import argparse
from typing import Any

import uvloop
from hypercorn.asyncio import serve

from graphql_api.serving import hypercorn_config

BODY = b'{"data":{"__typename":"Query"}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    config = hypercorn_config(None)
    config.bind = [f"127.0.0.1:{parser.parse_args().port}"]
    uvloop.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

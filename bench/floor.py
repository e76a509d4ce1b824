"""The floor under every request, by layer: the HTTP server alone, then with the app's
Starlette stack around it. bench.cpu measures each one's CPU per request beside the
API's own `{ __typename }`: what no change below that layer can take away.

- `--stack hypercorn`: hypercorn, configured and set up as `scheduling-worker serve` runs it
  (its keep-alive wait on a timer, graphql_api.keepalive),
  serving an ASGI app that reads the request and answers a fixed body (what
  `{ __typename }` answers);
- `--stack starlette`: the app itself (`create_app`: its middleware, its routing and
  its lifespan, which opens Mongo and Redis from the environment's settings), with
  POST /graphql answered by an endpoint that reads the body and answers the same
  fixed body: what the GraphQL layer (Strawberry's view, auth, the answer cache,
  execution) adds comes on top of this.

    .venv/bin/python -m bench.floor --port 8123 [--stack starlette]
"""

from __future__ import annotations

import argparse
from typing import Any

import uvloop
from hypercorn.asyncio import serve
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_api import keepalive
from graphql_api.serving import hypercorn_config

BODY = b'{"data":{"__typename":"Query"}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
STACKS = ("hypercorn", "starlette")


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


async def fixed(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


def starlette_app() -> Any:
    """The app as `serve` builds it, its GraphQL endpoint answering the fixed body."""
    from graphql_api.app import create_app  # noqa: PLC0415 - only this stack loads the app

    built = create_app()
    built.router.routes.insert(0, Route("/graphql", fixed, methods=["POST"]))
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stack", choices=STACKS, default="hypercorn")
    args = parser.parse_args()
    config = hypercorn_config(None)
    config.bind = [f"127.0.0.1:{args.port}"]
    keepalive.install()  # as `serve` does
    served: Any = starlette_app() if args.stack == "starlette" else app
    uvloop.run(serve(served, config))


if __name__ == "__main__":
    main()

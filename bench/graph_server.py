"""The local Microsoft Graph (tests/fakes) in a process of its own, for the sync benchmark.

    .venv/bin/python -m bench.graph_server --port 8098

Besides Graph's routes: `POST /_bench/seed?calendar=ID&events=N` fills a fresh calendar
(a tenth of them weekly series of 10) and answers a grant for connectCalendar;
`GET /_bench/requests` says how many Graph requests were answered.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, time, timedelta

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.microsoft_graph import FakeGraph, Series

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def fill(graph: FakeGraph, calendar_id: str, count: int) -> None:
    """`count` events over the 300 days from a month ago (inside the sync's window), in
    Berlin: singles, and every tenth a weekly series of 10."""
    graph.calendar(calendar_id)
    first = datetime.combine(datetime.now(UTC).date() - timedelta(days=30), time(8), UTC)
    for i in range(count):
        start = first + timedelta(days=i % 300, hours=i % 9, minutes=15 * (i % 4))
        weekly = Series("weekly", days=[DAYS[start.weekday()]], count=10) if i % 10 == 0 else None
        graph.put(
            f"Event {i}",
            start,
            start + timedelta(minutes=30 + 15 * (i % 5)),
            calendar_id=calendar_id,
            event_id=f"ev{i:06d}",
            zone="W. Europe Standard Time",
            series=weekly,
        )


def app() -> FakeGraph:
    graph = FakeGraph()

    async def seed(request: Request) -> JSONResponse:
        fill(graph, request.query_params["calendar"], int(request.query_params["events"]))
        return JSONResponse(graph.grant(timedelta(days=1)))

    async def requests(_: Request) -> JSONResponse:
        return JSONResponse({"requests": len(graph.requests)})

    graph.app.router.routes += [
        Route("/_bench/seed", seed, methods=["POST"]),
        Route("/_bench/requests", requests),
    ]
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    asyncio.run(serve(app().app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

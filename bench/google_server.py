"""The local Google Calendar (tests/fakes) in a process of its own, for the sync benchmark.

    .venv/bin/python -m bench.google_server --port 8099

Besides Google's routes: `POST /_bench/seed?events=N` fills a fresh calendar
(a tenth of them weekly series) and answers a grant for connectCalendar;
`GET /_bench/requests` says how many listing requests were answered.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.google_calendar import FakeGoogle

FIRST = datetime(2026, 1, 5, 8, tzinfo=UTC)


def fill(google: FakeGoogle, calendar_id: str, count: int) -> None:
    """`count` events over a year in Berlin: singles, and every tenth a weekly series."""
    google.calendar(calendar_id)
    for i in range(count):
        start = FIRST + timedelta(days=i % 365, hours=i % 9, minutes=15 * (i % 4))
        google.put(
            f"Event {i}",
            start,
            start + timedelta(minutes=30 + 15 * (i % 5)),
            calendar_id=calendar_id,
            event_id=f"ev{i:06d}",
            zone="Europe/Berlin",
            recurrence=["RRULE:FREQ=WEEKLY;COUNT=10"] if i % 10 == 0 else None,
        )


def app() -> FakeGoogle:
    google = FakeGoogle()

    async def seed(request: Request) -> JSONResponse:
        calendar_id = request.query_params["calendar"]
        fill(google, calendar_id, int(request.query_params["events"]))
        return JSONResponse(google.grant(timedelta(days=1)))

    async def requests(_: Request) -> JSONResponse:
        return JSONResponse({"requests": len(google.requests)})

    google.app.router.routes += [
        Route("/_bench/seed", seed, methods=["POST"]),
        Route("/_bench/requests", requests),
    ]
    return google


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

"""The sync figures: full syncs of 100 to 30,000 Google (or Outlook) events, their memory,
and an incremental sync with nothing changed.

    .venv/bin/python -m bench.sync [--sizes 100,1000,10000,30000] [--provider outlook]

Starts its own nx-27017, redis-server and local Google Calendar or Microsoft Graph (a
process of its own, so its memory and CPU are not ours), runs each sync as the worker does
(`runs.carry_out`: run records, the calendar lock, progress published, caches
retired), and writes the table to bench/RESULTS.md. The reference for each size,
measured in the same run, is the floor of the work itself: reading the same
pages with no processing, plus one insert_many of the documents the sync wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import monitoring

from bench.lib import RESULTS, ROOT, backends, machine
from bench.results import update_section
from graphql_api.embedded import free_port
from graphql_api.lifespan import close_state, open_state
from graphql_api.security.secrets import seal, unseal
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync import runs
from graphql_api.sync.providers import outlook
from models import Calendar, Event, SyncRun
from models.base import ref
from models.calendar import Source

TARGET_S = {100: 0.3, 10_000: 15.0}
USER = "bench-sync"


class EventWrites(monitoring.CommandListener):
    """Counts the commands that write to the events collection."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("insert", "update", "delete") and (
            event.command.get(event.command_name) == "events"
        ):
            self.count[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass(frozen=True)
class Kind:
    """What differs between the providers measured."""

    provider: str  # GOOGLE | OUTLOOK
    server: str  # the module serving the local provider
    section: str  # of bench/RESULTS.md
    described: str


GOOGLE = Kind(
    "GOOGLE",
    "bench.google_server",
    "Calendar sync",
    "Full syncs from the local Google Calendar (in its own process, 250 events a page;\n"
    "a tenth of the events weekly series),",
)
OUTLOOK = Kind(
    "OUTLOOK",
    "bench.graph_server",
    "Calendar sync: Outlook",
    "Full syncs from the local Microsoft Graph (calendarView/delta in its own process, 250\n"
    "instances a page; a tenth of the events weekly series of 10, each listed as its 10\n"
    "instances and read once as its master: twice as many events stored as made),",
)


def stored_for(kind: Kind, events: int) -> int:
    """Events stored for `events` made: Graph's series are a master and their 10 instances."""
    return events + (10 * -(-events // 10) if kind is OUTLOOK else 0)


@contextmanager
def local_server(kind: Kind) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", kind.server, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_bench/requests", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"the local {kind.provider} did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Quiet:
    """An incremental sync with nothing changed."""

    events: int
    seconds: float
    requests: int
    writes: int


@dataclass
class Full:
    events: int
    seconds: float
    reference_s: float
    requests: int
    stored: int


async def provider_calendar(
    state: AppState, http: httpx.AsyncClient, google: str, name: str, events: int, *, kind: Kind
) -> Calendar:
    seeded = await http.post(f"{google}/_bench/seed", params={"calendar": name, "events": events})
    grant = seeded.json()
    calendar = Calendar(
        user_id=USER,
        name=name,
        provider=kind.provider,
        timezone="Europe/Berlin",
        source=Source(external_id=name, credentials=seal(state.settings, grant)),
    )
    await calendar.insert()
    return calendar


async def listing_requests(http: httpx.AsyncClient, google: str) -> int:
    count: int = (await http.get(f"{google}/_bench/requests")).json()["requests"]
    return count


async def sync_once(
    state: AppState, http: httpx.AsyncClient, calendar: Calendar, full: bool
) -> float:
    """One run as the worker carries it out; its seconds."""
    run = await runs.request_sync(state, calendar, full=full)
    started = time.perf_counter()
    await runs.carry_out(state, http, str(run.id), last_attempt=True)
    seconds = time.perf_counter() - started
    done = await SyncRun.get(run.id)
    assert done is not None
    assert done.status == "SUCCEEDED", done.error
    return seconds


async def fetch_pages(
    state: AppState, http: httpx.AsyncClient, google: str, calendar: Calendar, kind: Kind
) -> None:
    """The provider's pages of the calendar, read and parsed, nothing else."""
    assert calendar.source is not None
    grant = unseal(state.settings, calendar.source.credentials)
    headers = {"Authorization": f"Bearer {grant['accessToken']}"}
    if kind is OUTLOOK:
        start, end = outlook.window(datetime.now(UTC).date())
        url: str | None = f"{google}/v1.0/me/calendars/{calendar.name}/calendarView/delta"
        params: dict[str, Any] | None = {
            "startDateTime": start.isoformat(),
            "endDateTime": end.isoformat(),
        }
        headers["Prefer"] = f"odata.maxpagesize={state.settings.sync_page_size}"
        while url:
            body = (await http.get(url, params=params, headers=headers)).json()
            url, params = body.get("@odata.nextLink"), None
        return
    params = {"maxResults": state.settings.sync_page_size}
    url = f"{google}/calendar/v3/calendars/{calendar.name}/events"
    while True:
        body = (await http.get(url, params=params, headers=headers)).json()
        if "nextPageToken" not in body:
            break
        params["pageToken"] = body["nextPageToken"]


async def reference(
    state: AppState, http: httpx.AsyncClient, google: str, calendar: Calendar, kind: Kind
) -> float:
    """Reading the same pages and parsing them, then one insert_many of what the sync stored."""
    started = time.perf_counter()
    await fetch_pages(state, http, google, calendar, kind)
    fetched = time.perf_counter() - started
    events = Event.get_pymongo_collection()
    docs = [
        {k: v for k, v in d.items() if k != "_id"}
        async for d in events.find({"calendarId": ref(calendar)})
    ]
    scratch = state.mongo[state.settings.mongodb_db]["bench_scratch"]
    started = time.perf_counter()
    await scratch.insert_many(docs)
    inserted = time.perf_counter() - started
    await scratch.drop()
    return fetched + inserted


async def full_syncs(
    state: AppState, http: httpx.AsyncClient, google: str, sizes: list[int], kind: Kind
) -> list[Full]:
    results = []
    for size in sizes:
        calendar = await provider_calendar(state, http, google, f"time-{size}", size, kind=kind)
        before = await listing_requests(http, google)
        seconds = await sync_once(state, http, calendar, full=True)
        requests = await listing_requests(http, google) - before
        stored = await Event.find({"calendarId": ref(calendar)}).count()
        assert stored == stored_for(kind, size), (stored, size)
        results.append(
            Full(
                size,
                seconds,
                await reference(state, http, google, calendar, kind),
                requests,
                stored,
            )
        )
    return results


async def peak_memory(
    state: AppState, http: httpx.AsyncClient, google: str, size: int, kind: Kind
) -> float:
    """Peak Python memory (MB) allocated while a full sync of `size` events runs."""
    calendar = await provider_calendar(state, http, google, f"memory-{size}", size, kind=kind)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    await sync_once(state, http, calendar, full=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 2**20


async def measure(sizes: list[int], kind: Kind = GOOGLE) -> str:
    writes = EventWrites()
    monitoring.register(writes)
    with backends() as (mongo_uri, redis_server), local_server(kind) as google:
        settings = Settings(
            env="development",
            mongodb_uri=mongo_uri,
            mongodb_db="bench_sync",
            redis_url=redis_server.url,
            google_api_url=f"{google}/calendar/v3",
            google_token_url=f"{google}/token",
            microsoft_graph_url=f"{google}/v1.0",
            microsoft_token_url=f"{google}/token",
        )
        state = await open_state(settings)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                fulls = await full_syncs(state, http, google, sizes, kind)
                memory = {s: await peak_memory(state, http, google, s, kind) for s in sizes}
                largest = await Calendar.find_one({"name": f"time-{sizes[-1]}"})
                assert largest is not None
                requests = await listing_requests(http, google)
                written = sum(writes.count.values())
                seconds = await sync_once(state, http, largest, full=False)
                quiet = Quiet(
                    sizes[-1],
                    seconds,
                    await listing_requests(http, google) - requests,
                    sum(writes.count.values()) - written,
                )
        finally:
            await close_state(state)
    return report(fulls, memory, quiet, kind)


def report(fulls: list[Full], memory: dict[int, float], quiet: Quiet, kind: Kind) -> str:
    rows = [
        "| events | full sync | target | reference (fetch + insert_many) | ratio | "
        "listing requests | peak memory | memory per event |"
        + (" stored |" if kind is OUTLOOK else ""),
        "|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if kind is OUTLOOK else ""),
    ]
    for f in fulls:
        target = f"< {TARGET_S[f.events]} s" if f.events in TARGET_S else ""
        rows.append(
            f"| {f.events:,} | {f.seconds:.3f} s | {target} | {f.reference_s:.3f} s | "
            f"{f.seconds / f.reference_s:.1f}x | {f.requests} | {memory[f.events]:.1f} MB | "
            f"{memory[f.events] * 2**20 / f.events / 1024:.1f} KB |"
            + (f" {f.stored:,} |" if kind is OUTLOOK else "")
        )
    # From 1,000 events on (below that, a sync is one or a few pages: the fixed part).
    small, large = min((s for s in memory if s >= 1000), default=min(memory)), max(memory)
    growth = memory[large] / memory[small]
    return "\n".join(
        [
            "Command: `.venv/bin/python -m bench.sync"
            + (" --provider outlook" if kind is OUTLOOK else "")
            + "`",
            f"Machine: {machine()}",
            "",
            kind.described,
            "carried out as the worker does. Peak memory is what Python allocated during the",
            "sync (tracemalloc, in a separate run).",
            "",
            *rows,
            "",
            f"Memory from {small:,} to {large:,} events ({large // small}x): "
            f"{growth:.2f}x the peak.",
            "",
            f"Incremental sync of the {quiet.events:,}-event calendar with nothing changed: "
            f"{quiet.requests} listing request(s), {quiet.writes} writes to events, "
            f"{quiet.seconds:.3f} s.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,30000")
    parser.add_argument("--provider", choices=["google", "outlook"], default="google")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    kind = OUTLOOK if args.provider == "outlook" else GOOGLE
    body = asyncio.run(measure(sizes, kind))
    print(body)
    update_section(RESULTS, kind.section, body)


if __name__ == "__main__":
    main()

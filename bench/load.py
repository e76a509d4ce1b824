"""The load figures: the seed's k6 scenario with locust, `{ __typename }` under the same
stages as the reference, and wrk figures for the Dashboard, Mongo commands and page sizes.

    .venv/bin/python -m bench.load [--time-scale 0.1] [--users 200] [--workers 2]
    .venv/bin/python -m bench.load --url http://127.0.0.1:3003 --token-secret S [--server-pid P]

By default starts its own nx-27017, redis-server, server (`serve --workers N` with
--workers) and sync worker, seeds one user per virtual user with graphql_api.seed
(goals, habits with weeks of check-ins, a LOCAL calendar with events) and gives each
an ICS calendar on a feed served here, not yet synced (SyncCalendar syncs it). With
--url it seeds the users through the GraphQL API instead (ConnectCalendar for the
feed); the server's RSS and CPU are then read only if --server-pid names its process
(its API processes too, when it runs several).

The k6 stages (2 min to 100 users, 5 min at 100, 2 min to 200, 5 min at 200, 2 min
to 0; --time-scale multiplies them all) run as a locust LoadTestShape in a headless
locust subprocess (bench/locustfile.py); each virtual user is its own seeded user,
with its own token, and does one operation per iteration, picked by MIX, then sleeps
1 s. A second, shorter pass (--reference-scale of the first) sends `{ __typename }`
instead. Each process's CPU time (/proc/<pid>/stat, read twice a second) over each
stage, divided by the stage's requests, gives the CPU per request of the API
processes, nx-27017, Redis and the worker; the knee is the most users a hold stage
held with p95 < 250 ms and no errors. Then wrk measures the Dashboard warm against
`{ __typename }`, /metrics gives the Mongo commands of one Dashboard for 10 and 200
goals, and Events is timed for first: 10 to 500. Writes the "Load" section of
bench/RESULTS.md and bench/load.png.

To see where a run's time went: it prints the server's cache lookups, Mongo and
Redis commands per mix request; `--timeline F.csv` writes the mix second by second
(requests started, p50/p95/max, each process's CPU), so a stall shows with what was
busy meanwhile; BENCH_LOGS=<dir> keeps the server's and the worker's logs (with
MONGO_SLOW_MS=<ms>, their slow Mongo commands).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import matplotlib.pyplot as plt
import numpy as np
import psutil

from bench.lib import (
    BIN,
    RESULTS,
    ROOT,
    RedisServer,
    Request,
    Run,
    Server,
    counters,
    machine,
    server,
    table,
    wrk,
)
from bench.lib import worker as worker_process
from bench.results import update_section
from bench.seeding import ZONE
from graphql_api.embedded import free_port, start_mongo
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings

_SHARED = ROOT.parent / "shared" / "operations"
OPERATIONS_DIR = _SHARED if _SHARED.is_dir() else ROOT / "operations"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
PLOT = ROOT / "bench" / "load.png"
SEEDING = Path(__file__).with_name("seeding.py")
TYPENAME = "{ __typename }"

# The seed's k6 stages: (seconds, target users), each a linear ramp from the last target.
K6_STAGES = [(120, 100), (300, 100), (120, 200), (300, 200), (120, 0)]
STAGE_NAMES = ["ramp to 100", "hold 100", "ramp to 200", "hold 200", "ramp to 0"]
# One operation per iteration, by weight: reads as a dashboard client makes them
# (the Dashboard on every screen, Events when the calendar is opened), a check-in
# as the commonest write, goals and events created less often, a sync now and then.
MIX = {
    "Dashboard": 35,
    "Events": 20,
    "Calendars": 10,
    "CheckInHabit": 15,
    "CreateGoal": 7,
    "CreateEvent": 10,
    "SyncCalendar": 3,
}
EVENT_PAGES = [10, 50, 100, 250, 500]
# The per-user rate limit (20/s by default) is still checked on every request but set
# out of reach: wrk sends 15-30 requests a second per user, the setup more.
SERVER_ENV = {"RATE_LIMIT_PER_S": "1000", "RATE_LIMIT_BURST": "1000"}

# The seed's targets and its 2-vCPU baseline, and the goals for this machine.
TARGET_P95_MS, TARGET_ERRORS, TARGET_RPS, TARGET_MB, TARGET_CPU = 500, 0.01, 100, 512, 70
BASELINE_P95_MS, BASELINE_RPS, BASELINE_MB = 250, 500, 150
GOAL_P95_AT_100_MS, GOAL_DASHBOARD_RPS, GOAL_RSS_AFTER_MB = 250, 500, 250
# The knee: the most users a hold stage held with p95 under this and no errors
# (issue 13's definition), and where issue 13 wants it on this machine.
KNEE_P95_MS, GOAL_KNEE_USERS = 250, 200
SERVER = "server"  # every process of `serve`: its API processes (and their supervisor)
# The processes whose CPU per request is reported, besides the API's.
BACKENDS = ("nx-27017", "redis-server", "worker")


def operation(name: str) -> str:
    return (OPERATIONS_DIR / f"{name}.graphql").read_text()


def this_week() -> dict[str, str]:
    today = datetime.now(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), clock(), UTC)
    return {"start": monday.isoformat(), "end": (monday + timedelta(days=7)).isoformat()}


# --- processes we watch -------------------------------------------------------------


@dataclass
class Proc:
    """A process read from /proc: CPU seconds and RSS; NaN once it is gone."""

    pid: int

    def cpu_seconds(self) -> float:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return math.nan
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return math.nan
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return math.nan


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def serve_processes(pid: int) -> dict[str, Proc]:
    """The processes of a `serve`: itself alone ("server"); with --workers N its API
    processes ("api 1" ... "api N") and itself, their supervisor ("serve")."""
    children = []
    for child in psutil.Process(pid).children():
        with contextlib.suppress(psutil.Error):  # gone, or a zombie
            if "serve-process" in child.cmdline():
                children.append(child.pid)
    if not children:
        return {SERVER: Proc(pid)}
    apis = {f"api {i}": Proc(child) for i, child in enumerate(sorted(children), 1)}
    return {**apis, "serve": Proc(pid)}


def server_names(procs: dict[str, Proc]) -> list[str]:
    """The names of the server's processes among those watched."""
    return [n for n in procs if n in (SERVER, "serve") or n.startswith("api ")]


class Watched(Server):
    """The server as bench.lib's wrk() reads it: all its processes added up (none, for
    --url alone)."""

    def __init__(self, url: str, processes: list[Proc]) -> None:
        self.url = url
        self.processes = processes

    def rss_mb(self) -> float:
        return sum(p.rss_mb() for p in self.processes) if self.processes else math.nan

    def cpu_seconds(self) -> float:
        return sum(p.cpu_seconds() for p in self.processes)


@dataclass
class Reading:
    at: float
    cpu: dict[str, float]
    rss: dict[str, float]


@dataclass
class Sampler:
    """Reads every watched process twice a second, in a thread, while a run lasts; a group
    (the server's processes) is read as the sum of its members."""

    procs: dict[str, Proc]
    groups: dict[str, list[str]] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def read(self) -> None:
        cpu = {name: p.cpu_seconds() for name, p in list(self.procs.items())}
        cpu["machine"] = machine_busy_seconds()
        rss = {name: p.rss_mb() for name, p in list(self.procs.items())}
        for group, members in self.groups.items():  # NaN once a member is gone
            cpu[group] = sum(cpu[m] for m in members)
            rss[group] = sum(rss[m] for m in members)
        self.readings.append(Reading(time.time(), cpu, rss))

    def __enter__(self) -> Sampler:
        def loop() -> None:
            while not self._stop.wait(0.5):
                self.read()

        self.read()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.read()

    def cpu_percent(self, name: str, start: float, end: float) -> float:
        """Percent of one core over [start, end]; NaN if unknown."""
        inside = [
            r
            for r in self.readings
            if start <= r.at <= end and not math.isnan(r.cpu.get(name, math.nan))
        ]
        if len(inside) < 2 or inside[-1].at <= inside[0].at:
            return math.nan
        first, last = inside[0], inside[-1]
        return (last.cpu[name] - first.cpu[name]) / (last.at - first.at) * 100

    def window(self, start: float, end: float) -> tuple[Reading, Reading] | None:
        """The first and the last reading inside [start, end]."""
        inside = [r for r in self.readings if start <= r.at <= end]
        return (inside[0], inside[-1]) if len(inside) >= 2 else None

    def peak_rss(self, name: str, start: float, end: float) -> float:
        values = [
            r.rss[name]
            for r in self.readings
            if start <= r.at <= end and not math.isnan(r.rss.get(name, math.nan))
        ]
        return max(values) if values else math.nan


# --- our own stack --------------------------------------------------------------------


ICS_START = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) - timedelta(days=7)


def ics_feed() -> bytes:
    """A small feed: a weekly series and a dozen single events around today."""

    def stamp(at: datetime) -> str:
        return at.strftime("%Y%m%dT%H%M%SZ")

    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//load//EN"]
    events = [("series@bench", "Choir", ICS_START, "RRULE:FREQ=WEEKLY;COUNT=12")]
    events += [
        (f"single-{i}@bench", f"Appointment {i}", ICS_START + timedelta(days=i, hours=4), "")
        for i in range(12)
    ]
    for uid, title, start, rule in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{stamp(ICS_START)}",
            f"DTSTART:{stamp(start)}",
            f"DTEND:{stamp(start + timedelta(hours=1))}",
            f"SUMMARY:{title}",
            *([rule] if rule else []),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


@contextlib.contextmanager
def feed_server() -> Iterator[str]:
    """The ICS feed every user's second calendar syncs from, on a port of our own."""
    body = ics_feed()

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Feed)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def seed_with_helpers(
    mongo_uri: str,
    redis_url: str,
    subs: list[str],
    days: int,
    feed: str,
    *,
    database: str = "bench",
    code: Path = ROOT,
) -> None:
    """The users seeded by the code of the tree `code` (bench/seeding.py): the first
    alone (it makes the indexes), then the others in two processes at once."""

    def seeding(part: list[str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-P", str(SEEDING), mongo_uri, redis_url, database]
        env = {**os.environ, "PYTHONPATH": str(code)}  # ahead of this checkout's install
        return subprocess.Popen([*command, str(days), feed, *part], env=env)

    for parts in ([subs[:1]], [subs[1::2], subs[2::2]]):
        for process in [seeding(part) for part in parts if part]:
            if process.wait() != 0:
                raise RuntimeError(f"seeding {database} failed ({process.returncode})")


@dataclass
class Stack:
    url: str
    procs: dict[str, Proc]
    mongo_uri: str
    redis_url: str


def start_server(
    stack: contextlib.ExitStack, mongo_uri: str, redis_url: str, *args: str, **env: str
) -> Server:
    """bench.lib's server(); tried again a minute later if it does not start."""
    env = {"MONGODB_DB": "bench", **SERVER_ENV, **env}
    for attempt in range(3):
        try:
            return stack.enter_context(server(mongo_uri, redis_url, *args, **env))
        except RuntimeError:
            if attempt == 2:
                raise
            print("the server did not start; trying again in a minute")
            time.sleep(60)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def own_stack(subs: list[str], days: int, feed: str, workers: int) -> Iterator[Stack]:
    """nx-27017, redis-server, the seeded users, the server (`workers` API processes) and
    a sync worker."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, contextlib.ExitStack() as stack:
        mongo, mongo_uri = start_mongo(Path(tmp))

        def stop_mongo() -> None:
            mongo.terminate()
            mongo.wait(timeout=20)

        stack.callback(stop_mongo)
        redis = RedisServer(free_port(), Path(tmp))
        redis.start()
        stack.callback(redis.kill)
        started = time.monotonic()
        seed_with_helpers(mongo_uri, redis.url, subs, days, feed)
        print(f"seeded {len(subs)} users in {time.monotonic() - started:.0f} s")
        running = start_server(stack, mongo_uri, redis.url, "--workers", str(workers))
        worker = stack.enter_context(worker_process(mongo_uri, redis.url, MONGODB_DB="bench"))
        assert redis.proc is not None
        procs = {
            **serve_processes(running.proc.pid),
            "worker": Proc(worker.pid),
            "nx-27017": Proc(mongo.pid),
            "redis-server": Proc(redis.proc.pid),
        }
        yield Stack(running.url, procs, mongo_uri, redis.url)


# --- GraphQL through httpx (setup and the single-request figures) -----------------------


class Api:
    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.client = httpx.AsyncClient(base_url=url, timeout=60)

    def token(self, sub: str) -> str:
        return mint_dev_token(self.settings, sub)

    async def call(
        self, sub: str, op: str, variables: dict[str, Any] | None = None, query: str | None = None
    ) -> dict[str, Any]:
        """The operation's data; waits as told when rate limited (setup sends in bursts)."""
        body = {"query": query or operation(op), "variables": variables or {}}
        headers = {"Authorization": f"Bearer {self.token(sub)}"}
        for _ in range(30):
            r = await self.client.post("/graphql", json=body, headers=headers)
            answer: dict[str, Any] = r.json()
            codes = [(e.get("extensions") or {}) for e in answer.get("errors") or []]
            if r.status_code == 429 or any(c.get("code") == "RATE_LIMITED" for c in codes):
                await asyncio.sleep(max([float(c.get("retryAfter", 1)) for c in codes] or [1]))
                continue
            if r.status_code != 200 or answer.get("errors"):
                raise RuntimeError(f"{op} for {sub}: HTTP {r.status_code} {answer.get('errors')}")
            data: dict[str, Any] = answer["data"]
            return data
        raise RuntimeError(f"{op} for {sub}: still rate limited")

    async def mongo_commands(self) -> float | None:
        """The server's mongo_commands_total, all commands added up; None if it has none."""
        text = (await self.client.get("/metrics")).text
        values = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("mongo_commands_total")
        ]
        return sum(values) if values else None


HABITS = [  # (goal, name, times, per): what the API seeding makes, after graphql_api.seed
    (0, "Morning run", 3, "WEEK"),
    (0, "Stretching", 1, "DAY"),
    (1, "Read 30 pages", 1, "DAY"),
    (2, "Spanish lesson", 4, "WEEK"),
    (2, "Podcast in Spanish", 2, "MONTH"),
]


async def seed_through_api(api: Api, sub: str) -> None:
    """For --url: a profile, 3 goals, 5 habits with a week of check-ins, a LOCAL calendar."""
    profile = {"displayName": "Load User", "timezone": ZONE}
    await api.call(sub, "UpdateProfile", {"input": profile})
    goals = [
        (await api.call(sub, "CreateGoal", {"input": {"title": title}}))["createGoal"]["id"]
        for title in ("Run a half marathon", "Read 24 books", "Learn Spanish")
    ]
    today = datetime.now(ZoneInfo(ZONE)).date()
    for goal, name, times, per in HABITS:
        habit = {"name": name, "goalId": goals[goal], "frequency": {"times": times, "per": per}}
        created = await api.call(sub, "CreateHabit", {"input": habit})
        for back in range(1, 8):
            when = (today - timedelta(days=back)).isoformat()
            status = "DONE" if back % 3 else "SKIPPED"
            variables = {"habitId": created["createHabit"]["id"], "date": when, "status": status}
            await api.call(sub, "CheckInHabit", variables)
    local = {"provider": "LOCAL", "name": "Personal", "timezone": ZONE}
    calendar = (await api.call(sub, "ConnectCalendar", {"input": local}))["connectCalendar"]["id"]
    events = []
    for offset in range(-14, 15):
        day = today + timedelta(days=offset)
        for hour, title in ((9, "Stand-up"), (14, "Focus block")):
            if day.isoweekday() <= 5:
                start = datetime.combine(day, clock(hour), ZoneInfo(ZONE))
                events.append(
                    {
                        "calendarId": calendar,
                        "title": title,
                        "start": start.isoformat(),
                        "end": (start + timedelta(hours=1)).isoformat(),
                    }
                )
    await api.call(sub, "BatchCreateEvents", {"inputs": events})


async def prepare_users(
    api: Api, subs: list[str], feed_url: str, *, through_api: bool
) -> list[dict[str, Any]]:
    """The IDs the locustfile needs; through the API, the users' data and ICS calendar too."""
    limit = asyncio.Semaphore(8)

    async def prepare(sub: str) -> dict[str, Any]:
        async with limit:
            if through_api:
                await seed_through_api(api, sub)
                feed = {"provider": "ICS", "name": "Feed", "url": f"{feed_url}/{sub}.ics"}
                await api.call(sub, "ConnectCalendar", {"input": feed})
            habits = await api.call(sub, "Habits", {"first": 50})
            calendars = (await api.call(sub, "Calendars"))["calendars"]
            me = await api.call(sub, "Me")
        by_provider = {c["provider"]: c["id"] for c in calendars}
        return {
            "sub": sub,
            "token": api.token(sub),
            "timezone": me["me"]["timezone"],
            "habits": [e["node"]["id"] for e in habits["habits"]["edges"]],
            "local_calendar": by_provider["LOCAL"],
            "feed_calendar": by_provider["ICS"],
        }

    return list(await asyncio.gather(*(prepare(s) for s in subs)))


# --- the locust passes --------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    started: float
    users: int  # running when the request started, from the stages
    name: str
    ms: float
    status: int  # 1 answered, 0 failed, 2 abandoned (no answer when its user was stopped)
    error: str


def users_at(stages: list[tuple[float, int]], elapsed: float) -> int:
    """What the locustfile's LoadTestShape asks for `elapsed` seconds into the run."""
    begins, before = 0.0, 0
    for seconds, target in stages:
        if elapsed < begins + seconds:
            return round(before + (target - before) * (elapsed - begins) / seconds)
        begins, before = begins + seconds, target
    return 0


@dataclass
class Pass:
    mode: str
    stages: list[tuple[float, int]]
    started: float
    ended: float
    samples: list[Sample]
    locust_output: str

    def windows(self) -> list[tuple[str, float, float]]:
        out, at = [], self.started
        for name, (seconds, _) in zip(STAGE_NAMES, self.stages, strict=True):
            out.append((name, at, at + seconds))
            at += seconds
        return out

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.started < end]


def run_locust(
    url: str, users: list[dict[str, Any]], mode: str, scale: float, *, sampler: Sampler, tmp: Path
) -> Pass:
    stages = [(seconds * scale, target) for seconds, target in K6_STAGES]
    record = tmp / f"{mode}.csv"
    config = {
        "mode": mode,
        "stages": stages,
        "weights": MIX,
        "operations": {op: operation(op) for op in MIX},
        "users": users,
        "record": str(record),
    }
    config_path = tmp / f"{mode}.json"
    config_path.write_text(json.dumps(config))
    output = tmp / f"{mode}.log"
    total = sum(s for s, _ in stages)
    print(f"locust: {mode}, {total:.0f} s")
    with output.open("w") as log:
        proc = subprocess.Popen(
            [
                str(BIN / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--host",
                url,
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env={**os.environ, "LOAD_CONFIG": str(config_path)},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
        sampler.procs["locust"] = Proc(proc.pid)
        try:
            proc.wait(timeout=total + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"locust did not stop; see {output}") from None
        finally:
            sampler.read()
    text = output.read_text()
    if proc.returncode not in (0, 1) or not record.exists():  # 1: some requests failed
        raise RuntimeError(f"locust exited with {proc.returncode}:\n{text[-3000:]}")
    started, rows = 0.0, []
    for line in record.read_text().splitlines():
        parts = line.split(",", 5)
        if parts[0] == "#started":
            started = float(parts[1])
        elif len(parts) == 6:
            rows.append(parts)
    started = started or min(float(r[0]) for r in rows)
    samples = [
        Sample(float(t), users_at(stages, float(t) - started), name, float(ms), int(st), error)
        for t, _, name, ms, st, error in rows
    ]
    return Pass(mode, stages, started, started + total, samples, text)


@dataclass(frozen=True)
class Summary:
    """Answered requests (failures included) and their latency; abandoned ones apart."""

    requests: int
    rps: float
    p50: float
    p95: float
    p99: float
    errors: int
    abandoned: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else math.nan

    @classmethod
    def of(cls, samples: list[Sample], seconds: float) -> Summary:
        answered = [s for s in samples if s.status != 2]
        ms = np.array([s.ms for s in answered]) if answered else np.array([math.nan])
        p50, p95, p99 = (float(v) for v in np.percentile(ms, [50, 95, 99]))
        errors = sum(s.status == 0 for s in answered)
        abandoned = len(samples) - len(answered)
        return cls(len(answered), len(answered) / seconds, p50, p95, p99, errors, abandoned)

    def cells(self) -> str:
        return (
            f"{self.requests} | {self.rps:.0f} | {self.p50:.1f} | {self.p95:.1f} | "
            f"{self.p99:.1f} | {self.errors} | {self.error_rate:.2%} | {self.abandoned}"
        )


LEVEL = 20  # users per concurrency level in the per-level table and plot


def by_level(samples: list[Sample]) -> dict[int, Summary]:
    groups: dict[int, list[Sample]] = {}
    for s in samples:
        level = max(LEVEL, round(s.users / LEVEL) * LEVEL)
        groups.setdefault(level, []).append(s)
    return {k: Summary.of(v, 1.0) for k, v in sorted(groups.items()) if len(v) >= 5}


def meets_knee(summary: Summary) -> bool:
    return summary.requests > 0 and summary.p95 < KNEE_P95_MS and summary.errors == 0


def knee_level(levels: dict[int, Summary]) -> int | None:
    """The highest concurrency level up to which every level met the knee's bar."""
    best = None
    for level, summary in sorted(levels.items()):
        if not meets_knee(summary):
            break
        best = level
    return best


@dataclass(frozen=True)
class PerRequest:
    """CPU milliseconds per request of each process over a window, and the requests."""

    requests: int
    ms: dict[str, float]


def cpu_per_request(sampler: Sampler, p: Pass, start: float, end: float) -> PerRequest:
    """Each process's CPU time from the first to the last reading inside [start, end],
    divided by the requests started between those readings (abandoned ones included:
    the server still worked on them)."""
    window = sampler.window(start, end)
    if window is None:
        return PerRequest(0, {})
    first, last = window
    requests = sum(1 for x in p.samples if first.at <= x.started < last.at)
    ms = {
        name: (last.cpu[name] - first.cpu[name]) * 1000 / requests if requests else math.nan
        for name in first.cpu.keys() & last.cpu.keys()
    }
    return PerRequest(requests, ms)


def print_counters(before: dict[str, float], after: dict[str, float], requests: int) -> None:
    """The server's cache lookups, Mongo and Redis commands per mix request (bench.cpu's
    --counters), for the reader of the run's output; summed over its processes."""
    print(f"per mix request ({requests} requests):")
    for name in sorted(after):
        delta = after[name] - before.get(name, 0.0)
        if delta > 0:
            print(f"    {name}: {delta / requests:.3f} ({delta:g} in all)")


def write_timeline(path: Path, p: Pass, sampler: Sampler) -> None:
    """The pass second by second: requests started, their latency, each process's CPU."""
    names = sorted({n for r in sampler.readings for n in r.cpu})
    seconds = math.ceil(p.ended - p.started)
    answered: list[list[float]] = [[] for _ in range(seconds)]
    for s in p.samples:  # each sample into its second, in one pass
        second = int(s.started - p.started)
        if s.status != 2 and 0 <= second < seconds:
            answered[second].append(s.ms)
    rows = [["second", "at", "users", "started", "p50_ms", "p95_ms", "max_ms", *names]]
    for second, latencies in enumerate(answered):
        start = p.started + second
        ms = np.array(latencies or [math.nan])
        p50, p95 = (float(v) for v in np.percentile(ms, [50, 95]))
        cpu = [sampler.cpu_percent(n, start - 0.5, start + 1.5) for n in names]
        figures = [p50, p95, float(ms.max()), *cpu]
        rows.append(
            [str(second), f"{start:.1f}", str(users_at(p.stages, second)), str(len(latencies))]
            + [f"{v:.0f}" for v in figures]
        )
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")


def plot(
    mix: dict[int, Summary],
    reference: dict[int, Summary],
    knee: int | None,
    per_stage: dict[str, PerRequest],
    workers: int,
) -> None:
    plt.switch_backend("Agg")  # a file, never a window
    fig, (ax, cpu) = plt.subplots(
        1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]}, layout="constrained"
    )
    colours = {"p50": "tab:green", "p95": "tab:orange", "p99": "tab:red"}
    for label, levels, style, marker in (
        ("mix", mix, "-", "o"),
        ("{ __typename }", reference, "--", "s"),
    ):
        users = list(levels)
        for pct, colour in colours.items():
            values = [getattr(levels[u], pct) for u in users]
            ax.plot(users, values, style, marker=marker, color=colour, label=f"{label} {pct}")
    ax.axhline(GOAL_P95_AT_100_MS, color="grey", linewidth=0.8, linestyle=":")
    if knee is not None:
        ax.axvline(knee, color="tab:purple", linewidth=1, linestyle="-.")
        ax.annotate(
            f"knee: {knee} users held",
            (knee, 0.02),
            xytext=(-4, 0),
            ha="right",
            fontsize=8,
            textcoords="offset points",
            color="tab:purple",
            xycoords=("data", "axes fraction"),
            va="bottom",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
    processes = "one API process" if workers == 1 else f"{workers} API processes"
    ax.set_xlabel("virtual users (each its own user, 1 s between iterations)")
    ax.set_ylabel("latency, ms (log)")
    ax.set_yscale("log")
    ax.set_title(f"bench/load.py: latency against concurrency ({processes})")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)

    # CPU per request by stage of the mix: where each request's CPU goes.
    stages = list(per_stage)
    bottom = np.zeros(len(stages))
    for name in (SERVER, *BACKENDS):
        heights = np.nan_to_num([per_stage[st].ms.get(name, math.nan) for st in stages])
        cpu.bar(stages, heights, bottom=bottom, label="API (all)" if name == SERVER else name)
        bottom += heights
    cpu.set_ylabel("CPU ms per request")
    cpu.set_title("mix: CPU per request by stage")
    cpu.tick_params(axis="x", labelrotation=30, labelsize=8)
    cpu.legend(fontsize=8)
    cpu.grid(alpha=0.3, axis="y")
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


# --- the single-request figures ------------------------------------------------------------


async def make_goals(api: Api, sub: str, goals: int) -> None:
    """`goals` goals with 3 habits each, one check-in per habit (as tests/test_dataloaders)."""
    limit = asyncio.Semaphore(8)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    async def one(i: int) -> None:
        async with limit:
            goal = await api.call(sub, "CreateGoal", {"input": {"title": f"goal {i}"}})
            for j in range(3):
                habit = {
                    "name": f"habit {i}.{j}",
                    "goalId": goal["createGoal"]["id"],
                    "frequency": {"times": 1, "per": "DAY"},
                }
                created = (await api.call(sub, "CreateHabit", {"input": habit}))["createHabit"]
                check_in = {"habitId": created["id"], "date": yesterday, "status": "DONE"}
                await api.call(sub, "CheckInHabit", check_in)

    await api.call(sub, "Me")
    await asyncio.gather(*(one(i) for i in range(goals)))


@dataclass(frozen=True)
class Commands:
    """Mongo commands of one Dashboard: on a server with the cache off, and on the
    loaded server for the first request (answer not cached) and a repeat (cached)."""

    goals: int
    uncached: float | None
    first: float | None
    repeat: float | None


async def dashboard_commands(main: Api, plain: Api | None, goals: int) -> Commands:
    sub = f"load-goals-{goals}"
    await make_goals(main, sub, goals)
    variables = {"range": this_week(), "goalsFirst": 200}

    async def count(api: Api) -> float | None:
        before = await api.mongo_commands()
        data = await api.call(sub, "Dashboard", variables)
        after = await api.mongo_commands()
        assert len(data["goals"]["edges"]) == goals, data["goals"]["totalCount"]
        return None if before is None or after is None else after - before

    uncached = None
    if plain:
        # Its second: a query starts the lists its last run read with the user's profile
        # (graphql_api.context), which the server's first Dashboard cannot.
        await plain.call(sub, "Dashboard", variables)
        uncached = await count(plain)
    return Commands(goals, uncached, await count(main), await count(main))


@dataclass(frozen=True)
class PageTiming:
    first: int
    returned: int
    median_ms: float
    commands: float | None


async def seed_event_week(api: Api, sub: str) -> datetime:
    """600 events, one every quarter hour from next Monday; returns that Monday."""
    local = {"provider": "LOCAL", "name": "Busy", "timezone": ZONE}
    calendar = (await api.call(sub, "ConnectCalendar", {"input": local}))["connectCalendar"]["id"]
    today = datetime.now(UTC).date()
    monday = datetime.combine(today + timedelta(days=7 - today.weekday()), clock(), UTC)
    events = [
        {
            "calendarId": calendar,
            "title": f"event {i}",
            "start": (monday + timedelta(minutes=15 * i)).isoformat(),
            "end": (monday + timedelta(minutes=15 * i + 10)).isoformat(),
        }
        for i in range(600)
    ]
    await api.call(sub, "BatchCreateEvents", {"inputs": events})
    return monday


async def event_pages(api: Api, sub: str, monday: datetime, repeats: int) -> list[PageTiming]:
    """events(first: N), median of sequential requests, each with a range of its own (the
    same events, but no answer cached); the Mongo commands of the first timed one."""
    out = []
    for n in EVENT_PAGES:
        times, commands, returned = [], None, 0
        for i in range(repeats + 2):
            week = {
                "start": monday.isoformat(),
                "end": (monday + timedelta(days=7, seconds=n * 1000 + i)).isoformat(),
            }
            before = await api.mongo_commands()
            started = time.perf_counter()
            data = await api.call(sub, "Events", {"range": week, "first": n})
            elapsed = (time.perf_counter() - started) * 1000
            after = await api.mongo_commands()
            returned = len(data["events"]["edges"])
            if i == 2 and before is not None and after is not None:
                commands = after - before
            if i >= 2:  # two warm-ups
                times.append(elapsed)
        out.append(PageTiming(n, returned, statistics.median(times), commands))
    return out


def wrk_figures(
    target: Watched, users: list[dict[str, Any]], seconds: int, connections: int
) -> tuple[tuple[Run, Run], float]:
    """`{ __typename }` and the warm Dashboard of 32 users, and the machine's CPU meanwhile
    (percent of one core: wrk and anything else running included)."""
    variables = {"range": this_week()}
    dashboard = [Request.post(operation("Dashboard"), variables, u["token"]) for u in users[:32]]
    typename = [Request.post(TYPENAME, None, u["token"]) for u in users[:32]]
    for request in dashboard:  # warm: every user's answer cached once, one at a time
        answer = request.send(target.url)
        assert "errors" not in answer, answer
    for requests in (typename, dashboard):
        wrk(target, requests, label="warm-up", connections=connections, seconds=2)
    busy, started = machine_busy_seconds(), time.monotonic()
    label = f"`{TYPENAME}` (reference), {connections} connections"
    reference = wrk(target, typename, label=label, connections=connections, seconds=seconds)
    label = f"Dashboard POST, warm, {len(dashboard)} users, {connections} connections"
    warm = wrk(target, dashboard, label=label, connections=connections, seconds=seconds)
    machine_cpu = (machine_busy_seconds() - busy) / (time.monotonic() - started) * 100
    return (reference, warm), machine_cpu


def settle(procs: dict[str, Proc], limit_s: float = 180) -> float:
    """Waits until the server and nx-27017 are idle (< 10% of a core for 2 s running): the
    worker's syncs done, a backlog of a run answered. Returns the seconds it took."""
    watched = [procs[n] for n in [*server_names(procs), "nx-27017"] if n in procs]
    started = time.monotonic()
    if not watched:
        time.sleep(5)
        return 5.0
    quiet = 0
    while quiet < 2 and time.monotonic() - started < limit_s:
        before = [p.cpu_seconds() for p in watched]
        time.sleep(1)
        busy = any(p.cpu_seconds() - b > 0.1 for p, b in zip(watched, before, strict=True))
        quiet = 0 if busy else quiet + 1
    return time.monotonic() - started


# --- the report -----------------------------------------------------------------------------


def pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f}%"


def mb(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f} MB"


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


Window = tuple[float, float, Summary]


def count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def users(value: int | None) -> str:
    return "none" if value is None else f"{value} users"


def ms(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}"


@dataclass
class Report:
    command: str
    users: int
    scale: float
    reference_scale: float
    seeded: str
    server: str
    mix: Pass
    reference: Pass
    sampler: Sampler
    rss_after: float
    drained_s: float
    wrk_runs: tuple[Run, Run]
    wrk_machine: float
    commands: list[Commands]
    pages: dict[str, list[PageTiming]]
    workers: int = 1  # API processes
    # With --workers N: each of the server's processes (api 1 ... api N, serve) after the run
    rss_after_by: dict[str, float] = field(default_factory=dict)
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)

    @staticmethod
    def stages(p: Pass) -> dict[str, Window]:
        return {
            name: (start, end, Summary.of(p.between(start, end), end - start))
            for name, start, end in p.windows()
        }

    def knee(self) -> int | None:
        """The most users a hold stage held with p95 < KNEE_P95_MS and no errors."""
        held = [
            (target, summary)
            for (name, (_, _, summary)), (_, target) in zip(
                self.stages(self.mix).items(), self.mix.stages, strict=True
            )
            if name.startswith("hold")
        ]
        return max((target for target, summary in held if meets_knee(summary)), default=None)

    def costs(self, p: Pass) -> dict[str, PerRequest]:
        """CPU per request over the whole pass and each of its stages."""
        windows = {"whole run": (p.started, p.ended)}
        windows |= {name: (start, end) for name, (start, end, _) in self.stages(p).items()}
        return {name: cpu_per_request(self.sampler, p, *w) for name, w in windows.items()}

    def section(self) -> str:
        total_minutes = sum(t for t, _ in self.mix.stages) / 60
        intro = [
            f"Command: `{self.command}`  ",
            f"Machine: {machine()}; the server, nx-27017, redis-server, the sync worker and "
            "locust share it.",
            "",
            f"The seed's k6 stages times {self.scale:g} ({total_minutes:.1f} min): "
            + ", ".join(
                f"{n} in {t:.0f} s" for n, (t, _) in zip(STAGE_NAMES, self.mix.stages, strict=True)
            )
            + f"; the `{TYPENAME}` pass has the same stages times {self.reference_scale:g} more. "
            f"Locust (headless, FastHttpUser, a LoadTestShape); each virtual user is one of "
            f"{self.users} seeded users with its own token ({self.seeded}), does one operation per "
            "iteration and sleeps 1 s. A GraphQL `errors` answer is a failure; a request still "
            "unanswered when the shape stops its user is *abandoned* (locust drops it; counted "
            "apart, not in the latencies). Mix (weights, one pick per iteration): "
            + ", ".join(f"{op} {w}" for op, w in MIX.items())
            + f". Server: {self.server}.",
        ]
        parts = [
            intro,
            self.targets(),
            self.runs(),
            self.cpu(),
            self.per_request(),
            self.operations(),
            self.levels(),
            [
                "wrk, after the locust passes, the same server (the machine meanwhile: "
                f"{pct(self.wrk_machine)} of one core, wrk included):",
                "",
                table([*self.wrk_runs]),
            ],
            self.dashboard_commands(),
            self.event_pages(),
        ]
        return "\n\n".join("\n".join(part) for part in parts)

    def rss_after_cell(self) -> str:
        """The server's RSS after the run; with several processes, each one's too."""
        if not self.rss_after_by:
            return mb(self.rss_after)
        each = ", ".join(f"{name} {mb(v)}" for name, v in self.rss_after_by.items())
        return f"{mb(self.rss_after)} ({each})"

    def rss_per_api(self) -> str:
        """The goal was set for one API process: with several, how the largest one fares
        (the sum counts the libraries every process maps in full, and the supervisor)."""
        apis = [v for n, v in self.rss_after_by.items() if n.startswith("api ")]
        if not apis or any(math.isnan(v) for v in apis):
            return ""
        largest = max(apis)
        return (
            f" (the largest API process: {mb(largest)}, "
            f"{met(largest < GOAL_RSS_AFTER_MB)} for one process)"
        )

    def targets(self) -> list[str]:
        """The seed's targets, its 2-vCPU baseline, and this machine's goals."""
        s, stages = self.sampler, self.stages(self.mix)
        mix_all = Summary.of(self.mix.samples, self.mix.ended - self.mix.started)
        hold100, hold200 = stages["hold 100"][2], stages["hold 200"][2]
        server_cpu = s.cpu_percent("server", *stages["hold 200"][:2])
        peak = s.peak_rss("server", self.mix.started, self.reference.ended)
        rss_met = None if math.isnan(self.rss_after) else self.rss_after < GOAL_RSS_AFTER_MB
        reference_wrk, warm = self.wrk_runs
        by_goals = {c.goals: c for c in self.commands}
        cache_off = by_goals[10].uncached is not None
        n_10, n_200 = (
            (by_goals[10].uncached, by_goals[200].uncached)
            if cache_off
            else (by_goals[10].first, by_goals[200].first)
        )
        flat = None if n_10 is None or n_200 is None else n_200 <= n_10
        knee, by_level_knee = self.knee(), knee_level(by_level(self.mix.samples))
        whole = self.costs(self.mix)["whole run"].ms
        per_core = server_cpu / self.workers
        judged = (
            "judged on one core: one server process cannot use more"
            if self.workers == 1
            else f"judged per API process: {self.workers} processes can use {self.workers} cores"
        )
        lines = [
            "| figure | seed target | seed 2-vCPU baseline | this machine's goal | measured | |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| p95, mix, whole run | < {TARGET_P95_MS} ms | {BASELINE_P95_MS} ms | | "
            f"{mix_all.p95:.0f} ms | {met(mix_all.p95 < TARGET_P95_MS)} |",
            f"| p95, mix, holding 100 users | | | < {GOAL_P95_AT_100_MS} ms | "
            f"{hold100.p95:.0f} ms | {met(hold100.p95 < GOAL_P95_AT_100_MS)} |",
            f"| errors, mix, whole run | < 1% | | | {mix_all.error_rate:.2%} "
            f"({mix_all.abandoned} abandoned) | {met(mix_all.error_rate < TARGET_ERRORS)} |",
            f"| errors, mix, holding 100 users | | | none | {hold100.errors} | "
            f"{met(hold100.errors == 0)} |",
            f"| req/s, mix, holding 200 users | > {TARGET_RPS} | {BASELINE_RPS} | | "
            f"{hold200.rps:.0f} | {met(hold200.rps > TARGET_RPS)} |",
            f"| Dashboard warm req/s (wrk) | | | ≥ {GOAL_DASHBOARD_RPS} | {warm.rps:.0f} "
            f"({warm.rps / reference_wrk.rps:.2f}x `{TYPENAME}`) | "
            f"{met(warm.rps >= GOAL_DASHBOARD_RPS)} |",
            f"| server RSS, peak | < {TARGET_MB} MB | {BASELINE_MB} MB | | "
            f"{mb(peak)} | {met(None if math.isnan(peak) else peak < TARGET_MB)} |",
            f"| server RSS after the run | | | < {GOAL_RSS_AFTER_MB} MB | "
            f"{self.rss_after_cell()} | {met(rss_met)}{self.rss_per_api()} |",
            f"| server CPU, holding 200 users | < {TARGET_CPU}% | | | {pct(server_cpu)} of one "
            f"core, {pct(server_cpu / self.cores)} of the machine | "
            f"{met(None if math.isnan(per_core) else per_core < TARGET_CPU)} ({judged}) |",
            f"| knee: the most users held with p95 < {KNEE_P95_MS} ms and no errors | | | "
            f"≥ {GOAL_KNEE_USERS} | {users(knee)} (by {LEVEL}-user level: "
            f"{users(by_level_knee)}) | {met(knee is not None and knee >= GOAL_KNEE_USERS)} |",
            "| CPU per request, mix, whole run | | | | "
            f"API {ms(whole.get(SERVER))}, nx-27017 {ms(whole.get('nx-27017'))} | |",
            "| Mongo commands per Dashboard, 10 vs 200 goals "
            f"({'cache off' if cache_off else 'answer not cached'}) | | | the same | "
            f"{count(n_10)} vs {count(n_200)} | {met(flat)} |",
        ]
        for label, timings in self.pages.items():
            ratio = timings[-1].median_ms / timings[0].median_ms
            lines.append(
                f"| events(first: 500) / events(first: 10), {label} | | | | "
                f"{ratio:.1f}x for 50x the edges | |"
            )
        return lines

    def runs(self) -> list[str]:
        s = self.sampler
        lines = [
            "| run | answered | req/s | p50 ms | p95 ms | p99 ms | errors | error rate | "
            "abandoned | server RSS peak | server CPU (one core) | (machine) |",
            "| --- |" + " ---: |" * 11,
        ]
        for label, p in (("mix", self.mix), (f"`{TYPENAME}`", self.reference)):
            whole = (p.started, p.ended, Summary.of(p.samples, p.ended - p.started))
            for name, (start, end, summary) in {"whole run": whole, **self.stages(p)}.items():
                cpu = s.cpu_percent("server", start, end)
                lines.append(
                    f"| {label}, {name} | {summary.cells()} | "
                    f"{mb(s.peak_rss('server', start, end))} | {pct(cpu)} | "
                    f"{pct(cpu / self.cores)} |"
                )
        lines += [
            f"| server RSS after the run (idle 5 s) | | | | | | | | | {self.rss_after_cell()} "
            "| | |",
            "",
            f"After the mix, the server and nx-27017 were busy for another {self.drained_s:.0f} s "
            "(answering what was queued) before the reference pass started.",
        ]
        return lines

    def cpu(self) -> list[str]:
        s = self.sampler
        names = [*s.groups, *s.procs, "others", "machine"]
        lines = [
            f"CPU by process, percent of one core (the machine has {self.cores}); `others` is "
            "what the rest of the machine used meanwhile"
            + (f"; `{SERVER}` is the sum of {', '.join(s.groups[SERVER])}" if s.groups else "")
            + ":",
            "",
            "| window | " + " | ".join([*names[:-1], "machine (all)"]) + " |",
            "| --- |" + " ---: |" * len(names),
        ]
        mix, reference = self.stages(self.mix), self.stages(self.reference)
        for label, (start, end, _) in (
            ("mix, hold 100", mix["hold 100"]),
            ("mix, hold 200", mix["hold 200"]),
            (f"`{TYPENAME}`, hold 200", reference["hold 200"]),
        ):
            used = {n: s.cpu_percent(n, start, end) for n in [*s.groups, *s.procs, "machine"]}
            ours = sum(v for n, v in used.items() if n in s.procs and not math.isnan(v))
            used["others"] = max(0.0, used["machine"] - ours)
            lines.append(f"| {label} | " + " | ".join(pct(used[n]) for n in names) + " |")
        return lines

    def per_request(self) -> list[str]:
        s = self.sampler
        servers = s.groups.get(SERVER, [])
        names = [SERVER, *servers, *(b for b in BACKENDS if b in s.procs)]
        header = [
            f"{SERVER} (all)" if servers else SERVER,
            *servers,
            *names[1 + len(servers) :],
        ]
        lines = [
            "CPU per request, ms: each process's CPU time (user + system, /proc/<pid>/stat, read "
            "twice a second) from the first to the last reading inside the window, divided by "
            "the requests started between them (abandoned ones included: the server still "
            f"worked on them). `{SERVER}` is "
            + (
                f"the sum of the {self.workers} API processes and their supervisor (`serve`)"
                if servers
                else "the one API process"
            )
            + "; the stacked bars of load.png show the mix's stages:",
            "",
            "| window | requests | " + " | ".join(header) + " |",
            "| --- | ---: |" + " ---: |" * len(names),
        ]
        for label, p, only in (
            ("mix", self.mix, None),
            (f"`{TYPENAME}`", self.reference, {"whole run", "hold 200"}),
        ):
            for name, cost in self.costs(p).items():
                if only is None or name in only:
                    cells = " | ".join(ms(cost.ms.get(n)) for n in names)
                    lines.append(f"| {label}, {name} | {cost.requests} | {cells} |")
        return lines

    def operations(self) -> list[str]:
        lines = [
            "Mix by operation (whole run):",
            "",
            "| operation | weight | answered | p50 ms | p95 ms | p99 ms | errors | abandoned |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for op, weight in MIX.items():
            o = Summary.of([x for x in self.mix.samples if x.name == op], 1.0)
            lines.append(
                f"| {op} | {weight} | {o.requests} | {o.p50:.1f} | {o.p95:.1f} | {o.p99:.1f} | "
                f"{o.errors} | {o.abandoned} |"
            )
        errors = Counter(
            f"{x.name}: {x.error}"
            for x in self.mix.samples + self.reference.samples
            if x.status == 0
        )
        if errors:
            lines += ["", "Errors: " + "; ".join(f"{m} ({n})" for m, n in errors.most_common(5))]
        return lines

    def levels(self) -> list[str]:
        mix, reference = by_level(self.mix.samples), by_level(self.reference.samples)
        lines = [
            f"By concurrency (users running when the request started, to the nearest {LEVEL}; "
            "ramps up and down alike), plotted in [load.png](load.png):",
            "",
            "| users | mix requests | mix p50 | mix p95 | mix p99 | "
            f"`{TYPENAME}` p50 | p95 | p99 |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for level in sorted(set(mix) | set(reference)):
            m, r = mix.get(level), reference.get(level)
            left = f"{m.requests} | {m.p50:.1f} | {m.p95:.1f} | {m.p99:.1f}" if m else " | | | "
            right = f"{r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f}" if r else " | | "
            lines.append(f"| {level} | {left} | {right} |")
        knee, level_knee = self.knee(), knee_level(mix)
        lines += [
            "",
            f"The knee, the most users a hold stage held with p95 < {KNEE_P95_MS} ms and no "
            f"errors: {users(knee)}; by {LEVEL}-user level (ramps included), the most with "
            f"every level up to it under that bar: {users(level_knee)}.",
        ]
        return [*lines, "", "![latency against users, CPU per request by stage](load.png)"]

    def dashboard_commands(self) -> list[str]:
        lines = [
            "Mongo commands of one Dashboard (`goalsFirst: 200`), from the server's "
            "`mongo_commands_total` before and after; goals with 3 habits each and a check-in "
            "per habit, made through the API. The cache-off server is a second server on the "
            "same data with CACHE_ENABLED=false (every loader's command shows), counted on its "
            "second Dashboard of the user (the first teaches it what a Dashboard reads first):",
            "",
            "| goals | cache off | loaded server, answer not cached | repeated (cached answer) |",
            "| ---: | ---: | ---: | ---: |",
        ]
        for c in self.commands:
            lines.append(
                f"| {c.goals} | {count(c.uncached)} | {count(c.first)} | {count(c.repeat)} |"
            )
        return lines

    def event_pages(self) -> list[str]:
        lines = [
            "Events (`events(first: N)`) of a week holding 600 events: median of "
            f"{REPEATS} sequential requests, each with a range of its own so no answer is cached "
            "(on the loaded server the field cache of the calendar's events may still serve):",
            "",
            "| N | edges | "
            + " | ".join(f"{label}: median ms | / N=10 | Mongo commands" for label in self.pages)
            + " |",
            "| ---: | ---: |" + " ---: | ---: | ---: |" * len(self.pages),
        ]
        for i, n in enumerate(EVENT_PAGES):
            cells = []
            for timings in self.pages.values():
                page, base = timings[i], timings[0].median_ms
                cells.append(
                    f"{page.median_ms:.1f} | {page.median_ms / base:.1f}x | {count(page.commands)}"
                )
            returned = next(iter(self.pages.values()))[i].returned
            lines.append(f"| {n} | {returned} | " + " | ".join(cells) + " |")
        return lines


REPEATS = 9


def main() -> None:  # noqa: PLR0915 - the run, in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--reference-scale", type=float, default=0.25)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--history-days", type=int, default=56)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, default=1, help="API processes of the server (serve --workers N)"
    )
    parser.add_argument("--url", help="a running server (seeded through its API)")
    parser.add_argument("--token-secret", help="its JWT_SECRET (default: the settings')")
    parser.add_argument("--server-pid", type=int, help="its process, for RSS and CPU")
    parser.add_argument(
        "--timeline", type=Path, help="write the mix second by second here (CSV): latency, CPU"
    )
    args = parser.parse_args()
    if args.url and args.workers != 1:
        parser.error("--workers is for the server this starts; --url names a running one")
    scale, ref_scale = args.time_scale, args.time_scale * args.reference_scale
    subs = [f"load-{i:03d}" for i in range(args.users)]
    settings = Settings(jwt_secret=args.token_secret) if args.token_secret else Settings()
    wrk_seconds = max(5, round(args.wrk_seconds * min(1.0, scale * 2)))
    command = " ".join(
        [".venv/bin/python -m bench.load", f"--time-scale {scale:g}"]
        + ([f"--users {args.users}"] if args.users != 200 else [])
        + ([f"--workers {args.workers}"] if args.workers != 1 else [])
        + ([f"--url {args.url}"] if args.url else [])
    )

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        feed = stack.enter_context(feed_server())
        if args.url:
            url, procs = args.url, (serve_processes(args.server_pid) if args.server_pid else {})
            redis_url = None
            seeded = "3 goals, 5 habits with a week of check-ins, a LOCAL calendar of ~40 events, "
            seeded += "made through the API, and an ICS feed calendar for SyncCalendar"
        else:
            running = stack.enter_context(own_stack(subs, args.history_days, feed, args.workers))
            url, procs, redis_url = running.url, running.procs, running.redis_url
            seeded = (
                f"graphql_api.seed: 3 goals, 5 habits with {args.history_days} days of check-ins, "
                "a LOCAL calendar of ~250 events; plus an ICS feed calendar, not yet synced, for "
                "SyncCalendar"
            )

        async def setup() -> list[dict[str, Any]]:
            api = Api(url, settings)
            try:
                return await prepare_users(api, subs, feed, through_api=bool(args.url))
            finally:
                await api.client.aclose()

        started = time.monotonic()
        users = asyncio.run(setup())
        print(f"prepared {len(users)} users in {time.monotonic() - started:.0f} s")
        servers = server_names(procs)
        workers = sum(1 for n in servers if n != "serve") or 1
        target = Watched(url, [procs[n] for n in servers])
        groups = {SERVER: servers} if SERVER not in procs and servers else {}
        sampler = Sampler({**procs, "load.py": Proc(os.getpid())}, groups)
        print(f"idle after {settle(procs):.0f} s")
        with sampler:
            before = counters(url, redis_url) if redis_url else {}
            mix = run_locust(url, users, "mix", scale, sampler=sampler, tmp=tmp)
            if redis_url:
                print_counters(before, counters(url, redis_url), len(mix.samples))
            if args.timeline:
                write_timeline(args.timeline, mix, sampler)
            drained = settle(procs)
            print(f"idle {drained:.0f} s after the mix")
            reference = run_locust(url, users, "reference", ref_scale, sampler=sampler, tmp=tmp)
            time.sleep(5)
        rss_after = target.rss_mb()
        rss_after_by = {n: procs[n].rss_mb() for n in servers} if len(servers) > 1 else {}
        print(f"server RSS after the run: {rss_after:.0f} MB")

        wrk_runs, wrk_machine = wrk_figures(target, users, wrk_seconds, args.connections)
        plain_url = None
        if not args.url:  # a second server on the same data, the cache off: every command shows
            plain_url = start_server(
                stack, running.mongo_uri, running.redis_url, CACHE_ENABLED="false"
            ).url

        async def single_requests() -> tuple[list[Commands], dict[str, list[PageTiming]]]:
            main, plain = Api(url, settings), (Api(plain_url, settings) if plain_url else None)
            try:
                commands = [await dashboard_commands(main, plain, goals) for goals in (10, 200)]
                monday = await seed_event_week(main, "load-events")
                pages = {"loaded server": await event_pages(main, "load-events", monday, REPEATS)}
                if plain is not None:
                    pages["cache off"] = await event_pages(plain, "load-events", monday, REPEATS)
            finally:
                await main.client.aclose()
                if plain is not None:
                    await plain.client.aclose()
            return commands, pages

        commands, pages = asyncio.run(single_requests())

    report = Report(
        command=command,
        users=args.users,
        scale=scale,
        reference_scale=args.reference_scale,
        seeded=seeded,
        server=(
            f"{args.url}"
            if args.url
            else (
                "`scheduling-worker serve` (one process)"
                if workers == 1
                else f"`scheduling-worker serve --workers {workers}` ({workers} API processes on "
                "one port)"
            )
            + " on nx-27017 and redis-server, with "
            + ", ".join(f"{k}={v}" for k, v in SERVER_ENV.items())
            + " (the per-user limit still checked, out of reach), and a `scheduling-worker worker`"
        ),
        mix=mix,
        reference=reference,
        sampler=sampler,
        rss_after=rss_after,
        rss_after_by=rss_after_by,
        drained_s=drained,
        wrk_runs=wrk_runs,
        wrk_machine=wrk_machine,
        commands=commands,
        pages=pages,
        workers=workers,
    )
    stages = report.costs(mix)
    del stages["whole run"]
    plot(by_level(mix.samples), by_level(reference.samples), report.knee(), stages, workers)
    body = report.section()
    update_section(RESULTS, "Load", body)
    print(body)


if __name__ == "__main__":
    main()

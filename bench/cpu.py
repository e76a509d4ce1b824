"""CPU per request: what one request costs the API process and the database.

    .venv/bin/python -m bench.cpu [--users 50] [--requests 1500] [--concurrency 16]
                                  [--rounds 4] [--before REV] [--profile DIR]
                                  [--per-op] [--counters] [--repeat N]

Starts nx-27017 and redis-server, seeds users with graphql_api.seed (as bench.load
does), then for each run starts `scheduling-worker serve` for each code version (this
checkout and, with --before, the commit REV checked out in a temporary git worktree
and run with the same virtualenv), each on a database of its own seeded by that
version's own code (`bench/seeding.py`: the data as that version stores it), and sends
closed-loop requests from --concurrency clients, each request as one of the users:
the versions in turns, --rounds of them, the same requests to each and their order
reversed every round, so that a drift in the machine's speed is shared. Each
process's CPU time (user + system, from /proc) is read around each turn and divided
by the requests answered: CPU milliseconds per request, per process, which the
machine's other load moves much less than latency. Runs:

- hypercorn alone (bench.floor: the server as `serve` configures it, an app that
  answers a fixed body), this checkout's run only: what the HTTP server costs;
- the same with the app's Starlette stack (bench.floor --stack starlette: its
  middleware, routing and lifespan, /graphql answered by a fixed endpoint), this
  checkout's run only: what the layers below GraphQL cost;
- `{ __typename }`: the floor (HTTP, auth, the GraphQL layer on one field);
- Dashboard, cache off (CACHE_ENABLED=false): every read from Mongo;
- Dashboard, field caches warm, whole answers off (CACHE_TTL_RESPONSE=0): GraphQL
  execution over cached lists, streaks and progress;
- the load mix (bench.load's MIX and variables), cache on.

Every server gets `CACHE_TIMEOUT_MS=1000` (unless the environment sets it): what is
measured is each version with its caches working. At the default 50 ms a version
slower than the machine can keep up with (the code before this work, on a slow
machine: 2026-12-05) timed out on Redis, opened its breaker and read everything from
Mongo, and the bench then measured its degraded mode, not its code.

With --per-op, each operation of the mix also runs alone (`--only op-CheckInHabit`
names one), and each of the mix's writes followed by a read it retires, for the same
user, the two as one request (`--only then-CreateEvent-Events`): the pair less the
write alone is what the read costs once a write has retired what it had cached (each
of these runs on a database seeded for it, as its writes add goals and events).
With --counters, each run prints the server's cache lookups, Mongo commands and
garbage-collection pauses per request (from /metrics), and Redis's commands and reads
(round trips). Each run also prints the API's CPU per request turn by turn: the first
turn holds every user's first requests, which find nothing of theirs cached (in the
mix, a cold Dashboard and a page's weeks each), and costs more than the later ones.
With --repeat N, each run is made N times, each time on databases (and cache
prefixes) of its own, seeded afresh: the table pools them (CPU over all their
requests), and the ratios' table adds each run's API ratio and their median. On these
machines the ratio of one run moves by about ±0.04 from one run to the next
(bench/RESULTS.md, 2026-12-06), as much as a change worth 10% moves it.
With --profile, py-spy records each run of this
checkout's server (speedscope JSON in DIR). Writes the "CPU per request" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench.lib import BIN, RESULTS, ROOT, RedisServer, counters, machine
from bench.load import MIX, Proc, feed_server, operation, seed_with_helpers, this_week
from bench.results import update_section
from bench.sampled import report as sampled_report
from bench.seeding import ZONE
from graphql_api.embedded import free_port, start_mongo, stop_process
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings

TYPENAME = "{ __typename }"


@dataclass(frozen=True)
class Scenario:
    key: str  # for --only
    name: str
    env: dict[str, str]
    warm: bool  # one pass first, not measured, so that caches are warm
    only: str | None = None  # the mix's operation alone (--per-op)
    # --per-op: a read sent right after `only` for the same user by the same client,
    # the two counted as one (what a read costs once a write has retired its caches)
    then: str | None = None
    floor: str | None = None  # bench.floor's --stack, not the API: this checkout's run only


SCENARIOS = [
    Scenario("floor", "`{ __typename }`, hypercorn alone", {}, warm=False, floor="hypercorn"),
    Scenario(
        "floor-starlette",
        "`{ __typename }`, the app's Starlette stack, a fixed answer",
        {},
        warm=False,
        floor="starlette",
    ),
    Scenario("typename", "`{ __typename }`", {}, warm=False),
    Scenario("cold", "Dashboard, cache off", {"CACHE_ENABLED": "false"}, warm=False),
    Scenario(
        "warm",
        "Dashboard, field caches warm, answers not cached",
        {"CACHE_TTL_RESPONSE": "0"},
        warm=True,
    ),
    Scenario("mix", "the load mix, cache on", {}, warm=False),
]
# With --per-op: each operation of the mix alone (cache on, its own variables), to
# see which of them the mix's CPU per request comes from.
PER_OP = [Scenario(f"op-{op}", f"the mix's {op} alone", {}, warm=False, only=op) for op in MIX]
# The mix's writes with a read each retires, the two as one request: a pair's cost
# less the write's alone is what the read costs after it (in the mix, most reads come
# after a write of their user's, so they cost more than the same reads alone).
AFTER_WRITES = [
    ("CheckInHabit", "Dashboard"),
    ("CreateGoal", "Dashboard"),
    ("CreateEvent", "Dashboard"),
    ("CreateEvent", "Events"),
]
PER_OP += [
    Scenario(
        f"then-{write}-{read}",
        f"{write}, then {read} for the same user (the pair)",
        {},
        warm=False,
        only=write,
        then=read,
    )
    for write, read in AFTER_WRITES
]


@dataclass
class User:
    sub: str
    token: str
    habits: list[str] = field(default_factory=list)
    local_calendar: str = ""
    feed_calendar: str = ""
    created: int = 0


def mix_request(  # noqa: PLR0911
    user: User, rng: random.Random, only: str | None = None
) -> tuple[str, dict[str, Any]]:
    """One operation of the load mix with the variables bench.load's users send."""
    op = only or rng.choices(list(MIX), list(MIX.values()))[0]
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    if op == "Dashboard":
        return op, {"range": this_week()}
    if op == "Events":
        start = datetime.combine(
            datetime.now(UTC).date() - timedelta(days=rng.randint(0, 14)), clock(), UTC
        )
        end = start + timedelta(days=14)
        return op, {"range": {"start": start.isoformat(), "end": end.isoformat()}}
    if op == "CheckInHabit":
        day = today - timedelta(days=rng.randint(1, 7))
        status = "DONE" if rng.random() < 0.8 else "SKIPPED"
        return op, {"habitId": rng.choice(user.habits), "date": str(day), "status": status}
    if op == "CreateGoal":
        user.created += 1
        target = today + timedelta(days=rng.randint(7, 180))
        goal = {"title": f"Goal {user.created}", "targetDate": target.isoformat()}
        return op, {"input": {**goal, "priority": rng.choice(["P1", "P2", "P3", "P4"])}}
    if op == "CreateEvent":
        day = today + timedelta(days=rng.randint(0, 6))
        begins = datetime.combine(day, clock(8), zone) + timedelta(minutes=15 * rng.randint(0, 40))
        event = {"title": "Meeting", "start": begins.isoformat()}
        event["end"] = (begins + timedelta(minutes=30)).isoformat()
        return op, {"input": {"calendarId": user.local_calendar, **event}}
    if op == "SyncCalendar":
        return op, {"calendarId": user.feed_calendar}
    return op, {}


@dataclass
class Reading:
    scenario: str
    version: str
    requests: int
    failed: int
    seconds: float
    cpu_ms: dict[str, float]  # per request, by process
    run: int = 0  # which of --repeat's runs
    # The API's CPU ms per request of each of its turns (see `Running.turns`).
    turns: list[float] = field(default_factory=list)


def pooled(readings: list[Reading]) -> Reading:
    """The runs of one scenario and version as one: CPU per request over all their
    requests."""
    requests = sum(r.requests for r in readings)
    cpu = {
        name: sum(r.cpu_ms[name] * r.requests for r in readings) / max(1, requests)
        for name in readings[0].cpu_ms
    }
    first = readings[0]
    seconds = sum(r.seconds for r in readings)
    failed = sum(r.failed for r in readings)
    # Turn by turn, over the runs (a turn is the same share of each run's requests).
    rounds = min(len(r.turns) for r in readings)
    turns = [sum(r.turns[i] for r in readings) / len(readings) for i in range(rounds)]
    return Reading(first.scenario, first.version, requests, failed, seconds, cpu, turns=turns)


class Stack:
    """nx-27017 and redis-server with the seeded users, shared by every server."""

    def __init__(self, tmp: Path, exits: contextlib.ExitStack, users: int) -> None:
        self.tmp = tmp
        mongo, self.mongo_uri = start_mongo(tmp)
        exits.callback(stop_process, mongo, 20)
        self.redis = RedisServer(free_port(), tmp)
        self.redis.start()
        exits.callback(self.redis.kill)
        assert self.redis.proc is not None
        self.procs = {"nx-27017": Proc(mongo.pid), "redis-server": Proc(self.redis.proc.pid)}
        self.subs = [f"cpu-user-{i}" for i in range(1, users + 1)]
        self.feed = exits.enter_context(feed_server())
        self.seeded: set[str] = set()

    def database(self, name: str, code: Path | None) -> str:
        """A database of its own for one code version (its writes stay there), seeded by
        that version's code (`code`: its tree; None: this checkout), so that it holds
        the data as that version stores it."""
        if name not in self.seeded:
            started = time.monotonic()
            seed_with_helpers(
                self.mongo_uri,
                self.redis.url,
                self.subs,
                56,
                self.feed,
                database=name,
                code=code or ROOT,
            )
            print(f"seeded {len(self.subs)} users in {name} in {time.monotonic() - started:.0f} s")
            self.seeded.add(name)
        return name


def stack_env(stack: Stack, database: str) -> dict[str, str]:
    """The environment of a server on the stack, in a database of its own."""
    return {
        **os.environ,
        "MONGODB_URI": stack.mongo_uri,
        "REDIS_URL": stack.redis.url,
        "MONGODB_DB": database,
        "RATE_LIMIT_PER_S": "0",
        "LOG_LEVEL": "WARNING",
        # Caches working, for every version (see the module's docs).
        "CACHE_TIMEOUT_MS": os.environ.get("CACHE_TIMEOUT_MS", "1000"),
    }


@contextlib.contextmanager
def serving(
    stack: Stack,
    database: str,
    prefix: str,
    env: dict[str, str],
    code: Path | None,
    *,
    sampled: Path | None = None,
) -> Iterator[tuple[str, Proc]]:
    """`scheduling-worker serve` on the stack; `code` is another checkout's tree to run;
    `sampled`: through bench.sampled, its CPU samples written there as it exits."""
    port = free_port()
    run_env = {**stack_env(stack, database), "CACHE_PREFIX": prefix, **env}
    if code is not None:
        run_env["PYTHONPATH"] = str(code)  # ahead of the editable install of this checkout
    log = stack.tmp / f"server-{prefix.strip(':')}.log"
    with log.open("wb") as out:
        runner = (
            [sys.executable, "-m", "bench.sampled", str(sampled)]
            if sampled
            else [str(BIN / "scheduling-worker")]
        )
        proc = subprocess.Popen(
            [*runner, "serve", "--port", str(port)],
            env=run_env,
            cwd=code or ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"the server did not start:\n{log.read_text()}")
        yield url, Proc(proc.pid)
    finally:
        stop_process(proc, 20)


@contextlib.contextmanager
def floor_serving(stack: Stack, database: str, layer: str) -> Iterator[tuple[str, Proc]]:
    """bench.floor: hypercorn, configured as `serve` runs it, answering a fixed body
    (with the app's Starlette stack around it for `layer` "starlette", on the stack)."""
    port = free_port()
    command = [sys.executable, "-m", "bench.floor", "--port", str(port), "--stack", layer]
    proc = subprocess.Popen(command, cwd=ROOT, env=stack_env(stack, database))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url, timeout=1)
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("bench.floor did not start")
        yield url, Proc(proc.pid)
    finally:
        stop_process(proc, 20)


async def prepare(url: str, stack: Stack) -> list[User]:
    """Each user's token and the IDs the mix needs, through the API."""
    settings = Settings()
    users = [User(sub, mint_dev_token(settings, sub)) for sub in stack.subs]
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for user in users:
            headers = {"Authorization": f"Bearer {user.token}"}
            body = {"query": operation("Habits"), "variables": {"first": 50}}
            habits = (await http.post("/graphql", json=body, headers=headers)).json()
            user.habits = [e["node"]["id"] for e in habits["data"]["habits"]["edges"]]
            body = {"query": operation("Calendars")}
            calendars = (await http.post("/graphql", json=body, headers=headers)).json()
            ids = {c["provider"]: c["id"] for c in calendars["data"]["calendars"]}
            user.local_calendar, user.feed_calendar = ids["LOCAL"], ids["ICS"]
    return users


async def drive(
    url: str, users: list[User], scenario: Scenario, requests: int, *, concurrency: int, seed: int
) -> tuple[int, int]:
    """Closed loop: `concurrency` clients, `requests` in all; (answered, failed). A
    scenario with `then` sends pairs, each from one client, one after the other: a
    pair is one request, answered when both are."""
    rng = random.Random(seed)  # noqa: S311 - a load mix
    plan: list[list[tuple[User, str, dict[str, Any]]]] = []
    for i in range(requests):
        user = users[i % len(users)]
        if scenario.name.startswith("`"):
            plan.append([(user, TYPENAME, {})])
        elif scenario.name.startswith("Dashboard"):
            plan.append([(user, operation("Dashboard"), {"range": this_week()})])
        else:
            ops = [scenario.only, scenario.then] if scenario.then else [scenario.only]
            picked = [mix_request(user, rng, o) for o in ops]
            plan.append([(user, operation(op), variables) for op, variables in picked])
    failed = 0
    queue = iter(plan)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:

        async def client() -> None:
            nonlocal failed
            for requests_in_turn in queue:
                ok = True
                for user, query, variables in requests_in_turn:
                    headers = {"Authorization": f"Bearer {user.token}"}
                    body = {"query": query, "variables": variables}
                    r = await http.post("/graphql", json=body, headers=headers)
                    ok = ok and r.status_code == 200 and not r.json().get("errors")
                failed += not ok

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return requests - failed, failed


def measured_ratio(after: float, before: float) -> float | None:
    """after / before; None where `before` is under one clock tick a request (1/100 ms
    over a few thousand requests: nothing measured)."""
    return after / before if before >= 0.01 else None


def ratio(after: float, before: float) -> str:
    found = measured_ratio(after, before)
    return "-" if found is None else f"{found:.2f}x"


def threads(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return line.split()[1]
    return "?"


@dataclass
class Running:
    """One version's server in a run, and what its rounds have added up to."""

    version: str
    url: str
    server: Proc
    users: list[User]
    answered: int = 0
    failed: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, by process
    # --counters: what moved during its turns (Redis's own counts are the whole server's,
    # so they are read around each turn, while only this version is driven)
    moved: dict[str, float] = field(default_factory=dict)
    # The API's CPU ms per request of each turn: the first holds each user's first
    # requests (nothing of theirs cached yet), which the later ones do not.
    turns: list[float] = field(default_factory=list)


def selected(scenario: Scenario, args: argparse.Namespace) -> bool:
    if scenario.only and not args.per_op and scenario.key not in (args.only or ()):
        return False  # an operation alone: with --per-op, or named in --only
    return not args.only or scenario.key in args.only or bool(scenario.only and args.per_op)


def measure(
    stack: Stack,
    versions: list[tuple[str, Path | None]],
    args: argparse.Namespace,
    profile: Path | None,
    run_number: int = 0,
) -> list[Reading]:
    """Each scenario with every version's server up at once, driven in turns: `--rounds`
    rounds of `--requests / --rounds` requests each, the versions' order reversed every
    round (ABBA), the same requests for each. The machine's speed drifts (other load,
    a host's steal time): one version measured after the other would carry the drift
    into their ratio; in turns, both share it. `run_number`: which of --repeat's runs,
    each on databases and cache prefixes of its own."""
    readings = []
    tag = f"_r{run_number}" if run_number else ""
    databases = {version: stack.database(f"cpu_{version}{tag}", code) for version, code in versions}
    for n, scenario in enumerate(SCENARIOS + PER_OP):
        if not selected(scenario, args):
            continue
        with contextlib.ExitStack() as servers:
            running = []
            for version, code in versions:
                if scenario.floor and code is not None:
                    continue  # the HTTP server is the virtualenv's, the same for every version
                run, stop = start(
                    stack,
                    scenario,
                    n=n,
                    version=version,
                    code=code,
                    # An operation alone or a pair writes on and on to its users: a
                    # database of their own, so that no run reads what another wrote.
                    db=stack.database(f"cpu_{version}_{scenario.key}{tag}", code)
                    if scenario.only
                    else databases[version],
                    args=args,
                )
                servers.enter_context(stop)
                running.append(run)
            mine = running[-1]  # this checkout's: the last version
            sampled = sampled_to(args, mine.version, scenario)
            with spying(profile, f"{mine.version}-{scenario.key}", mine.server, sampled):
                turns(stack, running, scenario, n, args)
            for run in running:
                readings.append(replace(reading(stack, run, scenario, args), run=run_number))
        if sampled is not None:  # written as the server stopped
            print(f"CPU samples in {sampled} (`python -m bench.sampled --report {sampled}`):")
            print(textwrap.indent(sampled_report(sampled, top=12), "    "))
    return readings


def sampled_to(args: argparse.Namespace, version: str, scenario: Scenario) -> Path | None:
    """Where this checkout's server writes its CPU samples for the scenario, with
    --cpu-profile (the floor's server is not ours: not sampled)."""
    if args.cpu_profile is None or version == "before" or scenario.floor:
        return None
    path: Path = args.cpu_profile / f"{version}-{scenario.key}.folded"
    return path


@contextlib.contextmanager
def spying(
    profile: Path | None, name: str, server: Proc, sampled: Path | None = None
) -> Iterator[None]:
    """py-spy records `server` meanwhile, with --profile; a server run through
    bench.sampled samples its CPU meanwhile (SIGUSR1 to SIGUSR2)."""
    if sampled is not None:
        os.kill(server.pid, signal.SIGUSR1)
    try:
        if profile is None:
            yield
        else:
            with _py_spy(profile, name, server):
                yield
    finally:
        if sampled is not None:
            os.kill(server.pid, signal.SIGUSR2)


@contextlib.contextmanager
def _py_spy(profile: Path, name: str, server: Proc) -> Iterator[None]:
    spy = subprocess.Popen(
        [
            *(str(BIN / "py-spy"), "record", "-p", str(server.pid)),
            *(
                "-o",
                str(profile / f"{name}.json"),
                "-f",
                "speedscope",
                "-r",
                "200",
                "--nonblocking",
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(2)
        spy.wait(timeout=60)


def turns(
    stack: Stack, running: list[Running], scenario: Scenario, n: int, args: argparse.Namespace
) -> None:
    """The rounds, each version's server driven in turn; adds up each one's CPU by process."""
    for turn in range(args.rounds):
        for run in running if turn % 2 == 0 else running[::-1]:
            procs = {"API": run.server, **stack.procs}
            counted = (
                counters(run.url, stack.redis.url) if args.counters and not scenario.floor else {}
            )
            before = {name: p.cpu_seconds() for name, p in procs.items()}
            started = time.monotonic()
            answered, failed = asyncio.run(
                drive(
                    run.url,
                    run.users,
                    scenario,
                    args.requests // args.rounds,
                    concurrency=args.concurrency,
                    seed=1000 * (n + 1) + turn,
                )
            )
            run.seconds += time.monotonic() - started
            used = {name: p.cpu_seconds() - before[name] for name, p in procs.items()}
            for name, seconds in used.items():
                run.cpu[name] = run.cpu.get(name, 0.0) + seconds
            run.turns.append(1000 * used["API"] / max(1, answered))
            if counted:
                for name, value in counters(run.url, stack.redis.url).items():
                    run.moved[name] = run.moved.get(name, 0.0) + value - counted.get(name, 0.0)
            run.answered += answered
            run.failed += failed


def reading(stack: Stack, run: Running, scenario: Scenario, args: argparse.Namespace) -> Reading:
    """A version's figures for the scenario, printed (with --counters, the server's)."""
    per = {k: 1000 * v / max(1, run.answered) for k, v in run.cpu.items()}
    for name, moved in sorted(run.moved.items()):
        if moved > 0:
            print(f"        {name}: {moved / max(1, run.answered):.5f} per request")
    print(
        f"{run.version:>6} {scenario.name:<50} {per['API']:6.2f} API, "
        f"{per['nx-27017']:6.2f} nx-27017 ms/request;"
        f" API RSS {run.server.rss_mb():.0f} MB, {threads(run.server.pid)} threads;"
        f" API by turn {' '.join(f'{t:.2f}' for t in run.turns)}"
    )
    return Reading(
        scenario.name, run.version, run.answered, run.failed, run.seconds, per, turns=run.turns
    )


def start(
    stack: Stack,
    scenario: Scenario,
    *,
    n: int,
    version: str,
    code: Path | None,
    db: str,
    args: argparse.Namespace,
) -> tuple[Running, contextlib.AbstractContextManager[Any]]:
    """A version's server for a scenario, its users prepared and (if asked) its caches
    warmed; and what stops it."""
    exits = contextlib.ExitStack()
    server_of = (
        floor_serving(stack, db, scenario.floor)
        if scenario.floor
        else serving(
            stack,
            db,
            f"cpu-{version}-{n}-{db}:",  # the users' cached answers are their database's
            scenario.env,
            code,
            sampled=sampled_to(args, version, scenario),
        )
    )
    url, server = exits.enter_context(server_of)
    try:
        if scenario.floor:
            users = [User(sub, "-") for sub in stack.subs]
        else:
            users = asyncio.run(prepare(url, stack))
        if scenario.warm:
            asyncio.run(
                drive(url, users, scenario, len(users), concurrency=args.concurrency, seed=0)
            )
    except BaseException:
        exits.close()
        raise
    return Running(version, url, server, users), exits


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """The tree of `rev` in a temporary git worktree."""
    path = Path(tempfile.mkdtemp(prefix="bench-cpu-before-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)
        shutil.rmtree(path, ignore_errors=True)


def report(every: list[Reading], args: argparse.Namespace, command: str) -> str:
    """The table of CPU per request, each version's runs of a scenario pooled; with
    --repeat, each run's ratio too."""
    order = ("before", "after", "now")
    versions = sorted({r.version for r in every}, key=order.index)
    runs = sorted({r.run for r in every})
    readings = [
        pooled([r for r in every if r.scenario == scenario and r.version == version])
        for scenario, version in dict.fromkeys((r.scenario, r.version) for r in every)
    ]
    repeated = (
        f" Each run {len(runs)} times, each time on databases of its own; the figures"
        " pool the runs (CPU over all their requests)."
        if len(runs) > 1
        else ""
    )
    lines = [
        f"Command: `{command}`  ",
        f"Machine: {machine()}; {args.users} seeded users, {args.requests} requests a run "
        f"from {args.concurrency} closed-loop clients, one server process.{repeated}",
        "",
        "CPU milliseconds per answered request, by process (user + system time from "
        "/proc, read before and after each run). "
        + (
            f"`before` is commit `{args.before}` run from a worktree with the same "
            "virtualenv, on a database of its own seeded the same way (by its own code: "
            "the same users and days, stored as it stores them), in the same run."
            if args.before
            else ""
        ),
        "",
        "| run | code | API | nx-27017 | redis-server | requests | failed | req/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    measured = [s for s in SCENARIOS + PER_OP if any(r.scenario == s.name for r in readings)]
    for scenario in measured:
        for version in versions:
            r = next(
                (x for x in readings if x.scenario == scenario.name and x.version == version), None
            )
            if r is None:  # bench.floor: this checkout's run only
                continue
            lines.append(
                f"| {scenario.name} | {version} | {r.cpu_ms['API']:.2f} | "
                f"{r.cpu_ms['nx-27017']:.2f} | {r.cpu_ms['redis-server']:.2f} | {r.requests} | "
                f"{r.failed} | {r.requests / r.seconds:.0f} |"
            )
    by_turn = any(r.turns for r in readings)
    if len(versions) == 2:
        each = " | API, each run's (median)" if len(runs) > 1 else ""
        turned = " | API, turn by turn" if by_turn else ""
        lines += [
            "",
            f"| run | API CPU, after / before | nx-27017 CPU, after / before{each}{turned} |",
        ]
        lines.append(
            "| --- | ---: | ---: |" + (" --- |" if each else "") + (" --- |" if by_turn else "")
        )
        for scenario in measured:
            if scenario.floor:
                continue
            before, after = (
                next(x for x in readings if x.scenario == scenario.name and x.version == v)
                for v in versions
            )
            api, db = (ratio(after.cpu_ms[p], before.cpu_ms[p]) for p in ("API", "nx-27017"))
            line = f"| {scenario.name} | {api} | {db} |"
            if each:
                line += f" {_each_run(every, scenario.name, versions)} |"
            if by_turn:
                line += f" {_turn_by_turn(after, before)} |"
            lines.append(line)
    if len(versions) == 2 and by_turn:
        lines += [
            "",
            f"Turn by turn: the {args.requests} requests of a run are sent in turns of equal"
            " size, the two versions' servers driven one after the other; the first turn"
            " holds each user's first requests, answered with nothing of theirs cached yet.",
        ]
    return "\n".join(lines) + "\n"


def _turn_by_turn(after: Reading, before: Reading) -> str:
    """The API's after / before of each turn, first to last (pooled over the runs)."""
    ratios = [measured_ratio(a, b) for a, b in zip(after.turns, before.turns, strict=False)]
    return ", ".join("-" if r is None else f"{r:.2f}" for r in ratios) or "-"


def _each_run(every: list[Reading], scenario: str, versions: list[str]) -> str:
    """The API's after / before of each run of the scenario, in order, and their median
    (none of a run where `before` measured nothing)."""
    ratios = []
    for run in sorted({r.run for r in every}):
        before, after = (
            next(r for r in every if (r.scenario, r.version, r.run) == (scenario, v, run))
            for v in versions
        )
        found = measured_ratio(after.cpu_ms["API"], before.cpu_ms["API"])
        if found is not None:
            ratios.append(found)
    if not ratios:
        return "-"
    listed = ", ".join(f"{x:.2f}" for x in ratios)
    return f"{listed} ({statistics.median(ratios):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns each version's server is driven in"
    )
    parser.add_argument("--before", help="a commit to measure beside this checkout")
    parser.add_argument("--profile", type=Path, help="py-spy profiles of this checkout's runs")
    parser.add_argument(
        "--cpu-profile",
        type=Path,
        help="this checkout's API sampled by its own CPU clock (bench.sampled): a file a run",
    )
    parser.add_argument(
        "--per-op",
        action="store_true",
        help="each mix operation alone, and each write then a read, too",
    )
    parser.add_argument(
        "--counters", action="store_true", help="cache lookups and Mongo commands per request"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="each run this many times, on databases of its own: the figures pooled, and"
        " each run's ratio with their median (the ratio moves by ±0.04 from run to run)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help=f"some of the runs: {','.join(s.key for s in SCENARIOS + PER_OP)}",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    if args.repeat > 1 and (args.profile or args.cpu_profile):
        parser.error("--repeat profiles nothing: leave out --profile and --cpu-profile")
    for directory in (args.profile, args.cpu_profile):
        if directory:
            directory.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.cpu " + " ".join(a for a in sys.argv[1:] if a != "--no-write")
    readings: list[Reading] = []
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp, contextlib.ExitStack() as exits:
        stack = Stack(Path(tmp), exits, args.users)
        tree = exits.enter_context(checkout(args.before)) if args.before else None
        versions: list[tuple[str, Path | None]] = (
            [("before", tree), ("after", None)] if tree else [("now", None)]
        )
        for number in range(args.repeat):
            readings += measure(stack, versions, args, args.profile, number)
    text = report(readings, args, f".venv/bin/{command.strip()}")
    print(text)
    if not args.no_write:
        update_section(RESULTS, "CPU per request", text)


if __name__ == "__main__":
    main()

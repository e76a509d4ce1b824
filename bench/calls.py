"""Python function calls per request of the load mix: a figure the machine's other
load does not move, for comparing two versions of the code where CPU time cannot.

    .venv/bin/python -m bench.calls [--users 30] [--requests 800] [--before REV] [--per-op]

On these shared machines `bench.cpu`'s CPU per request moves by 10% between two runs
of the same code, so a change worth a few percent cannot be seen there. The number
of Python function calls a request makes (cProfile's count) does not depend on the
machine's speed: for the same code, data and requests it is the same to a fraction
of a percent (what varies is timing: which tasks a turn of the event loop finds
ready, and whether a cached value has expired). It is a stand-in for CPU, not CPU:
a call into C that does much work counts one.

Starts nx-27017 and redis-server, seeds `--users` users (as bench.cpu) in a database
of each version's own, by that version's code, then, in a child process per version
(this checkout's, and with --before the commit REV's, checked out in a temporary git
worktree and put first on PYTHONPATH), runs the app in-process (create_app and its
lifespan) and sends bench.cpu's mix (its operations and variables; SyncCalendar left
out: its feed is not served here) one request at a time through httpx's ASGI
transport, under cProfile. Prints the calls per request of each version and their
ratio, and the CPU per request under the profiler (noisy, for scale only). Nothing is
written. The child takes the mix from the measured tree's `bench.cpu`, so REV must
have one (any commit since bench/cpu.py was added; for older ones, bench.cpu's
--before).

With --per-op, the same requests run without the profiler and are sorted by what
answering them took: each operation, and for a query whether its whole answer came
from the cache, some of its parts did (the others executed), or it was executed;
printed as a table of their CPU per request (thread time, the test client's share
included: about a third of a millisecond here), Mongo commands, Redis round trips
(redis-server's reads, less the bench's own reading) and asyncio tasks started per
request, and share of the mix's CPU. It shows where the mix's CPU goes, which
`bench.cpu --per-op` (each operation alone, its answers soon cached) cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis

# The project's modules are imported where used: the child process that measures
# `--before` takes them from that commit's tree (see the end of this file).

FEED = "http://127.0.0.1:9"  # never fetched: SyncCalendar is not sent


def _counted() -> tuple[float, float, float, float]:
    """Whole answers served from the cache, parts kept and executed, Mongo commands."""
    from prometheus_client import REGISTRY  # noqa: PLC0415

    def value(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    mongo = sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "mongo_commands"
        for sample in family.samples
        if sample.name == "mongo_commands_total"
    )
    return (
        value("cache_requests_total", {"level": "response", "result": "hit"}),
        value("cache_requests_total", {"level": "part", "result": "hit"}),
        value("cache_requests_total", {"level": "part", "result": "miss"}),
        mongo,
    )


def _outcome(query: str, before: tuple[float, ...], after: tuple[float, ...]) -> str:
    """What answering one request took, from the counters around it."""
    if query.lstrip().startswith("mutation"):
        return "mutation"
    hit, kept, made = (after[i] - before[i] for i in range(3))
    if hit:
        return "whole answer from the cache"
    if kept:
        return f"{kept:.0f} of {kept + made:.0f} parts from the cache"
    return "executed"


class Tasks:
    """The event loop's task factory, counting the tasks started."""

    def __init__(self) -> None:
        self.started = 0

    def __call__(
        self, loop: asyncio.AbstractEventLoop, coro: Any, /, **options: Any
    ) -> asyncio.Future[Any]:
        self.started += 1
        return asyncio.Task(coro, loop=loop, **options)


def _reads(client: Any) -> int:
    """redis-server's reads so far: the round trips its clients made (this one's included)."""
    return int(client.info("stats")["total_reads_processed"])


async def _users(http: httpx.AsyncClient, settings: Any, subs: list[str]) -> list[Any]:
    """bench.cpu's users, with the ids their mix needs, read through the API. (As
    `bench.cpu.prepare` does over HTTP; not shared with it: the child that measures
    --before imports bench.cpu from that commit's tree, whose `prepare` takes a URL.)"""
    from bench.cpu import User  # noqa: PLC0415 - see the imports above
    from bench.load import operation  # noqa: PLC0415
    from graphql_api.security.dev_tokens import mint_dev_token  # noqa: PLC0415

    users = [User(sub, mint_dev_token(settings, sub)) for sub in subs]
    for user in users:
        headers = {"Authorization": f"Bearer {user.token}"}
        body = {"query": operation("Habits"), "variables": {"first": 50}}
        found = (await http.post("/graphql", json=body, headers=headers)).json()
        user.habits = [e["node"]["id"] for e in found["data"]["habits"]["edges"]]
        body = {"query": operation("Calendars")}
        found = (await http.post("/graphql", json=body, headers=headers)).json()
        ids = {c["provider"]: c["id"] for c in found["data"]["calendars"]}
        user.local_calendar, user.feed_calendar = ids["LOCAL"], ids["ICS"]
    return users


async def run_mix(
    settings: Any, subs: list[str], requests: int, *, per_op: bool = False
) -> dict[str, Any]:
    """The mix through the app in this process: calls and CPU per request; with
    `per_op`, no profiler, and CPU per request by operation and outcome."""
    from bench.cpu import mix_request  # noqa: PLC0415 - see the imports above
    from bench.load import operation  # noqa: PLC0415
    from graphql_api.app import create_app  # noqa: PLC0415

    app = create_app(settings)
    tasks = Tasks()
    with redis.Redis.from_url(settings.redis_url) as counter:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                users = await _users(http, settings, subs)
                rng = random.Random(0)  # noqa: S311 - a load mix
                plan: list[tuple[Any, str, dict[str, Any]]] = []
                for i in range(requests):
                    user = users[i % len(users)]
                    name, variables = mix_request(user, rng)
                    if name != "SyncCalendar":
                        plan.append((user, name, variables))
                profile = cProfile.Profile()
                # (op, outcome): requests, CPU, Mongo commands, Redis round trips, tasks
                ops: dict[tuple[str, str], list[float]] = {}
                if per_op:
                    asyncio.get_running_loop().set_task_factory(tasks)
                started = time.thread_time()
                if not per_op:
                    profile.enable()
                for user, name, variables in plan:
                    query = operation(name)
                    body = {"query": query, "variables": variables}
                    headers = {"Authorization": f"Bearer {user.token}"}
                    before = _counted() if per_op else (0.0, 0.0, 0.0, 0.0)
                    reads, started_tasks = (_reads(counter), tasks.started) if per_op else (0, 0)
                    began = time.thread_time()
                    answer = await http.post("/graphql", json=body, headers=headers)
                    if per_op:
                        took, after = time.thread_time() - began, _counted()
                        outcome = _outcome(query, before, after)
                        row = ops.setdefault((name, outcome), [0, 0.0, 0.0, 0.0, 0.0])
                        row[0] += 1
                        row[1] += took
                        row[2] += after[3] - before[3]
                        row[3] += _reads(counter) - reads - 1  # less the INFO that read it
                        row[4] += tasks.started - started_tasks
                    if answer.status_code != 200 or "errors" in answer.json():
                        raise RuntimeError(f"{name} failed: {answer.text[:300]}")
                profile.disable()
                used = time.thread_time() - started
                asyncio.get_running_loop().set_task_factory(None)
    calls = 0 if per_op else pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    return {
        "requests": len(plan),
        "calls": calls / len(plan),
        "cpu_ms": 1000 * used / len(plan),
        "ops": [[op, outcome, *row] for (op, outcome), row in ops.items()],
    }


def per_op_table(result: dict[str, Any]) -> str:
    """The requests of the mix by operation and outcome, as a Markdown table."""
    rows = sorted(result["ops"], key=lambda row: -row[3])
    total = sum(row[3] for row in rows)
    lines = [
        "| operation | answered by | requests | CPU ms / request | Mongo commands / request"
        " | Redis round trips / request | asyncio tasks / request | share of the mix's CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for op, outcome, n, cpu, mongo, trips, started in rows:
        lines.append(
            f"| {op} | {outcome} | {n:.0f} | {1000 * cpu / n:.2f} | {mongo / n:.1f}"
            f" | {trips / n:.1f} | {started / n:.1f} | {100 * cpu / total:.0f}% |"
        )
    requests = sum(row[2] for row in rows)
    trips = sum(row[5] for row in rows) / requests
    started = sum(row[6] for row in rows) / requests
    lines.append(
        f"| the mix | | {requests:.0f} | {1000 * total / requests:.2f} | | {trips:.1f}"
        f" | {started:.1f} | 100% |"
    )
    return "\n".join(lines)


def child(args: argparse.Namespace) -> None:
    from graphql_api.settings import Settings  # noqa: PLC0415 - see the imports above

    settings = Settings(
        mongodb_uri=args.mongo,
        redis_url=args.redis,
        mongodb_db=args.database,
        cache_prefix=f"{args.database}:",
        rate_limit_per_s=0,
        log_level="WARNING",
    )
    subs = [f"bench-{i}" for i in range(1, args.users + 1)]
    result = asyncio.run(run_mix(settings, subs, args.requests, per_op=args.per_op))
    print(json.dumps(result))


def measure(
    code: Path | None, args: argparse.Namespace, mongo: str, redis: str, version: str
) -> dict[str, Any]:
    from bench.lib import ROOT  # noqa: PLC0415 - see the imports above
    from bench.load import seed_with_helpers  # noqa: PLC0415

    database = f"calls_{version}"
    subs = [f"bench-{i}" for i in range(1, args.users + 1)]
    seed_with_helpers(mongo, redis, subs, 56, FEED, database=database, code=code or ROOT)
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    if code is not None:
        env["PYTHONPATH"] = str(code)  # ahead of the editable install of this checkout
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--mongo",
        mongo,
        "--redis",
        redis,
        "--database",
        database,
        "--users",
        str(args.users),
        "--requests",
        str(args.requests),
        *(["--per-op"] if args.per_op else []),
    ]
    done = subprocess.run(
        command, env=env, cwd=code or ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {version} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if args.per_op:
        print(f"{version}: CPU per request by operation and outcome\n{per_op_table(result)}")
        return result
    print(
        f"{version:>6}: {result['calls']:8.0f} calls per request, {result['cpu_ms']:.2f} ms CPU "
        f"under the profiler ({result['requests']:.0f} requests)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--before", help="a commit to measure beside this checkout")
    parser.add_argument(
        "--per-op", action="store_true", help="CPU per request by operation and outcome"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mongo", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from bench.cpu import checkout  # noqa: PLC0415 - see the imports above
    from bench.lib import backends  # noqa: PLC0415

    with backends() as (mongo, redis):
        before = None
        if args.before:
            with checkout(args.before) as tree:
                before = measure(tree, args, mongo, redis.url, "before")
        after = measure(None, args, mongo, redis.url, "after" if args.before else "now")
    if before is not None and not args.per_op:
        print(f" after / before: {after['calls'] / before['calls']:.3f}x calls per request")


if __name__ == "__main__":
    if not __package__:
        # Run as a file (the child): not this file's folder first, which would shadow
        # nothing useful, but the checkout last, so that PYTHONPATH (a commit's tree)
        # and the editable install come first and `bench` is still found.
        sys.path[0] = str(Path(__file__).resolve().parents[1])
        sys.path.append(sys.path.pop(0))
    main()

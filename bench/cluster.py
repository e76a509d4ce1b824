"""A Redis Cluster master killed under traffic: what it costs the API.

    .venv/bin/python -m bench.cluster [--users 24] [--clients 16] [--node-timeout-ms 1000]

Starts nx-27017, a six-node Redis Cluster (tests/cluster/servers.py), a standalone
Redis for the job queue, and two API processes on them (REDIS_CLUSTER=true). Clients
list the goals of many users (their keys on every master) through both processes,
as fast as they answer; a few seconds in, one master is killed with SIGKILL. Counts
the requests sent while the cluster failed over and those that failed, and reads
each process's /metrics every 100 ms to say when the cache stepped aside and when
it hit again. Writes the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.lib import RESULTS, RedisServer, machine, server, token
from bench.results import update_section
from graphql_api.embedded import free_port, start_mongo
from tests.cluster.servers import Cluster
from tests.conftest import operation

GOALS = operation("Goals")


@dataclass
class Sample:
    """One reading of an API process's cache counters."""

    at: float
    hits: float
    errors: float  # cache_requests_total{level="versions",result="error"}: uncached requests


@dataclass
class Record:
    sent: list[tuple[float, float, bool]] = field(default_factory=list)  # start, end, ok
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


async def reading(client: httpx.AsyncClient, url: str) -> Sample:
    hits = errors = 0.0
    for line in (await client.get(f"{url}/metrics")).text.splitlines():
        if not line.startswith("cache_requests_total{"):
            continue
        value = float(line.rsplit(" ", 1)[1])
        if 'result="hit"' in line:
            hits += value
        if 'level="versions"' in line and 'result="error"' in line:
            errors += value
    return Sample(time.monotonic(), hits, errors)


async def traffic(
    apis: list[str], tokens: list[str], clients: int, stop: asyncio.Event, record: Record
) -> None:
    async def client(index: int) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            turn = index
            while not stop.is_set():
                turn += 1
                api, bearer = apis[turn % len(apis)], tokens[turn % len(tokens)]
                started = time.monotonic()
                try:
                    r = await http.post(
                        f"{api}/graphql",
                        json={"query": GOALS, "variables": {"first": 20}},
                        headers={"Authorization": f"Bearer {bearer}"},
                    )
                    ok = r.status_code == 200 and not r.json().get("errors")
                    if not ok:
                        record.failures.append(f"{r.status_code} {r.text[:300]}")
                except httpx.HTTPError as e:
                    ok = False
                    record.failures.append(repr(e))
                record.sent.append((started, time.monotonic(), ok))

    await asyncio.gather(*(client(i) for i in range(clients)))


async def watch(apis: list[str], stop: asyncio.Event, record: Record) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            for api in apis:
                with contextlib.suppress(httpx.HTTPError):
                    record.samples.setdefault(api, []).append(await reading(http, api))
            await asyncio.sleep(0.1)


def resumed_at(samples: list[Sample], killed: float) -> tuple[float | None, float | None]:
    """When the cache first stepped aside after the kill, and when it hit again after that."""
    before = next(s for s in reversed(samples) if s.at <= killed)
    stepped_aside = next((s for s in samples if s.at > killed and s.errors > before.errors), None)
    if stepped_aside is None:
        return None, None
    base = stepped_aside.hits
    hit = next((s for s in samples if s.at > stepped_aside.at and s.hits > base), None)
    return stepped_aside.at, hit.at if hit else None


async def run(
    apis: list[str], tokens: list[str], cluster: Cluster, clients: int, warm_s: float
) -> tuple[Record, float, float, float]:
    """Traffic; a master killed after `warm_s`; until both processes hit again (+2 s)."""
    record, stop = Record(), asyncio.Event()
    tasks = [
        asyncio.create_task(traffic(apis, tokens, clients, stop, record)),
        asyncio.create_task(watch(apis, stop, record)),
    ]
    await asyncio.sleep(warm_s)
    killed = time.monotonic()
    await asyncio.to_thread(cluster.kill_master)
    await asyncio.to_thread(cluster.wait_healthy)
    promoted = time.monotonic()
    deadline = promoted + 60
    while time.monotonic() < deadline:
        times = [resumed_at(record.samples[api], killed)[1] for api in apis]
        if all(t is not None for t in times):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*tasks)
    return record, killed, promoted, time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--node-timeout-ms", type=int, default=1000)
    parser.add_argument("--warm-s", type=float, default=5.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        mongo, mongo_uri = start_mongo(Path(tmp))
        queue = RedisServer(free_port(), Path(tmp))
        queue.start()
        cluster = Cluster(Path(tmp) / "cluster", node_timeout_ms=args.node_timeout_ms)
        cluster.start()
        env = {
            "MONGODB_DB": "bench",
            "REDIS_CLUSTER": "true",
            "QUEUE_REDIS_URL": queue.url,
            "EMBEDDED_WORKER": "false",
        }
        try:
            with (
                server(mongo_uri, cluster.url, **env) as a,
                server(mongo_uri, cluster.url, **env) as b,
            ):
                apis = [a.url, b.url]
                tokens = [token(f"cluster-bench-{i}") for i in range(args.users)]
                for i, bearer in enumerate(tokens):
                    for title in ("read", "run", "write"):
                        httpx.post(
                            f"{a.url}/graphql",
                            json={
                                "query": operation("CreateGoal"),
                                "variables": {"input": {"title": f"{title} {i}"}},
                            },
                            headers={"Authorization": f"Bearer {bearer}"},
                            timeout=30,
                        ).raise_for_status()
                record, killed, promoted, ended = asyncio.run(
                    run(apis, tokens, cluster, args.clients, args.warm_s)
                )
        finally:
            cluster.stop()
            queue.kill()
            mongo.terminate()
            mongo.wait(timeout=20)

    load = os.getloadavg()[0]
    resumed = [resumed_at(record.samples[api], killed) for api in apis]
    back = max((t for _, t in resumed if t is not None), default=None)
    window_end = back if back is not None else ended
    during = [r for r in record.sent if killed <= r[0] < window_end]
    before = [r for r in record.sent if r[0] < killed]
    failed = sum(1 for r in record.sent if not r[2])

    def p(rows: list[tuple[float, float, bool]], q: int) -> float:
        durations = sorted((end - start) * 1000 for start, end, _ in rows)
        if not durations:
            return 0.0
        return statistics.quantiles(durations, n=100)[q - 1] if len(durations) > 1 else durations[0]

    def rate(rows: list[tuple[float, float, bool]], seconds: float) -> float:
        return len(rows) / seconds if seconds > 0 else 0.0

    command = (
        f".venv/bin/python -m bench.cluster --users {args.users} --clients {args.clients} "
        f"--node-timeout-ms {args.node_timeout_ms}"
    )

    def seconds(moment: float | None) -> str:
        return f"{moment - killed:.1f}" if moment is not None else "never"

    body = "\n".join(
        [
            f"Command: `{command}`  ",
            f"Machine: {machine()}, load average {load:.1f} during the run; "
            "two API processes on a six-node Redis Cluster "
            f"(3 masters, 3 replicas, `cluster-node-timeout` {args.node_timeout_ms} ms), "
            f"{args.clients} closed-loop clients listing the goals of {args.users} users "
            "through both; one master killed with SIGKILL.",
            "",
            "| phase | requests | req/s | p50 ms | p99 ms | failed |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| before the kill | {len(before)} | {rate(before, args.warm_s):.0f} | "
            f"{p(before, 50):.1f} | {p(before, 99):.1f} | "
            f"{sum(1 for r in before if not r[2])} |",
            f"| kill to hits again | {len(during)} | {rate(during, window_end - killed):.0f} | "
            f"{p(during, 50):.1f} | {p(during, 99):.1f} | "
            f"{sum(1 for r in during if not r[2])} |",
            "",
            "| figure | measured |",
            "| --- | --- |",
            f"| failed requests, whole run ({len(record.sent)} sent) | {failed} |",
            f"| seconds from the kill to the replica promoted (cluster ok) | "
            f"{promoted - killed:.1f} |",
            "| seconds from the kill to the cache stepping aside (process A, B) | "
            + ", ".join(seconds(s) for s, _ in resumed)
            + " |",
            "| seconds from the kill to cache hits again (process A, B) | "
            + ", ".join(seconds(t) for _, t in resumed)
            + " |",
            f"| requests while the cluster failed over (kill to hits again) | {len(during)} |",
        ]
    )
    update_section(RESULTS, "Redis Cluster failover", body)
    print(body)
    for failure in record.failures[:5]:
        print("failed:", failure)


if __name__ == "__main__":
    main()

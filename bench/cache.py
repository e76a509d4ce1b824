"""The caching figures: Dashboard warm against the cache off, a persisted GET against
`{ __typename }`, and Redis killed in the middle of a run.

    .venv/bin/python -m bench.cache [--seconds 10] [--connections 32]

Starts its own nx-27017, redis-server and servers, seeds the demo user, runs wrk,
and writes the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.lib import (
    BIN,
    RESULTS,
    ROOT,
    Request,
    Run,
    Server,
    backends,
    machine,
    server,
    table,
    token,
    wrk,
)
from bench.results import update_section
from graphql_api.persisted.manifest import PACKAGED

DASHBOARD = (ROOT / "operations" / "Dashboard.graphql").read_text()
# As Apollo Client sends it (`__typename` added): its hash is the manifest's id.
APOLLO_DASHBOARD = next(
    op["body"] for op in json.loads(PACKAGED.read_text())["operations"] if op["name"] == "Dashboard"
)


def this_week() -> dict[str, str]:
    monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
    start = datetime.combine(monday, datetime.min.time(), UTC)
    return {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}


def cache_hits(url: str) -> float:
    total = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("cache_requests_total{") and 'result="hit"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    seconds, connections = args.seconds, args.connections
    runs: list[Run] = []

    with backends() as (mongo_uri, redis):
        common = {"MONGODB_DB": "bench"}
        seed = [str(BIN / "scheduling-worker"), "seed-demo", "--sub", "bench-user"]
        env = {**os.environ, "MONGODB_URI": mongo_uri, "REDIS_URL": redis.url, **common}
        subprocess.run(seed, env=env, check=True, capture_output=True)
        bearer = token("bench-user")
        variables = {"range": this_week()}
        dashboard = Request.post(DASHBOARD, variables, bearer)
        persisted = Request.persisted_get(APOLLO_DASHBOARD, variables, bearer)
        typename = Request.post("{ __typename }", None, bearer)
        off = {**common, "CACHE_ENABLED": "false"}
        with (
            server(mongo_uri, redis.url, **common) as cached,
            server(mongo_uri, redis.url, **off) as uncached,
        ):

            def measure(label: str, target: Server, request: Request, duration: int) -> Run:
                run = wrk(target, [request], label=label, connections=connections, seconds=duration)
                runs.append(run)
                return run

            answer = dashboard.send(cached.url)
            assert "errors" not in answer, answer
            assert answer == dashboard.send(uncached.url)
            apollo = Request.post(APOLLO_DASHBOARD, variables, bearer)  # by its text
            assert persisted.send(cached.url) == apollo.send(uncached.url)
            for target, request in (
                (cached, typename),
                (cached, dashboard),
                (cached, persisted),
                (uncached, dashboard),
            ):
                wrk(target, [request], label="warm-up", connections=connections, seconds=2)
            runs.clear()

            reference = measure("`{ __typename }` (reference)", cached, typename, seconds)
            warm = measure("Dashboard POST, cache warm", cached, dashboard, seconds)
            cold = measure("Dashboard POST, cache off", uncached, dashboard, seconds)
            get = measure("Dashboard persisted GET, warm", cached, persisted, seconds)

            # Redis killed a quarter into the run; a new, empty one started halfway.
            outage_s = seconds * 2

            def kill_and_restart() -> None:
                time.sleep(outage_s / 4)
                redis.kill()
                time.sleep(outage_s / 4)
                redis.start()

            chaos = threading.Thread(target=kill_and_restart)
            chaos.start()
            outage = measure("Dashboard, Redis killed mid-run", cached, dashboard, outage_s)
            chaos.join()
            hits_before = cache_hits(cached.url)
            wrk(cached, [dashboard], label="after", connections=connections, seconds=3)
            resumed = cache_hits(cached.url) > hits_before

    command = f".venv/bin/python -m bench.cache --seconds {seconds} --connections {connections}"
    lost = outage.failed + outage.socket_errors
    body = "\n".join(
        [
            f"Command: `{command}`  ",
            f"Machine: {machine()}; wrk with {connections} connections, one server process.",
            "",
            table(runs),
            "",
            "| figure | target | measured |",
            "| --- | --- | --- |",
            f"| Dashboard req/s, warm cache / cache off | ≥ 3x | {warm.rps / cold.rps:.2f}x |",
            f"| Dashboard persisted GET req/s, warm / `{{ __typename }}` | ≥ 0.6x | "
            f"{get.rps / reference.rps:.2f}x |",
            f"| failed requests, Redis killed mid-run | 0 | {lost} |",
            f"| cache hits resume after Redis returns | yes | {'yes' if resumed else 'no'} |",
        ]
    )
    update_section(RESULTS, "Caching and persisted queries", body)
    print(body)


if __name__ == "__main__":
    main()

"""The recommendation figures: ranking a week of quarter-hour candidates for one habit,
computed each time (warm: model loaded, calendar cached) and cached, each against
`{ __typename }` on the same server; then the offline evaluation on simulated users.

    .venv/bin/python -m bench.recommend [--seconds 10] [--connections 4] [--users 200]

Starts its own nx-27017, redis-server and servers, seeds the demo user and trains
the model on it (`seed-demo --train`), adds a habit that fits anywhere in the day
(15 minutes, 00:00-24:00 every day: ~670 candidates a week), runs wrk, and writes
the tables to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from graphql_api.recommend.scenarios import evaluate
from graphql_api.scheduling.slots import free_slots, windows_for

RECOMMENDATIONS = (ROOT / "operations" / "Recommendations.graphql").read_text()
ANYTIME = """mutation { createHabit(input: {name: "Anytime", frequency: {times: 1, per: DAY},
  durationMinutes: 15, preferredWindows: [{weekdays: [1,2,3,4,5,6,7], start: "00:00",
  end: "24:00"}]}) { id } }"""
RANKED_BY = RECOMMENDATIONS.replace("score\n", "score\n    rankedBy\n")
EVENTS = """query($r: TimeRangeInput!) {
  events(range: $r, first: 500) { edges { node { start end busy } } }
}"""
ZONE = ZoneInfo("Europe/Berlin")  # the demo user's


def next_week() -> dict[str, str]:
    today = datetime.now(ZONE).date()
    monday = today + timedelta(days=7 - today.weekday())
    start = datetime.combine(monday, time(), ZONE).astimezone(UTC)
    return {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}


def candidates(url: str, bearer: str, week: dict[str, str]) -> int:
    """How many free quarter hours the week holds for the habit (what gets ranked)."""
    answer = Request.post(EVENTS, {"r": week}, bearer).send(url)
    busy = [
        (datetime.fromisoformat(e["node"]["start"]), datetime.fromisoformat(e["node"]["end"]))
        for e in answer["data"]["events"]["edges"]
        if e["node"]["busy"]
    ]
    slots = free_slots(
        busy=busy,
        start=datetime.fromisoformat(week["start"]),
        end=datetime.fromisoformat(week["end"]),
        zone=ZONE,
        windows=windows_for([(range(1, 8), "00:00", "24:00")], []),
        duration=timedelta(minutes=15),
    )
    return len(slots)


def latency(seconds: int, connections: int) -> tuple[list[Run], dict[str, Any]]:
    runs: list[Run] = []
    with backends() as (mongo_uri, redis):
        common = {"MONGODB_DB": "bench", "RECOMMEND_MIN_HISTORY": "0"}
        env = {**os.environ, "MONGODB_URI": mongo_uri, "REDIS_URL": redis.url, **common}
        seed = [str(BIN / "scheduling-worker"), "seed-demo", "--sub", "bench-user", "--train"]
        subprocess.run(seed, env=env, check=True, capture_output=True)
        bearer = token("bench-user")
        uncached = {**common, "CACHE_TTL_RECOMMENDATIONS": "0", "CACHE_TTL_RESPONSE": "0"}
        with (
            server(mongo_uri, redis.url, **common) as cached_server,
            server(mongo_uri, redis.url, **uncached) as ranking_server,
        ):
            created = Request.post(ANYTIME, None, bearer).send(cached_server.url)
            habit = created["data"]["createHabit"]["id"]
            week = next_week()
            variables = {"habitId": habit, "range": week, "limit": 5}
            ask = Request.post(RECOMMENDATIONS, variables, bearer)
            typename = Request.post("{ __typename }", None, bearer)
            check = Request.post(RANKED_BY, variables, bearer).send(ranking_server.url)
            assert "errors" not in check, check
            picks = check["data"]["recommendations"]
            facts = {
                "candidates": candidates(cached_server.url, bearer, week),
                "ranked_by": picks[0]["rankedBy"],
                "reasons": picks[0]["reasons"],
            }
            assert facts["ranked_by"].startswith("model"), facts

            def measure(label: str, target: Server, request: Request) -> Run:
                wrk(target, [request], label="warm-up", connections=connections, seconds=2)
                run = wrk(target, [request], label=label, connections=connections, seconds=seconds)
                runs.append(run)
                return run

            measure("`{ __typename }` (reference), ranking server", ranking_server, typename)
            measure("Recommendations, ranked each time (warm)", ranking_server, ask)
            measure("`{ __typename }` (reference), caching server", cached_server, typename)
            measure("Recommendations, cached", cached_server, ask)
    return runs, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--scenario-users", type=int, default=40)
    parser.add_argument("--no-evaluation", action="store_true", help="latency only")
    args = parser.parse_args()
    runs, facts = latency(args.seconds, args.connections)
    reference, warm, reference_cached, cached = runs
    command = (
        f".venv/bin/python -m bench.recommend --seconds {args.seconds} "
        f"--connections {args.connections} --users {args.users} "
        f"--scenario-users {args.scenario_users}"
    )
    strongest = ", ".join(f"{r['feature']} {r['contribution']:+.2f}" for r in facts["reasons"])
    latency_body = "\n".join(
        [
            f"Command: `{command}`  ",
            f"Machine: {machine()}; wrk with {args.connections} connections, one server process "
            "each.",
            "",
            f"One habit, 15 minutes, anywhere in the day: {facts['candidates']} free quarter "
            f"hours in the week ranked, by the {facts['ranked_by']} (best slot's reasons: "
            f"{strongest}).",
            "",
            table(runs),
            "",
            "| figure | target | measured | reference p95 |",
            "| --- | --- | --- | --- |",
            f"| p95, ranked each time | < 10 ms | {warm.p95_ms:.2f} ms | "
            f"{reference.p95_ms:.2f} ms ({warm.p95_ms / reference.p95_ms:.1f}x) |",
            f"| p95, cached | < 1 ms | {cached.p95_ms:.2f} ms | "
            f"{reference_cached.p95_ms:.2f} ms ({cached.p95_ms / reference_cached.p95_ms:.1f}x) |",
        ]
    )
    update_section(RESULTS, "Recommendations: latency", latency_body)
    print(latency_body)
    if args.no_evaluation:
        return

    result = evaluate(users=args.users, scenario_users=args.scenario_users, progress=print)
    quality_body = "\n".join(
        [
            f"Command: `{command}` (the same as `scheduling-worker evaluate --users "
            f"{args.users} --scenario-users {args.scenario_users} --seed {result.seed}`)",
            "",
            "Rankers: *shipped* is what the API serves (the calibrated blend of the model and "
            "the heuristic, or the heuristic below `RECOMMEND_MIN_HISTORY` answers, as the "
            "prior of a Beta posterior over the user's own answers by weekday and time of "
            "day, averaged with the hypotheses that the taste is one band of the day by "
            "their posterior weights); *model alone* is the XGBoost model's probability; "
            "*heuristic* is the cold-start ranker (Platt-scaled); *the hidden taste* is the "
            "simulated user's own probabilities, the ceiling. Users: the behaviour simulator's "
            "(graphql_api/recommend/simulate.py: months of booked habits, outcomes, a little "
            "feedback) and, per scenario, users with a hidden band of the day (or, in the "
            "last two, which the model never trains on, two bands or a smooth rise and fall) "
            "who answer only on slots they are shown, each ranker's copy of them on the slots that "
            "ranker showed (5 a day, one answered; graphql_api/recommend/scenarios.py). The "
            "model is trained on the simulator's users from 20% up (all but their last "
            "14 days) and on "
            f"{args.scenario_users} training users per scenario but those two; every "
            "scenario is tested on other users (the simulator's first 20%, and fresh "
            "scenario users), except "
            "*simulator: later weeks* (the training users' last days). AUC and Brier: "
            "outcomes drawn from the hidden taste for every free slot of the test days. "
            "Top-3 hit rate: the chance that the slot the user would have kept (drawn in "
            "proportion to their hidden probabilities among the day's free slots) is among "
            "the first three.",
            "",
            "```",
            result.summary(),
            "```",
            "",
            result.table(),
            "",
            f"Verdict: {result.verdict()}.",
        ]
    )
    update_section(RESULTS, "Recommendations: quality", quality_body)
    print(quality_body)


if __name__ == "__main__":
    main()

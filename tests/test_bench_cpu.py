"""bench.cpu --repeat: the runs of a scenario pooled by their requests, and each run's
ratio beside the pooled one (one run's ratio moves by about ±0.04 between runs)."""

from __future__ import annotations

import argparse

from bench.cpu import Reading, pooled, report

MIX = "the load mix, cache on"


def reading(version: str, run: int, api_ms: float, requests: int = 1500) -> Reading:
    cpu = {"API": api_ms, "nx-27017": api_ms / 4, "redis-server": 0.1}
    return Reading(MIX, version, requests, 0, 10.0, cpu, run=run)


def test_runs_pool_their_cpu_over_all_their_requests() -> None:
    both = pooled([reading("after", 0, 4.0, requests=1000), reading("after", 1, 6.0, 3000)])
    assert both.requests == 4000
    assert both.cpu_ms["API"] == 5.5  # (4 x 1000 + 6 x 3000) / 4000, not the mean of 4 and 6
    assert both.seconds == 20.0


def test_the_table_gives_each_runs_ratio_and_their_median() -> None:
    args = argparse.Namespace(users=50, requests=1500, concurrency=16, before="2ea30fd")
    readings = [
        reading("before", 0, 12.0),
        reading("after", 0, 4.8),  # 0.40
        reading("before", 1, 12.0),
        reading("after", 1, 3.6),  # 0.30
        reading("before", 2, 10.0),
        reading("after", 2, 3.5),  # 0.35
    ]
    text = report(readings, args, "bench.cpu --before 2ea30fd --repeat 3")
    assert "Each run 3 times" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {MIX} | 0."))
    # pooled: 11.9 / 34 ms
    assert row == f"| {MIX} | 0.35x | 0.35x | 0.40, 0.30, 0.35 (0.35) |"
    assert f"| {MIX} | before | 11.33 |" in text


def test_one_run_keeps_the_table_as_it_was() -> None:
    args = argparse.Namespace(users=50, requests=1500, concurrency=16, before="2ea30fd")
    text = report([reading("before", 0, 12.0), reading("after", 0, 4.2)], args, "bench.cpu")
    assert "Each run" not in text
    assert "each run's" not in text
    assert f"| {MIX} | 0.35x | 0.35x |" in text


def test_the_table_gives_the_ratio_turn_by_turn_over_the_runs() -> None:
    # The first turn holds each user's first requests; the ratio of each turn shows how
    # much of the pooled figure they make.
    args = argparse.Namespace(users=50, requests=1500, concurrency=16, before="2ea30fd")

    def turned(version: str, run: int, turns: list[float]) -> Reading:
        found = reading(version, run, sum(turns) / len(turns))
        found.turns = turns
        return found

    readings = [
        turned("before", 0, [12.0, 10.0, 8.0]),
        turned("after", 0, [6.0, 3.0, 2.0]),
        turned("before", 1, [14.0, 10.0, 12.0]),
        turned("after", 1, [5.0, 4.0, 4.0]),
    ]
    assert pooled(readings[1::2]).turns == [5.5, 3.5, 3.0]
    text = report(readings, args, "bench.cpu --before 2ea30fd --repeat 2")
    row = next(line for line in text.splitlines() if line.startswith(f"| {MIX} | 0."))
    # turn by turn: 5.5 / 13, 3.5 / 10, 3 / 10
    assert row.endswith("| 0.42, 0.35, 0.30 |")
    assert "the first turn holds each user's first requests" in text

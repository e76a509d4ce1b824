"""GraphQL execution alone: one events page of plain fields, three ways, in one process.

    .venv/bin/python -m bench.execution [--edges 100] [--rounds 7] [--seconds 0.5]

A page shaped like the Dashboard's `events(first: 100)` (per edge: a node of seven
plain fields, among them two DateTimes, and its calendar's three) is executed by
Strawberry's own execution context, by graphql_api.execution with compiled plans
switched off (field by field shortcut only), and by graphql_api.execution as it is,
each with the parser and validation caches the API's schema has.
The three alternate round by round and each round's CPU time (process_time) per
execution is kept; the medians and their ratios to Strawberry's are printed. Only
in-process CPU: no HTTP, no cache, no database. Ratios, not times, are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from graphql_api import execution
from graphql_api.execution import Execution
from graphql_api.scalars import SCALAR_MAP


@strawberry.type
class Calendar:
    id: strawberry.ID
    name: str
    provider: str


@strawberry.type
class Event:
    id: strawberry.ID
    title: str
    start: datetime
    end: datetime
    all_day: bool
    busy: bool
    calendar: Calendar


@strawberry.type
class Edge:
    cursor: str
    node: Event


@strawberry.type
class Page:
    total_count: int
    edges: list[Edge]


EDGES: list[Edge] = []


@strawberry.type
class Query:
    @strawberry.field
    async def events(self) -> Page:
        return Page(total_count=len(EDGES), edges=EDGES)


QUERY = """{ events { totalCount edges { node {
  id title start end allDay busy calendar { id name provider } } } } }"""


def page(size: int) -> list[Edge]:
    calendar = Calendar(id=strawberry.ID("Q2FsZW5kYXI6MQ"), name="Work", provider="LOCAL")
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    return [
        Edge(
            cursor=f"c{i}",
            node=Event(
                id=strawberry.ID(f"RXZlbnQ6{i:04d}"),
                title=f"Event {i}",
                start=start + timedelta(minutes=30 * i),
                end=start + timedelta(minutes=30 * i + 25),
                all_day=False,
                busy=i % 3 != 0,
                calendar=calendar,
            ),
        )
        for i in range(size)
    ]


def cpu_per_execution(schema: strawberry.Schema, seconds: float) -> float:
    async def batch(n: int) -> None:
        for _ in range(n):
            result = await schema.execute(QUERY)
            assert not result.errors, result.errors

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(batch(3))  # warm: plans, collected fields
        n, used, started = 0, 0.0, time.process_time()
        while used < seconds:
            loop.run_until_complete(batch(10))
            n += 10
            used = time.process_time() - started
        return used / n
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    EDGES[:] = page(args.edges)
    config = strawberry.schema.config.StrawberryConfig(scalar_map=SCALAR_MAP)
    caches = [lambda: ParserCache(maxsize=10), lambda: ValidationCache(maxsize=10)]
    ordinary = strawberry.Schema(Query, config=config, extensions=caches)
    shortcut = strawberry.Schema(
        Query, config=config, extensions=caches, execution_context_class=Execution
    )
    run_plan = execution._run

    def no_plans(plan: execution.Plan, value: Any) -> dict[str, Any]:
        raise execution._Fallback

    def fields_only() -> float:
        execution._run = no_plans
        try:
            return cpu_per_execution(shortcut, args.seconds)
        finally:
            execution._run = run_plan

    ways: dict[str, Callable[[], float]] = {
        "Strawberry's execution": lambda: cpu_per_execution(ordinary, args.seconds),
        "field shortcut, no plans": fields_only,
        "field shortcut and plans": lambda: cpu_per_execution(shortcut, args.seconds),
    }
    seen: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            seen[name].append(way())
    reference = statistics.median(seen["Strawberry's execution"])
    print(f"events page of {args.edges} edges, {args.rounds} rounds, median CPU per execution")
    print("| execution | CPU ms | ratio to Strawberry's |")
    print("| --- | ---: | ---: |")
    for name, times in seen.items():
        median = statistics.median(times)
        print(f"| {name} | {median * 1000:.2f} | {median / reference:.2f}x |")


if __name__ == "__main__":
    main()

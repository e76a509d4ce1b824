"""The planner: how long it takes, how good its plans are, how long `createTask` answers.

    .venv/bin/python -m bench.planner [--runs 200] [--api-samples 60] [--core-only]
        [--optimum-runs 20] [--solver-limit 5] [--optimum-only] [--optimum-all-due]
        [--pass-only] [--pass-runs 16] [--pass-limit 5]

1. The core (graphql_api.planning.planner.plan) for a user with 50 tasks and 10
   auto-scheduled habits over a 14-day horizon around 200 busy events (and the same users
   without the habits, in the same run): a first plan, a re-plan of the unchanged input,
   and re-plans after one more meeting over a block or a booking; p50/p95 over `--runs`
   random users.
2. Plan quality against a simple earliest-due-first baseline (every task the same
   priority, planned from scratch at every change): tasks at risk, P1 tasks at risk,
   minutes booked before their due, and blocks moved per calendar change.
   The habits' bookings: how many of those their periods want are made, and how many move
   per calendar change.
   And against the exact optimum of the same first plans (bench/optimum.py: OR-Tools
   CP-SAT through the worker's model, graphql_api/planning/solver.py, on the first
   `--optimum-runs` users, each solver stage stopped after `--solver-limit` seconds):
   under the planner's order (priority first, then due) and under earliest-due-first's
   aim (fewest tasks at risk, no priorities); beside
   them, an experiment that is not the planner's rule (`admitted_first`: a task of a lower
   priority may go before one of a higher priority that makes its due either way).
   `--core-only`: parts 1 and 2 without the solver.
   `--pass-only`: the worker's pipeline (the greedy, then the solver's pass of
   graphql_api/planning/solver.py, `--pass-limit` seconds, when tasks are at risk) against
   the greedy alone on the first `--pass-runs` users: the first plan, and a meeting over
   one of its blocks.
3. `createTask` through a real server (nx-27017, redis-server) for such a user, without
   and with the 10 habits (auto-scheduled, so each re-plan also ranks their free slots):
   the whole answer, the task planned, p50/p95 over `--api-samples` requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench.lib import backends, machine, server, token
from bench.lib import worker as worker_process
from bench.optimum import Optimum, optimum
from graphql_api.planning.planner import (
    Block,
    Booking,
    HabitSpec,
    Plan,
    PlanInput,
    TaskSpec,
    order_key,
    plan,
)
from graphql_api.planning.solver import improve
from graphql_api.scheduling.slots import windows_for

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = windows_for([], [(d, "09:00", "17:00") for d in range(1, 6)])
NOW = datetime(2026, 3, 30, 6, 45, tzinfo=UTC)  # Monday 08:45 in Berlin
HORIZON = timedelta(days=14)


def busy_events(rng: random.Random, count: int = 200) -> list[tuple[datetime, datetime]]:
    """Meetings on weekdays between 07:00 and 19:00 local, 30 minutes (most) or an hour."""
    events: list[tuple[datetime, datetime]] = []
    while len(events) < count:
        day = NOW.astimezone(BERLIN).date() + timedelta(days=rng.randrange(14))
        if day.isoweekday() > 5:
            continue
        local = datetime(day.year, day.month, day.day, 7, tzinfo=BERLIN)
        start = local + timedelta(minutes=15 * rng.randrange(48))
        length = 30 if rng.random() < 0.7 else 60
        events.append((start, start + timedelta(minutes=length)))
    return events


def tasks(rng: random.Random, count: int = 50, longest: int = 180) -> list[TaskSpec]:
    specs = []
    for i in range(count):
        minutes = 15 * rng.randint(2, longest // 15)  # 30 minutes to `longest`
        min_chunk = rng.choice([30, 30, 60])
        due = None if rng.random() < 0.3 else NOW + timedelta(hours=rng.randint(8, 14 * 24))
        not_before = NOW + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.1 else None
        specs.append(
            TaskSpec(
                id=f"t{i}",
                priority=rng.choice([1, 2, 2, 3, 3, 3, 4]),
                minutes=minutes,
                min_chunk=min(min_chunk, minutes),
                max_chunk=max(min(minutes, rng.choice([60, 90, 120])), min(min_chunk, minutes)),
                due=due,
                not_before=not_before,
                rank=i,
            )
        )
    return specs


# Habits' windows (weekdays, local start, end), frequencies and lengths to draw from.
HABIT_WINDOWS = [
    [(range(1, 8), "07:00", "09:00")],  # mornings
    [(range(1, 6), "12:00", "13:30")],  # lunch on weekdays
    [(range(1, 8), "18:00", "21:00")],  # evenings
    [(range(1, 6), "09:00", "17:00")],  # working hours: competing with the tasks
    [(range(6, 8), "09:00", "12:00"), (range(1, 6), "17:00", "19:00")],
]
FREQUENCIES = [(1, "DAY"), (2, "WEEK"), (3, "WEEK"), (5, "WEEK"), (8, "MONTH")]


def habits(rng: random.Random, count: int = 10) -> list[HabitSpec]:
    """Auto-scheduled habits, each with a score for every quarter hour of the horizon (as
    the recommender gives them: a probability)."""
    specs = []
    for i in range(count):
        times, per = rng.choice(FREQUENCIES)
        starts = (
            NOW + timedelta(minutes=15 * q) for q in range(int(HORIZON / timedelta(minutes=15)))
        )
        specs.append(
            HabitSpec(
                id=f"h{i}",
                minutes=rng.choice([20, 30, 30, 45, 60]),
                times=times,
                per=per,
                windows=windows_for(rng.choice(HABIT_WINDOWS), []),
                scores={at: rng.random() for at in starts},
                rank=i,
            )
        )
    return specs


def scenario(seed: int, longest: int = 180, habit_count: int = 10) -> PlanInput:
    rng = random.Random(seed)  # noqa: S311
    busy, work = busy_events(rng), tasks(rng, 50, longest)
    return PlanInput(
        NOW,
        NOW + HORIZON,
        BERLIN,
        OFFICE,
        busy,
        work,
        habits=habits(rng, habit_count),
        habits_until=NOW + HORIZON,
    )


def booked(result: Plan) -> list[Block]:
    return [Block(b.task_id, b.start, b.end, b.id or f"n{i}") for i, b in enumerate(result.blocks)]


def booked_habits(result: Plan) -> list[Booking]:
    return [
        Booking(b.habit_id, b.start, b.end, b.id or f"m{i}") for i, b in enumerate(result.bookings)
    ]


def again_of(data: PlanInput, result: Plan) -> PlanInput:
    """The plan's input once its blocks and bookings are stored."""
    return replace(data, blocks=booked(result), bookings=booked_habits(result))


def timed(data: PlanInput) -> tuple[float, Plan]:
    started = time.perf_counter()
    result = plan(data)
    return (time.perf_counter() - started) * 1000, result


def row(name: str, values: list[float]) -> str:
    median, p95 = statistics.median(values), percentile(values, 95)
    return f"| {name} | {median:.1f} | {p95:.1f} | {max(values):.1f} |"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def another_meeting(seed: int, data: PlanInput, result: Plan) -> tuple[datetime, datetime]:
    """A meeting over one of the plan's blocks (a calendar change that matters)."""
    rng = random.Random(seed + 1_000_000)  # noqa: S311
    target = rng.choice(result.blocks)
    return target.start, target.start + timedelta(minutes=30)


def meeting_over_booking(seed: int, result: Plan) -> tuple[datetime, datetime] | None:
    """A meeting over one of the plan's habit bookings."""
    if not result.bookings:
        return None
    rng = random.Random(seed + 2_000_000)  # noqa: S311
    target = rng.choice(result.bookings)
    return target.start, target.start + timedelta(minutes=15)


def core(runs: int, habit_count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "first plan": [],
        "re-plan, unchanged": [],
        "re-plan, +1 meeting over a block": [],
    }
    if habit_count:
        times["re-plan, +1 meeting over a booking"] = []
    for seed in range(runs):
        data = scenario(seed, habit_count=habit_count)
        ms, first = timed(data)
        times["first plan"].append(ms)
        again = again_of(data, first)
        times["re-plan, unchanged"].append(timed(again)[0])
        meeting = another_meeting(seed, data, first)
        over_block = replace(again, busy=[*data.busy, meeting])
        times["re-plan, +1 meeting over a block"].append(timed(over_block)[0])
        if habit_count and (hit := meeting_over_booking(seed, first)):
            over_booking = replace(again, busy=[*data.busy, hit])
            times["re-plan, +1 meeting over a booking"].append(timed(over_booking)[0])
    return times


def habit_quality(runs: int) -> dict[str, float]:
    """Bookings made, against the same habits on an empty calendar (what their windows and
    periods allow), and what moves per meeting over one booking."""
    made = want = moved_bookings = moved_blocks = changes = 0
    for seed in range(runs):
        data = scenario(seed)
        first = plan(data)
        made += len(first.bookings)
        want += len(plan(replace(data, busy=[], tasks=[])).bookings)
        hit = meeting_over_booking(seed, first)
        if hit is None:
            continue
        after = plan(replace(again_of(data, first), busy=[*data.busy, hit]))
        changes += 1
        moved_bookings += len(after.remove_bookings)
        moved_blocks += len(after.remove)
    return {
        "bookings made, % of those on an empty calendar": 100 * made / max(1, want),
        "bookings moved per meeting over one booking": moved_bookings / max(1, changes),
        "task blocks moved by it": moved_blocks / max(1, changes),
    }


def baseline(data: PlanInput) -> Plan:
    """Earliest due first, from scratch: every task the same priority, no booked blocks."""
    return plan(replace(data, tasks=[replace(t, priority=1) for t in data.tasks], blocks=()))


def admitted_first(data: PlanInput) -> Plan:
    """An experiment, not the planner's rule: tasks are *admitted* by priority, then due
    (one is admitted when it and all admitted before it make their due placed
    earliest-due-first, priorities aside; a task without a due must fit in the horizon);
    then the admitted are placed earliest-due-first across priorities, and the others after
    them by priority, as far as they go. So a lower priority may take time before a higher
    one that makes its due either way."""

    def dated(task: TaskSpec) -> TaskSpec:
        return task if task.due else replace(task, due=data.horizon_end)

    admitted: list[TaskSpec] = []
    for task in sorted(data.tasks, key=order_key):
        trial = [replace(dated(t), priority=1) for t in [*admitted, task]]
        if not plan(replace(data, tasks=trial, blocks=())).at_risk:
            admitted.append(task)
    ids = {t.id for t in admitted}
    final = [
        replace(dated(t), priority=1) if t.id in ids else replace(t, priority=10 + t.priority)
        for t in data.tasks
    ]
    result = plan(replace(data, tasks=final, blocks=()))
    result.at_risk -= {t.id for t in data.tasks if t.due is None}
    return result


def quality_of(data: PlanInput, result: Plan) -> dict[str, float]:
    specs = {t.id: t for t in data.tasks}
    before_due = sum(b.minutes for b in result.blocks if specs[b.task_id].due is not None)
    return {
        "at risk": len(result.at_risk),
        "P1 at risk": sum(1 for t in result.at_risk if specs[t].priority == 1),
        "minutes booked before due": before_due,
    }


def moved(before: Plan, after: Plan) -> int:
    """Blocks of `before` that are not where they were in `after`."""
    kept = {(b.task_id, b.start, b.end) for b in after.blocks}
    return sum(1 for b in before.blocks if (b.task_id, b.start, b.end) not in kept)


def quality(runs: int, longest: int = 180) -> dict[str, dict[str, float]]:
    """Tasks only (the baseline knows no habits)."""
    totals: dict[str, dict[str, float]] = {"planner": {}, "earliest-due-first": {}}
    for seed in range(runs):
        data = scenario(seed, longest, habit_count=0)
        ours, edf = plan(data), baseline(data)
        meeting = another_meeting(seed, data, ours)
        changed = replace(data, busy=[*data.busy, meeting])
        ours_after = plan(replace(changed, blocks=booked(ours)))
        edf_after = baseline(changed)
        for name, result, after in (
            ("planner", ours, ours_after),
            ("earliest-due-first", edf, edf_after),
        ):
            figures = quality_of(data, result)
            figures["blocks moved per calendar change"] = moved(result, after)
            for key, value in figures.items():
                totals[name][key] = totals[name].get(key, 0) + value / runs
    return totals


def with_dues(data: PlanInput, seed: int) -> PlanInput:
    """The same user with a due on every task (those without one get one in the 14 days)."""
    rng = random.Random(seed)  # noqa: S311
    dated = [
        t if t.due else replace(t, due=NOW + timedelta(hours=rng.randint(8, 14 * 24)))
        for t in data.tasks
    ]
    return replace(data, tasks=dated)


def against_optimum(
    runs: int, limit_s: float, longest: int, all_due: bool = False
) -> tuple[dict[str, dict[str, float]], dict[str, list[Optimum]]]:
    """The first plans of the planner and of earliest-due-first against the optimum under
    each one's aim (tasks only, as `quality`; with `all_due`, every task with a due)."""
    names = (
        "planner",
        "optimum, priority then due",
        "earliest-due-first",
        "optimum, no priorities",
        "experiment: admitted first",
    )
    totals: dict[str, dict[str, float]] = {name: {} for name in names}
    solved: dict[str, list[Optimum]] = {names[1]: [], names[3]: []}
    for seed in range(runs):
        data = scenario(seed, longest, habit_count=0)
        if all_due:
            data = with_dues(data, seed)
        ours, edf = plan(data), baseline(data)
        best = optimum(data, by_priority=True, limit_s=limit_s, hint=ours)
        best_edf = optimum(data, by_priority=False, limit_s=limit_s, hint=edf)
        solved[names[1]].append(best)
        solved[names[3]].append(best_edf)
        for name, figures in (
            (names[0], quality_of(data, ours)),
            (names[1], optimum_quality(data, best)),
            (names[2], quality_of(data, edf)),
            (names[3], optimum_quality(data, best_edf)),
            (names[4], quality_of(data, admitted_first(data))),
        ):
            for key, value in figures.items():
                totals[name][key] = totals[name].get(key, 0) + value / runs
    return totals, solved


def optimum_quality(data: PlanInput, best: Optimum) -> dict[str, float]:
    specs = {t.id: t for t in data.tasks}
    return {
        "at risk": len(best.at_risk),
        "P1 at risk": sum(1 for t in best.at_risk if specs[t].priority == 1),
        "minutes booked before due": sum(
            minutes for t, minutes in best.booked.items() if specs[t].due is not None
        ),
    }


def solver_pass(
    runs: int, limit_s: float, longest: int, habit_count: int
) -> tuple[dict[str, dict[str, float]], list[float], int]:
    """The worker's pipeline (the greedy plan, then the solver's pass when tasks are at risk)
    against the greedy alone: the first plan, then a meeting over one of its blocks; and
    the plan once re-plans of the unchanged input move nothing more, then a meeting."""
    names = ("planner", "planner + solver pass")
    totals: dict[str, dict[str, float]] = {name: {} for name in names}
    seconds: list[float] = []
    improved = 0

    def worker(data: PlanInput) -> Plan:
        nonlocal improved
        greedy = plan(data)
        started = time.perf_counter()
        better = improve(data, greedy, limit_s=limit_s)
        if greedy.at_risk:
            seconds.append(time.perf_counter() - started)
        improved += better is not None
        return better or greedy

    for seed in range(runs):
        data = scenario(seed, longest, habit_count=habit_count)
        specs = {t.id: t for t in data.tasks}
        for name, run in zip(names, (plan, worker), strict=True):
            first = run(data)
            meeting = another_meeting(seed, data, first)
            after = run(replace(again_of(data, first), busy=[*data.busy, meeting]))
            figures = quality_of(data, first)
            for priority in (2, 3, 4):
                figures[f"P{priority} at risk"] = sum(
                    1 for t in first.at_risk if specs[t].priority == priority
                )
            figures["blocks moved per calendar change"] = moved(first, after)
            # re-planned unchanged until nothing moves (at most twice more): where the
            # worker's passes leave a plan, then the same meeting over it
            settled, passes = first, 0
            while passes < 2:
                again = run(again_of(data, settled))
                passes += 1
                if not moved(settled, again):
                    break
                settled = again
            over = another_meeting(seed, data, settled)
            later = run(replace(again_of(data, settled), busy=[*data.busy, over]))
            figures["at risk, plan settled"] = len(settled.at_risk)
            figures["blocks moved per calendar change, plan settled"] = moved(settled, later)
            for key, value in figures.items():
                totals[name][key] = totals[name].get(key, 0) + value / runs
    return totals, seconds, improved


def solver_pass_figures(runs: int, limit_s: float) -> None:
    for longest, count, load in (
        (180, 0, "tasks of 30 min to 3 h"),
        (60, 0, "tasks of 30 to 60 min"),
        (180, 10, "tasks of 30 min to 3 h, 10 auto-scheduled habits"),
    ):
        totals, seconds, improved = solver_pass(runs, limit_s, longest, count)
        names = list(totals)
        print(f"| per user, {load} (mean of {runs}) | " + " | ".join(names) + " |")
        print("| --- |" + " ---: |" * len(names))
        for key in totals[names[0]]:
            print(f"| {key} | " + " | ".join(f"{totals[n][key]:.2f}" for n in names) + " |")
        print(
            f"| solver pass s p50 / p95 / max ({len(seconds)} passes) | | "
            f"{statistics.median(seconds):.2f} / {percentile(seconds, 95):.2f} / "
            f"{max(seconds):.2f} |"
        )
        print(f"| passes that changed the plan | | {improved} of {len(seconds)} |")
        print()


def optimum_figures(runs: int, limit_s: float, all_due: bool = False) -> None:
    for longest, load in (
        (180, "tasks of 30 min to 3 h: more work than time"),
        (60, "tasks of 30 to 60 min"),
    ):
        totals, solved = against_optimum(runs, limit_s, longest, all_due)
        title = f"{load}, every task with a due" if all_due else load
        names = list(totals)
        print(f"| per user, {title} (mean of {runs}) | " + " | ".join(names) + " |")
        print("| --- |" + " ---: |" * len(names))
        for key in totals[names[0]]:
            print(f"| {key} | " + " | ".join(f"{totals[n][key]:.2f}" for n in names) + " |")
        for name, results in solved.items():
            seconds = [r.seconds for r in results]
            proven = sum(r.proven for r in results)
            stages = sum(r.stages for r in results)
            print(
                f"| {name}: solver s p50 / p95 / max, stages proven optimal "
                f"| {statistics.median(seconds):.2f} / {percentile(seconds, 95):.2f} / "
                f"{max(seconds):.2f} | {proven} of {stages} | | | |"
            )
        print()


async def create_task_latency(
    samples: int, habit_count: int = 0, *, worker: bool = False
) -> list[float]:
    """createTask answers for a user with 50 open tasks and 200 meetings over 14 days (and
    `habit_count` auto-scheduled habits); with `worker`, a worker beside the server runs
    the re-plans the requests queue (the solver's passes: many tasks are at risk)."""
    rng = random.Random(7)  # noqa: S311
    with (
        backends() as (mongo_uri, redis),
        server(mongo_uri, redis.url) as api,
        contextlib.ExitStack() as stack,
    ):
        if worker:
            stack.enter_context(worker_process(mongo_uri, redis.url))
        headers = {"Authorization": f"Bearer {token('bench-planner')}"}
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60) as client:

            async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
                body: dict[str, Any] = (
                    await client.post("/graphql", json={"query": query, "variables": variables})
                ).json()
                assert not body.get("errors"), body
                data: dict[str, Any] = body["data"]
                return data

            await gql(
                "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
                {"i": {"timezone": "Europe/Berlin"}},
            )
            calendar = (
                await gql("mutation { connectCalendar(input: {provider: LOCAL}) { id } }", {})
            )["connectCalendar"]["id"]
            now = datetime.now(UTC)
            meetings = []
            for start, end in busy_events(rng):
                shift = now - NOW
                meetings.append(
                    {
                        "calendarId": calendar,
                        "title": "Meeting",
                        "start": (start + shift).isoformat(),
                        "end": (end + shift).isoformat(),
                    }
                )
            await gql(
                "mutation($i: [CreateEventInput!]!) { batchCreateEvents(inputs: $i) { id } }",
                {"i": meetings},
            )
            pick = random.Random(11)  # noqa: S311
            for i in range(habit_count):
                times_, per = pick.choice(FREQUENCIES)
                windows = [
                    {"weekdays": list(days), "start": start, "end": end}
                    for days, start, end in pick.choice(HABIT_WINDOWS)
                ]
                habit = {
                    "name": f"habit {i}",
                    "frequency": {"times": times_, "per": per},
                    "durationMinutes": pick.choice([20, 30, 30, 45, 60]),
                    "preferredWindows": windows,
                    "autoSchedule": True,
                }
                await gql(
                    "mutation($i: CreateHabitInput!) { createHabit(input: $i) { id } }",
                    {"i": habit},
                )
            create = (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id scheduledMinutes "
                "remainingMinutes atRisk blocks { id start end } } }"
            )

            def task_input(spec: TaskSpec) -> dict[str, Any]:
                shift = now - NOW
                return {
                    "title": spec.id,
                    "priority": f"P{spec.priority}",
                    "durationMinutes": spec.minutes,
                    "minChunkMinutes": spec.min_chunk,
                    "maxChunkMinutes": spec.max_chunk,
                    "due": (spec.due + shift).isoformat() if spec.due else None,
                }

            for spec in tasks(rng, 49):
                await gql(create, {"i": task_input(spec)})
            times = []
            for spec in tasks(rng, samples):
                started = time.perf_counter()
                created = (await gql(create, {"i": task_input(spec)}))["createTask"]
                times.append((time.perf_counter() - started) * 1000)
                await gql("mutation($id: ID!) { deleteTask(id: $id) }", {"id": created["id"]})
            return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--api-samples", type=int, default=60)
    parser.add_argument("--api-only", action="store_true", help="only the createTask part")
    parser.add_argument(
        "--core-only", action="store_true", help="the core's timings and plan quality alone"
    )
    parser.add_argument("--optimum-runs", type=int, default=20)
    parser.add_argument("--solver-limit", type=float, default=5.0, help="seconds a stage")
    parser.add_argument("--optimum-only", action="store_true", help="only the solver part")
    parser.add_argument(
        "--optimum-all-due", action="store_true", help="the solver part, every task with a due"
    )
    parser.add_argument(
        "--pass-only", action="store_true", help="only the worker's solver pass against the greedy"
    )
    parser.add_argument("--pass-runs", type=int, default=16)
    parser.add_argument("--pass-limit", type=float, default=5.0, help="seconds a pass (all stages)")
    args = parser.parse_args()
    print(f"Machine: {machine()} (shared with other work while it ran)\n")
    if args.pass_only:
        solver_pass_figures(args.pass_runs, args.pass_limit)
        return
    if args.optimum_only or args.optimum_all_due:
        optimum_figures(args.optimum_runs, args.solver_limit, args.optimum_all_due)
        return
    if not args.api_only:
        planner_figures(args.runs, args.optimum_runs, args.solver_limit, not args.core_only)
    if args.core_only:
        return
    print("| createTask (whole answer, 50 open tasks, 200 meetings) | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for count, worker in ((0, False), (10, False), (0, True)):
        latency = asyncio.run(create_task_latency(args.api_samples, count, worker=worker))
        beside = ", a worker beside it running the solver's passes" if worker else ""
        print(row(f"{len(latency)} requests, {count} auto-scheduled habits{beside}", latency))


def planner_figures(runs: int, optimum_runs: int, solver_limit: float, solver: bool) -> None:
    for count in (10, 0):
        print(
            f"| planner core, 50 tasks, {count} habits, 200 meetings, 14 days "
            "| p50 ms | p95 ms | max ms |"
        )
        print("| --- | ---: | ---: | ---: |")
        for name, values in core(runs, count).items():
            print(row(name, values))
        print()
    print(f"| habits' bookings (mean of {runs} users, 10 habits each) | planner |")
    print("| --- | ---: |")
    for key, value in habit_quality(runs).items():
        print(f"| {key} | {value:.2f} |")
    print()
    for longest, load in (
        (180, "tasks of 30 min to 3 h: more work than time"),
        (60, "tasks of 30 to 60 min"),
    ):
        totals = quality(runs, longest)
        print(f"| per user, {load} (mean of {runs}) | planner | earliest-due-first |")
        print("| --- | ---: | ---: |")
        for key in totals["planner"]:
            ours, edf = totals["planner"][key], totals["earliest-due-first"][key]
            print(f"| {key} | {ours:.2f} | {edf:.2f} |")
        print()
    if solver:
        optimum_figures(optimum_runs, solver_limit)


if __name__ == "__main__":
    main()

"""The planner's second pass (graphql_api.planning.solver): when the greedy plan leaves tasks
at risk, a plan with fewer at risk, priority by priority, under the same rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from graphql_api.planning.planner import Block, Plan, PlanInput, plan
from graphql_api.planning.solver import improve, standing
from tests.planning.test_planner import BERLIN, DAY, HOUR, OFFICE, check, inputs, task, utc

# Each example runs the solver (up to LIMIT_S): fewer examples than the greedy's properties.
SOLVER_PROPERTY = settings(max_examples=40, deadline=None)
LIMIT_S = 2.0

MONDAY = utc(2026, 3, 2, 7)  # 08:00 in Berlin
TUESDAY_9 = utc(2026, 3, 3, 8)
FRIDAY_17 = utc(2026, 3, 6, 16)


def monday_morning_free(tasks: list[object]) -> PlanInput:
    """Office hours in Berlin; Monday's afternoon taken by meetings (4 hours free)."""
    return PlanInput(
        now=MONDAY,
        horizon_end=MONDAY + 7 * DAY,
        zone=BERLIN,
        windows=OFFICE,
        busy=[(utc(2026, 3, 2, 12), utc(2026, 3, 2, 16))],
        tasks=tasks,  # type: ignore[arg-type]
    )


def booked(result: Plan, task_id: str) -> list[tuple[int, int]]:
    """The task's blocks as (day of March, hour in UTC) of their starts."""
    return [(b.start.day, b.start.hour) for b in result.blocks if b.task_id == task_id]


def test_a_lower_priority_due_sooner_goes_first_when_both_make_their_due() -> None:
    # A P1 report due Friday and P3 slides due Tuesday 09:00, 4 hours each; Monday has 4
    # free hours. The greedy gives the report Monday and leaves the slides at risk; the
    # solver books the slides Monday and the report Tuesday: both make their due.
    data = monday_morning_free(
        [
            task("report", 240, priority=1, max_chunk=120, due=FRIDAY_17),
            task("slides", 240, priority=3, max_chunk=120, due=TUESDAY_9),
        ]
    )
    greedy = plan(data)
    assert greedy.at_risk == {"slides"}
    better = improve(data, greedy, limit_s=LIMIT_S, workers=1)
    assert better is not None
    check(data, better)
    assert better.at_risk == set()
    assert booked(better, "slides") == [(2, 8), (2, 10)]
    assert {day for day, _ in booked(better, "report")} == {3}


def test_a_later_stage_out_of_time_keeps_what_the_earlier_stages_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same two tasks, but the stages after the two priorities' find nothing in their
    # time (as "stay where they are" and "tidy" may on a crowded calendar): the plan the
    # priorities' stages found, with both tasks making their due, is still the answer.
    data = monday_morning_free(
        [
            task("report", 240, priority=1, max_chunk=120, due=FRIDAY_17),
            task("slides", 240, priority=3, max_chunk=120, due=TUESDAY_9),
        ]
    )
    greedy = plan(data)
    real = cp_model.CpSolver.solve
    calls: list[int] = []

    def out_of_time_after_two(
        self: cp_model.CpSolver, model: cp_model.CpModel
    ) -> cp_model.CpSolverStatus:
        calls.append(1)
        return real(self, model) if len(calls) <= 2 else cp_model.UNKNOWN

    monkeypatch.setattr(cp_model.CpSolver, "solve", out_of_time_after_two)
    better = improve(data, greedy, limit_s=LIMIT_S, workers=1)
    assert len(calls) == 3  # the third stage found nothing: no more were tried
    assert better is not None
    check(data, better)
    assert better.at_risk == set()


def test_a_higher_prioritys_task_is_never_put_at_risk_to_save_a_lower_one() -> None:
    # Both due Tuesday 09:00, room for one: the P1 task keeps it, whatever the count.
    data = monday_morning_free(
        [
            task("p1", 240, priority=1, due=TUESDAY_9),
            task("p3a", 120, priority=3, due=TUESDAY_9),
            task("p3b", 120, priority=3, due=TUESDAY_9),
        ]
    )
    greedy = plan(data)
    assert greedy.at_risk == {"p3a", "p3b"}
    assert improve(data, greedy, limit_s=LIMIT_S, workers=1) is None


def test_without_tasks_at_risk_the_greedy_plan_stands_and_no_solver_runs() -> None:
    data = monday_morning_free([task("a", 120, due=FRIDAY_17), task("b", 60)])
    greedy = plan(data)
    assert not greedy.at_risk
    assert improve(data, greedy, limit_s=LIMIT_S, workers=1) is None


def test_blocks_under_way_and_within_the_notice_stay() -> None:
    # The report's block started at 08:30 UTC; the solver books around it.
    now = utc(2026, 3, 2, 9)
    data = replace(
        monday_morning_free(
            [
                task("report", 240, priority=1, max_chunk=120, due=FRIDAY_17),
                task("slides", 120, priority=3, due=TUESDAY_9),
            ]
        ),
        now=now,
        blocks=[Block("report", utc(2026, 3, 2, 8), utc(2026, 3, 2, 10), "b1")],
    )
    greedy = plan(data)
    better = improve(data, greedy, limit_s=LIMIT_S, workers=1)
    result = better or greedy
    assert Block("report", utc(2026, 3, 2, 8), utc(2026, 3, 2, 10), "b1") in result.keep
    assert "slides" not in result.at_risk


@st.composite
def contested(draw: st.DrawFn) -> PlanInput:
    """Tasks of every priority with dues in the next three days: a calendar they compete for."""
    data: PlanInput = draw(inputs())
    specs = [
        replace(
            spec,
            due=data.now + timedelta(minutes=15 * draw(st.integers(0, 3 * 96)))
            if draw(st.booleans())
            else spec.due,
        )
        for spec in data.tasks
    ]
    return replace(data, tasks=specs)


def with_ids(result: Plan) -> list[Block]:
    return [
        Block(b.task_id, b.start, b.end, b.id or f"new-{i}") for i, b in enumerate(result.blocks)
    ]


@SOLVER_PROPERTY
@given(contested())
def test_the_solvers_plan_keeps_the_rules_and_is_better_priority_by_priority(
    data: PlanInput,
) -> None:
    greedy = plan(data)
    better = improve(data, greedy, limit_s=LIMIT_S, workers=1)
    if better is None:
        return
    check(data, better)
    new, old = standing(data.tasks, better), standing(data.tasks, greedy)
    first = next(i for i, (a, b) in enumerate(zip(new, old, strict=True)) if a[0] != b[0])
    assert new[first][0] < old[first][0], "not fewer at risk where the counts first differ"
    assert all(a[1] <= b[1] for a, b in zip(new[:first], old[:first], strict=True)), (
        "a higher priority booked less"
    )


@SOLVER_PROPERTY
@given(contested())
def test_the_greedy_keeps_the_solvers_plan_and_the_solver_keeps_its_own(
    data: PlanInput,
) -> None:
    """No tug of war: once the solver's plan is booked, a re-plan of the unchanged input
    by the greedy moves nothing, and the solver finds nothing better to move to."""
    better = improve(data, plan(data), limit_s=LIMIT_S, workers=1)
    if better is None:
        return
    booked_now = replace(data, blocks=with_ids(better))
    again = plan(booked_now)
    assert not again.add
    assert not again.remove
    assert again.at_risk == better.at_risk
    assert improve(booked_now, again, limit_s=LIMIT_S, workers=1) is None


def test_a_meeting_over_a_block_moves_what_the_count_needs_and_no_more() -> None:
    # The solver's plan of the first example, booked; a meeting lands on Tuesday's report
    # block: the slides (Monday) stay, the report moves later in the week.
    data = monday_morning_free(
        [
            task("report", 240, priority=1, max_chunk=120, due=FRIDAY_17),
            task("slides", 240, priority=3, max_chunk=120, due=TUESDAY_9),
        ]
    )
    better = improve(data, plan(data), limit_s=LIMIT_S, workers=1)
    assert better is not None
    tuesday = next(b for b in better.blocks if b.task_id == "report")
    meeting = (tuesday.start, tuesday.start + HOUR)
    after = replace(data, blocks=with_ids(better), busy=[*data.busy, meeting])
    again = plan(after)
    assert {b.task_id for b in again.remove} == {"report"}
    assert len(again.remove) == 1
    assert not again.at_risk
    assert improve(after, again, limit_s=LIMIT_S, workers=1) is None

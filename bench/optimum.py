"""The exact optimum of a planner instance (tasks only, a plan from scratch), by the solver
the worker's second pass uses (graphql_api/planning/solver.py: its model of the planner's
rules, OR-Tools CP-SAT): what the greedy planner is measured against in bench/planner.py.

Two objectives, each lexicographic, solved in stages (each stage's best value becomes a
constraint of the next):

- `by_priority` (the README's order: priority first, then due): for P1, then P2, ...: the
  fewest tasks of that priority at risk, then the most minutes of that priority booked
  (the worker's pass, without its last stage: stability);
- otherwise (earliest-due-first's own aim, priorities ignored): the fewest tasks at risk,
  then the most minutes booked before their due.

The stages share `limit_s` times their number (a stage proven quickly leaves its time to
the next); a stage that hits its limit leaves the best plan found (`proven` counts the
stages that proved their optimum). The planner's own plan (or the baseline's) is given as
a hint, so the solver starts from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql_api.planning.planner import CELL_MINUTES, Plan, PlanInput
from graphql_api.planning.solver import Model


@dataclass
class Optimum:
    booked: dict[str, int]  # minutes booked per task
    at_risk: set[str]
    seconds: float  # the solver's wall time, all stages
    stages: int = 0
    proven: int = 0  # stages that proved their optimum within the time limit
    values: list[int] = field(default_factory=list)  # each stage's objective


def optimum(
    data: PlanInput,
    *,
    by_priority: bool,
    limit_s: float,
    hint: Plan | None = None,
    workers: int = 2,
) -> Optimum:
    built = Model(data)
    if hint is not None:
        built.hint(hint.blocks)
    stages = built.objectives(by_priority=by_priority)
    solved = built.solve(stages, limit_s=limit_s * len(stages), workers=workers)
    if solved is None:
        raise RuntimeError("no plan found")
    booked = {
        task_id: sum(b - a for a, b in spans) * CELL_MINUTES
        for task_id, spans in solved.blocks.items()
    }
    return Optimum(
        booked, solved.at_risk, solved.seconds, solved.stages, solved.proven, solved.values
    )

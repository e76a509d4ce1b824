"""The exact optimum of a planner instance (tasks only), by OR-Tools CP-SAT: what the greedy
planner is measured against in bench/planner.py. Bench-only: the server has no solver.

The rules are the planner's (graphql_api/planning/planner.py), on the same quarter-hour
cells: blocks inside working hours and off busy time (every closed stretch is a fixed
interval of one NoOverlap with every block), no block over another, each between the
task's min and max chunk, one shorter block only when it completes the task's work, none
before `notBefore` or `now + notice`, each ending by the due (or the horizon); a task
books at most its work; a task with a due whose work is not all booked is at risk. A plan
from scratch (no blocks booked before), as the baseline's.

Two objectives, each lexicographic, solved in stages (each stage's best value becomes a
constraint of the next):

- `by_priority` (the README's order: priority first, then due): for P1, then P2, ...: the
  fewest tasks of that priority at risk, then the most minutes of that priority booked
  (work of a higher priority goes first, due or not, as the planner books it);
- otherwise (earliest-due-first's own aim, priorities ignored): the fewest tasks at risk,
  then the most minutes booked before their due.

Each stage has a time limit; a stage that hits it leaves the best plan found (`proven`
counts the stages that proved their optimum). The planner's own plan (or the baseline's)
is given as a hint, so the solver starts from it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from graphql_api.planning.planner import CELL_MINUTES, Plan, PlanInput, TaskSpec, cell_of
from graphql_api.scheduling.slots import window_occurrences


@dataclass
class Optimum:
    booked: dict[str, int]  # minutes booked per task
    at_risk: set[str]
    seconds: float  # the solver's wall time, all stages
    stages: int = 0
    proven: int = 0  # stages that proved their optimum within the time limit
    values: list[int] = field(default_factory=list)  # each stage's objective


@dataclass
class _Chunk:
    start: cp_model.IntVar
    size: cp_model.IntVar
    end: cp_model.IntVar
    present: cp_model.IntVar
    short: bool
    least_regular: int  # the task's min chunk (cells)


def _open_cells(data: PlanInput, base: int, size: int) -> bytearray:
    """1 for each cell inside working hours and off busy time (the planner's `open`)."""
    cells = bytearray(size)
    end = data.horizon_end
    for span_start, span_end in window_occurrences(data.windows, data.zone, data.now, end):
        a = max(cell_of(span_start, up=True) - base, 0)
        b = min(cell_of(span_end) - base, size)
        if a < b:
            cells[a:b] = b"\x01" * (b - a)
    for busy_start, busy_end in data.busy:
        a = max(cell_of(busy_start) - base, 0)
        b = min(cell_of(busy_end, up=True) - base, size)
        if a < b:
            cells[a:b] = bytes(b - a)
    return cells


@dataclass
class _Task:
    need: int  # cells of work
    booked: cp_model.LinearExpr  # cells booked
    chunks: list[_Chunk]
    risk: cp_model.IntVar | None  # 1: at risk (a task with a due)


class _Model:
    """The CP-SAT model of one instance (module docstring)."""

    def __init__(self, data: PlanInput) -> None:
        self.data = data
        self.base = cell_of(data.now)
        self.size = max(0, cell_of(data.horizon_end) - self.base)
        self.cells = _open_cells(data, self.base, self.size)
        notice = cell_of(data.now + data.notice, up=True) - self.base
        self.earliest = min(max(notice, 0), self.size)
        self.model = cp_model.CpModel()
        self.intervals = self._closed()
        self.tasks = {task.id: self._task(task) for task in data.tasks}
        self.model.add_no_overlap(self.intervals)

    def _closed(self) -> list[cp_model.IntervalVar]:
        """Every stretch outside working hours or on busy time, a fixed interval."""
        fixed: list[cp_model.IntervalVar] = []
        a = self.cells.find(0)
        while 0 <= a < self.size:
            b = self.cells.find(1, a)
            b = self.size if b < 0 else b
            fixed.append(self.model.new_fixed_size_interval_var(a, b - a, f"closed{a}"))
            a = self.cells.find(0, b)
        return fixed

    def _task(self, task: TaskSpec) -> _Task:
        model, size = self.model, self.size
        lo = self.earliest
        if task.not_before is not None:
            lo = min(max(lo, cell_of(task.not_before, up=True) - self.base), size)
        hi = size if task.due is None else min(max(cell_of(task.due) - self.base, 0), size)
        max_cells = max(1, task.max_chunk // CELL_MINUTES)
        min_cells = min(max(1, task.min_chunk // CELL_MINUTES), max_cells)
        need = max(0, -(-task.minutes // CELL_MINUTES))
        chunks: list[_Chunk] = []
        if hi > lo and need:
            name = task.id
            chunks = [
                _chunk(model, f"{name}.{k}", (lo, hi), (min_cells, max_cells))
                for k in range(need // min_cells)
            ]
            if min_cells > 1:
                chunks.append(_chunk(model, f"{name}.s", (lo, hi), (1, min_cells - 1), short=True))
        regular = [c for c in chunks if not c.short]
        for before, after in itertools.pairwise(regular):  # in time order
            model.add_implication(after.present, before.present)
            model.add(before.end <= after.start).only_enforce_if(after.present)
        self.intervals.extend(
            model.new_optional_interval_var(c.start, c.size, c.end, c.present, f"i{task.id}")
            for c in chunks
        )
        total = sum((c.size for c in chunks), cp_model.LinearExpr.constant(0))
        model.add(total <= need)
        for chunk in chunks:
            if chunk.short:  # a short block only completes the work
                model.add(total == need).only_enforce_if(chunk.present)
        risk = None
        if task.due is not None:
            risk = model.new_bool_var(f"risk{task.id}")
            model.add(total == need).only_enforce_if(~risk)
        return _Task(need, total, chunks, risk)

    def objectives(self, *, by_priority: bool) -> list[cp_model.LinearExpr]:
        """The stages, each to minimize (module docstring)."""
        specs = self.data.tasks
        groups = (
            [[t.id for t in specs if t.priority == p] for p in sorted({t.priority for t in specs})]
            if by_priority
            else [[t.id for t in specs]]
        )
        stages = []
        for ids in groups:
            tasks = [self.tasks[i] for i in ids]
            weight = sum(t.need for t in tasks) + 1
            zero = cp_model.LinearExpr.constant(0)
            risky = sum((t.risk for t in tasks if t.risk is not None), zero)
            # by priority: all the group's work; otherwise only what has a due
            counted = [t for t in tasks if by_priority or t.risk is not None]
            minutes = sum((t.booked for t in counted), zero)
            stages.append(weight * risky - minutes)
        return stages


def optimum(
    data: PlanInput,
    *,
    by_priority: bool,
    limit_s: float,
    hint: Plan | None = None,
    workers: int = 2,
) -> Optimum:
    built = _Model(data)
    model = built.model
    chunks_of = {task_id: task.chunks for task_id, task in built.tasks.items()}
    if hint is not None:
        _hint(model, hint, chunks_of, built.base)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit_s
    solver.parameters.num_workers = workers
    result = Optimum({}, set(), 0.0)
    started = time.perf_counter()
    for objective in built.objectives(by_priority=by_priority):
        model.minimize(objective)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise RuntimeError(f"no plan found: {solver.status_name(status)}")
        value = round(solver.objective_value)
        result.stages += 1
        result.proven += status == cp_model.OPTIMAL
        result.values.append(value)
        model.add(objective <= value)  # the next stage keeps this one's best
        _keep_solution(model, solver, chunks_of)
    result.seconds = time.perf_counter() - started
    for spec in data.tasks:
        task = built.tasks[spec.id]
        minutes = solver.value(task.booked) * CELL_MINUTES
        result.booked[spec.id] = minutes
        if task.risk is not None and minutes < task.need * CELL_MINUTES:
            result.at_risk.add(spec.id)
    return result


def _chunk(
    model: cp_model.CpModel,
    name: str,
    bounds: tuple[int, int],
    sizes: tuple[int, int],
    *,
    short: bool = False,
) -> _Chunk:
    """A block the task may book: [start, start + size) inside `bounds`, `sizes` long."""
    (lo, hi), (least, most) = bounds, sizes
    start = model.new_int_var(lo, hi, f"s{name}")
    size = model.new_int_var(0, most, f"z{name}")
    present = model.new_bool_var(f"p{name}")
    model.add(size >= least).only_enforce_if(present)
    model.add(size == 0).only_enforce_if(~present)
    model.add(start == lo).only_enforce_if(~present)
    end = model.new_int_var(lo, hi, f"e{name}")
    model.add(end == start + size)
    return _Chunk(start, size, end, present, short, most + 1 if short else least)


def _hint(
    model: cp_model.CpModel, hint: Plan, chunks_of: dict[str, list[_Chunk]], base: int
) -> None:
    """The plan's blocks as a starting solution (a task whose blocks the chunks cannot
    hold, e.g. more blocks than slots, is left unhinted)."""
    by_task: dict[str, list[tuple[int, int]]] = {}
    for block in hint.blocks:
        by_task.setdefault(block.task_id, []).append(
            (cell_of(block.start) - base, cell_of(block.end) - base)
        )
    for task_id, chunks in chunks_of.items():
        blocks = sorted(by_task.get(task_id, []))
        regular = [c for c in chunks if not c.short]
        short = [c for c in chunks if c.short]
        shorts = [b for b in blocks if short and b[1] - b[0] < short[0].least_regular]
        longs = [b for b in blocks if b not in shorts]
        if len(longs) > len(regular) or len(shorts) > len(short):
            continue
        for group, placed in ((regular, longs), (short, shorts)):
            for i, chunk in enumerate(group):
                model.add_hint(chunk.present, i < len(placed))
                if i < len(placed):
                    a, b = placed[i]
                    model.add_hint(chunk.start, a)
                    model.add_hint(chunk.size, b - a)
                else:
                    model.add_hint(chunk.size, 0)


def _keep_solution(
    model: cp_model.CpModel, solver: cp_model.CpSolver, chunks_of: dict[str, list[_Chunk]]
) -> None:
    """The stage's best plan as the next stage's hint."""
    model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in ortools 9.15
    for chunks in chunks_of.values():
        for chunk in chunks:
            model.add_hint(chunk.present, solver.boolean_value(chunk.present))
            model.add_hint(chunk.size, solver.value(chunk.size))
            model.add_hint(chunk.start, solver.value(chunk.start))

"""The planner's second pass: when the greedy plan leaves tasks at risk, OR-Tools CP-SAT looks
for a plan with fewer at risk, priority by priority, within a time limit; the greedy plan
stands when it finds none (`improve`). Pure: no I/O. Runs in the worker only (seconds, not
milliseconds: `service.replan(..., improve=True)`).

Why: the greedy places tasks by priority and gives a higher priority's work the earliest
time even when that task makes its due later anyway, so a lower priority's task due sooner
misses its due. Tasks compete only for time they cannot both have: the solver lets a P3
task due tomorrow go before a P1 task due Friday when both make their due, and never
makes a task of a higher priority at risk (or booked less) to save lower ones
(bench/RESULTS.md, "Planner").

The model (`Model`) has the planner's rules on the same quarter-hour cells
(`planner.Cells`): blocks inside working hours and off busy time (every closed stretch a
fixed interval of one NoOverlap with every block), inside one window occurrence, no block
over another, each between the task's min and max chunk, one shorter block only when it
completes the work, none before `notBefore` or `now + notice`, each ending by the due (or
the horizon). What the greedy pass settled stays: its habit bookings, and the blocks under
way or starting within the notice (closed time here, counted as booked for their task).

Objectives, lexicographic, solved in stages (each stage's best value a constraint of the
next, each started from the best plan so far; the greedy plan is the first hint):

1. for P1, then P2, ...: the fewest tasks of that priority at risk, then the most minutes
   of that priority booked (work of a higher priority goes first, due or not, as the greedy
   books it);
2. the most minutes of each task left where the user's calendar has them now (stability:
   a block moves only when the at-risk count needs it);
3. the fewest blocks, then the earliest.

The solver's plan replaces the greedy one only when it leaves fewer tasks at risk at the
first priority where the two differ and books no priority before it less.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ortools.sat.python import cp_model

from graphql_api.planning.planner import (
    CELL_MINUTES,
    Block,
    Cells,
    Plan,
    PlanInput,
    TaskSpec,
    at_cell,
    cell_of,
    plan,
)

_NEW = "solver:"  # the ids the solver's new blocks carry while the greedy re-plans them
# A task books at most this many chunks in the model (a week of work in 15-minute chunks
# would be 672 variables): a task that needs more is left as the greedy booked it.
MAX_CHUNKS = 48


@dataclass
class Chunk:
    start: cp_model.IntVar
    size: cp_model.IntVar
    end: cp_model.IntVar
    present: cp_model.IntVar
    short: bool
    least_regular: int  # the task's min chunk (cells)


@dataclass
class TaskVars:
    spec: TaskSpec
    need: int  # cells of work left to book (fixed blocks counted)
    fixed: int  # cells of fixed blocks
    booked: cp_model.LinearExpr  # cells booked, fixed ones included
    chunks: list[Chunk]
    risk: cp_model.IntVar | None  # 1: at risk (a task with a due)


@dataclass
class Solved:
    """The best plan the stages found: each task's blocks (cells from `base`)."""

    blocks: dict[str, list[tuple[int, int]]]
    at_risk: set[str]
    seconds: float
    stages: int = 0
    proven: int = 0  # stages that proved their optimum within their time limit
    values: list[int] = field(default_factory=list)  # each stage's objective


class Model:
    """The CP-SAT model of one instance (module docstring). `fixed`: blocks that stay
    (under way, within the notice); `closed`: other time no block may use (bookings)."""

    def __init__(
        self,
        data: PlanInput,
        *,
        fixed: Sequence[Block] = (),
        closed: Sequence[tuple[datetime, datetime]] = (),
    ) -> None:
        self.data = data
        cells = Cells(data)
        self.base = cells.base
        self.size = len(cells.open)
        self.model = cp_model.CpModel()
        model = self.model
        spans = bytearray(cells.open)
        for start, end in closed:
            self._close(spans, start, end)
        held: dict[str, int] = {}
        for block in fixed:
            self._close(spans, block.start, block.end)
            held[block.task_id] = held.get(block.task_id, 0) + _cells(block)
        self.cells = spans
        # where a window occurrence begins inside an open stretch: no block spans it
        self.breaks = [
            i for i in range(1, self.size) if cells.breaks[i] and spans[i] and spans[i - 1]
        ]
        self.earliest = cells.index(cell_of(data.now + data.notice, up=True))
        self.intervals = self._closed()
        self.tasks = {task.id: self._task(task, held.get(task.id, 0)) for task in data.tasks}
        model.add_no_overlap(self.intervals)

    def _close(self, spans: bytearray, start: datetime, end: datetime) -> None:
        a = min(max(cell_of(start) - self.base, 0), self.size)
        b = min(max(cell_of(end, up=True) - self.base, 0), self.size)
        if a < b:
            spans[a:b] = bytes(b - a)

    def _closed(self) -> list[cp_model.IntervalVar]:
        """Every stretch outside working hours, on busy time or closed, a fixed interval."""
        fixed: list[cp_model.IntervalVar] = []
        a = self.cells.find(0)
        while 0 <= a < self.size:
            b = self.cells.find(1, a)
            b = self.size if b < 0 else b
            fixed.append(self.model.new_fixed_size_interval_var(a, b - a, f"closed{a}"))
            a = self.cells.find(0, b)
        return fixed

    def _task(self, task: TaskSpec, fixed: int) -> TaskVars:
        model, size = self.model, self.size
        lo = self.earliest
        if task.not_before is not None:
            lo = min(max(lo, cell_of(task.not_before, up=True) - self.base), size)
        hi = size if task.due is None else min(max(cell_of(task.due) - self.base, 0), size)
        max_cells = max(1, task.max_chunk // CELL_MINUTES)
        min_cells = min(max(1, task.min_chunk // CELL_MINUTES), max_cells)
        need = max(0, -(-task.minutes // CELL_MINUTES) - fixed)
        chunks: list[Chunk] = []
        if hi > lo and need:
            room = self.cells.count(1, lo, hi)
            count = min(need // min_cells, max(room // min_cells, 1), MAX_CHUNKS)
            chunks = [
                _chunk(model, f"{task.id}.{k}", (lo, hi), (min_cells, max_cells))
                for k in range(count)
            ]
            if min_cells > 1:
                chunks.append(
                    _chunk(model, f"{task.id}.s", (lo, hi), (1, min_cells - 1), short=True)
                )
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
            for cut in self.breaks:  # a block stays inside one window occurrence
                if lo < cut < hi:
                    ends_before = model.new_bool_var("")
                    model.add(chunk.end <= cut).only_enforce_if(ends_before)
                    model.add(chunk.start >= cut).only_enforce_if(~ends_before)
        risk = None
        if task.due is not None:
            risk = model.new_bool_var(f"risk{task.id}")
            model.add(total == need).only_enforce_if(~risk)
        return TaskVars(task, need, fixed, total + fixed, chunks, risk)

    def objectives(self, *, by_priority: bool = True) -> list[cp_model.LinearExpr]:
        """The stages, each to minimize: by priority (module docstring) or, without
        priorities (earliest-due-first's own aim), the fewest tasks at risk, then the most
        minutes booked before their due."""
        specs = self.data.tasks
        groups = (
            [[t.id for t in specs if t.priority == p] for p in sorted({t.priority for t in specs})]
            if by_priority
            else [[t.id for t in specs]]
        )
        stages = []
        zero = cp_model.LinearExpr.constant(0)
        for ids in groups:
            tasks = [self.tasks[i] for i in ids]
            weight = sum(t.need + t.fixed for t in tasks) + 1
            risky = sum((t.risk for t in tasks if t.risk is not None), zero)
            # by priority: all the group's work; otherwise only what has a due
            counted = [t for t in tasks if by_priority or t.risk is not None]
            minutes = sum((t.booked for t in counted), zero)
            stages.append(weight * risky - minutes)
        return stages

    def staying(self, blocks: Sequence[Block]) -> cp_model.LinearExpr:
        """Minus the cells of `blocks` (the user's calendar now) that their task's chunks
        still cover: to minimize, so blocks stay where they are."""
        model, zero = self.model, cp_model.LinearExpr.constant(0)
        terms = []
        for block in blocks:
            task = self.tasks.get(block.task_id)
            if task is None:
                continue
            a, b = cell_of(block.start) - self.base, cell_of(block.end) - self.base
            for chunk in task.chunks:
                low = model.new_int_var(0, self.size, "")
                high = model.new_int_var(0, self.size, "")
                model.add_max_equality(low, [chunk.start, a])
                model.add_min_equality(high, [chunk.end, b])
                overlap = model.new_int_var(0, b - a, "")
                model.add_max_equality(overlap, [high - low, zero])
                terms.append(overlap)
        return -sum(terms, zero)

    def tidy(self) -> cp_model.LinearExpr:
        """The fewest blocks, then the earliest (work done as soon as it can, as the greedy
        books it): each block costs a horizon's length plus its start."""
        zero = cp_model.LinearExpr.constant(0)
        return sum(
            (c.start + self.size * c.present for t in self.tasks.values() for c in t.chunks),
            zero,
        )

    def hint(self, blocks: Sequence[Block]) -> None:
        """The blocks as a starting solution (a task whose blocks the chunks cannot hold,
        e.g. more blocks than chunks, is left unhinted)."""
        by_task: dict[str, list[tuple[int, int]]] = {}
        for block in blocks:
            a, b = cell_of(block.start) - self.base, cell_of(block.end) - self.base
            by_task.setdefault(block.task_id, []).append((a, b))
        for task_id, task in self.tasks.items():
            placed = sorted(by_task.get(task_id, []))
            regular = [c for c in task.chunks if not c.short]
            short = [c for c in task.chunks if c.short]
            shorts = [p for p in placed if short and p[1] - p[0] < short[0].least_regular]
            longs = [p for p in placed if p not in shorts]
            if len(longs) > len(regular) or len(shorts) > len(short):
                continue
            for group, spans in ((regular, longs), (short, shorts)):
                for i, chunk in enumerate(group):
                    self.model.add_hint(chunk.present, i < len(spans))
                    if i < len(spans):
                        self.model.add_hint(chunk.start, spans[i][0])
                        self.model.add_hint(chunk.size, spans[i][1] - spans[i][0])
                    else:
                        self.model.add_hint(chunk.size, 0)

    def solve(
        self, stages: Sequence[cp_model.LinearExpr], *, limit_s: float, workers: int
    ) -> Solved | None:
        """Each stage minimized in turn, each in what the time left allows (`limit_s` in
        all): the plan of the last stage solved (a later stage that finds nothing in its
        time keeps it); None when not even the first stage found a plan in time."""
        model = self.model
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = workers
        result = Solved({}, set(), 0.0)
        started = time.perf_counter()
        for i, objective in enumerate(stages):
            left = limit_s - (time.perf_counter() - started)
            solver.parameters.max_time_in_seconds = max(left / (len(stages) - i), 0.01)
            model.minimize(objective)
            status = solver.solve(model)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            value = round(solver.objective_value)
            result.stages += 1
            result.proven += status == cp_model.OPTIMAL
            result.values.append(value)
            model.add(objective <= value)  # the next stages keep this one's best
            self._keep_solution(solver, result)
        if not result.stages:
            return None
        result.seconds = time.perf_counter() - started
        return result

    def _keep_solution(self, solver: cp_model.CpSolver, result: Solved) -> None:
        """The stage's best plan: in `result`, and as the next stage's hint."""
        self.model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in ortools 9.15
        result.at_risk.clear()
        for task_id, task in self.tasks.items():
            for chunk in task.chunks:
                self.model.add_hint(chunk.present, solver.boolean_value(chunk.present))
                self.model.add_hint(chunk.size, solver.value(chunk.size))
                self.model.add_hint(chunk.start, solver.value(chunk.start))
            result.blocks[task_id] = [
                (solver.value(c.start), solver.value(c.end))
                for c in task.chunks
                if solver.boolean_value(c.present)
            ]
            if task.risk is not None and solver.boolean_value(task.risk):
                result.at_risk.add(task_id)


def improve(data: PlanInput, greedy: Plan, *, limit_s: float, workers: int = 2) -> Plan | None:
    """A plan with fewer tasks at risk than the greedy's (module docstring), or None."""
    if not greedy.at_risk or limit_s <= 0:
        return None
    notice = data.now + data.notice
    fixed = [b for b in greedy.keep if b.start < notice]
    closed = [(b.start, b.end) for b in greedy.bookings]
    built = Model(data, fixed=fixed, closed=closed)
    if any(len(t.chunks) >= MAX_CHUNKS for t in built.tasks.values()):
        return None  # a task the model cannot book whole: the greedy's plan stands
    built.hint([b for b in greedy.blocks if b not in fixed])
    stored = [b for b in data.blocks if b.start >= notice]
    stages = [*built.objectives(), built.staying(stored), built.tidy()]
    solved = built.solve(stages, limit_s=limit_s, workers=workers)
    if solved is None:
        return None
    better = _settled(data, _plan_of(data, greedy, fixed, built.base, solved))
    return better if _better(data.tasks, better, greedy) else None


def _settled(data: PlanInput, proposal: Plan) -> Plan:
    """The solver's plan as the greedy re-plans it once booked: the plan the next re-plan
    keeps (no tug of war between the two). The greedy keeps what still fits, and a task
    short of its due books as far as it goes as the greedy books it (a stage stopped by its
    time limit may leave it less); habits' bookings are placed around the new blocks."""
    fresh = {f"{_NEW}{i}": block for i, block in enumerate(proposal.add)}
    booked = [*proposal.keep, *(replace(b, id=key) for key, b in fresh.items())]
    again = plan(replace(data, blocks=booked))
    keep = [b for b in again.keep if b.id not in fresh]
    add = [replace(b, id=None) for b in again.keep if b.id in fresh]
    add = sorted([*add, *again.add], key=lambda b: (b.start, b.task_id))
    remove = [*proposal.remove, *(b for b in again.remove if b.id not in fresh)]
    return Plan(
        keep=keep,
        add=add,
        remove=list({b.id: b for b in remove}.values()),
        at_risk=again.at_risk,
        keep_bookings=again.keep_bookings,
        add_bookings=again.add_bookings,
        remove_bookings=again.remove_bookings,
    )


def _plan_of(data: PlanInput, greedy: Plan, fixed: list[Block], base: int, solved: Solved) -> Plan:
    """The solver's blocks as a plan against what is stored: a block the calendar has
    already (same task, start and end) is kept with its id, the others are added, and the
    stored blocks not kept are removed."""
    stored = {(b.task_id, b.start, b.end): b for b in data.blocks if b.id}
    keep = list(fixed)
    add: list[Block] = []
    for task_id, spans in solved.blocks.items():
        for a, b in spans:
            block = Block(task_id, at_cell(base + a), at_cell(base + b))
            same = stored.get((task_id, block.start, block.end))
            if same is not None and same not in keep:
                keep.append(same)
            else:
                add.append(block)
    kept = {b.id for b in keep if b.id}
    remove = [b for b in greedy.remove if b.id not in kept]
    remove += [b for b in data.blocks if b.id not in kept and b not in remove]
    add.sort(key=lambda b: (b.start, b.task_id))
    return Plan(keep=keep, add=add, remove=remove, at_risk=solved.at_risk)


def standing(tasks: Sequence[TaskSpec], plan: Plan) -> list[tuple[int, int]]:
    """Per priority, most important first: (tasks at risk, minus the minutes booked)."""
    booked: dict[str, int] = {}
    for block in plan.blocks:
        booked[block.task_id] = booked.get(block.task_id, 0) + block.minutes
    by: dict[int, list[int]] = {}
    for task in tasks:
        risk, minutes = by.setdefault(task.priority, [0, 0])
        by[task.priority] = [risk + (task.id in plan.at_risk), minutes - booked.get(task.id, 0)]
    return [(risk, minutes) for _, (risk, minutes) in sorted(by.items())]


def _better(tasks: Sequence[TaskSpec], new: Plan, old: Plan) -> bool:
    """Whether `new` leaves fewer tasks at risk at the first priority where the two differ
    in it, and books no priority before that one less."""
    for (risk, minutes), (was_risk, was_minutes) in zip(
        standing(tasks, new), standing(tasks, old), strict=True
    ):
        if risk != was_risk:
            return risk < was_risk
        if minutes > was_minutes:
            return False
    return False


def _cells(block: Block) -> int:
    return cell_of(block.end, up=True) - cell_of(block.start)


def _chunk(
    model: cp_model.CpModel,
    name: str,
    bounds: tuple[int, int],
    sizes: tuple[int, int],
    *,
    short: bool = False,
) -> Chunk:
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
    return Chunk(start, size, end, present, short, most + 1 if short else least)

"""The planner's core: where a user's tasks go in their calendar. Pure: no I/O.

Given the user's working windows and zone, their busy time, the tasks' open work and the
blocks already booked, `plan()` says which blocks to keep, which to add and which to
remove, and which tasks are at risk. The rules (operations/README.md, "Tasks and the
planner"):

Time
    Everything sits on the quarter-hour grid, counted in *cells* of 15 minutes since the
    epoch. Every UTC offset in use is a multiple of 15 minutes, so the UTC grid is the
    user's local one (09:15 in Kathmandu is 03:30 UTC). A cell is *open* when it lies
    wholly inside one of the working windows' occurrences (converted date by date in the
    user's zone, so 09:00-17:00 stays 09:00-17:00 across DST; `slots.window_occurrences`)
    and overlaps no busy interval.

Blocks
    A block is [start, end) of one task, on whole cells, inside open cells, overlapping no
    other block, starting no earlier than the task's `not_before` and ending by its `due`.
    It lasts between the task's min and max chunk; one block of a task may be shorter than
    the min chunk, and only when it is what remains of the work. New blocks start no sooner
    than `now + notice`.

Order
    Tasks are placed one after another by priority (1 first), then the sooner due (none:
    last), then `rank` (the caller's tie-break: creation). Each takes the earliest open
    cells it may use (earliest-due-first within a priority: work is done as soon as it can).

Stability
    First, every booked block that still fits (the rules above, against busy time and the
    blocks of tasks before it) is kept where it is, in task order; a block that no longer
    fits is removed. Then each task books what its kept blocks leave of its work in the
    time nobody holds. Only when that would leave a task short of its `due` may it take
    time held by the kept blocks of tasks after it (priority wins): those blocks are
    removed, and their tasks book again in turn. So re-planning an unchanged input
    changes nothing, and a new busy event moves only the blocks it hits unless a task
    would otherwise miss its due.

At risk
    A task whose work is not all booked by its `due` (or whose due has passed with work
    left) is at risk; it keeps what could be booked. A task without a due is never at
    risk: what does not fit in the horizon is booked as the horizon rolls forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from graphql_api.scheduling.slots import Window, window_occurrences

CELL_MINUTES = 15
_CELL_S = CELL_MINUTES * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Evict = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task's work as the planner sees it. Minutes are multiples of 15."""

    id: str
    priority: int  # 1 (P1) is the most important
    minutes: int  # the work not yet done (booked blocks that ended count as done)
    min_chunk: int
    max_chunk: int
    due: datetime | None = None
    not_before: datetime | None = None
    rank: int = 0  # the tie-break after priority and due (e.g. creation order)


@dataclass(frozen=True, slots=True)
class Block:
    """A task's booking [start, end); `id` is the stored event's, None for a new one."""

    task_id: str
    start: datetime
    end: datetime
    id: str | None = None

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds()) // 60


@dataclass(frozen=True)
class PlanInput:
    now: datetime
    horizon_end: datetime  # nothing is booked after this
    zone: ZoneInfo
    windows: Sequence[Window]
    busy: Sequence[tuple[datetime, datetime]]
    tasks: Sequence[TaskSpec]
    # The booked blocks that have not ended (a block under way is kept as it is).
    blocks: Sequence[Block] = ()
    notice: timedelta = timedelta(minutes=30)


@dataclass
class Plan:
    keep: list[Block] = field(default_factory=list)
    add: list[Block] = field(default_factory=list)
    remove: list[Block] = field(default_factory=list)
    at_risk: set[str] = field(default_factory=set)

    @property
    def blocks(self) -> list[Block]:
        """What the calendar holds once the plan is applied, by start."""
        return sorted([*self.keep, *self.add], key=lambda b: (b.start, b.task_id))

    def booked_minutes(self, task_id: str) -> int:
        return sum(b.minutes for b in self.blocks if b.task_id == task_id)


def order_key(task: TaskSpec) -> tuple[int, int, datetime, int, str]:
    """Priority, then the sooner due (none last), then rank."""
    due = task.due.astimezone(UTC) if task.due else datetime.max.replace(tzinfo=UTC)
    return (task.priority, task.due is None, due, task.rank, task.id)


def cell_of(instant: datetime, *, up: bool = False) -> int:
    """The cell holding `instant` (the next whole cell with `up`)."""
    seconds = int((instant - _EPOCH).total_seconds())
    cell, rest = divmod(seconds, _CELL_S)
    return cell + 1 if up and rest else cell


def at_cell(cell: int) -> datetime:
    return _EPOCH + timedelta(seconds=cell * _CELL_S)


@dataclass
class _Task:
    spec: TaskSpec
    owner: int  # its place in the order, from 1
    lo: int  # first cell a new block may start in
    hi: int  # cells end here (exclusive): the due or the horizon
    min_cells: int
    max_cells: int
    need: int  # cells of work
    kept: list[tuple[int, int, Block]] = field(default_factory=list)
    added: list[tuple[int, int]] = field(default_factory=list)
    booked: int = 0  # cells of `kept` and `added`

    def keep(self, a: int, b: int, block: Block) -> None:
        self.kept.append((a, b, block))
        self.booked += b - a

    def add(self, a: int, b: int) -> None:
        self.added.append((a, b))
        self.booked += b - a


class _Calendar:
    """The cells of the horizon: which are open (`free`), and whose block holds which."""

    def __init__(self, data: PlanInput) -> None:
        self.base = cell_of(data.now)
        self.end = max(self.base, cell_of(data.horizon_end))
        size = self.end - self.base
        self.free = bytearray(size)
        self.owner = [0] * size
        start, end = at_cell(self.base), at_cell(self.end)
        for span_start, span_end in window_occurrences(data.windows, data.zone, start, end):
            a = max(cell_of(span_start, up=True), self.base) - self.base
            b = min(cell_of(span_end), self.end) - self.base
            if a < b:
                self.free[a:b] = b"\x01" * (b - a)
        for busy_start, busy_end in data.busy:
            if busy_end <= busy_start:
                continue
            a = max(cell_of(busy_start), self.base) - self.base
            b = min(cell_of(busy_end, up=True), self.end) - self.base
            if a < b:
                self.free[a:b] = bytes(b - a)
        self.open = bytes(self.free)  # open cells, whoever holds them

    def index(self, cell: int) -> int:
        return min(max(cell - self.base, 0), len(self.free))

    def hold(self, a: int, b: int, owner: int) -> None:
        self.free[a:b] = bytes(b - a)
        self.owner[a:b] = [owner] * (b - a)

    def release(self, a: int, b: int) -> None:
        self.free[a:b] = b"\x01" * (b - a)
        self.owner[a:b] = [0] * (b - a)


def plan(data: PlanInput) -> Plan:
    """Which blocks to keep, add and remove, and which tasks are at risk (module docstring)."""
    cal = _Calendar(data)
    earliest = cal.index(cell_of(data.now + data.notice, up=True))
    tasks = [_task(spec, i + 1, cal, earliest) for i, spec in enumerate(_ordered(data.tasks))]
    by_id = {t.spec.id: t for t in tasks}
    result = Plan()

    # Blocks under way stay as they are; the rest are kept where they still fit.
    waiting: dict[str, list[Block]] = {}
    for block in sorted(data.blocks, key=lambda b: (b.start, b.end, b.id or "")):
        task = by_id.get(block.task_id)
        if task is None or block.end <= data.now:
            result.remove.append(block)
        elif block.start < data.now:
            a, b = cal.index(cell_of(block.start)), cal.index(cell_of(block.end, up=True))
            cal.hold(a, b, task.owner)
            task.keep(a, b, block)
        else:
            waiting.setdefault(block.task_id, []).append(block)
    for task in tasks:
        for block in _fitting(task, waiting.pop(task.spec.id, []), cal, result):
            a, b = cal.index(cell_of(block.start)), cal.index(cell_of(block.end))
            cal.hold(a, b, task.owner)
            task.keep(a, b, block)

    for task in tasks:
        _place(task, tasks, cal, result)

    for task in tasks:
        result.keep.extend(block for _, _, block in task.kept)
        result.add.extend(
            Block(task.spec.id, at_cell(cal.base + a), at_cell(cal.base + b)) for a, b in task.added
        )
    result.add.sort(key=lambda b: (b.start, b.task_id))
    return result


def _ordered(tasks: Sequence[TaskSpec]) -> list[TaskSpec]:
    return sorted(tasks, key=order_key)


def _task(spec: TaskSpec, owner: int, cal: _Calendar, earliest: int) -> _Task:
    lo = earliest
    if spec.not_before is not None:
        lo = max(lo, cal.index(cell_of(spec.not_before, up=True)))
    hi = len(cal.free) if spec.due is None else cal.index(cell_of(spec.due))
    max_cells = max(1, spec.max_chunk // CELL_MINUTES)
    min_cells = min(max(1, spec.min_chunk // CELL_MINUTES), max_cells)
    need = max(0, -(-spec.minutes // CELL_MINUTES))
    return _Task(spec, owner, lo, hi, min_cells, max_cells, need)


def _fitting(task: _Task, blocks: list[Block], cal: _Calendar, result: Plan) -> list[Block]:
    """The task's booked blocks that still fit, in time order; the others go to `remove`."""
    fits: list[Block] = []
    total = task.booked
    low = cal.index(cell_of(task.spec.not_before, up=True)) if task.spec.not_before else 0
    for block in blocks:
        a, b = cell_of(block.start), cell_of(block.end)
        on_grid = at_cell(a) == block.start and at_cell(b) == block.end
        a, b = a - cal.base, b - cal.base
        ok = (
            on_grid
            and 0 <= a < b <= task.hi
            and a >= low
            and b - a <= task.max_cells
            and total + b - a <= task.need
            and all(cal.free[a:b])
        )
        if ok:
            fits.append(block)
            total += b - a
        else:
            result.remove.append(block)
    # One block may be shorter than the min chunk (the rest of the work: see `_unsettle`).
    short = [x for x in fits if cell_of(x.end) - cell_of(x.start) < task.min_cells][1:]
    result.remove.extend(short)
    return [x for x in fits if x not in short]


def _place(task: _Task, tasks: list[_Task], cal: _Calendar, result: Plan) -> None:
    """Books what the task's kept blocks leave of its work: in time nobody holds, then, if
    its due would be missed, also in time held by the kept blocks of later tasks."""
    _unsettle(task, cal, result)
    _book(task, cal, cal.free)
    if task.booked < task.need and task.spec.due is not None:
        owner = task.owner
        # Free cells, and the (open) ones held by later tasks' kept blocks.
        usable = bytearray(cal.free)
        for later in tasks[owner:]:
            for a, b, _ in later.kept:
                usable[a:b] = cal.open[a:b]
        _book(
            task,
            cal,
            usable,
            evict=lambda a, b: _evict(a, b, owner=owner, tasks=tasks, cal=cal, result=result),
        )
    if task.booked < task.need and task.spec.due is not None:
        result.at_risk.add(task.spec.id)


def _unsettle(task: _Task, cal: _Calendar, result: Plan) -> None:
    """A block shorter than the min chunk is the rest of the work only while the work is all
    booked: when more must be booked, it goes, and the rest is booked in proper chunks."""
    if task.booked >= task.need:
        return
    for entry in [k for k in task.kept if k[1] - k[0] < task.min_cells]:
        task.kept.remove(entry)
        task.booked -= entry[1] - entry[0]
        cal.release(entry[0], entry[1])
        result.remove.append(entry[2])


def _book(task: _Task, cal: _Calendar, usable: bytearray, evict: _Evict | None = None) -> None:
    """Books the task's missing work in the earliest `usable` cells (1), in chunks; sweeps
    again while a sweep booked something (a smaller rest may fit a gap skipped before)."""
    progress = True
    while progress and task.booked < task.need:
        progress = False
        i = usable.find(1, task.lo, task.hi)
        while i >= 0 and task.booked < task.need:
            j = usable.find(0, i, task.hi)
            j = task.hi if j < 0 else j
            # [i, j) is a run of usable cells: chunks from its start
            while task.booked < task.need:
                missing = task.need - task.booked
                length = min(task.max_cells, missing, j - i)
                if length < task.min_cells and length < missing:
                    break
                if evict is not None:
                    evict(i, i + length)
                cal.hold(i, i + length, task.owner)
                usable[i : i + length] = bytes(length)
                task.add(i, i + length)
                progress = True
                i += length
            i = usable.find(1, j, task.hi) if j < task.hi else -1


def _evict(a: int, b: int, *, owner: int, tasks: list[_Task], cal: _Calendar, result: Plan) -> None:
    """Removes the kept blocks of later tasks that [a, b) needs."""
    for cell in range(a, b):
        holder = cal.owner[cell]
        if holder <= owner:
            continue
        later = tasks[holder - 1]
        for entry in list(later.kept):
            s, e, block = entry
            if s <= cell < e:
                later.kept.remove(entry)
                later.booked -= e - s
                cal.release(s, e)
                result.remove.append(block)

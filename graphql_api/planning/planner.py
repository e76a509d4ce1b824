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
    A task that would miss its due even so (with the time it may take from the tasks after
    it, below) *yields*: it books nothing in its turn, and is placed after the other tasks
    of its priority that have a due (those that yielded in their order), before those
    without one. So a task that cannot make its due does not take the time that would let
    the next ones of its priority make theirs; among the tasks that make their due, the
    order above holds, and a task never yields to a lower priority. (Moore-Hodgson's rule
    would have the longest task so far yield instead, even one that could make its due,
    against "the sooner due first"; on bench/planner.py's users it left 0.1 fewer tasks at
    risk of 50, and P1 no better: bench/RESULTS.md, "Planner".)

Stability
    First, every booked block that still fits (the rules above, against busy time and the
    blocks of tasks before it) is kept where it is, in task order; a block that no longer
    fits is removed. Then each task books what its kept blocks leave of its work in the
    time nobody holds. Only when that would leave a task short of its `due` may it take
    time held by the kept blocks of tasks after it (priority wins): those blocks are
    removed, and their tasks book again in turn. A task yields when, booked from scratch
    in every cell it may use (time nobody holds, its own kept blocks, those of the tasks
    after it and the habits' bookings), it would still miss its due: the same cells in a
    first plan and in a re-plan of it (only the blocks of the tasks before it are not
    among them), so the same answer; one that makes its due only when booked so is booked
    so (its kept blocks moved). Time a task leaves in its turn (what it did not need of
    a booking or a later block it took, its own blocks it moved) is time nobody holds
    for the tasks after it; the tasks without a due before it that are short of their
    work book in what of it is left once the habits have booked again (in order, in time
    nobody holds), as they would in a re-plan, where nobody holds it from the start. So
    re-planning an unchanged input changes nothing, and a new busy event moves only the
    blocks it hits unless a task would otherwise miss its due.

At risk
    A task whose work is not all booked by its `due` (or whose due has passed with work
    left) is at risk; it keeps what could be booked (having yielded: what the others of
    its priority with a due leave, as far as it goes). A task without a due is never at
    risk: what does not fit in the horizon is booked as the horizon rolls forward.

Habits (`HabitSpec`, auto-scheduled)
    A habit gets `times` *bookings* of its `minutes` per period: the user's local day,
    ISO week (Monday to Sunday) or calendar month, by `per`. A booking starts on the grid,
    lies wholly inside one occurrence of the habit's windows (converted date by date in
    the user's zone, as working hours are), ends by `habits_until` (the 14 days ahead),
    holds whole cells (a 20-minute booking holds two) and overlaps no busy time, no block
    and no other booking; a habit has at most one booking a local day (one check-in a
    day). Its bookings outside the plan (`counted`: booked or moved by hand, past, or
    deleted by the user: skipped) count toward their period and take their day. A period
    wholly inside the horizon gets what the counted ones leave of `times`; one the horizon
    cuts gets that in proportion to the part of it the horizon covers (rounded down), the
    rest as the horizon rolls on. New
    bookings go at the best-scored starts (`scores`: the recommender's, given by the
    caller; an unscored start ranks last; ties to the earlier start).

    Order: P1 tasks, then habits (by `rank`), then the other tasks, in both the keeping
    and the booking above. So a task comes before a habit that wants the same time only
    when it is P1 or would otherwise miss its due: a task short of its due may also take
    the time of any habit's booking (which is then removed and booked again where time is
    left, once all tasks are placed). Bookings are kept as blocks are: a booking that
    still fits (its habit's windows, busy time, the blocks and bookings before it, its
    period not over its count, its day not taken) stays where it is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from graphql_api.scheduling.slots import Window, window_occurrences

CELL_MINUTES = 15
_CELL_S = CELL_MINUTES * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


@dataclass(frozen=True, slots=True)
class HabitSpec:
    """An auto-scheduled habit as the planner sees it (module docstring, "Habits")."""

    id: str
    minutes: int  # each booking's length (not necessarily on the quarter hour)
    times: int  # bookings per period
    per: str  # DAY | WEEK | MONTH
    windows: Sequence[Window]
    # The recommender's score of each start (UTC); higher is better.
    scores: Mapping[datetime, float] = field(default_factory=dict)
    # Starts of its bookings the plan does not move (by hand, or already past), and of
    # those the user deleted (skipped): each counts toward its period and takes its day.
    counted: Sequence[datetime] = ()
    rank: int = 0  # the order among habits (e.g. creation)


@dataclass(frozen=True, slots=True)
class Booking:
    """A habit's booking [start, end); `id` is the stored event's, None for a new one."""

    habit_id: str
    start: datetime
    end: datetime
    id: str | None = None


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
    habits: Sequence[HabitSpec] = ()
    # The planner's bookings of habits that have not ended (one under way stays as it is).
    bookings: Sequence[Booking] = ()
    habits_until: datetime | None = None  # habits are booked up to here (default: horizon)


@dataclass
class Plan:
    keep: list[Block] = field(default_factory=list)
    add: list[Block] = field(default_factory=list)
    remove: list[Block] = field(default_factory=list)
    at_risk: set[str] = field(default_factory=set)
    keep_bookings: list[Booking] = field(default_factory=list)
    add_bookings: list[Booking] = field(default_factory=list)
    remove_bookings: list[Booking] = field(default_factory=list)

    @property
    def bookings(self) -> list[Booking]:
        """The habits' bookings once the plan is applied, by start."""
        return sorted(
            [*self.keep_bookings, *self.add_bookings], key=lambda b: (b.start, b.habit_id)
        )

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
    running: int = 0  # cells of its blocks under way, whole: they stay as they are

    def keep(self, a: int, b: int, block: Block) -> None:
        self.kept.append((a, b, block))
        self.booked += b - a

    def add(self, a: int, b: int) -> None:
        self.added.append((a, b))
        self.booked += b - a


class Cells:
    """The cells of the horizon: which are open (`free`: working hours, no busy time, nobody
    holds them), which are `idle` (no busy time, nobody holds them: where habits may go),
    and whose block or booking holds which (`owner`)."""

    def __init__(self, data: PlanInput) -> None:
        self.now = data.now
        self.base = cell_of(data.now)
        self.end = max(self.base, cell_of(data.horizon_end))
        size = self.end - self.base
        self.free = bytearray(size)
        # 1 where a window occurrence begins: occurrences of two dates may touch (Monday
        # 14:00-24:00, Tuesday 00:00-01:00), but no block spans both.
        self.breaks = bytearray(size)
        self.idle = bytearray(b"\x01") * size
        self.owner = [0] * size
        start, end = at_cell(self.base), at_cell(self.end)
        for span_start, span_end in window_occurrences(data.windows, data.zone, start, end):
            a = max(cell_of(span_start, up=True), self.base) - self.base
            b = min(cell_of(span_end), self.end) - self.base
            if a < b:
                self.free[a:b] = b"\x01" * (b - a)
                self.breaks[a] = 1
        for busy_start, busy_end in data.busy:
            if busy_end <= busy_start:
                continue
            a = max(cell_of(busy_start), self.base) - self.base
            b = min(cell_of(busy_end, up=True), self.end) - self.base
            if a < b:
                self.free[a:b] = bytes(b - a)
                self.idle[a:b] = bytes(b - a)
        self.open = bytes(self.free)  # open cells, whoever holds them
        self.clear = bytes(self.idle)  # cells without busy time, whoever holds them

    def waiting(self, block: Block) -> bool:
        """Whether the block has not begun: one under way stays as it is, for everyone."""
        return block.start >= self.now

    def index(self, cell: int) -> int:
        return min(max(cell - self.base, 0), len(self.free))

    def hold(self, a: int, b: int, owner: int) -> None:
        self.free[a:b] = bytes(b - a)
        self.idle[a:b] = bytes(b - a)
        self.owner[a:b] = [owner] * (b - a)

    def release(self, a: int, b: int) -> None:
        self.free[a:b] = self.open[a:b]
        self.idle[a:b] = self.clear[a:b]
        self.owner[a:b] = [0] * (b - a)


S = TypeVar("S", Block, Booking)  # a stored block or booking
FIXED = -1  # the owner of a booking under way: no task takes its time


@dataclass
class _Habit:
    spec: HabitSpec
    owner: int
    cells: int  # cells a booking holds
    allowed: dict[int, date]  # cells a booking may start in (in a window), with their day
    ranked: list[tuple[int, date, date]]  # (start cell, day, period) best first, after notice
    period_of: Callable[[date], date]
    target: dict[date, int]  # bookings wanted in the horizon, per period
    count: dict[date, int] = field(default_factory=dict)  # kept and added, per period
    days: set[date] = field(default_factory=set)  # local days taken
    kept: list[tuple[int, Booking]] = field(default_factory=list)
    added: list[int] = field(default_factory=list)

    def take(self, day: date) -> None:
        period = self.period_of(day)
        self.days.add(day)
        self.count[period] = self.count.get(period, 0) + 1

    def give_back(self, a: int) -> None:
        day = self.allowed[a]
        period = self.period_of(day)
        self.days.discard(day)
        self.count[period] -= 1

    def room(self, a: int) -> bool:
        """Whether a booking starting at cell index `a` is wanted (day and period)."""
        day = self.allowed[a]
        period = self.period_of(day)
        return day not in self.days and self.count.get(period, 0) < self.target.get(period, 0)


class _Planner:
    def __init__(self, data: PlanInput) -> None:
        self.data = data
        self.cal = Cells(data)
        self.earliest = self.cal.index(cell_of(data.now + data.notice, up=True))
        ordered = _ordered(data.tasks)
        self.tasks = [_task(spec, i + 1, self.cal, self.earliest) for i, spec in enumerate(ordered)]
        # Each task's place in the order as it stands (by owner): priority, then 0 (a due),
        # 1 (a due, yielded) or 2 (no due), then the owner (module docstring, "Order").
        self.rank = [(t.spec.priority, 2 if t.spec.due is None else 0, t.owner) for t in self.tasks]
        self.habits = [
            _habit(spec, len(self.tasks) + i + 1, data, self.cal, self.earliest)
            for i, spec in enumerate(sorted(data.habits, key=lambda h: (h.rank, h.id)))
        ]
        self.result = Plan()
        self.keeping: list[_Task] = []  # the tasks with kept blocks
        self.freed = False  # whether a task left time in its turn (`_top_up`)

    def run(self) -> Plan:
        first = [t for t in self.tasks if t.spec.priority <= 1]
        rest = [t for t in self.tasks if t.spec.priority > 1]
        # Blocks and bookings under way stay as they are; the rest are kept where they
        # still fit: P1 tasks' first, then the habits', then the other tasks'.
        waiting = self._blocks_under_way()
        booked = self._bookings_under_way()
        for task in first:
            self._keep_blocks(task, waiting.pop(task.spec.id, []))
        for habit in self.habits:
            self._keep_bookings(habit, booked.pop(habit.spec.id, []))
        for task in rest:
            self._keep_blocks(task, waiting.pop(task.spec.id, []))
        self.keeping = [t for t in self.tasks if t.kept]  # no task keeps more from here on

        self._place_all(first)
        for habit in self.habits:
            self._fill(habit)
        self._place_all(rest)
        for habit in self.habits:  # again: bookings a task took, time a task left
            self._fill(habit)
        if self.freed:
            self._top_up()
        return self._result()

    def _result(self) -> Plan:
        cal, result = self.cal, self.result
        for task in self.tasks:
            result.keep.extend(block for _, _, block in task.kept)
            result.add.extend(
                Block(task.spec.id, at_cell(cal.base + a), at_cell(cal.base + b))
                for a, b in task.added
            )
        result.add.sort(key=lambda b: (b.start, b.task_id))
        for habit in self.habits:
            length = timedelta(minutes=habit.spec.minutes)
            result.keep_bookings.extend(booking for _, booking in habit.kept)
            for a in habit.added:
                start = at_cell(cal.base + a)
                result.add_bookings.append(Booking(habit.spec.id, start, start + length))
        result.add_bookings.sort(key=lambda b: (b.start, b.habit_id))
        return result

    def _blocks_under_way(self) -> dict[str, list[Block]]:
        """Holds the blocks under way; the others (not ended) by task."""
        cal = self.cal
        tasks = {t.spec.id: t for t in self.tasks}
        gone, under_way, waiting = _by_time(self.data.blocks, tasks, self.data.now)
        self.result.remove += gone
        for block in under_way:
            task = tasks[block.task_id]
            a, b = cal.index(cell_of(block.start)), cal.index(cell_of(block.end, up=True))
            cal.hold(a, b, task.owner)
            task.keep(a, b, block)
            # its part before now is booked too (not done: only blocks that ended are)
            whole = cell_of(block.end, up=True) - cell_of(block.start)
            task.booked += whole - (b - a)
            task.running += whole
        return waiting

    # Tasks

    def _keep_blocks(self, task: _Task, blocks: list[Block]) -> None:
        cal = self.cal
        for block in _fitting(task, blocks, cal, self.result):
            a, b = cal.index(cell_of(block.start)), cal.index(cell_of(block.end))
            cal.hold(a, b, task.owner)
            task.keep(a, b, block)

    def _place_all(self, tasks: list[_Task]) -> None:
        """Places the tasks priority by priority: those with a due in order, except that one
        which would miss its due yields (is placed after the others with a due of its
        priority, in what they leave); then those without a due."""
        for _, group in itertools.groupby(tasks, key=lambda t: t.spec.priority):
            members = list(group)
            yielded: list[_Task] = []
            for task in members:
                if task.spec.due is None:
                    continue
                if not self._place(task, may_yield=True):
                    self.rank[task.owner - 1] = (task.spec.priority, 1, task.owner)
                    yielded.append(task)
            for task in [*yielded, *(t for t in members if t.spec.due is None)]:
                self._place(task, may_yield=False)

    def _place(self, task: _Task, *, may_yield: bool) -> bool:
        """Books what the task's kept blocks leave of its work: in time nobody holds, then,
        if its due would be missed, also in time held by the kept blocks of tasks after it
        and by the habits' bookings. With `may_yield`, a task with a due books nothing when
        it would miss its due even booked from scratch in all that time and its own (False:
        it yields), and books so (its kept blocks moved) when only that makes its due."""
        if _unsettle(task, self.cal, self.result):
            self.freed = True
        if task.booked >= task.need:
            return True
        due = task.spec.due is not None
        fresh: list[tuple[int, int]] = []
        if may_yield and due:
            fresh, wider = self._from_scratch(task)
            if task.running + sum(b - a for a, b in fresh) < task.need:
                return False
            if not wider:  # every cell it may use is free: booked as the usual way would
                self._commit(task, fresh, [])
                return True
        free = bytearray(self.cal.free)
        chunks = _chunks(task, self.cal, free, task.booked)
        booked = task.booked + sum(b - a for a, b in chunks)
        taken: list[tuple[int, int]] = []
        if booked < task.need and due:
            self._takeable(task, free)
            taken = _chunks(task, self.cal, free, booked)
            booked += sum(b - a for a, b in taken)
        if booked < task.need and fresh:
            # its kept blocks and free time first fall short where a fresh start does not
            moved = [k for k in task.kept if self.cal.waiting(k[2])]
            self.freed = self.freed or bool(moved)
            for entry in moved:
                self.cal.release(entry[0], entry[1])
                self.result.remove.append(entry[2])
                task.kept.remove(entry)
            task.booked = task.running
            chunks, taken, booked = [], fresh, task.need
        self._commit(task, chunks, taken)
        if due and booked < task.need:
            self.result.at_risk.add(task.spec.id)
        return True

    def _top_up(self) -> None:
        """Time a task left in its turn (the rest of a booking or a later task's block it
        took, its own blocks it moved or unsettled) was not free when the tasks before it
        were placed. Once the habits have booked again, the tasks without a due that are
        short of their work book in what is left of it, in order, as they would in a
        re-plan (where nobody holds it from the start): so the first plan is already the
        one a re-plan keeps. (A task with a due before it could take that time then.)"""
        cal = self.cal
        free = bytearray(cal.free)
        for task in self.tasks:
            if task.spec.due is None and task.booked < task.need:
                self._commit(task, _chunks(task, cal, free, task.booked), [])

    def _from_scratch(self, task: _Task) -> tuple[list[tuple[int, int]], bool]:
        """The task's blocks booked from scratch in every cell it may use (time nobody
        holds, its own kept blocks, and what `_takeable` marks): the same cells in a first
        plan and in a re-plan of it (only the tasks before it hold any), so the same answer;
        and whether those cells are more than the free ones. No blocks when they cannot
        make its due."""
        cal = self.cal
        every = bytearray(cal.free)
        wider = self._takeable(task, every)
        for a, b, block in task.kept:
            if cal.waiting(block):  # its blocks under way stay
                every[a:b] = cal.open[a:b]
                wider = True
        if every.count(1, task.lo, max(task.lo, task.hi)) < task.need - task.running:
            return [], wider
        return _chunks(task, cal, every, task.running), wider

    def _commit(
        self, task: _Task, chunks: list[tuple[int, int]], taken: list[tuple[int, int]]
    ) -> None:
        """Books the blocks: `chunks` in free time, `taken` in time others may have held."""
        for a, b in chunks:
            self.cal.hold(a, b, task.owner)
            task.add(a, b)
        for a, b in taken:
            self._evict(a, b)
            self.cal.hold(a, b, task.owner)
            task.add(a, b)

    def _takeable(self, task: _Task, usable: bytearray) -> bool:
        """Marks in `usable` the (open) cells held by the kept blocks of the tasks after
        this one, in the order as it stands, and by the habits' bookings: what a task short
        of its due may take. Whether there were any."""
        cal, marked = self.cal, False
        rank = self.rank[task.owner - 1]
        for later in self.keeping:
            if later.kept and self.rank[later.owner - 1] > rank:
                for a, b, block in later.kept:
                    if cal.waiting(block):  # a block under way is nobody's to take
                        usable[a:b] = cal.open[a:b]
                        marked = True
        for habit in self.habits:
            for a in [*(a for a, _ in habit.kept), *habit.added]:
                usable[a : a + habit.cells] = cal.open[a : a + habit.cells]
                marked = True
        return marked

    def _evict(self, a: int, b: int) -> None:
        """Removes the kept blocks of later tasks, and the bookings, that [a, b) needs."""
        cal, result, count = self.cal, self.result, len(self.tasks)
        for cell in range(a, b):
            holder = cal.owner[cell]
            if holder <= 0:  # free, or a booking under way (never in `usable`)
                continue
            self.freed = True
            if holder > count:
                self._unbook(self.habits[holder - count - 1], cell)
                continue
            later = self.tasks[holder - 1]
            for entry in list(later.kept):
                s, e, block = entry
                if s <= cell < e:
                    later.kept.remove(entry)
                    later.booked -= e - s
                    cal.release(s, e)
                    result.remove.append(block)

    # Habits

    def _bookings_under_way(self) -> dict[str, list[Booking]]:
        """Holds the bookings under way (they count, as they are); the others by habit."""
        data, cal = self.data, self.cal
        habits = {h.spec.id: h for h in self.habits}
        gone, under_way, waiting = _by_time(data.bookings, habits, data.now)
        self.result.remove_bookings += gone
        for booking in under_way:
            a = cal.index(cell_of(booking.start))
            b = cal.index(cell_of(booking.end, up=True))
            cal.hold(a, b, FIXED)
            habits[booking.habit_id].take(booking.start.astimezone(data.zone).date())
            self.result.keep_bookings.append(booking)
        return waiting

    def _keep_bookings(self, habit: _Habit, bookings: list[Booking]) -> None:
        cal = self.cal
        length = timedelta(minutes=habit.spec.minutes)
        for booking in bookings:
            cell = cell_of(booking.start)
            a = cell - cal.base
            fits = (
                at_cell(cell) == booking.start
                and booking.end - booking.start == length
                and a in habit.allowed
                and cal.idle.find(0, a, a + habit.cells) < 0
                and habit.room(a)
            )
            if fits:
                cal.hold(a, a + habit.cells, habit.owner)
                habit.take(habit.allowed[a])
                habit.kept.append((a, booking))
            else:
                self.result.remove_bookings.append(booking)

    def _fill(self, habit: _Habit) -> None:
        """Books the habit's missing bookings at the best-scored starts where time is idle."""
        idle, cells = self.cal.idle, habit.cells
        if all(habit.count.get(p, 0) >= n for p, n in habit.target.items()):
            return
        for a, day, period in habit.ranked:
            if day in habit.days or habit.count.get(period, 0) >= habit.target.get(period, 0):
                continue
            if idle.find(0, a, a + cells) >= 0:
                continue
            self.cal.hold(a, a + cells, habit.owner)
            habit.take(day)
            habit.added.append(a)

    def _unbook(self, habit: _Habit, cell: int) -> None:
        """Removes the habit's booking that holds `cell` (a task short of its due needs it)."""
        for entry in list(habit.kept):
            a, booking = entry
            if a <= cell < a + habit.cells:
                habit.kept.remove(entry)
                habit.give_back(a)
                self.cal.release(a, a + habit.cells)
                self.result.remove_bookings.append(booking)
                return
        for a in list(habit.added):
            if a <= cell < a + habit.cells:
                habit.added.remove(a)
                habit.give_back(a)
                self.cal.release(a, a + habit.cells)
                return


def plan(data: PlanInput) -> Plan:
    """Which blocks and bookings to keep, add and remove, and which tasks are at risk (module
    docstring)."""
    return _Planner(data).run()


def _ordered(tasks: Sequence[TaskSpec]) -> list[TaskSpec]:
    return sorted(tasks, key=order_key)


def _task(spec: TaskSpec, owner: int, cal: Cells, earliest: int) -> _Task:
    lo = earliest
    if spec.not_before is not None:
        lo = max(lo, cal.index(cell_of(spec.not_before, up=True)))
    hi = len(cal.free) if spec.due is None else cal.index(cell_of(spec.due))
    max_cells = max(1, spec.max_chunk // CELL_MINUTES)
    min_cells = min(max(1, spec.min_chunk // CELL_MINUTES), max_cells)
    need = max(0, -(-spec.minutes // CELL_MINUTES))
    return _Task(spec, owner, lo, hi, min_cells, max_cells, need)


def period_start(day: date, per: str) -> date:
    """The first day of the period (local day, ISO week, calendar month) holding `day`."""
    if per == "WEEK":
        return day - timedelta(days=day.isoweekday() - 1)
    if per == "MONTH":
        return day.replace(day=1)
    return day


def period_end(start: date, per: str) -> date:
    """The first day after the period starting on `start`."""
    if per == "WEEK":
        return start + timedelta(days=7)
    if per == "MONTH":
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local date begins (a midnight skipped by a clock change: fold=0)."""
    return datetime.combine(day, time(0), tzinfo=zone).replace(fold=0).astimezone(UTC)


def _habit(spec: HabitSpec, owner: int, data: PlanInput, cal: Cells, earliest: int) -> _Habit:
    zone, now = data.zone, data.now
    until = min(data.habits_until or data.horizon_end, at_cell(cal.end))
    length = timedelta(minutes=max(1, spec.minutes))
    cells = -(-max(1, spec.minutes) // CELL_MINUTES)

    def period_of(day: date) -> date:
        return period_start(day, spec.per)

    # Where a booking may start (inside a window occurrence, ending by `until`), with its
    # local day: an occurrence lies within one local date (windows end by 24:00).
    allowed: dict[int, date] = {}
    latest = cell_of(until - length)
    for span_start, span_end in window_occurrences(spec.windows, zone, now, until):
        a = max(cell_of(span_start, up=True), cal.base)
        b = min(cell_of(span_end - length), latest, cal.end - cells)
        day = span_start.astimezone(zone).date()
        allowed.update(dict.fromkeys(range(a - cal.base, b - cal.base + 1), day))
    first = at_cell(cal.base)
    quarter = timedelta(minutes=CELL_MINUTES)
    scores = spec.scores
    ranked = sorted(
        (a for a in allowed if a >= earliest),
        key=lambda a: (-scores.get(first + a * quarter, -math.inf), a),
    )

    # Bookings wanted per period: what the counted ones leave of `times`, in proportion to
    # the part of the (rest of the) period the horizon covers when it cuts the period.
    counted: dict[date, int] = {}
    counted_days: set[date] = set()
    for at in spec.counted:
        day = at.astimezone(zone).date()
        counted_days.add(day)
        counted[period_of(day)] = counted.get(period_of(day), 0) + 1
    target: dict[date, int] = {}
    period = period_of(now.astimezone(zone).date())
    while (begins := local_midnight(period, zone)) < until:
        ends = local_midnight(period_end(period, spec.per), zone)
        left = max(0, spec.times - counted.get(period, 0))
        frm = max(begins, now)
        if ends > until and ends > frm:
            left = math.floor(left * (until - frm) / (ends - frm))
        target[period] = left
        period = period_end(period, spec.per)
    habit = _Habit(
        spec,
        owner,
        cells,
        allowed,
        [(a, allowed[a], period_of(allowed[a])) for a in ranked],
        period_of,
        target,
    )
    habit.days |= counted_days
    return habit


def _fitting(task: _Task, blocks: list[Block], cal: Cells, result: Plan) -> list[Block]:
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
            and cal.breaks.find(1, a + 1, b) < 0
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


def _unsettle(task: _Task, cal: Cells, result: Plan) -> bool:
    """A block shorter than the min chunk is the rest of the work only while the work is all
    booked: when more must be booked, it goes, and the rest is booked in proper chunks.
    Whether one went."""
    if task.booked >= task.need:
        return False
    # a block under way stays, short or not
    short = [k for k in task.kept if k[1] - k[0] < task.min_cells and cal.waiting(k[2])]
    for entry in short:
        task.kept.remove(entry)
        task.booked -= entry[1] - entry[0]
        cal.release(entry[0], entry[1])
        result.remove.append(entry[2])
    return bool(short)


def _chunks(task: _Task, cal: Cells, usable: bytearray, booked: int) -> list[tuple[int, int]]:
    """The blocks that would book the task's missing work (`need` less `booked`) in the
    earliest `usable` cells (1), in chunks, taken out of `usable`; sweeps again while a sweep
    found something (a smaller rest may fit a gap skipped before)."""
    chunks: list[tuple[int, int]] = []
    progress = True
    while progress and booked < task.need:
        progress = False
        i = usable.find(1, task.lo, task.hi)
        while i >= 0 and booked < task.need:
            j = usable.find(0, i, task.hi)
            j = task.hi if j < 0 else j
            k = cal.breaks.find(1, i + 1, j)  # a block stays inside one occurrence
            j = j if k < 0 else k
            # [i, j) is a run of usable cells: chunks from its start
            while booked < task.need:
                missing = task.need - booked
                length = min(task.max_cells, missing, j - i)
                if length < task.min_cells and length < missing:
                    break
                usable[i : i + length] = bytes(length)
                chunks.append((i, i + length))
                booked += length
                progress = True
                i += length
            i = usable.find(1, j, task.hi) if j < task.hi else -1
    return chunks


def _owner_of(stored: Block | Booking) -> str:
    return stored.task_id if isinstance(stored, Block) else stored.habit_id


def _by_time(
    stored: Sequence[S], owners: Mapping[str, object], now: datetime
) -> tuple[list[S], list[S], dict[str, list[S]]]:
    """Stored blocks or bookings, in time order: those whose owner is gone or that have
    ended, those under way, and the rest by their owner."""
    gone: list[S] = []
    under_way: list[S] = []
    waiting: dict[str, list[S]] = {}
    for item in sorted(stored, key=lambda b: (b.start, b.end, b.id or "")):
        owner = _owner_of(item)
        if owner not in owners or item.end <= now:
            gone.append(item)
        elif item.start < now:
            under_way.append(item)
        else:
            waiting.setdefault(owner, []).append(item)
    return gone, under_way, waiting

"""The planner's core (graphql_api.planning.planner): examples, then properties that hold
for any calendar, any tasks and any zone (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.planning.planner import (
    Block,
    Plan,
    PlanInput,
    TaskSpec,
    at_cell,
    cell_of,
    order_key,
    plan,
)
from graphql_api.scheduling.slots import Window, window_occurrences, windows_for

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
OFFICE = windows_for([], [(d, "09:00", "17:00") for d in range(1, 6)])
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
PROPERTY = settings(max_examples=150, deadline=None)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def task(id: str, minutes: int, priority: int = 3, **fields: object) -> TaskSpec:
    spec: dict[str, object] = {"min_chunk": 30, "max_chunk": minutes, **fields}
    return TaskSpec(id=id, priority=priority, minutes=minutes, **spec)  # type: ignore[arg-type]


def replanned(data: PlanInput, first: Plan, **changes: object) -> Plan:
    """The plan again, with the first plan's blocks booked (each with an id)."""
    booked = [
        Block(b.task_id, b.start, b.end, b.id or f"new-{i}") for i, b in enumerate(first.blocks)
    ]
    fields = {**vars(data), "blocks": booked, **changes}
    return plan(PlanInput(**fields))


def test_work_goes_into_working_hours_around_meetings_in_the_users_zone() -> None:
    # given: a Friday 09:00 in Berlin (08:00 UTC), a meeting 10:00-11:00 local, and a
    # P1 task of 2 hours in chunks of at most 1 hour
    now = utc(2026, 3, 27, 8)
    meeting = (utc(2026, 3, 27, 9), utc(2026, 3, 27, 10))
    data = PlanInput(
        now, now + 14 * DAY, BERLIN, OFFICE, [meeting], [task("t", 120, 1, max_chunk=60)]
    )

    # when
    result = plan(data)

    # then: after the 30 minutes' notice, the 30 minutes before the meeting are too short
    # for nothing (min chunk 30: they fit), and the rest goes right after the meeting
    assert [(b.start, b.end) for b in result.blocks] == [
        (utc(2026, 3, 27, 8, 30), utc(2026, 3, 27, 9)),
        (utc(2026, 3, 27, 10), utc(2026, 3, 27, 11)),
        (utc(2026, 3, 27, 11), utc(2026, 3, 27, 11, 30)),
    ]
    assert result.at_risk == set()


def test_working_hours_keep_their_local_time_across_the_dst_change() -> None:
    # given: Friday evening before Berlin moves to summer time (Sunday 29 March 2026)
    now = utc(2026, 3, 27, 17)
    data = PlanInput(now, now + 7 * DAY, BERLIN, OFFICE, [], [task("t", 60, min_chunk=60)])

    # when
    (block,) = plan(data).blocks

    # then: Monday 09:00 CEST is 07:00 UTC (it was 08:00 UTC on Friday)
    assert (block.start, block.end) == (utc(2026, 3, 30, 7), utc(2026, 3, 30, 8))


def test_priority_comes_first_then_the_sooner_due() -> None:
    # given: one free hour on Monday, wanted by three tasks
    now = utc(2026, 3, 30, 7)
    rest_of_monday = (utc(2026, 3, 30, 8, 30), utc(2026, 3, 30, 15))
    tasks = [
        task("p3", 30, 3, due=now + 5 * DAY),
        task("p2-later", 30, 2, due=now + 4 * DAY),
        task("p2-sooner", 30, 2, due=now + 3 * DAY),
    ]
    data = PlanInput(now, now + 14 * DAY, BERLIN, OFFICE, [rest_of_monday], tasks)

    # when
    result = plan(data)

    # then
    assert [b.task_id for b in result.blocks][:3] == ["p2-sooner", "p2-later", "p3"]


def test_a_task_that_cannot_be_done_by_its_due_books_what_fits_and_is_at_risk() -> None:
    # given: 3 hours of work due at noon of a day with a 2-hour meeting
    now = utc(2026, 3, 30, 6)
    due = utc(2026, 3, 30, 10)  # 12:00 in Berlin
    meeting = (utc(2026, 3, 30, 8), utc(2026, 3, 30, 9))
    data = PlanInput(now, now + 14 * DAY, BERLIN, OFFICE, [meeting], [task("t", 180, due=due)])

    # when
    result = plan(data)

    # then
    assert result.booked_minutes("t") == 120
    assert result.at_risk == {"t"}


def two_free_hours_on_monday(tasks: list[TaskSpec]) -> PlanInput:
    """Monday 30 March 2026 at 08:00 in Berlin: free 09:00-11:00, then a day of meetings."""
    now = utc(2026, 3, 30, 6)
    rest_of_monday = (utc(2026, 3, 30, 9), utc(2026, 3, 30, 15))
    return PlanInput(now, now + 14 * DAY, BERLIN, OFFICE, [rest_of_monday], tasks)


def test_a_task_that_would_miss_its_due_yields_to_the_next_of_its_priority() -> None:
    # given: two free hours on Monday before a day of meetings; 2.5 hours of P2 work due
    # at 11:00 (it cannot make it) and a P2 hour due at 17:00
    tasks = [
        task("sooner", 150, 2, due=utc(2026, 3, 30, 9)),
        task("later", 60, 2, due=utc(2026, 3, 30, 15)),
    ]

    # when
    result = plan(two_free_hours_on_monday(tasks))

    # then: the task that cannot make its due books what the other leaves, and is at risk
    # alone (booked first, it would have taken both hours and left both at risk)
    assert [(b.task_id, b.start, b.end) for b in result.blocks] == [
        ("later", utc(2026, 3, 30, 7), utc(2026, 3, 30, 8)),
        ("sooner", utc(2026, 3, 30, 8), utc(2026, 3, 30, 9)),
    ]
    assert result.at_risk == {"sooner"}


def test_a_task_that_would_miss_its_due_does_not_yield_to_a_lower_priority() -> None:
    # given: the same, the hour due at 17:00 a P3 task's
    tasks = [
        task("p2", 150, 2, due=utc(2026, 3, 30, 9)),
        task("p3", 60, 3, due=utc(2026, 3, 30, 15)),
    ]

    # when
    result = plan(two_free_hours_on_monday(tasks))

    # then: the P2 task books both hours
    assert [(b.task_id, b.start, b.end) for b in result.blocks] == [
        ("p2", utc(2026, 3, 30, 7), utc(2026, 3, 30, 9))
    ]
    assert result.at_risk == {"p2", "p3"}


def test_a_p1_task_takes_the_time_of_a_later_tasks_block_only_to_meet_its_due() -> None:
    # given: a P3 block booked on the only free hour before a new P1 task's due
    now = utc(2026, 3, 30, 6)
    booked = Block("p3", utc(2026, 3, 30, 7), utc(2026, 3, 30, 8), "e1")
    after = (utc(2026, 3, 30, 8), utc(2026, 3, 30, 15))
    tasks = [task("p3", 60), task("p1", 60, 1, due=utc(2026, 3, 30, 8))]
    data = PlanInput(now, now + 14 * DAY, BERLIN, OFFICE, [after], tasks, [booked])

    # when
    result = plan(data)

    # then: the P1 task has the hour, the P3 one moves to the next free time
    assert [(b.task_id, b.start) for b in result.blocks] == [
        ("p1", utc(2026, 3, 30, 7)),
        ("p3", utc(2026, 3, 31, 7)),
    ]
    assert result.remove == [booked]
    assert result.at_risk == set()


def test_a_block_under_way_stays_even_when_a_meeting_lands_on_it() -> None:
    now = utc(2026, 3, 30, 8, 10)
    under_way = Block("t", utc(2026, 3, 30, 8), utc(2026, 3, 30, 9), "e1")
    meeting = (utc(2026, 3, 30, 8, 30), utc(2026, 3, 30, 9))
    data = PlanInput(now, now + DAY, BERLIN, OFFICE, [meeting], [task("t", 60)], [under_way])

    result = plan(data)

    assert (result.keep, result.add, result.remove) == ([under_way], [], [])


def test_a_block_under_way_counts_whole_toward_the_work() -> None:
    # Three hours of work; a two-hour block began an hour ago (not done: only blocks that
    # ended are). One more hour is booked, not two.
    now = utc(2026, 3, 30, 9)
    under_way = Block("t", utc(2026, 3, 30, 8), utc(2026, 3, 30, 10), "e1")
    data = PlanInput(
        now, now + DAY, BERLIN, OFFICE, [], [task("t", 180, min_chunk=60)], [under_way]
    )

    result = plan(data)

    assert result.keep == [under_way]
    assert [(b.start, b.end) for b in result.add] == [(utc(2026, 3, 30, 10), utc(2026, 3, 30, 11))]


def test_a_short_block_under_way_stays_when_more_work_must_be_booked() -> None:
    # A 30-minute block under way of a task whose chunks are an hour; the task grew to two
    # hours: the block stays, and the rest is booked after it.
    now = utc(2026, 3, 30, 8, 40)
    under_way = Block("t", utc(2026, 3, 30, 8, 15), utc(2026, 3, 30, 8, 45), "e1")
    data = PlanInput(
        now, now + DAY, BERLIN, OFFICE, [], [task("t", 120, min_chunk=60)], [under_way]
    )

    result = plan(data)

    assert under_way in result.keep
    assert not result.remove
    assert result.booked_minutes("t") == 120


def test_a_block_under_way_is_not_taken_by_a_more_urgent_task() -> None:
    # Monday 10:00 UTC: a P3 task's three-hour block began at 09:00; a P1 task of 90
    # minutes due at noon has no other time before its due. The block under way stays
    # whole (the user is in it), and the P1 task is at risk; a re-plan keeps both so.
    now = utc(2026, 3, 30, 10)
    under_way = Block("b", utc(2026, 3, 30, 9), utc(2026, 3, 30, 12), "e1")
    urgent = task("a", 90, 1, due=utc(2026, 3, 30, 12))
    slow = task("b", 180, 3, due=utc(2026, 3, 30, 14), max_chunk=180)
    data = PlanInput(now, now + DAY, UTC_ZONE, OFFICE, [], [urgent, slow], [under_way])

    result = plan(data)

    assert result.keep == [under_way]
    assert not result.remove
    assert result.booked_minutes("b") == 180
    assert result.at_risk == {"a"}
    again = replanned(data, result)
    assert (again.add, again.remove, again.at_risk) == ([], [], {"a"})


# Properties

ZONES = st.sampled_from(
    [BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kathmandu"), ZoneInfo("UTC")]
)
QUARTERS = st.integers(1, 16).map(lambda n: n * 15)


@st.composite
def windows(draw: st.DrawFn) -> list[Window]:
    if draw(st.booleans()):
        return OFFICE
    hours = []
    for weekday in draw(st.sets(st.integers(1, 7), min_size=1, max_size=7)):
        start = draw(st.integers(0, 20))
        end = draw(st.integers(start + 1, 24))
        minute = draw(st.sampled_from(["00", "10", "30", "45"]))
        hours.append((weekday, f"{start:02}:{minute}", f"{end:02}:00" if end < 24 else "24:00"))
    return windows_for([], hours)


@st.composite
def tasks(draw: st.DrawFn, now: datetime, *, dues: bool = True, chunks: bool = True) -> TaskSpec:
    minutes = draw(QUARTERS.map(lambda m: m * draw(st.integers(1, 3))))
    min_chunk = draw(QUARTERS) if chunks else 15
    max_chunk = draw(st.integers(1, 40).map(lambda n: n * 15)) if chunks else minutes
    due = None
    if dues and draw(st.booleans()):
        due = now + timedelta(minutes=15 * draw(st.integers(0, 7 * 96)))
    not_before = None
    if draw(st.booleans()):
        not_before = now + timedelta(minutes=draw(st.integers(-600, 5 * 24 * 60)))
    return TaskSpec(
        id="",
        priority=draw(st.integers(1, 4)),
        minutes=minutes,
        min_chunk=min(min_chunk, max_chunk),
        max_chunk=max_chunk,
        due=due,
        not_before=not_before,
        rank=draw(st.integers(0, 3)),
    )


@st.composite
def inputs(draw: st.DrawFn, *, dues: bool = True, chunks: bool = True) -> PlanInput:
    now = utc(2026, 1, 1) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))
    busy = []
    for _ in range(draw(st.integers(0, 12))):
        start = now + timedelta(minutes=draw(st.integers(-120, 7 * 24 * 60)))
        busy.append((start, start + timedelta(minutes=draw(st.integers(0, 240)))))
    return PlanInput(
        now=now,
        horizon_end=now + 7 * DAY,
        zone=draw(ZONES),
        windows=draw(windows()),
        busy=busy,
        tasks=[
            replace(spec, id=f"t{i}")
            for i, spec in enumerate(
                draw(st.lists(tasks(now, dues=dues, chunks=chunks), min_size=1, max_size=6))
            )
        ],
    )


@st.composite
def crowded(draw: st.DrawFn, *, chunks: bool = True, starts: bool = True) -> PlanInput:
    """Tasks of one priority competing for the next three days: each with a due in them
    (and without a `notBefore` unless `starts`)."""
    data: PlanInput = draw(inputs(chunks=chunks))
    specs = [
        replace(
            spec,
            priority=2,
            due=data.now + timedelta(minutes=15 * draw(st.integers(0, 3 * 96))),
            not_before=spec.not_before if starts else None,
        )
        for spec in data.tasks
    ]
    return replace(data, tasks=specs)


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def joined(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Working hours as the user has them: a window that ends where the next begins
    (Thursday until midnight, Friday from midnight) is one stretch of time."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def check(data: PlanInput, result: Plan) -> None:
    """Every rule a plan of new blocks keeps."""
    blocks = result.blocks
    occurrences = joined(window_occurrences(data.windows, data.zone, data.now, data.horizon_end))
    specs = {t.id: t for t in data.tasks}
    for first, second in pairwise(blocks):
        assert first.end <= second.start, "blocks overlap"
    for block in blocks:
        spec = specs[block.task_id]
        span = (block.start, block.end)
        assert not any(overlaps(span, b) for b in data.busy if b[0] < b[1]), "over busy time"
        assert any(s <= block.start and block.end <= e for s, e in occurrences), "outside hours"
        assert at_cell(cell_of(block.start)) == block.start, "off the grid"
        assert at_cell(cell_of(block.end)) == block.end, "off the grid"
        assert block.start >= data.now + data.notice, "inside the minimum notice"
        assert spec.not_before is None or block.start >= spec.not_before, "before notBefore"
        assert spec.due is None or block.end <= spec.due, "after the due"
        assert block.end <= data.horizon_end
        assert 0 < block.minutes <= spec.max_chunk, "longer than the max chunk"
    for spec in data.tasks:
        booked = result.booked_minutes(spec.id)
        assert booked <= spec.minutes
        least = min(spec.min_chunk, spec.minutes)
        short = [b for b in blocks if b.task_id == spec.id and b.minutes < least]
        assert len(short) <= 1, "two blocks shorter than the min chunk"
        assert not short or booked == spec.minutes, "a short block that is not the rest"
        if spec.due is not None:
            assert (booked == spec.minutes) == (spec.id not in result.at_risk)
        else:
            assert spec.id not in result.at_risk


@PROPERTY
@given(st.one_of(inputs(), crowded()))
def test_every_plan_keeps_the_rules(data: PlanInput) -> None:
    check(data, plan(data))


@PROPERTY
@given(st.one_of(inputs(chunks=False), crowded(chunks=False)))
def test_a_task_at_risk_loses_time_only_to_those_of_its_priority_that_make_their_due(
    data: PlanInput,
) -> None:
    # given: chunks of any length (a single quarter hour is a chunk), so any open cell
    # before its due could have served a task at risk
    result = plan(data)
    order = sorted(data.tasks, key=order_key)
    for i, spec in enumerate(order):
        if spec.id not in result.at_risk or spec.due is None:
            continue
        start = max(data.now + data.notice, spec.not_before or data.now)
        start = at_cell(cell_of(start, up=True))  # the first quarter hour it may start
        # the tasks after it, but those of its priority that make their due (it yielded)
        later = {
            t.id
            for t in order[i + 1 :]
            if t.priority > spec.priority or t.due is None or t.id in result.at_risk
        }
        due = at_cell(cell_of(spec.due))  # the last quarter hour that ends by the due
        if due <= start:  # no quarter hour it may start in ends by its due: none to lose
            continue
        # then
        assert not [
            b
            for b in result.blocks
            if b.task_id in later and overlaps((b.start, b.end), (start, due))
        ]


@PROPERTY
@given(st.one_of(inputs(), crowded()))
def test_planning_an_unchanged_input_again_changes_nothing(data: PlanInput) -> None:
    first = plan(data)
    again = replanned(data, first)
    assert (again.add, again.remove) == ([], [])
    assert again.at_risk == first.at_risk
    check(data, again)


@PROPERTY
@given(st.one_of(inputs(), crowded()), st.integers(1, 96), st.data())
def test_blocks_under_way_stay_whole_and_count_as_time_passes(
    data: PlanInput, quarters: int, draw: st.DataObject
) -> None:
    # given: a plan booked, then some quarter hours pass (into some of its blocks), and
    # perhaps an urgent task comes
    first = plan(data)
    booked = replanned(data, first).blocks
    now = data.now + quarters * timedelta(minutes=15)
    specs = data.tasks
    if draw.draw(st.booleans()):
        urgent = draw.draw(tasks(now))
        due = now + timedelta(minutes=15 * draw.draw(st.integers(1, 96)))
        specs = [*specs, replace(urgent, id="urgent", priority=1, due=due)]
    later = replace(data, now=now, tasks=specs, blocks=booked)

    # when
    result = plan(later)

    # then: the blocks under way stay as they are, and a task is at risk exactly when its
    # blocks (those under way whole) fall short of its work; another re-plan keeps it so
    under_way = [b for b in booked if b.start < later.now < b.end]
    assert all(b in result.keep for b in under_way)
    for first_, second in pairwise(result.blocks):
        assert first_.end <= second.start, "blocks overlap"
    for spec in later.tasks:
        if spec.due is not None:
            complete = result.booked_minutes(spec.id) == spec.minutes
            assert complete == (spec.id not in result.at_risk)
    again = replanned(later, result)
    assert (again.add, again.remove, again.at_risk) == ([], [], result.at_risk)


@PROPERTY
@given(inputs(dues=False), st.data())
def test_a_new_busy_event_moves_only_the_blocks_it_hits(
    data: PlanInput, draw: st.DataObject
) -> None:
    # given: a plan, then a meeting somewhere in the horizon
    first = plan(data)
    start = data.now + timedelta(minutes=draw.draw(st.integers(0, 7 * 24 * 60)))
    meeting = (start, start + timedelta(minutes=draw.draw(st.integers(15, 180))))

    # when
    again = replanned(data, first, busy=[*data.busy, meeting])

    # then: the blocks it hits move, and with them the short rest-of-the-work block of a
    # task it hit (the rest is booked again in whole chunks)
    specs = {t.id: t for t in data.tasks}
    hit = {b.task_id for b in first.blocks if overlaps((b.start, b.end), meeting)}
    moved = {
        f"new-{i}"
        for i, b in enumerate(first.blocks)
        if overlaps((b.start, b.end), meeting)
        or (b.task_id in hit and b.minutes < specs[b.task_id].min_chunk)
    }
    assert {b.id or "" for b in again.remove} <= moved
    assert {b.id or "" for b in again.remove} >= {
        f"new-{i}" for i, b in enumerate(first.blocks) if overlaps((b.start, b.end), meeting)
    }
    check(replace(data, busy=[*data.busy, meeting]), again)


@PROPERTY
@given(inputs(chunks=False))
def test_a_task_alone_is_at_risk_exactly_when_its_time_is_too_short(data: PlanInput) -> None:
    # given: one task, chunks of any length; the open quarter hours before its due,
    # counted one by one (an oracle that knows nothing of the planner's cells)
    spec = data.tasks[0]
    data = replace(data, tasks=[spec])
    occurrences = window_occurrences(data.windows, data.zone, data.now, data.horizon_end)
    quarter = timedelta(minutes=15)
    t = at_cell(cell_of(max(data.now + data.notice, spec.not_before or data.now), up=True))
    end = min(spec.due or data.horizon_end, data.horizon_end)
    open_minutes = 0
    while t + quarter <= end:
        span = (t, t + quarter)
        inside = any(s <= t and t + quarter <= e for s, e in occurrences)
        if inside and not any(overlaps(span, b) for b in data.busy if b[0] < b[1]):
            open_minutes += 15
        t += quarter

    # when
    result = plan(data)

    # then
    assert result.booked_minutes(spec.id) == min(spec.minutes, open_minutes)
    if spec.due is not None and spec.due <= data.horizon_end:
        assert (spec.id in result.at_risk) == (open_minutes < spec.minutes)


def open_quarters(data: PlanInput, start: datetime, end: datetime) -> list[datetime]:
    """The quarter hours in [start, end) inside working hours and off busy time, counted one
    by one (an oracle that knows nothing of the planner's cells)."""
    occurrences = window_occurrences(data.windows, data.zone, data.now, data.horizon_end)
    quarter = timedelta(minutes=15)
    found = []
    t = at_cell(cell_of(start, up=True))
    while t + quarter <= min(end, data.horizon_end):
        span = (t, t + quarter)
        inside = any(s <= t and t + quarter <= e for s, e in occurrences)
        if inside and not any(overlaps(span, b) for b in data.busy if b[0] < b[1]):
            found.append(t)
        t += quarter
    return found


def earliest_due_first_at_risk(data: PlanInput) -> int:
    """Tasks at risk when each, in due order, takes the earliest open quarter hours before
    its due that the ones before it left, as far as they go (no task yields)."""
    taken: set[datetime] = set()
    at_risk = 0
    for spec in sorted(data.tasks, key=order_key):
        assert spec.due is not None
        free = [q for q in open_quarters(data, data.now + data.notice, spec.due) if q not in taken]
        mine = free[: spec.minutes // 15]
        taken.update(mine)
        at_risk += len(mine) * 15 < spec.minutes
    return at_risk


@PROPERTY
@given(crowded(chunks=False, starts=False))
def test_yielding_leaves_no_more_tasks_at_risk_than_earliest_due_first(data: PlanInput) -> None:
    # given: one priority, every task with a due, chunks of any length, no notBefore
    # when
    result = plan(data)

    # then
    assert len(result.at_risk) <= earliest_due_first_at_risk(data)


@PROPERTY
@given(crowded(chunks=False, starts=False))
def test_the_tasks_that_make_their_due_are_worked_in_due_order(data: PlanInput) -> None:
    # given: one priority, every task with a due, chunks of any length, no notBefore
    # when
    result = plan(data)

    # then: of two tasks that make their due, the sooner due's blocks all come first
    made = [s.id for s in sorted(data.tasks, key=order_key) if s.id not in result.at_risk]
    spans = {
        task_id: [(b.start, b.end) for b in result.blocks if b.task_id == task_id]
        for task_id in made
    }
    for sooner, later in pairwise(t for t in made if spans[t]):
        assert max(e for _, e in spans[sooner]) <= min(s for s, _ in spans[later])


@PROPERTY
@given(crowded(chunks=False, starts=False))
def test_a_task_is_at_risk_only_when_the_tasks_before_it_that_make_their_due_leave_too_little(
    data: PlanInput,
) -> None:
    # given: one priority, every task with a due, chunks of any length, no notBefore
    # when
    result = plan(data)

    # then: what the tasks before it that make their due booked (not those at risk: they
    # yielded) leaves it less time before its due than its work
    order = sorted(data.tasks, key=order_key)
    for i, spec in enumerate(order):
        if spec.id not in result.at_risk:
            continue
        assert spec.due is not None
        made = {t.id for t in order[:i] if t.id not in result.at_risk}
        held = {
            b.start + k * timedelta(minutes=15)
            for b in result.blocks
            if b.task_id in made
            for k in range(b.minutes // 15)
        }
        left = [q for q in open_quarters(data, data.now + data.notice, spec.due) if q not in held]
        assert len(left) * 15 < spec.minutes

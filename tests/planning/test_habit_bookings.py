"""Auto-scheduled habits in the planner's core (graphql_api.planning.planner): examples, then
properties for any calendar, tasks, habits and zone (hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.planning.planner import (
    CELL_MINUTES,
    Block,
    Booking,
    HabitSpec,
    Plan,
    PlanInput,
    TaskSpec,
    at_cell,
    cell_of,
    plan,
)
from graphql_api.scheduling.slots import Window, window_occurrences, windows_for
from tests.planning.test_planner import crowded, inputs, overlaps, task

BERLIN = ZoneInfo("Europe/Berlin")
DAY = timedelta(days=1)
MORNINGS = windows_for([(range(1, 8), "07:00", "09:00")], [])
PROPERTY = settings(max_examples=120, deadline=None)
Span = tuple[datetime, datetime]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(at: datetime, zone: ZoneInfo = BERLIN) -> tuple[date, time]:
    moment = at.astimezone(zone)
    return moment.date(), moment.time()


def habit(id: str, times: int, per: str, **fields: object) -> HabitSpec:
    spec: dict[str, object] = {"minutes": 30, "windows": MORNINGS, **fields}
    return HabitSpec(id=id, times=times, per=per, **spec)  # type: ignore[arg-type]


def prefer(
    zone: ZoneInfo, clock: time, weekdays: set[int], days: int = 20
) -> dict[datetime, float]:
    """Scores that like `clock` local time on these weekdays (0.9), and nothing else much."""
    scores: dict[datetime, float] = {}
    start = utc(2026, 3, 20)
    for quarter in range(days * 96):
        at = start + timedelta(minutes=15 * quarter)
        moment = at.astimezone(zone)
        liked = moment.time() == clock and moment.isoweekday() in weekdays
        scores[at] = 0.9 if liked else 0.5 - quarter / 1e6  # earlier is slightly better
    return scores


def test_bookings_go_at_the_best_ranked_starts_in_local_time_across_dst() -> None:
    # given: Thursday 26 March 2026 in Berlin (summer time from Sunday 29th); a 3-a-week
    # habit the recommender likes at 07:30 on Tuesdays, Thursdays and Saturdays
    now = utc(2026, 3, 26, 5)  # 06:00 in Berlin
    spec = habit("run", 3, "WEEK", scores=prefer(BERLIN, time(7, 30), {2, 4, 6}))
    data = PlanInput(now, now + 14 * DAY, BERLIN, [], [], [], habits=[spec])

    # when
    result = plan(data)

    # then: this week (Mon 23 to Sun 29) has three days left of its days, so Thursday and
    # Saturday at 07:30 and one more (the best of the rest: Friday's earliest); next week
    # Tuesday, Thursday and Saturday; the week the horizon cuts (Mon 6 to Thu 9 April, 4 of
    # its 7 days) gets 3 * 4/7 rounded down: one, Tuesday 7 April
    assert [local(b.start) for b in result.bookings] == [
        (date(2026, 3, 26), time(7, 30)),
        (date(2026, 3, 27), time(7, 0)),
        (date(2026, 3, 28), time(7, 30)),
        (date(2026, 3, 31), time(7, 30)),
        (date(2026, 4, 2), time(7, 30)),
        (date(2026, 4, 4), time(7, 30)),
        (date(2026, 4, 7), time(7, 30)),
    ]
    # and 07:30 on Tuesday 31 March is 05:30 UTC (summer time), 06:30 UTC on Thursday 26th
    assert result.bookings[0].start == utc(2026, 3, 26, 6, 30)
    assert result.bookings[3].start == utc(2026, 3, 31, 5, 30)
    assert all(b.end - b.start == timedelta(minutes=30) for b in result.bookings)


def test_bookings_by_hand_count_toward_their_period_and_take_their_day() -> None:
    # given: a 2-a-week habit, booked by hand on Monday 30 March already
    now = utc(2026, 3, 30, 4)
    spec = habit("read", 2, "WEEK", counted=[utc(2026, 3, 30, 5)])
    data = PlanInput(now, now + 7 * DAY, BERLIN, [], [], [], habits=[spec], notice=timedelta(0))

    # when
    result = plan(data)

    # then: one more this week, not on Monday (the earliest start of Tuesday)
    assert [local(b.start) for b in result.bookings] == [(date(2026, 3, 31), time(7))]


def test_a_p3_task_leaves_a_habit_its_time_and_a_task_short_of_its_due_takes_it() -> None:
    # given: Monday 30 March, 07:00-09:00 the only time of the habit and of the working hours
    now = utc(2026, 3, 30, 4)
    hours = windows_for([], [(1, "07:00", "09:00")])
    spec = habit(
        "walk", 1, "DAY", minutes=60, windows=windows_for([(range(1, 2), "07:00", "09:00")], [])
    )
    due = utc(2026, 3, 30, 7)  # Monday 09:00 in Berlin
    calm = [task("p3", 60, 3)]
    pressed = [task("p3", 60, 3, due=due), task("p2", 60, 2, due=due)]

    def run(tasks: list[TaskSpec]) -> Plan:
        return plan(
            PlanInput(now, now + DAY, BERLIN, hours, [], tasks, habits=[spec], notice=timedelta(0))
        )

    # when
    alone, squeezed = run(calm), run(pressed)

    # then: the habit goes first (07:00) and the P3 task without a due gets the hour after
    assert [local(b.start)[1] for b in alone.bookings] == [time(7)]
    assert [local(b.start)[1] for b in alone.blocks] == [time(8)]
    # and with two tasks due at 09:00, the P2 one takes the free hour and the P3 one, short
    # of its due, the habit's: the habit has no time left that day
    assert alone.at_risk == squeezed.at_risk == set()
    assert [(b.task_id, local(b.start)[1]) for b in squeezed.blocks] == [
        ("p3", time(7)),
        ("p2", time(8)),
    ]
    assert squeezed.bookings == []


def test_a_booking_under_way_stays_and_counts() -> None:
    now = utc(2026, 3, 30, 5, 10)
    under_way = Booking("run", utc(2026, 3, 30, 5), utc(2026, 3, 30, 5, 30), "e1")
    data = PlanInput(
        now,
        now + DAY,
        BERLIN,
        [],
        [(utc(2026, 3, 30, 5, 15), utc(2026, 3, 30, 6))],
        [],
        habits=[habit("run", 1, "DAY")],
        bookings=[under_way],
    )

    result = plan(data)

    assert (result.keep_bookings, result.add_bookings, result.remove_bookings) == (
        [under_way],
        [],
        [],
    )


def test_the_time_a_task_leaves_of_a_habits_booking_it_took_is_booked_by_the_first_plan() -> None:
    # given: Friday 2 January 2026, 00:00-07:00 in Berlin the only working hours (Thursday
    # 23:00 to Friday 06:00 UTC); P1 tasks filling them up to 05:15 UTC; a 20-minute habit
    # of the same hours (it holds two quarter hours); a P2 task of two quarter hours without
    # a due, and a P3 quarter hour due at 05:30 UTC
    now = utc(2026, 1, 1)
    friday = windows_for([], [(5, "00:00", "07:00")])
    quarter = {"min_chunk": 15, "max_chunk": 15}
    tasks = [
        task("p1-a", 15, 1, **quarter),
        task("p1-b", 135, 1, **quarter),
        task("p1-c", 105, 1, **quarter),
        task("p1-d", 120, 1, **quarter),
        task("p2", 30, 2, **quarter),
        task("p3", 15, 3, due=utc(2026, 1, 2, 5, 30), **quarter),
    ]
    spec = habit("stretch", 1, "DAY", minutes=20, windows=friday)
    data = PlanInput(now, now + 7 * DAY, BERLIN, friday, [], tasks, habits=[spec])

    # when
    first = plan(data)
    blocks, bookings = booked(first)
    again = plan(replace(data, blocks=blocks, bookings=bookings))

    # then: the P3 task takes 05:15 from the habit's booking (05:15-05:35), the habit has
    # no 20 minutes left on Friday, and the quarter hour its booking leaves (05:30) goes to
    # the P2 task in the first plan already, so planning again changes nothing
    assert [(b.task_id, b.start) for b in first.blocks if b.task_id in {"p2", "p3"}] == [
        ("p3", utc(2026, 1, 2, 5, 15)),
        ("p2", utc(2026, 1, 2, 5, 30)),
        ("p2", utc(2026, 1, 2, 5, 45)),
    ]
    assert first.bookings == []
    assert (again.add, again.remove, again.add_bookings, again.remove_bookings) == ([], [], [], [])
    assert again.at_risk == first.at_risk == set()


# Properties

ZONES = st.sampled_from(
    [BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kathmandu"), ZoneInfo("UTC")]
)
FREQUENCIES = st.one_of(
    st.just((1, "DAY")),
    st.tuples(st.integers(1, 7), st.just("WEEK")),
    st.tuples(st.integers(1, 30), st.just("MONTH")),
)


@dataclass(frozen=True)
class Scores(Mapping[datetime, float]):
    """The recommender's scores, made up from a seed: every `seed`th start is left unscored
    (ranked last), none when the seed is 0 (earliest first). Short to print."""

    first: int
    cells: int
    seed: int

    def __getitem__(self, at: datetime) -> float:
        cell = cell_of(at)
        if not self.seed or cell % (self.seed % 7 + 2) == 0 or cell not in self._range():
            raise KeyError(at)
        return ((cell * self.seed) % 997) / 997

    def _range(self) -> range:
        return range(self.first, self.first + self.cells)

    def __iter__(self) -> Iterator[datetime]:
        return (at_cell(c) for c in self._range() if at_cell(c) in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@st.composite
def habit_windows(draw: st.DrawFn) -> list[Window]:
    preferred = []
    for _ in range(draw(st.integers(1, 3))):
        days = draw(st.sets(st.integers(1, 7), min_size=1, max_size=7))
        start = draw(st.integers(0, 21))
        end = draw(st.integers(start + 1, 24))
        minute = draw(st.sampled_from(["00", "10", "30", "45"]))
        preferred.append((days, f"{start:02}:{minute}", f"{end:02}:00" if end < 24 else "24:00"))
    return windows_for(preferred, [])


@st.composite
def habit_specs(draw: st.DrawFn, now: datetime, horizon: timedelta) -> HabitSpec:
    times, per = draw(FREQUENCIES)
    seed = draw(st.integers(0, 10_000))
    scores = Scores(cell_of(now), int(horizon / timedelta(minutes=15)) + 1, seed)
    counted = [
        now + timedelta(minutes=15 * draw(st.integers(-31 * 96, 7 * 96)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return HabitSpec(
        id="",
        minutes=draw(st.sampled_from([10, 15, 20, 30, 45, 60, 90])),
        times=times,
        per=per,
        windows=draw(habit_windows()),
        scores=scores,
        counted=counted,
        rank=draw(st.integers(0, 3)),
    )


@st.composite
def with_habits(draw: st.DrawFn, *, dues: bool = True, chunks: bool = True) -> PlanInput:
    data: PlanInput = draw(inputs(dues=dues, chunks=chunks))
    specs = draw(
        st.lists(habit_specs(data.now, data.horizon_end - data.now), min_size=1, max_size=4)
    )
    return replace(data, habits=[replace(h, id=f"h{i}") for i, h in enumerate(specs)])


@st.composite
def crowded_habits(draw: st.DrawFn) -> PlanInput:
    """Tasks competing for the next three days, each with a due (`crowded`), and habits."""
    data: PlanInput = draw(crowded())
    specs = draw(
        st.lists(habit_specs(data.now, data.horizon_end - data.now), min_size=1, max_size=4)
    )
    return replace(data, habits=[replace(h, id=f"h{i}") for i, h in enumerate(specs)])


@st.composite
def scarce_habits(draw: st.DrawFn) -> PlanInput:
    """Few working hours (one or two days a week, up to 8 hours each) wanted by tasks with
    and without dues and by habits, half of them in those hours: a task short of its due
    takes a habit's time, and tasks before it wanted the time that leaves."""
    data: PlanInput = draw(inputs())
    hours = []
    for weekday in draw(st.sets(st.integers(1, 7), min_size=1, max_size=2)):
        start = draw(st.integers(0, 20))
        end = draw(st.integers(start + 1, min(24, start + 8)))
        hours.append((weekday, f"{start:02}:00", f"{end:02}:00" if end < 24 else "24:00"))
    working = windows_for([], hours)
    tasks = [
        replace(spec, due=data.now + timedelta(minutes=15 * draw(st.integers(0, 7 * 96))))
        if draw(st.booleans())
        else replace(spec, due=None)
        for spec in data.tasks
    ]
    specs = draw(
        st.lists(habit_specs(data.now, data.horizon_end - data.now), min_size=1, max_size=3)
    )
    specs = [
        replace(h, id=f"h{i}", windows=working if draw(st.booleans()) else h.windows)
        for i, h in enumerate(specs)
    ]
    return replace(data, windows=working, tasks=tasks, habits=specs)


def until(data: PlanInput) -> datetime:
    return min(data.habits_until or data.horizon_end, at_cell(cell_of(data.horizon_end)))


def held(booking: Booking) -> Span:
    """The quarter hours a booking holds (a 20-minute booking holds two)."""
    quarters = -(-int((booking.end - booking.start).total_seconds() // 60) // CELL_MINUTES)
    return booking.start, booking.start + timedelta(minutes=CELL_MINUTES * quarters)


def busy_quarters(span: Span) -> Span:
    """The quarter hours a busy interval takes (the planner's cells)."""
    return at_cell(cell_of(span[0])), at_cell(cell_of(span[1], up=True))


def taken(result: Plan) -> list[Span]:
    return [*((b.start, b.end) for b in result.blocks), *(held(b) for b in result.bookings)]


def periods_of(spec: HabitSpec, zone: ZoneInfo, start: datetime, end: datetime) -> list[Span]:
    """The habit's periods (local days, ISO weeks, months) that reach into [start, end)."""
    day = start.astimezone(zone).date()
    first = {
        "DAY": day,
        "WEEK": day - timedelta(days=day.isoweekday() - 1),
        "MONTH": day.replace(day=1),
    }[spec.per]
    spans: list[Span] = []
    while True:
        if spec.per == "DAY":
            after = first + timedelta(days=1)
        elif spec.per == "WEEK":
            after = first + timedelta(days=7)
        else:
            after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        begins = datetime.combine(first, time(0), zone).astimezone(UTC)
        if begins >= end:
            return spans
        spans.append((begins, datetime.combine(after, time(0), zone).astimezone(UTC)))
        first = after


def check(data: PlanInput, result: Plan, *, new: bool = True) -> None:
    """Every rule the habits' bookings keep (`new`: all of them made by this plan)."""
    last = until(data)
    everything = sorted(taken(result))
    for first, second in pairwise(everything):
        assert first[1] <= second[0], "bookings and blocks overlap"
    specs = {h.id: h for h in data.habits}
    for booking in result.bookings:
        spec = specs[booking.habit_id]
        occurrences = window_occurrences(spec.windows, data.zone, data.now, last)
        assert booking.end - booking.start == timedelta(minutes=spec.minutes)
        assert any(s <= booking.start and booking.end <= e for s, e in occurrences), "outside"
        assert not any(
            overlaps(held(booking), busy_quarters(b)) for b in data.busy if b[0] < b[1]
        ), "over busy time"
        assert at_cell(cell_of(booking.start)) == booking.start, "off the grid"
        assert booking.end <= last
        if new:
            assert booking.start >= data.now + data.notice, "inside the minimum notice"
    for spec in data.habits:
        mine = [b.start for b in result.bookings if b.habit_id == spec.id]
        days = [at.astimezone(data.zone).date() for at in mine]
        assert len(set(days)) == len(days), "two bookings on one day"
        assert not set(days) & {at.astimezone(data.zone).date() for at in spec.counted}
        for begins, ends in periods_of(spec, data.zone, data.now, last):
            inside = [at for at in mine if begins <= at < ends]
            counted = [at for at in spec.counted if begins <= at < ends]
            left = max(0, spec.times - len(counted))
            if ends > last:  # the horizon cuts the period: its share, rounded down
                frm = max(begins, data.now)
                left = math.floor(left * (last - frm) / (ends - frm))
            assert len(inside) <= left, "more bookings than the period wants"
            if len(inside) < left:
                assert not usable_starts(data, result, spec, (begins, ends)), "time left unused"


def usable_starts(data: PlanInput, result: Plan, spec: HabitSpec, period: Span) -> list[datetime]:
    """Quarter hours of the period where one more booking of the habit could go (an oracle
    over instants, knowing nothing of the planner's cells)."""
    length, last = timedelta(minutes=spec.minutes), until(data)
    quarters = -(-spec.minutes // CELL_MINUTES)
    booked_days = {
        at.astimezone(data.zone).date()
        for at in [*spec.counted, *(b.start for b in result.bookings if b.habit_id == spec.id)]
    }
    occurrences = window_occurrences(spec.windows, data.zone, data.now, last)
    holding = [*taken(result), *(busy_quarters(b) for b in data.busy if b[0] < b[1])]
    found = []
    at = at_cell(cell_of(max(period[0], data.now + data.notice), up=True))
    while at < period[1] and at + length <= last:
        span = (at, at + timedelta(minutes=CELL_MINUTES * quarters))
        if (
            at.astimezone(data.zone).date() not in booked_days
            and span[1] <= at_cell(cell_of(data.horizon_end))
            and any(s <= at and at + length <= e for s, e in occurrences)
            and not any(overlaps(span, h) for h in holding)
        ):
            found.append(at)
        at += timedelta(minutes=CELL_MINUTES)
    return found


def booked(first: Plan) -> tuple[list[Block], list[Booking]]:
    """The first plan's blocks and bookings as stored (each with an id)."""
    blocks = [Block(b.task_id, b.start, b.end, b.id or f"b{i}") for i, b in enumerate(first.blocks)]
    bookings = [
        Booking(b.habit_id, b.start, b.end, b.id or f"h{i}") for i, b in enumerate(first.bookings)
    ]
    return blocks, bookings


@PROPERTY
@given(with_habits())
def test_every_plan_keeps_the_habits_rules(data: PlanInput) -> None:
    check(data, plan(data))


def assert_replanning_changes_nothing(data: PlanInput) -> None:
    # given
    first = plan(data)
    blocks, bookings = booked(first)

    # when
    again = plan(replace(data, blocks=blocks, bookings=bookings))

    # then
    assert (again.add, again.remove, again.add_bookings, again.remove_bookings) == ([], [], [], [])
    assert again.at_risk == first.at_risk
    check(data, again, new=False)


@PROPERTY
@given(st.one_of(with_habits(), crowded_habits()))
def test_planning_an_unchanged_input_again_changes_nothing(data: PlanInput) -> None:
    assert_replanning_changes_nothing(data)


@settings(max_examples=200, deadline=None)
@given(scarce_habits())
def test_planning_again_changes_nothing_when_tasks_take_habits_time(data: PlanInput) -> None:
    assert_replanning_changes_nothing(data)


@PROPERTY
@given(with_habits(dues=False), st.data())
def test_a_new_busy_event_moves_only_the_bookings_it_hits(
    data: PlanInput, draw: st.DataObject
) -> None:
    # given: a plan, then a meeting somewhere in the horizon
    first = plan(data)
    blocks, bookings = booked(first)
    start = data.now + timedelta(minutes=draw.draw(st.integers(0, 7 * 24 * 60)))
    meeting = (start, start + timedelta(minutes=draw.draw(st.integers(15, 180))))

    # when
    again = plan(replace(data, busy=[*data.busy, meeting], blocks=blocks, bookings=bookings))

    # then: exactly the bookings it lands on are removed (and booked again elsewhere)
    hit = {b.id for b in bookings if overlaps(held(b), busy_quarters(meeting))}
    assert {b.id for b in again.remove_bookings} == hit
    check(replace(data, busy=[*data.busy, meeting]), again, new=False)


@PROPERTY
@given(with_habits())
def test_p1_tasks_go_where_they_would_without_habits(data: PlanInput) -> None:
    with_them, without = plan(data), plan(replace(data, habits=[]))
    p1 = {t.id for t in data.tasks if t.priority == 1}
    assert [b for b in with_them.blocks if b.task_id in p1] == [
        b for b in without.blocks if b.task_id in p1
    ]


@PROPERTY
@given(with_habits(dues=False))
def test_tasks_that_are_not_p1_and_not_pressed_leave_habits_their_time(data: PlanInput) -> None:
    # given: tasks without dues (never at risk)
    p1_only = replace(data, tasks=[t for t in data.tasks if t.priority == 1])

    # then: the bookings are those of a plan without the other tasks at all
    assert plan(data).bookings == plan(p1_only).bookings


@PROPERTY
@given(with_habits())
def test_a_task_takes_a_habits_time_only_when_it_would_otherwise_be_at_risk(
    data: PlanInput,
) -> None:
    # given: where the habits go when only P1 tasks compete with them
    wanted = plan(replace(data, tasks=[t for t in data.tasks if t.priority == 1])).bookings

    # when
    result = plan(data)

    # then: if the habits lost any of that time, the tasks could not all have met their
    # dues with that time taken
    if result.bookings != wanted:
        taken_away = [held(b) for b in wanted]
        alone = plan(replace(data, habits=[], busy=[*data.busy, *taken_away]))
        assert alone.at_risk

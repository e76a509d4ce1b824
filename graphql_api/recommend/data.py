"""One habit's documents in the recommender's terms, for serving and for training alike.

`HabitData` holds what the features are computed from: the user's zone and
busy time, the habit's windows, its scheduled instances with their outcome (the
day's check-in: DONE, or MISSED/SKIPPED), its check-ins, the feedback on its
recommendations and the user's check-ins of all habits. `rows` makes feature
rows for slots as of a day.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from graphql_api.habits.loop import HabitStats
from graphql_api.recommend.features import History, Outcome, Said, epoch, features, history
from graphql_api.scheduling.slots import Slot, Window, free_slots, windows_for
from models import CheckInEntry, Event, Feedback, Habit, User

HORIZON = timedelta(hours=12)  # busy time this far around a slot can move its features


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime
    event_id: str


@dataclass(frozen=True)
class Booked:
    """A booked instance of the habit and whether it was done."""

    start: datetime
    event_id: str
    done: bool


@dataclass(frozen=True)
class Tally:
    """The user's check-ins of all habits: their DONE share before any day, smoothed."""

    days: list[int]  # ordinals, sorted
    done: list[int]  # DONE check-ins up to and including each

    @classmethod
    def of(cls, check_ins: Iterable[tuple[date, str]]) -> Tally:
        days, done, count = [], [], 0
        for day, status in sorted(check_ins):
            count += status == "DONE"
            days.append(day.toordinal())
            done.append(count)
        return cls(days, done)

    def counts_before(self, day: date) -> tuple[int, int]:
        """(check-ins, DONE ones) before `day`."""
        k = bisect_left(self.days, day.toordinal())
        return k, (self.done[k - 1] if k else 0)

    def rate_before(self, day: date) -> float:
        total, done = self.counts_before(day)
        return rate(total, done)


def rate(total: int, done: int) -> float:
    return (done + 1) / (total + 2)


@dataclass
class HabitData:
    zone: ZoneInfo
    windows: list[Window]
    times: int
    per: str
    duration_minutes: int
    busy: list[Busy]  # sorted by start
    scheduled: list[Booked]  # the habit's booked instances that have an outcome
    check_ins: dict[date, str]
    feedback: list[Said]
    user_rate: Callable[[date], float]  # the user's overall DONE share before a day
    known_stats: dict[date, HabitStats] = field(default_factory=dict)  # as of these days
    _starts: list[datetime] = field(init=False, default_factory=list)
    longest: timedelta = field(init=False, default=timedelta(0))
    _windows_by_day: dict[date, list[tuple[datetime, datetime]]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.busy.sort(key=lambda b: b.start)
        self._starts = [b.start for b in self.busy]
        self.longest = max((b.end - b.start for b in self.busy), default=timedelta(0))

    def busy_near(
        self, start: datetime, end: datetime, *, leave_out: str | None = None
    ) -> list[tuple[datetime, datetime]]:
        """Busy intervals that overlap [start, end), optionally without one event."""
        low = bisect_left(self._starts, start - self.longest)
        high = bisect_right(self._starts, end)
        return [
            (b.start, b.end)
            for b in self.busy[low:high]
            if b.end > start and b.event_id != leave_out
        ]

    def outcomes(self) -> list[Outcome]:
        return [Outcome(b.start, b.done) for b in self.scheduled]

    def history(
        self, as_of: date, said_before: datetime, near: Sequence[tuple[datetime, datetime]]
    ) -> History:
        return history(
            zone=self.zone,
            as_of=as_of,
            said_before=said_before,
            busy=near,
            outcomes=self.outcomes(),
            check_ins=self.check_ins,
            feedback=self.feedback,
            user_rate=self.user_rate(as_of),
            stats=self.known_stats.get(as_of),
            times=self.times,
            per=self.per,
            duration_minutes=self.duration_minutes,
        )

    def window_of(self, start: datetime) -> tuple[float, float]:
        """The (merged) window occurrence holding a slot starting at `start`, in epoch
        seconds; NaN when the slot lies outside every window (booked by hand)."""
        ends = start + timedelta(minutes=self.duration_minutes)
        for low, high in self._occurrences(start.astimezone(self.zone).date()):
            if low <= start and ends <= high:
                return low.timestamp(), high.timestamp()
        return float("nan"), float("nan")

    def _occurrences(self, day: date) -> list[tuple[datetime, datetime]]:
        """The window occurrences of a local day (from the free slots of an empty day)."""
        if day not in self._windows_by_day:
            midnight = datetime.combine(day, datetime.min.time(), self.zone)
            slots = free_slots(
                busy=[],
                start=midnight,
                end=midnight + timedelta(days=1),
                zone=self.zone,
                windows=self.windows,
                duration=timedelta(minutes=self.duration_minutes),
            )
            self._windows_by_day[day] = sorted({(s.window_start, s.window_end) for s in slots})
        return self._windows_by_day[day]


def outcome_of(event: Event, zone: ZoneInfo, check_ins: dict[date, str]) -> bool | None:
    """Whether a booked instance was done: the check-in of its local day, if any."""
    status = check_ins.get(event.start_time.astimezone(zone).date())
    return None if status is None else status == "DONE"


@dataclass(frozen=True)
class HabitRecord:
    """What the habit's own documents say: its booked instances that have an outcome, its
    check-ins, the feedback on its recommendations. Small, so it is cached whole."""

    booked: list[Booked]
    check_ins: dict[date, str]
    feedback: list[Said]

    @classmethod
    def of(
        cls,
        zone: ZoneInfo,
        habit_events: Iterable[Event],
        check_ins: Iterable[CheckInEntry],
        feedback: Iterable[Feedback],
    ) -> HabitRecord:
        days = {date.fromisoformat(c.date): c.status for c in check_ins}
        booked = []
        for event in habit_events:
            done = outcome_of(event, zone, days)
            if done is not None and event.status != "CANCELLED":
                booked.append(Booked(event.start_time, _event_key(event), done))
        said = [Said(f.start, f.accepted, f.recorded_at) for f in feedback]
        return cls(booked, days, said)

    def encode(self) -> bytes:
        return json.dumps(
            {
                "booked": [[b.start.isoformat(), b.event_id, b.done] for b in self.booked],
                "checkIns": {d.isoformat(): s for d, s in self.check_ins.items()},
                "feedback": [
                    [f.start.isoformat(), f.accepted, f.at.isoformat()] for f in self.feedback
                ],
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> HabitRecord:
        data = json.loads(raw)
        return cls(
            [Booked(datetime.fromisoformat(s), e, d) for s, e, d in data["booked"]],
            {date.fromisoformat(d): s for d, s in data["checkIns"].items()},
            [
                Said(datetime.fromisoformat(s), a, datetime.fromisoformat(t))
                for s, a, t in data["feedback"]
            ],
        )


def busy_of(events: Iterable[Event]) -> list[Busy]:
    """The time these events block: busy ones, not cancelled."""
    return [
        Busy(e.start_time, e.end_time, _event_key(e))
        for e in events
        if e.busy and e.status != "CANCELLED"
    ]


def encode_busy(busy: list[Busy]) -> bytes:
    return json.dumps([[b.start.timestamp(), b.end.timestamp(), b.event_id] for b in busy]).encode()


def decode_busy(raw: bytes) -> list[Busy]:
    return [
        Busy(datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC), key)
        for s, e, key in json.loads(raw)
    ]


def habit_data(
    *,
    user: User,
    habit: Habit,
    busy: list[Busy],
    record: HabitRecord,
    user_rate: Callable[[date], float],
) -> HabitData:
    """`busy`: the user's busy time (all calendars) around the times of interest."""
    return HabitData(
        zone=ZoneInfo(user.timezone),
        windows=windows_for(
            [(w.weekdays, w.start, w.end) for w in habit.preferred_windows],
            [(w.weekday, w.start, w.end) for w in user.working_hours],
        ),
        times=habit.frequency.times,
        per=habit.frequency.per,
        duration_minutes=habit.duration_minutes,
        busy=busy,
        scheduled=list(record.booked),
        check_ins=record.check_ins,
        feedback=list(record.feedback),
        user_rate=user_rate,
    )


def _event_key(event: Event) -> str:
    return f"{event.id}@{event.instance}" if event.instance else str(event.id)


def rows_for(
    data: HabitData,
    known: datetime,
    starts: Sequence[datetime],
    windows: Sequence[tuple[float, float]],
    *,
    leave_out: str | None = None,
) -> npt.NDArray[np.float32]:
    """Feature rows for slots starting at `starts` (with their window occurrences), from
    what was known at `known`: outcomes and check-ins of the days before, feedback before."""
    if not starts:
        return np.empty((0, 0), dtype=np.float32)
    near = data.busy_near(min(starts) - HORIZON, max(starts) + HORIZON, leave_out=leave_out)
    h = data.history(known.astimezone(data.zone).date(), known, near)
    bounds = np.array(windows, dtype=np.float64).reshape(-1, 2)
    return features(h, epoch(starts), bounds[:, 0], bounds[:, 1])


def window_bounds(slots: Sequence[Slot]) -> list[tuple[float, float]]:
    """Each slot's window occurrence in epoch seconds. Slots come in time order, so those of
    one occurrence follow each other: each occurrence is converted once."""
    bounds: list[tuple[float, float]] = []
    current: datetime | None = None
    value = (0.0, 0.0)
    for slot in slots:
        if slot.window_start is not current:
            current = slot.window_start
            value = (current.timestamp(), slot.window_end.timestamp())
        bounds.append(value)
    return bounds

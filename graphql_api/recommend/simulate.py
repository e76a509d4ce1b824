"""A behaviour simulator, one of the two kinds of users `scheduling-worker evaluate` judges
rankers on (`scenarios` has the other, and the evaluation).

Synthetic users each have a hidden taste: a time of day they keep a habit best
(drifting over the months), how fast that falls off, weekdays they manage better
or worse, a base reliability, and a dislike of slots squeezed against meetings.
Their calendars fill with meetings on working days. Every day they book the
habit into a free slot of its window (half the time near the time they think
suits them, which is their real best time give or take two hours; else anywhere
free), then do it or not with the probability their taste gives that slot, and
now and then say what they think of another slot.

Nothing here touches a database: the same feature code runs on in-memory data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from graphql_api.recommend.data import Booked, Busy, HabitData, Tally
from graphql_api.recommend.features import Said
from graphql_api.scheduling.slots import Slot, Window, free_slots

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"]
FIRST_DAY = date(2026, 1, 5)  # a Monday
DURATION = timedelta(minutes=30)
WIDE = [Window(frozenset(range(1, 8)), time(6), time(22))]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Taste:
    """What the simulated user never tells: how likely they keep the habit in a slot."""

    peak: float  # local hour
    spread: float  # hours
    drift: float  # hours the peak moves per 30 days
    weekdays: tuple[float, ...]  # factor per ISO weekday - 1
    base: float
    squeeze: float  # factor when a meeting ends or starts within 15 minutes

    def chance(self, local: datetime, day_index: int, squeezed: bool) -> float:
        peak = self.peak + self.drift * day_index / 30
        hour = local.hour + local.minute / 60
        distance = min(abs(hour - peak), 24 - abs(hour - peak))
        p = self.base * math.exp(-(distance**2) / (2 * self.spread**2))
        p *= self.weekdays[local.weekday()]
        if squeezed:
            p *= self.squeeze
        return min(0.97, max(0.02, p))


@dataclass
class SimHabit:
    data: HabitData
    taste: Taste
    booked: dict[date, datetime] = field(default_factory=dict)  # day -> booked start
    statuses: list[tuple[date, str]] = field(default_factory=list)  # its check-ins


@dataclass
class SimUser:
    sub: str
    zone: ZoneInfo
    habits: list[SimHabit]


def _taste(rng: random.Random) -> Taste:
    return Taste(
        peak=rng.uniform(6.5, 21),
        spread=rng.uniform(1.0, 3.0),
        drift=rng.uniform(-0.5, 0.5),
        weekdays=tuple(rng.uniform(0.6, 1.15) for _ in range(7)),
        base=rng.uniform(0.55, 0.95),
        squeeze=rng.uniform(0.4, 0.9),
    )


def meetings_of(rng: random.Random, day: date, zone: ZoneInfo, sub: str) -> list[Busy]:
    """A day of meetings: several on working days, a few on weekends."""
    count = rng.randint(2, 6) if day.isoweekday() <= 5 else rng.randint(0, 2)
    found = []
    for n in range(count):
        quarter = rng.randint(8 * 4, 19 * 4)
        start = datetime.combine(day, time(quarter // 4, 15 * (quarter % 4)), zone)
        length = timedelta(minutes=rng.choice([30, 45, 60, 90]))
        found.append(
            Busy(start.astimezone(UTC), (start + length).astimezone(UTC), f"{sub}:{day}:{n}")
        )
    return found


def squeezed(slot: Slot, busy: list[Busy]) -> bool:
    margin = timedelta(minutes=15)
    return any(b.end > slot.start - margin and b.start < slot.end + margin for b in busy)


def simulate(users: int, days: int, *, seed: int = 7) -> list[SimUser]:
    """`users` synthetic users with `days` days of booked habits, outcomes and feedback."""
    rng = random.Random(seed)
    everyone = []
    for u in range(users):
        zone = ZoneInfo(rng.choice(ZONES))
        sub = f"sim-{u}"
        meetings = {
            FIRST_DAY + timedelta(days=d): meetings_of(
                rng, FIRST_DAY + timedelta(days=d), zone, sub
            )
            for d in range(days)
        }
        habits = [_habit(rng, sub, zone, meetings, h) for h in range(rng.randint(1, 2))]
        tally = Tally.of(status for habit in habits for status in habit.statuses)
        for habit in habits:
            habit.data.user_rate = tally.rate_before
        everyone.append(SimUser(sub, zone, habits))
    return everyone


def _habit(
    rng: random.Random,
    sub: str,
    zone: ZoneInfo,
    meetings: dict[date, list[Busy]],
    number: int,
) -> SimHabit:
    taste = _taste(rng)
    habitual = taste.peak + rng.gauss(0, 2)  # what the user believes suits them
    data = HabitData(
        zone=zone,
        windows=WIDE,
        times=1,
        per="DAY",
        duration_minutes=int(DURATION.total_seconds() // 60),
        busy=[b for day in meetings.values() for b in day],
        scheduled=[],
        check_ins={},
        feedback=[],
        user_rate=lambda _: 0.5,
    )
    habit = SimHabit(data, taste)
    statuses = habit.statuses
    for d in range(len(meetings)):
        day = FIRST_DAY + timedelta(days=d)
        slots = day_slots(data, day, meetings[day])
        if not slots or rng.random() < 0.1:  # some days it is not booked at all
            continue
        near = [s for s in slots if abs(_hour(s, zone) - habitual) <= 1]
        slot = rng.choice(near if near and rng.random() < 0.5 else slots)
        p = taste.chance(slot.start.astimezone(zone), d, squeezed(slot, meetings[day]))
        done = rng.random() < p
        event_id = f"{sub}:{number}:{day}"
        data.scheduled.append(Booked(slot.start, event_id, done))
        data.busy.append(Busy(slot.start, slot.end, event_id))
        habit.booked[day] = slot.start
        status = "DONE" if done else ("SKIPPED" if rng.random() < 0.1 else "MISSED")
        data.check_ins[day] = status
        statuses.append((day, status))
        if rng.random() < 0.15:
            other = rng.choice(slots)
            liked = rng.random() < taste.chance(
                other.start.astimezone(zone), d, squeezed(other, meetings[day])
            )
            said_at = datetime.combine(day, time(6), zone).astimezone(UTC)
            data.feedback.append(Said(other.start, liked, said_at))
    data.__post_init__()  # the busy time was added to: sort it again
    return habit


def _hour(slot: Slot, zone: ZoneInfo) -> float:
    local = slot.start.astimezone(zone)
    return local.hour + local.minute / 60


def day_slots(data: HabitData, day: date, busy: list[Busy]) -> list[Slot]:
    midnight = datetime.combine(day, time(), data.zone)
    return free_slots(
        busy=[(b.start, b.end) for b in busy],
        start=midnight,
        end=midnight + timedelta(days=1),
        zone=data.zone,
        windows=data.windows,
        duration=DURATION,
    )

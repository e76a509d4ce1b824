"""A behaviour simulator, and the evaluation it makes possible (`scheduling-worker evaluate`).

Synthetic users each have a hidden taste: a time of day they keep a habit best
(drifting over the months), how fast that falls off, weekdays they manage better
or worse, a base reliability, and a dislike of slots squeezed against meetings.
Their calendars fill with meetings on working days. Every day they book the
habit into a free slot of its window (half the time near the time they think
suits them, which is their real best time give or take two hours; else anywhere
free), then do it or not with the probability their taste gives that slot, and
now and then say what they think of another slot.

`evaluate` trains the global model on most users' past, then compares the model,
the heuristic and a random order on users it never saw and on the weeks after
training: AUC on the booked instances' outcomes, and top-3 hit rate, the chance
that the slot the simulated user would have completed (drawn in proportion to
their hidden probabilities among the day's free slots) is among the first three.
Nothing here touches a database: the same feature code runs on in-memory data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from graphql_api.recommend import heuristic
from graphql_api.recommend.data import Booked, Busy, HabitData, Tally, rows_for
from graphql_api.recommend.features import Said
from graphql_api.recommend.model import Ranker
from graphql_api.recommend.scores import roc_auc
from graphql_api.recommend.training import Dataset, fit_global, labelled_rows
from graphql_api.scheduling.slots import Slot, Window, free_slots

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"]
FIRST_DAY = date(2026, 1, 5)  # a Monday
DURATION = timedelta(minutes=30)
WIDE = [Window(frozenset(range(1, 8)), time(6), time(22))]
ORACLE = "the hidden taste (ceiling)"

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


def _meetings(rng: random.Random, day: date, zone: ZoneInfo, sub: str) -> list[Busy]:
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


def _squeezed(slot: Slot, busy: list[Busy]) -> bool:
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
            FIRST_DAY + timedelta(days=d): _meetings(rng, FIRST_DAY + timedelta(days=d), zone, sub)
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
        p = taste.chance(slot.start.astimezone(zone), d, _squeezed(slot, meetings[day]))
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
                other.start.astimezone(zone), d, _squeezed(other, meetings[day])
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


# --- evaluation -----------------------------------------------------------------------


Scorer = Callable[[npt.NDArray[np.float32]], Array]


@dataclass
class Scores:
    auc: float
    top3: float


@dataclass
class Evaluation:
    rows_trained: int
    results: dict[str, dict[str, Scores]]  # scenario -> ranker -> scores
    queries: dict[str, int]
    rows_tested: dict[str, int]

    def summary(self) -> str:
        tested = ", ".join(
            f"{scenario}: {self.rows_tested[scenario]} outcomes, {self.queries[scenario]} days"
            for scenario in self.results
        )
        return f"trained on {self.rows_trained} rows; tested on {tested}"

    def table(self) -> str:
        lines = [
            "| held out | ranker | AUC | top-3 hit rate |",
            "|---|---|---:|---:|",
        ]
        for scenario, by_ranker in self.results.items():
            for ranker, s in by_ranker.items():
                auc = "" if math.isnan(s.auc) else f"{s.auc:.3f}"
                lines.append(f"| {scenario} | {ranker} | {auc} | {s.top3:.1%} |")
        return "\n".join(lines)


def evaluate(
    users: int = 200,
    days: int = 112,
    test_days: int = 14,
    *,
    seed: int = 7,
    holdout_share: float = 0.2,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    say = progress or (lambda _: None)
    say(f"simulating {users} users over {days} days")
    sims = simulate(users, days, seed=seed)
    held = int(users * holdout_share)
    unseen, seen = sims[:held], sims[held:]
    cut = FIRST_DAY + timedelta(days=days - test_days)
    say("computing training rows")
    train = _labelled(seen, lambda day: day < cut)
    say(f"training on {len(train)} rows")
    fitted = fit_global(train, rounds=400)
    ranker = Ranker("global", 0, fitted.booster)
    rng = np.random.default_rng(seed)
    rankers: dict[str, Scorer] = {
        "model": ranker.scores,
        "heuristic": lambda rows: heuristic.score(rows)[0],
        "random": lambda rows: rng.random(len(rows)),
    }
    results: dict[str, dict[str, Scores]] = {}
    queries: dict[str, int] = {}
    rows_tested: dict[str, int] = {}
    for scenario, group in (("users (unseen)", unseen), ("weeks (after training)", seen)):
        say(f"testing on {scenario}")
        test = _labelled(group, lambda day: day >= cut)
        x, y = test.matrix()
        hits = _top3(group, cut, days, rankers)
        queries[scenario] = len(hits["model"])
        rows_tested[scenario] = len(y)
        results[scenario] = {
            name: Scores(roc_auc(y, score(x)), float(np.mean(hits[name])))
            for name, score in rankers.items()
        }
        results[scenario][ORACLE] = Scores(float("nan"), float(np.mean(hits[ORACLE])))
    return Evaluation(len(train), results, queries, rows_tested)


def _labelled(group: list[SimUser], wanted: Callable[[date], bool]) -> Dataset:
    """The labelled rows of these users whose local day is wanted (histories stay whole)."""
    dataset = Dataset()
    for user in group:

        def by_day(moment: datetime, zone: ZoneInfo = user.zone) -> bool:
            return wanted(moment.astimezone(zone).date())

        for habit in user.habits:
            labelled_rows(habit.data, user.sub, dataset, wanted=by_day)
    return dataset


def _top3(
    group: list[SimUser], cut: date, days: int, rankers: dict[str, Scorer]
) -> dict[str, list[float]]:
    """Per user, habit and test day: the chance that the slot the user would have completed
    (drawn in proportion to their hidden probabilities) is in each ranker's first three."""
    hits: dict[str, list[float]] = {name: [] for name in [*rankers, ORACLE]}
    for user in group:
        for habit in user.habits:
            for day, d in _days(cut, days):
                booked = habit.booked.get(day)
                meetings = [
                    b
                    for b in habit.data.busy_near(
                        datetime.combine(day, time(), user.zone).astimezone(UTC),
                        datetime.combine(day + timedelta(days=1), time(), user.zone).astimezone(
                            UTC
                        ),
                    )
                ]
                busy = [Busy(s, e, "") for s, e in meetings if booked is None or s != booked]
                slots = day_slots(habit.data, day, busy)
                if len(slots) < 4:
                    continue
                chances = np.array(
                    [
                        habit.taste.chance(s.start.astimezone(user.zone), d, _squeezed(s, busy))
                        for s in slots
                    ]
                )
                midnight = datetime.combine(day, time(), user.zone)
                x = rows_for(
                    habit.data,
                    midnight,
                    [s.start for s in slots],
                    [(s.window_start.timestamp(), s.window_end.timestamp()) for s in slots],
                )
                for name, score in rankers.items():
                    top = np.argsort(-score(x), kind="stable")[:3]
                    hits[name].append(float(chances[top].sum() / chances.sum()))
                best = np.argsort(-chances, kind="stable")[:3]
                hits[ORACLE].append(float(chances[best].sum() / chances.sum()))
    return hits


def _days(cut: date, days: int) -> Iterator[tuple[date, int]]:
    first = (cut - FIRST_DAY).days
    for d in range(first, days):
        yield FIRST_DAY + timedelta(days=d), d

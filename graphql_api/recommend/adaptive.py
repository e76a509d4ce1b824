"""What one user's own answers say, on top of what the ranker expects: the bandit math.

Pure numpy, no I/O. A user's answers for a habit (feedback on slots: accepted or
not; booked instances: done or not) fall into weekday x quarter-hour buckets of
their local time, weighted by age (a half-life, so a taste that drifts is
followed). The buckets are smoothed across neighbouring times of day and across
days (the same weekday counts fully, the same kind of day, weekday or weekend,
0.8, the other kind 0.3), which gives each bucket a soft count of yeses and
noes. Each candidate slot's chance is then a Beta-Bernoulli posterior whose prior
is the calibrated ranker's probability worth `PRIOR_STRENGTH` answers:

    alpha = k * p0 + yes,  beta = k * (1 - p0) + no,  score = alpha / (alpha + beta)

With no answers the score is the ranker's own, so the order is too; every answer
moves the slots near it at once. While a user has given few answers, one slot of a
longer answer is picked by Thompson sampling from the posteriors of the slots not
already chosen (seeded per request, so a cached answer and its recomputation
agree), which lets new users find times the ranker would not have offered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from graphql_api.recommend.features import Outcome, Said

Array = npt.NDArray[np.float64]

QUARTERS = 96
DAYS = 7
KERNEL_H = 0.75  # smoothing across the time of day (hours, one standard deviation)
SAME_KIND = 0.8  # another weekday for a weekday (or the other weekend day)
OTHER_KIND = 0.3  # a weekday for a weekend day and the other way round
HALF_LIFE_DAYS = 28.0
PRIOR_STRENGTH = 1.0  # answers the ranker's opinion is worth
EXPLORE_UNTIL = 15  # answers after which every slot shown is the best known
MOST_ANSWERS = 500  # the latest ones; older ones weigh < 1% anyway
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Answers:
    """A user's answers for one habit, in their local time."""

    quarter: npt.NDArray[np.int64]  # 0..95
    weekday: npt.NDArray[np.int64]  # Monday = 0
    yes: Array  # 1.0 accepted or done, 0.0 not
    age_days: Array  # how long before `known` the slot was

    def __len__(self) -> int:
        return len(self.yes)


NONE = Answers(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))


def answers(
    zone: ZoneInfo, known: datetime, outcomes: Sequence[Outcome], said: Sequence[Said]
) -> Answers:
    """The answers known at `known`: outcomes of the local days before it (as the features
    count them) and feedback given before it; a slot both booked and judged counts twice."""
    today = known.astimezone(zone).date()
    found: list[tuple[datetime, float]] = []
    for outcome in outcomes:
        local = outcome.start.astimezone(zone)
        if local.date() < today:
            found.append((local, float(outcome.done)))
    for s in said:
        if s.at <= known:
            found.append((s.start.astimezone(zone), float(s.accepted)))
    if not found:
        return NONE
    found.sort(key=lambda item: item[0])
    found = found[-MOST_ANSWERS:]
    moment = known.timestamp()
    return Answers(
        quarter=np.array([(t.hour * 60 + t.minute) // 15 for t, _ in found], dtype=np.int64),
        weekday=np.array([t.weekday() for t, _ in found], dtype=np.int64),
        yes=np.array([y for _, y in found]),
        age_days=np.array([abs(moment - t.timestamp()) / 86400 for t, _ in found]),
    )


def _time_kernel() -> Array:
    steps = np.arange(QUARTERS)
    distance = np.abs(steps[:, None] - steps[None, :])
    distance = np.minimum(distance, QUARTERS - distance) / 4  # hours
    kernel: Array = np.exp(-np.square(distance) / (2 * KERNEL_H**2))
    return kernel


def _day_kernel() -> Array:
    weekend = np.arange(DAYS) >= 5
    same_kind = weekend[:, None] == weekend[None, :]
    kernel: Array = np.where(same_kind, SAME_KIND, OTHER_KIND)
    np.fill_diagonal(kernel, 1.0)
    return kernel


TIME_KERNEL = _time_kernel()
DAY_KERNEL = _day_kernel()


@dataclass(frozen=True)
class Evidence:
    """Soft counts of yes and no answers per weekday x quarter-hour bucket."""

    yes: Array  # (7, 96)
    no: Array

    @classmethod
    def of(cls, a: Answers) -> Evidence:
        weight = np.power(0.5, a.age_days / HALF_LIFE_DAYS)
        raw_yes, raw_no = np.zeros((DAYS, QUARTERS)), np.zeros((DAYS, QUARTERS))
        np.add.at(raw_yes, (a.weekday, a.quarter), weight * a.yes)
        np.add.at(raw_no, (a.weekday, a.quarter), weight * (1 - a.yes))
        return cls(DAY_KERNEL @ raw_yes @ TIME_KERNEL, DAY_KERNEL @ raw_no @ TIME_KERNEL)


@dataclass(frozen=True)
class Posterior:
    alpha: Array
    beta: Array

    @property
    def mean(self) -> Array:
        result: Array = self.alpha / (self.alpha + self.beta)
        return result


def buckets(local_hour: Array, weekday: Array) -> tuple[npt.NDArray[np.int64], ...]:
    quarter = np.floor(np.asarray(local_hour) * 4).astype(np.int64) % QUARTERS
    return np.asarray(weekday).astype(np.int64) % DAYS, quarter


def posterior(prior: Array, local_hour: Array, weekday: Array, a: Answers) -> Posterior:
    """Each candidate's Beta posterior: the prior probability worth PRIOR_STRENGTH answers,
    plus the soft counts of the user's answers near its time."""
    alpha = PRIOR_STRENGTH * prior
    beta = PRIOR_STRENGTH * (1 - prior)
    if not len(a):
        return Posterior(alpha, beta)
    evidence = Evidence.of(a)
    day, quarter = buckets(local_hour, weekday)
    return Posterior(alpha + evidence.yes[day, quarter], beta + evidence.no[day, quarter])


def explore(p: Posterior, chosen: Sequence[int], answered: int, seed: int, k: int = 1) -> list[int]:
    """Up to `k` slots not among `chosen`, by Thompson sampling (the highest draws from their
    posteriors), while the user has answered fewer than EXPLORE_UNTIL times (none after)."""
    if answered >= EXPLORE_UNTIL or k < 1:
        return []
    free = np.ones(len(p.alpha), dtype=bool)
    free[np.asarray(chosen, dtype=np.int64)] = False
    left = np.flatnonzero(free)
    if not len(left):
        return []
    draws = np.random.default_rng(seed).beta(p.alpha[left], p.beta[left])
    return [int(i) for i in left[np.argsort(-draws, kind="stable")[:k]]]


def reason(a: Answers, local_hour: float, weekday: int) -> tuple[str, int, int] | None:
    """What the user said of times near this one, in words, with the counts: the same
    weekday when that holds at least two answers, else the same kind of day."""
    if not len(a):
        return None
    quarter = math.floor(local_hour * 4) % QUARTERS
    distance = np.abs(a.quarter - quarter)
    near = np.minimum(distance, QUARTERS - distance) <= 4  # within an hour
    same_day = near & (a.weekday == weekday)
    weekend = weekday >= 5
    same_kind = near & ((a.weekday >= 5) == weekend)
    if int(same_day.sum()) >= 2:
        picked, days = same_day, f"{WEEKDAY_NAMES[weekday]}s"
    elif int(same_kind.sum()) >= 1:
        picked, days = same_kind, "weekends" if weekend else "weekdays"
    else:
        return None
    n, yes = int(picked.sum()), int(a.yes[picked].sum())
    hour = int(local_hour) % 24
    return f"you liked {days} around {hour:02d}:00 {yes} of {n} times", yes, n

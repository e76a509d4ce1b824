"""What the recommender knows about a candidate slot: one row of numbers per slot.

Pure functions. `history` gathers what is known about a user and one habit before
a day (`as_of`): their busy time, when they did or missed the habit, their
check-ins of this habit, what they said of earlier recommendations, and their
overall rate (the DONE share of all their check-ins before that day). `features` turns candidate
slots into a matrix in one vectorised pass. Training rows (history as of each
labelled slot's day) and served rows (history as of today) come from the same
code, so the model sees the same numbers in both. Unknowns are NaN, which
XGBoost reads as missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from graphql_api.habits.loop import DENOMINATOR_BY_PERIOD, HabitStats, habit_stats

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # what a user reads in `reasons`


FEATURES: tuple[Feature, ...] = (
    Feature("local_hour", "time of day"),
    Feature("weekday", "day of the week"),
    Feature("window_position", "place in the time window"),
    Feature("busy_nearby", "busy time within 3 hours"),
    Feature("free_before", "free time before"),
    Feature("free_after", "free time after"),
    Feature("per_day", "how often the habit is due"),
    Feature("streak", "current streak"),
    Feature("strength", "habit strength"),
    Feature("hour_rate", "done at this time of day before"),
    Feature("weekday_rate", "done on this day of the week before"),
    Feature("hours_from_usual", "distance from the usual time"),
    Feature("days_since_done", "days since last done"),
    Feature("user_rate", "overall completion rate"),
    Feature("feedback_nearby", "feedback on nearby times"),
    Feature("duration", "length of the habit"),
)
NAMES = [f.name for f in FEATURES]
LABELS = {f.name: f.label for f in FEATURES}
COLUMN = {f.name: i for i, f in enumerate(FEATURES)}

NEARBY_S = 3 * 3600  # busy time is measured this far on either side of a slot
GAP_CAP_MIN = 12 * 60  # free time before/after counts up to half a day
DAYS_CAP = 60
PRIOR_WEIGHT = 3.0  # how many outcomes the prior counts for in smoothed rates
QUARTERS = 96  # 15-minute buckets of a day


@dataclass(frozen=True)
class Outcome:
    """A scheduled instance of a habit and whether it was done."""

    start: datetime
    done: bool


@dataclass(frozen=True)
class Said:
    """Feedback on a recommended slot, and when it was given."""

    start: datetime
    accepted: bool
    at: datetime


@dataclass(frozen=True)
class History:
    zone: ZoneInfo
    busy_start: Array  # merged busy intervals, epoch seconds, sorted
    busy_end: Array
    busy_before: Array  # busy seconds before each interval starts (for range sums)
    hour_rate: Array  # 24, smoothed done rate by local hour
    weekday_rate: Array  # 7, smoothed done rate by ISO weekday - 1
    usual_hour: float  # circular mean local hour of done instances (NaN: none)
    done_days: npt.NDArray[np.int64]  # ordinals of DONE check-ins, sorted
    per_day: float
    streak: float
    strength: float
    user_rate: float
    feedback: Array  # 96, smoothed accept (+) / reject (-) by local quarter hour
    duration_min: float


def history(
    *,
    zone: ZoneInfo,
    as_of: date,
    said_before: datetime,
    busy: Sequence[tuple[datetime, datetime]],
    outcomes: Sequence[Outcome],
    check_ins: Mapping[date, str],
    feedback: Sequence[Said],
    user_rate: float,
    times: int,
    per: str,
    duration_minutes: int,
    stats: HabitStats | None = None,
) -> History:
    """What was known before `as_of` (a local date) for outcomes and check-ins, and
    before `said_before` for feedback: a training row never sees its own future, and
    a served one sees what the user said a minute ago. `stats`: the habit's streak and
    strength as of `as_of`, when already known (they are computed otherwise)."""

    past = _Past.of(outcomes, zone, as_of)
    checked = {d: s for d, s in check_ins.items() if d < as_of}
    if stats is None:
        stats = habit_stats(checked, times, per, as_of)
    starts, ends = _merged(busy)
    lengths = ends - starts
    return History(
        zone=zone,
        busy_start=starts,
        busy_end=ends,
        busy_before=np.concatenate(([0.0], np.cumsum(lengths)[:-1])) if len(lengths) else lengths,
        hour_rate=past.hour_rates(),
        weekday_rate=past.weekday_rates(),
        usual_hour=past.usual_hour(),
        done_days=np.array(sorted(d.toordinal() for d, s in checked.items() if s == "DONE")),
        per_day=times / DENOMINATOR_BY_PERIOD[per],
        streak=float(stats.current_streak),
        strength=stats.strength,
        user_rate=user_rate,
        feedback=_feedback([s for s in feedback if s.at <= said_before], zone),
        duration_min=float(duration_minutes),
    )


def features(
    h: History, starts: Array, window_start: Array, window_end: Array
) -> npt.NDArray[np.float32]:
    """One row per candidate slot (starts and windows in epoch seconds), columns FEATURES."""
    n = len(starts)
    ends = starts + h.duration_min * 60
    local = starts + _offsets(h.zone, starts)
    seconds_of_day = np.mod(local, 86400)
    hour = seconds_of_day / 3600
    days = np.floor_divide(local, 86400).astype(np.int64)  # days since 1970-01-01, local
    weekday = np.mod(days + 3, 7)  # 1970-01-01 was a Thursday: Monday = 0
    room = np.maximum(window_end - window_start - h.duration_min * 60, 1.0)
    out = np.empty((n, len(FEATURES)), dtype=np.float32)
    out[:, COLUMN["local_hour"]] = hour
    out[:, COLUMN["weekday"]] = weekday
    out[:, COLUMN["window_position"]] = np.clip((starts - window_start) / room, 0.0, 1.0)
    out[:, COLUMN["busy_nearby"]] = _busy_between(h, starts - NEARBY_S, ends + NEARBY_S) / (
        ends - starts + 2 * NEARBY_S
    )
    out[:, COLUMN["free_before"]] = _free_before(h, starts)
    out[:, COLUMN["free_after"]] = _free_after(h, ends)
    out[:, COLUMN["per_day"]] = h.per_day
    out[:, COLUMN["streak"]] = h.streak
    out[:, COLUMN["strength"]] = h.strength
    out[:, COLUMN["hour_rate"]] = h.hour_rate[hour.astype(np.int64) % 24]
    out[:, COLUMN["weekday_rate"]] = h.weekday_rate[weekday]
    out[:, COLUMN["hours_from_usual"]] = _circular_hours(hour, h.usual_hour)
    out[:, COLUMN["days_since_done"]] = _days_since(h, days + EPOCH_ORDINAL)
    out[:, COLUMN["user_rate"]] = h.user_rate
    quarter = (seconds_of_day // 900).astype(np.int64) % QUARTERS
    out[:, COLUMN["feedback_nearby"]] = h.feedback[quarter]
    out[:, COLUMN["duration"]] = h.duration_min
    return out


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def epoch(moments: Sequence[datetime]) -> Array:
    return np.array([m.timestamp() for m in moments], dtype=np.float64)


# --- busy time ---------------------------------------------------------------------


def _merged(busy: Sequence[tuple[datetime, datetime]]) -> tuple[Array, Array]:
    merged: list[list[float]] = []
    for begin, end in sorted((b.timestamp(), e.timestamp()) for b, e in busy if e > b):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    table = np.array(merged, dtype=np.float64).reshape(-1, 2)
    return table[:, 0].copy(), table[:, 1].copy()


def _busy_until(h: History, t: Array) -> Array:
    """Busy seconds before each instant of `t`."""
    if not len(h.busy_start):
        return np.zeros_like(t)
    k = np.searchsorted(h.busy_start, t, side="right") - 1
    inside = np.where(k >= 0, np.minimum(t, h.busy_end[np.maximum(k, 0)]), 0.0)
    part = np.where(k >= 0, inside - h.busy_start[np.maximum(k, 0)], 0.0)
    return np.where(k >= 0, h.busy_before[np.maximum(k, 0)] + part, 0.0)


def _busy_between(h: History, a: Array, b: Array) -> Array:
    return _busy_until(h, b) - _busy_until(h, a)


def _free_before(h: History, starts: Array) -> Array:
    """Minutes since the last busy time ended (up to half a day)."""
    if not len(h.busy_end):
        return np.full_like(starts, GAP_CAP_MIN)
    k = np.searchsorted(h.busy_end, starts, side="right") - 1
    gap = np.where(k >= 0, (starts - h.busy_end[np.maximum(k, 0)]) / 60, GAP_CAP_MIN)
    return np.minimum(gap, GAP_CAP_MIN)


def _free_after(h: History, ends: Array) -> Array:
    """Minutes until the next busy time starts (up to half a day)."""
    if not len(h.busy_start):
        return np.full_like(ends, GAP_CAP_MIN)
    k = np.searchsorted(h.busy_start, ends, side="left")
    last = len(h.busy_start) - 1
    gap = np.where(k <= last, (h.busy_start[np.minimum(k, last)] - ends) / 60, GAP_CAP_MIN)
    return np.minimum(gap, GAP_CAP_MIN)


def _offsets(zone: ZoneInfo, starts: Array) -> Array:
    """UTC offsets (seconds) of each instant: constant unless the range holds a change."""
    if not len(starts):
        return starts.copy()
    low, high = float(starts.min()), float(starts.max())
    samples = np.append(np.arange(low, high, 6 * 3600), high)
    offsets = {_offset(zone, t) for t in samples}
    if len(offsets) == 1:
        return np.full_like(starts, offsets.pop())
    return np.array([_offset(zone, t) for t in starts], dtype=np.float64)


def _offset(zone: ZoneInfo, t: float) -> float:
    offset = datetime.fromtimestamp(t, zone).utcoffset()
    return offset.total_seconds() if offset else 0.0


# --- the habit's past -------------------------------------------------------------


@dataclass(frozen=True)
class _Past:
    """The outcomes before a day, in local terms (each instant converted once)."""

    hours: Array  # local hour of day, fractional
    weekdays: npt.NDArray[np.int64]  # Monday = 0
    done: Array  # 1.0 done, 0.0 not

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], zone: ZoneInfo, as_of: date) -> _Past:
        hours, weekdays, done = [], [], []
        for outcome in outcomes:
            local = outcome.start.astimezone(zone)
            if local.date() < as_of:
                hours.append(local.hour + local.minute / 60)
                weekdays.append(local.weekday())
                done.append(float(outcome.done))
        return cls(np.array(hours), np.array(weekdays, dtype=np.int64), np.array(done))

    def rate(self) -> float:
        """Done share, Laplace-smoothed: 0.5 with no history."""
        return float((self.done.sum() + 1) / (len(self.done) + 2))

    def hour_rates(self) -> Array:
        """Done rate at each local hour, counting the neighbouring hours half, pulled toward
        the habit's overall rate where there is little history."""
        done, seen = np.zeros(24), np.zeros(24)
        whole = self.hours.astype(np.int64)
        for shift, weight in ((-1, 0.5), (0, 1.0), (1, 0.5)):
            np.add.at(done, (whole + shift) % 24, weight * self.done)
            np.add.at(seen, (whole + shift) % 24, weight)
        rates: Array = (done + PRIOR_WEIGHT * self.rate()) / (seen + PRIOR_WEIGHT)
        return rates

    def weekday_rates(self) -> Array:
        done = np.bincount(self.weekdays, weights=self.done, minlength=7).astype(np.float64)
        seen = np.bincount(self.weekdays, minlength=7).astype(np.float64)
        rates: Array = (done + PRIOR_WEIGHT * self.rate()) / (seen + PRIOR_WEIGHT)
        return rates

    def usual_hour(self) -> float:
        """The circular mean hour of the done ones (NaN: none, or evenly spread)."""
        angles = 2 * np.pi * self.hours[self.done > 0] / 24
        if not len(angles):
            return math.nan
        x, y = float(np.cos(angles).sum()), float(np.sin(angles).sum())
        if math.hypot(x, y) < 1e-9:
            return math.nan
        return (math.atan2(y, x) / (2 * math.pi) * 24) % 24


def _circular_hours(hour: Array, usual: float) -> Array:
    if math.isnan(usual):
        return np.full_like(hour, np.nan)
    distance = np.abs(hour - usual) % 24
    result: Array = np.minimum(distance, 24 - distance)
    return result


def _days_since(h: History, ordinals: npt.NDArray[np.int64]) -> Array:
    if not len(h.done_days):
        return np.full(len(ordinals), np.nan)
    k = np.searchsorted(h.done_days, ordinals, side="left") - 1
    since = np.where(k >= 0, ordinals - h.done_days[np.maximum(k, 0)], np.nan)
    return np.minimum(since, DAYS_CAP)


def _feedback(said: Sequence[Said], zone: ZoneInfo) -> Array:
    """+1 accepted, -1 rejected, spread over an hour either side, shrunk toward 0."""
    if not said:
        return np.zeros(QUARTERS)
    at = np.array(
        [(t.hour * 60 + t.minute) // 15 for t in (s.start.astimezone(zone) for s in said)]
    )
    sign = np.array([1.0 if s.accepted else -1.0 for s in said])
    distance = np.abs(np.arange(QUARTERS)[None, :] - at[:, None])
    distance = np.minimum(distance, QUARTERS - distance)
    weights = np.clip(1 - distance / 4, 0, None)  # (feedback, quarter)
    result: Array = (sign @ weights) / (weights.sum(axis=0) + 1)
    return result

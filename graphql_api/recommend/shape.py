"""The shape of a user's taste: a band of the day, or not, by Bayesian model averaging.

Pure numpy, no I/O. Beside the smoothed rate per time that `adaptive` keeps (the "no
band" hypothesis: the calibrated ranker's probability updated by nearby answers), the
user's taste may be a band of their local day: a chance `base` at its centre falling
off as a Gaussian of width `width` to a `floor` elsewhere, with one centre for every
day or one for weekdays and another for weekends. Each such hypothesis (centre on the
quarter-hour grid between the earliest and the latest candidate x width x base x
floor, shared or apart) has a likelihood of the user's answers; so has the
smoothed-rate ranker (its prequential likelihood: each answer predicted from the ones
before it). Answers are weighted by recency (the same half-life as `adaptive`) in
every likelihood alike, so a drifting taste is followed.

The score of a slot is the posterior predictive: the band hypotheses' chances weighted
by their posterior (moved by the ranker's preferences between slots, which a band
knows nothing of), plus the smoothed-rate posterior's mean times its own posterior
weight. Without answers `personal` does not ask: the score is the ranker's.

Exploration is Thompson sampling over the same posterior: one hypothesis is drawn (a
band, or the smoothed rate, whose slots' Beta posteriors are then drawn from), and the
best slot under it is shown.

Tuned (widths, levels, the prior weights, LEAN) on users `evaluate` never tests; what
was tried and the figures are in bench/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from graphql_api.recommend.adaptive import (
    DAY_KERNEL,
    DAYS,
    HALF_LIFE_DAYS,
    PRIOR_STRENGTH,
    QUARTERS,
    TIME_KERNEL,
    Answers,
)

Array = npt.NDArray[np.float64]

WIDTHS = (0.5, 0.75, 1.25, 2.0, 3.0)  # hours, one standard deviation
BASES = (0.6, 0.85)  # the chance at a band's centre
FLOORS = (0.04, 0.15)  # the chance far from it
NO_BAND = 0.5  # prior probability that the taste is no band (the smoothed rate)
APART = 0.3  # prior probability, for a band, that weekends have their own centre
LEAN = 1.0  # how much of the ranker's own preferences between slots the band part keeps
LATEST = 150  # answers the likelihoods read (the latest; older ones weigh little)


def _grid() -> tuple[Array, Array, Array]:
    """Each band's chance at every quarter hour for every centre: (bands, centre, quarter),
    bands being the width x base x floor combinations, and its log and log complement."""
    steps = np.arange(QUARTERS)
    distance = np.abs(steps[:, None] - steps[None, :])
    distance = np.minimum(distance, QUARTERS - distance) / 4  # hours
    chances = []
    for width in WIDTHS:
        bump = np.exp(-np.square(distance) / (2 * width**2))
        for base in BASES:
            for floor in FLOORS:
                chances.append(floor + (base - floor) * bump)
    p = np.stack(chances)
    return p, np.log(p), np.log1p(-p)


CHANCE, LOG_YES, LOG_NO = _grid()
BANDS = len(CHANCE)
_FLAT = CHANCE.reshape(BANDS * QUARTERS, QUARTERS)  # (band x centre, quarter)
# (band x centre, yes at each quarter then no at each): one product gives every likelihood
_LOG = np.concatenate([LOG_YES, LOG_NO], axis=2).reshape(BANDS * QUARTERS, 2 * QUARTERS)


def _logsumexp(x: Array, axis: int | tuple[int, ...] | None = None) -> Array:
    top = np.max(x, axis=axis, keepdims=True)
    found: Array = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return np.squeeze(found, axis=axis) if axis is not None else found.reshape(())


@dataclass(frozen=True)
class Shape:
    """What the answers say of the taste's shape."""

    no_band: float  # posterior probability of the smoothed rate
    apart: float  # posterior probability, given a band, of weekends apart
    chance: Array  # (2, 96): the band part's predictive chance, weekdays and weekends
    weights: Array  # (2, bands, 96): posterior of (band, centre) for each kind of day
    shared: Array  # (bands, 96): posterior of (band, centre) when weekends share it

    def mixed(
        self,
        rate: Array,
        prior: Array,
        weekend: npt.NDArray[np.bool_],
        quarter: npt.NDArray[np.int64],
    ) -> Array:
        """The posterior predictive of slots whose smoothed-rate posterior mean is `rate`
        and whose calibrated prior is `prior`. A band says nothing of what the ranker sees
        beside the time (a slot squeezed between meetings, a day the user manages worse),
        so the band part keeps the ranker's preferences between slots: its log-odds move
        by LEAN times the prior's, less their mean over the slots."""
        band = self.chance[weekend.astype(np.int64), quarter]
        odds = np.log(prior / (1 - prior))
        band = 1 / (1 + np.exp(-(np.log(band / (1 - band)) + LEAN * (odds - odds.mean()))))
        result: Array = self.no_band * rate + (1 - self.no_band) * band
        return result

    def centre(self, weekend: bool) -> float:
        """The most likely centre of the band (local hour) on that kind of day."""
        w = (1 - self.apart) * self.shared + self.apart * self.weights[int(weekend)]
        return float(np.argmax(w.sum(axis=0))) / 4

    def draw(self, rng: np.random.Generator) -> Array | None:
        """A hypothesis drawn from the posterior: the band's chance at every quarter hour,
        (2, 96) for weekdays and weekends, or None for the smoothed rate."""
        if rng.random() < self.no_band:
            return None
        if rng.random() < self.apart:
            # one width and level for both kinds of day: the weekend's centre given the band
            band, centre = self._pick(self.weights[0], rng)
            weekend = self.weights[1][band]
            other = int(rng.choice(QUARTERS, p=weekend / weekend.sum()))
            return np.stack([CHANCE[band, centre], CHANCE[band, other]])
        band, centre = self._pick(self.shared, rng)
        return np.stack([CHANCE[band, centre], CHANCE[band, centre]])

    @staticmethod
    def _pick(w: Array, rng: np.random.Generator) -> tuple[int, int]:
        flat = w.ravel()
        k = int(rng.choice(len(flat), p=flat / flat.sum()))
        return k // QUARTERS, k % QUARTERS


def _counts(a: Answers, weight: Array) -> tuple[Array, Array]:
    """Weighted yes and no counts per kind of day (weekday, weekend) x quarter hour."""
    kind = (a.weekday >= 5).astype(np.int64)
    yes, no = np.zeros((2, QUARTERS)), np.zeros((2, QUARTERS))
    np.add.at(yes, (kind, a.quarter), weight * a.yes)
    np.add.at(no, (kind, a.quarter), weight * (1 - a.yes))
    return yes, no


def smoothed_rate_loglik(a: Answers, weight: Array, p0: float) -> float:
    """The smoothed-rate ranker's (recency-weighted) prequential log likelihood: each
    answer as `adaptive` would have predicted it from the earlier ones, from the prior
    `p0` worth PRIOR_STRENGTH answers (answers are in time order)."""
    n = len(a)
    q, d = a.quarter, a.weekday % DAYS
    kernel = TIME_KERNEL[q[:, None], q[None, :]] * DAY_KERNEL[d[:, None], d[None, :]]
    # an earlier answer j counts at answer i as its age then says
    decay = np.power(0.5, (a.age_days[None, :] - a.age_days[:, None]) / HALF_LIFE_DAYS)
    kernel = np.tril(kernel * np.minimum(decay, 1.0), k=-1)[:n, :n]
    yes = kernel @ a.yes
    seen = kernel.sum(axis=1)
    p = (PRIOR_STRENGTH * p0 + yes) / (PRIOR_STRENGTH + seen)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(np.sum(weight * (a.yes * np.log(p) + (1 - a.yes) * np.log1p(-p))))


def centres(quarters: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """The quarter hours a band may be centred on: from the earliest candidate's to the
    latest's (a band the habit's windows cannot reach would not be the habit's taste)."""
    allowed = np.zeros(QUARTERS, dtype=bool)
    allowed[int(quarters.min()) : int(quarters.max()) + 1] = True
    return allowed


def of(a: Answers, p0: float, allowed: npt.NDArray[np.bool_]) -> Shape:
    """The posterior over shapes given the answers; `p0` is the ranker's typical chance
    (the smoothed-rate hypothesis's prior for the answers' slots), `allowed` the centres."""
    if len(a) > LATEST:
        a = Answers(a.quarter[-LATEST:], a.weekday[-LATEST:], a.yes[-LATEST:], a.age_days[-LATEST:])
    weight = np.power(0.5, a.age_days / HALF_LIFE_DAYS)
    yes, no = _counts(a, weight)
    # log likelihood of each kind of day's answers under each (band, centre): (2, bands, 96)
    loglik = (_LOG @ np.hstack([yes, no]).T).T.reshape(2, BANDS, QUARTERS)
    loglik = np.where(allowed, loglik, -np.inf)
    room = int(allowed.sum())
    cells = BANDS * room
    # shared: one centre for both kinds; apart: each kind its own (same width and level)
    shared_ll = loglik[0] + loglik[1]
    per_kind = _logsumexp(loglik, axis=2) - np.log(room)  # (2, bands)
    apart_ll = per_kind[0] + per_kind[1]  # (bands,)
    log_shared = np.log(1 - APART) + _logsumexp(shared_ll) - np.log(cells)
    log_apart = np.log(APART) + _logsumexp(apart_ll) - np.log(BANDS)
    log_band = np.logaddexp(log_shared, log_apart)
    log_rate = smoothed_rate_loglik(a, weight, p0) if len(a) else 0.0
    no_band = 1 / (1 + np.exp(np.log(1 - NO_BAND) + log_band - np.log(NO_BAND) - log_rate))
    apart = float(np.exp(log_apart - log_band))
    shared = np.exp(shared_ll - _logsumexp(shared_ll))
    # apart: the posterior of (band, centre) for one kind of day includes the other kind's
    # evidence for that band (its likelihood summed over the other's centres)
    own = loglik + per_kind[::-1][:, :, None]
    weights = np.exp(own - _logsumexp(own, axis=(1, 2))[:, None, None])
    flat = BANDS * QUARTERS
    mix = np.vstack([(1 - apart) * shared.reshape(1, flat), apart * weights.reshape(2, flat)])
    each = mix @ _FLAT  # (shared, weekdays apart, weekends apart) x quarter
    chance = each[0] + each[1:]
    return Shape(float(no_band), apart, chance, weights, shared)

"""The ranking the API ships: the calibrated ranker, then the user's own answers on top.

1. The heuristic's score, and the model's where one serves the user, blended into a
   probability (`calibration.Blend`, fitted by `train`; the heuristic alone is Platt
   scaled).
2. That probability is the prior of each slot's Beta posterior over the user's
   answers near its weekday and time (`adaptive`): its mean, the smoothed rate, stays
   a probability, and an answer given a minute ago counts at the next request. Once
   there are answers, the prior is computed with the features that summarise them by
   time of day set to "nothing known", so that each answer is counted once, by the
   posterior, which also tells weekdays apart (those features do not).
3. Beside that smoothed rate per time, the answers may say the taste is one band of
   the day (per kind of day, or shared): `shape` weighs the band hypotheses against the
   smoothed rate by their likelihoods of the answers, and the score is the posterior
   predictive of the mixture (Bayesian model averaging), still a probability.
4. While the user has answered little, the last slot of an answer of 4 or more is
   explored (Thompson sampling over the same hypotheses), never one of the first three,
   which are the best known.

Each slot's reasons are the terms of that score in log-odds: the model's features' path
contributions (they add up to its log-odds, as SHAP values do) and the heuristic's signals
times their blend weights, the shift the answers made near the
slot, in words ("you liked Tuesdays around 07:00 4 of 5 times"), and the shift the shape
made ("your liked times, a band around 07:15 on weekdays": the score's log-odds less the
smoothed rate's), so that all of them add up to the score that ordered the slots.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from graphql_api.recommend import adaptive, heuristic, shape
from graphql_api.recommend.adaptive import Answers, Posterior
from graphql_api.recommend.calibration import HEURISTIC as HEURISTIC_BLEND
from graphql_api.recommend.calibration import logit
from graphql_api.recommend.features import COLUMN, NAMES
from graphql_api.recommend.features import LABELS as FEATURE_LABELS
from graphql_api.recommend.model import Ranker
from graphql_api.recommend.shape import Shape

Matrix = npt.NDArray[np.float32]
Array = npt.NDArray[np.float64]

REASONS = 3
SURE = 3  # the first slots of an answer are always the best known
EXPLORED = 1  # the most slots explored, at the end of an answer (2 learnt no faster)
HEURISTIC = "heuristic"
EXPLORING = "a time tried to learn your taste"
OTHER_ANSWERS = "your answers at other times"
BAND = "your liked times, a band"


@dataclass(frozen=True)
class Ranked:
    row: int
    score: float
    reasons: list[tuple[str, float]]
    ranked_by: str


@dataclass(frozen=True)
class Scored:
    rows: Matrix  # as the ranker saw them
    heuristic: Array
    heuristic_terms: Array  # (n, len(heuristic.SIGNALS)), the heuristic's own units
    model: Array | None
    prior: Array
    posterior: Posterior
    shape: Shape | None  # None without answers: nothing is known of the taste's shape
    score: Array  # the posterior predictive (the posterior's mean without answers)


def without_answers(rows: Matrix) -> Matrix:
    """The rows with the features that summarise the user's answers by time of day set to
    "nothing known": the posterior counts those answers itself (by weekday too), once."""
    out = rows.copy()
    out[:, COLUMN["feedback_nearby"]] = 0.0
    out[:, COLUMN["hour_rate"]] = 0.5
    out[:, COLUMN["hours_from_usual"]] = np.nan
    return out


def scored(rows: Matrix, said: Answers, ranker: Ranker | None) -> Scored:
    """Every row's probability, as shipped (also what `evaluate` measures)."""
    if len(said):
        rows = without_answers(rows)
    h, terms = heuristic.score(rows)
    m = ranker.scores(rows) if ranker is not None else None
    blend = ranker.blend if ranker is not None else HEURISTIC_BLEND
    prior = blend.probability(m, h)
    hour = rows[:, COLUMN["local_hour"]].astype(np.float64)
    weekday = rows[:, COLUMN["weekday"]].astype(np.float64)
    post = adaptive.posterior(prior, hour, weekday, said)
    if not len(said) or not len(rows):
        return Scored(rows, h, terms, m, prior, post, None, post.mean)
    day, quarter = adaptive.buckets(hour, weekday)
    form = shape.of(said, float(np.mean(prior)), shape.centres(quarter))
    score = form.mixed(post.mean, prior, day >= 5, quarter)
    return Scored(rows, h, terms, m, prior, post, form, score)


def explore(s: Scored, chosen: list[int], answered: int, seed: int, k: int) -> list[int]:
    """Up to `k` slots not among `chosen`, by Thompson sampling over the taste's shapes:
    the best slots under a band drawn from the posterior, or, when the smoothed rate is
    drawn (or nothing is known yet), the highest draws of the slots' Beta posteriors."""
    if answered >= adaptive.EXPLORE_UNTIL or k < 1:
        return []
    rng = np.random.default_rng(seed)
    band = s.shape.draw(rng) if s.shape is not None else None
    if band is None:
        return adaptive.explore(s.posterior, chosen, answered, seed, k)
    day, quarter = adaptive.buckets(
        s.rows[:, COLUMN["local_hour"]].astype(np.float64),
        s.rows[:, COLUMN["weekday"]].astype(np.float64),
    )
    # ties (the same time on several days) broken at random
    drawn = band[(day >= 5).astype(np.int64), quarter] + 1e-6 * rng.random(len(day))
    drawn[np.asarray(chosen, dtype=np.int64)] = -np.inf
    best = np.argsort(-drawn, kind="stable")[:k]
    return [int(i) for i in best if np.isfinite(drawn[i])]


def order(scores: Array, limit: int) -> list[int]:
    """The best `limit` rows, best first; ties to the earlier slot (rows are in time order)."""
    ranked = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in ranked[:limit]]


def rank(rows: Matrix, said: Answers, ranker: Ranker | None, limit: int, key: str) -> list[Ranked]:
    """The best `limit` slots (row indices) with their scores and reasons. `key` seeds the
    exploration, so the same question gets the same answer."""
    s = scored(rows, said, ranker)
    top = order(s.score, limit)
    explored: list[int] = []
    if limit > SURE and len(top) == limit:
        kept = limit - min(EXPLORED, limit - SURE)
        seed = zlib.crc32(key.encode())
        explored = explore(s, top[:kept], len(said), seed, limit - kept)
        explored.sort(key=lambda i: (-s.score[i], i))
        top = [*top[:kept], *explored] if explored else top
    by = f"model {ranker.scope} v{ranker.version}" if ranker is not None else HEURISTIC
    strongest = [t[:REASONS] for t in terms(top, s, said, ranker)]
    picks = []
    for k, i in enumerate(top):
        reasons = [(label, round(value, 4)) for label, value in strongest[k] if abs(value) >= 1e-4]
        if i in explored:
            reasons = [(EXPLORING, 0.0), *reasons[: REASONS - 1]]
        picks.append(Ranked(i, round(float(s.score[i]), 4), reasons, by))
    return picks


def band_label(form: Shape, weekend: bool) -> str:
    """The shape term's words: where the band of liked times most likely is."""
    centre = form.centre(weekend)
    hours, minutes = int(centre), round(centre % 1 * 60)
    days = "weekends" if weekend else "weekdays"
    return f"{BAND} around {hours:02d}:{minutes:02d} on {days}"


@cache
def _label_sums(with_model: bool) -> tuple[list[str], Array]:
    """The readable names of the score's terms, each once, and the matrix that sums the
    heuristic's signals and the model's features into them (some share a name)."""
    labels = list(heuristic.LABELS)
    if with_model:
        labels += [FEATURE_LABELS[name] for name in NAMES]
    names = list(dict.fromkeys(labels))
    sums = np.zeros((len(labels), len(names)))
    sums[np.arange(len(labels)), [names.index(label) for label in labels]] = 1.0
    return names, sums


def terms(
    top: list[int], s: Scored, said: Answers, ranker: Ranker | None
) -> list[list[tuple[str, float]]]:
    """Every term of each picked row's log-odds, strongest first: the heuristic's signals
    and the model's features times their blend weights, and the shift the answers made.
    They add up to the score's log-odds less the blend's bias (and the model's own bias
    times its weight); `reasons` are the first REASONS of them."""
    blend = ranker.blend if ranker is not None else HEURISTIC_BLEND
    picked = np.asarray(top, dtype=np.int64)
    signals = s.heuristic_terms[picked]
    total = signals.sum(axis=1)
    # each signal's share of the heuristic's log-odds (h = 0.5 + the sum of the signals)
    steep = np.abs(total) > 1e-6
    scale = np.where(steep, logit(s.heuristic[picked]) / np.where(steep, total, 1.0), 4.0)
    values = blend.heuristic * scale[:, None] * signals
    with_model = ranker is not None and blend.model != 0
    if ranker is not None and with_model:
        paths = ranker.contributions(s.rows[picked]) * blend.model
        values = np.hstack([values, paths])
    names, sums = _label_sums(with_model)
    named = values @ sums  # (picked, names)
    shifts = logit(s.posterior.mean[picked]) - logit(s.prior[picked])
    shaped = logit(s.score[picked]) - logit(s.posterior.mean[picked])
    found = []
    for k, i in enumerate(top):
        of_row = list(zip(names, named[k].tolist(), strict=True))
        if len(said):
            hour = float(s.rows[i, COLUMN["local_hour"]])
            told = adaptive.reason(said, hour, int(s.rows[i, COLUMN["weekday"]]))
            of_row.append((told[0] if told else OTHER_ANSWERS, float(shifts[k])))
        if s.shape is not None:
            weekend = int(s.rows[i, COLUMN["weekday"]]) >= 5
            of_row.append((band_label(s.shape, weekend), float(shaped[k])))
        found.append(sorted(of_row, key=lambda item: -abs(item[1])))
    return found

"""The ranking as shipped: its reasons are the terms of the score that ordered the slots."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.recommend import adaptive, personal
from graphql_api.recommend.adaptive import Answers
from graphql_api.recommend.calibration import HEURISTIC, Blend, logit
from graphql_api.recommend.features import COLUMN, NAMES
from graphql_api.recommend.model import Ranker, load_booster

SLOTS = 40


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    """A small model that likes mornings and room around a slot, blended with the heuristic."""
    rng = np.random.default_rng(11)
    x = rows_from(rng.random((600, len(NAMES))))
    morning = np.exp(-np.square(x[:, COLUMN["local_hour"]] - 8) / 8)
    room = np.minimum(x[:, COLUMN["free_before"]], x[:, COLUMN["free_after"]]) / 720
    y = rng.random(600) < 0.1 + 0.6 * morning + 0.2 * room
    params = {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(x, label=y, feature_names=NAMES), 20)
    served = load_booster(bytes(booster.save_raw("ubj")))
    return Ranker("global", 1, served, Blend(model=0.9, heuristic=0.3, bias=-0.1))


def rows_from(u: np.ndarray) -> np.ndarray:
    """Feature rows in their ranges from uniform numbers in [0, 1)."""
    x = u.astype(np.float32).copy()
    x[:, COLUMN["local_hour"]] = np.floor(u[:, COLUMN["local_hour"]] * 96) / 4
    x[:, COLUMN["weekday"]] = np.floor(u[:, COLUMN["weekday"]] * 7)
    x[:, COLUMN["free_before"]] *= 720
    x[:, COLUMN["free_after"]] *= 720
    x[:, COLUMN["hours_from_usual"]] *= 12
    x[:, COLUMN["feedback_nearby"]] = 2 * u[:, COLUMN["feedback_nearby"]] - 1
    return x


answer = st.tuples(st.integers(0, 95), st.integers(0, 6), st.booleans(), st.floats(0, 60))


def answers_of(given_answers: list[tuple[int, int, bool, float]]) -> Answers:
    return Answers(
        quarter=np.array([q for q, _, _, _ in given_answers], dtype=np.int64),
        weekday=np.array([d for _, d, _, _ in given_answers], dtype=np.int64),
        yes=np.array([float(y) for _, _, y, _ in given_answers]),
        age_days=np.array([age for _, _, _, age in given_answers]),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.lists(answer, max_size=30),
    st.booleans(),
)
def test_the_terms_add_up_to_the_score_that_ordered_the_slots(
    ranker: Ranker, seed: int, given_answers: list[tuple[int, int, bool, float]], model: bool
) -> None:
    # given: a day of candidates and some answers
    rows = rows_from(np.random.default_rng(seed).random((SLOTS, len(NAMES))))
    said = answers_of(given_answers)
    served = ranker if model else None
    # when
    s = personal.scored(rows, said, served)
    top = personal.order(s.score, 8)
    found = personal.terms(top, s, said, served)
    # then: each pick's terms are its score's log-odds, less the blend's constant part
    blend = ranker.blend if model else HEURISTIC
    constant = np.full(len(top), blend.bias)
    if model:
        matrix = xgb.DMatrix(s.rows[top], feature_names=NAMES)
        base = ranker.booster.predict(matrix, pred_contribs=True)[:, -1]
        constant += blend.model * base
    sums = np.array([sum(value for _, value in row) for row in found])
    assert sums + constant == pytest.approx(logit(s.score[top]), abs=2e-3)
    # strongest first, and ordered by the score they explain
    for row in found:
        strengths = [abs(value) for _, value in row]
        assert strengths == sorted(strengths, reverse=True)
    assert list(s.score[top]) == sorted(s.score[top], reverse=True)


def test_the_reasons_of_the_answer_are_the_strongest_terms_and_name_the_answers(
    ranker: Ranker,
) -> None:
    # given: eight Tuesdays at 19:00 liked lately, by a user whose model likes mornings
    rows = rows_from(np.random.default_rng(3).random((SLOTS, len(NAMES))))
    rows[:, COLUMN["weekday"]] = 1
    rows[:, COLUMN["local_hour"]] = np.arange(SLOTS) / 4 + 8  # 08:00 to 17:45
    rows[-1, COLUMN["local_hour"]] = 19.0
    said = answers_of([(19 * 4, 1, True, float(day)) for day in range(1, 9)])
    # when
    picks = personal.rank(rows, said, ranker, 5, "key")
    # then: 19:00 comes first, for the answers, and every reason is one of its terms
    first = picks[0]
    assert first.row == SLOTS - 1
    assert first.reasons[0][0] == "you liked Tuesdays around 19:00 8 of 8 times"
    every = personal.terms([first.row], personal.scored(rows, said, ranker), said, ranker)[0]
    assert first.reasons == [(label, round(value, 4)) for label, value in every[:3]]
    assert first.reasons[0][1] > 0
    assert adaptive.reason(said, 12.0, 1) is None  # other times: nothing said of them


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(answer, max_size=14), st.integers(4, 8))
def test_exploring_never_moves_the_first_three_which_evaluate_scores(
    seed: int, given_answers: list[tuple[int, int, bool, float]], limit: int
) -> None:
    # given: a user with fewer answers than it takes to stop exploring
    rows = rows_from(np.random.default_rng(seed).random((SLOTS, len(NAMES))))
    said = answers_of(given_answers)
    # when
    picks = personal.rank(rows, said, None, limit, f"key-{seed}")
    # then: the first three are the best scored (what `evaluate` counts as top-3), and at
    # most the last one is a time tried to learn the user's taste
    best = personal.order(personal.scored(rows, said, None).score, limit)
    assert [p.row for p in picks[:3]] == best[:3]
    explored = [k for k, p in enumerate(picks) if p.reasons[:1] == [(personal.EXPLORING, 0.0)]]
    assert explored in ([], [limit - 1])
    assert len({p.row for p in picks}) == limit

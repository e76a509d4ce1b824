"""Scores as probabilities: the blend of the model and the heuristic, and Platt scaling."""

from __future__ import annotations

import numpy as np
import pytest

from graphql_api.recommend.calibration import HEURISTIC, Blend, brier, fit, logit, sigmoid


def test_fit_recovers_the_blend_that_made_the_labels() -> None:
    # given: labels drawn from a known blend of two scores
    rng = np.random.default_rng(3)
    model, by_heuristic = rng.uniform(0.02, 0.98, 20_000), rng.uniform(0.1, 0.9, 20_000)
    truth = Blend(model=0.8, heuristic=0.5, bias=-0.4)
    labels = rng.random(20_000) < truth.probability(model, by_heuristic)
    # when
    found = fit(labels, by_heuristic, model)
    # then
    assert found.model == pytest.approx(0.8, abs=0.08)
    assert found.heuristic == pytest.approx(0.5, abs=0.08)
    assert found.bias == pytest.approx(-0.4, abs=0.08)


def test_platt_scaling_makes_an_overconfident_score_calibrated() -> None:
    # given: a score twice as sure of itself as it should be
    rng = np.random.default_rng(5)
    true_p = rng.uniform(0.05, 0.95, 20_000)
    overconfident = sigmoid(2 * logit(true_p))
    labels = rng.random(20_000) < true_p
    # when
    platt = fit(labels, overconfident, None)
    calibrated = platt.probability(None, overconfident)
    # then: the slope halves it, and the Brier score improves
    assert platt.heuristic == pytest.approx(0.5, abs=0.05)
    assert brier(labels, calibrated) < brier(labels, overconfident)


def test_a_separable_set_gives_a_finite_blend() -> None:
    found = fit([0, 0, 1, 1], [0.2, 0.3, 0.7, 0.8], None)
    assert np.isfinite(found.as_list()).all()


def test_a_stored_blend_is_read_back_or_refused() -> None:
    assert Blend.of([0.8, 0.3, -0.2]) == Blend(0.8, 0.3, -0.2)
    assert Blend.of(None) is None
    assert Blend.of([1, "x", 2]) is None
    assert HEURISTIC.model == 0.0

"""ROC AUC and log loss, as the training report and `evaluate` use them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphql_api.recommend.scores import log_loss, roc_auc

outcomes = st.lists(
    st.tuples(st.sampled_from([0, 1]), st.integers(0, 5).map(float)), min_size=2, max_size=60
).filter(lambda pairs: len({label for label, _ in pairs}) == 2)


@given(outcomes)
def test_auc_is_the_chance_a_positive_outscores_a_negative(pairs: list[tuple[int, float]]) -> None:
    # the definition, pair by pair (ties count half), with few score values: many ties
    positives = [s for label, s in pairs if label == 1]
    negatives = [s for label, s in pairs if label == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    expected = wins / (len(positives) * len(negatives))
    labels, scores = zip(*pairs, strict=True)
    assert roc_auc(labels, scores) == pytest.approx(expected)


def test_auc_of_a_perfect_and_a_reversed_ranking() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_auc_needs_both_outcomes() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        roc_auc([1, 1], [0.2, 0.3])


def test_log_loss_is_the_mean_negative_log_likelihood() -> None:
    expected = -(math.log(0.9) + math.log(1 - 0.2)) / 2
    assert log_loss([1, 0], [0.9, 0.2]) == pytest.approx(expected)
    # a certain, wrong answer is clipped, not infinite
    assert math.isfinite(log_loss([1], [0.0]))

"""The shape of a taste: a band of the day, or not, weighed against the smoothed rate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.recommend import adaptive, personal, shape
from graphql_api.recommend.adaptive import Answers
from graphql_api.recommend.calibration import logit
from graphql_api.recommend.features import COLUMN, NAMES

HOURS = np.arange(6, 22, 0.25)  # a day's candidate starts, local hours


def day_rows(weekday: int, prior_seed: int = 0) -> np.ndarray:
    """A day of candidates (06:00 to 21:45) whose other features are drawn at random."""
    u = np.random.default_rng(prior_seed).random((len(HOURS), len(NAMES)))
    rows = u.astype(np.float32)
    rows[:, COLUMN["local_hour"]] = HOURS
    rows[:, COLUMN["weekday"]] = weekday
    rows[:, COLUMN["free_before"]] = 120
    rows[:, COLUMN["free_after"]] = 120
    rows[:, COLUMN["hours_from_usual"]] = 0
    rows[:, COLUMN["feedback_nearby"]] = 0
    return rows


def answers_of(given_answers: list[tuple[float, int, bool, float]]) -> Answers:
    """(local hour, weekday, yes, age in days), oldest first."""
    ordered = sorted(given_answers, key=lambda a: -a[3])
    return Answers(
        quarter=np.array([int(h * 4) % 96 for h, _, _, _ in ordered], dtype=np.int64),
        weekday=np.array([d for _, d, _, _ in ordered], dtype=np.int64),
        yes=np.array([float(y) for _, _, y, _ in ordered]),
        age_days=np.array([float(age) for _, _, _, age in ordered]),
    )


def best_hour(rows: np.ndarray, said: Answers) -> float:
    s = personal.scored(rows, said, None)
    return float(rows[personal.order(s.score, 1)[0], COLUMN["local_hour"]])


def band_answers() -> Answers:
    """A user who liked 10:30-11:00 on weekdays and turned down the rest of the day."""
    liked = [(10.5 + 0.25 * (k % 3), k % 5, True, 28.0 - 2 * k) for k in range(6)]
    disliked = [(h, k % 5, False, 27.0 - 2 * k) for k, h in enumerate([7, 8.5, 13, 15, 17.5, 20])]
    return answers_of(liked + disliked)


def test_answers_consistent_with_one_band_put_its_centre_first() -> None:
    # given: six yeses around 10:30-11:00 and noes elsewhere, on weekdays
    said = band_answers()
    # when
    form = shape.of(said, 0.3, shape.centres(np.arange(6 * 4, 22 * 4)))
    # then: the band is found, and its centre ranks first on a weekday
    assert abs(form.centre(weekend=False) - 10.75) <= 0.5
    assert abs(float(np.argmax(form.chance[0])) / 4 - 10.75) <= 0.5
    assert abs(best_hour(day_rows(weekday=2), said) - 10.75) <= 0.5


def test_the_band_follows_a_taste_that_drifts() -> None:
    # given: yeses at 09:00 two months ago, yeses at 14:00 in the last two weeks
    old = [(9.0, k % 5, True, 60.0 - k) for k in range(6)]
    new = [(14.0, k % 5, True, 14.0 - 2 * k) for k in range(6)]
    noes = [(h, 1, False, 10.0) for h in (7, 11.5, 17, 20)]
    said = answers_of(old + new + noes)
    # then: the recent band wins
    assert abs(best_hour(day_rows(weekday=3), said) - 14.0) <= 0.5


def test_weekends_may_have_their_own_band() -> None:
    # given: weekdays liked at 08:00, weekends at 18:00, and the other times turned down
    weekdays = [(8.0, k % 5, True, 30.0 - k) for k in range(8)]
    weekends = [(18.0, 5 + k % 2, True, 29.5 - 3 * k) for k in range(5)]
    noes = [(18.0, k % 5, False, 20.0 - k) for k in range(4)]
    noes += [(8.0, 5 + k % 2, False, 19.5 - k) for k in range(3)]
    said = answers_of(weekdays + weekends + noes)
    # when
    form = shape.of(said, 0.3, shape.centres(np.arange(6 * 4, 22 * 4)))
    # then
    assert form.apart > 0.5
    assert abs(best_hour(day_rows(weekday=1), said) - 8.0) <= 0.5
    assert abs(best_hour(day_rows(weekday=6), said) - 18.0) <= 0.5


def test_a_taste_of_two_bands_still_ranks_both_above_the_times_turned_down() -> None:
    # given: yeses at 07:00 and at 19:00, noes at midday, on weekdays
    said = answers_of(
        [(7.0, k % 5, True, 30.0 - 2 * k) for k in range(5)]
        + [(19.0, k % 5, True, 29.0 - 2 * k) for k in range(5)]
        + [(12.0 + k % 3, k % 5, False, 28.5 - 2 * k) for k in range(5)]
    )
    # when
    s = personal.scored(day_rows(weekday=1), said, None).score
    # then
    at = {h: s[int(np.flatnonzero(h == HOURS)[0])] for h in (7.0, 12.0, 13.0, 19.0)}
    assert min(at[7.0], at[19.0]) > max(at[12.0], at[13.0])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 6))
def test_with_no_answers_the_ranking_is_the_rankers_own(seed: int, weekday: int) -> None:
    # given: a day whose prior differs from slot to slot
    rows = day_rows(weekday, seed)
    # when
    s = personal.scored(rows, adaptive.NONE, None)
    # then: the score is the calibrated prior, and so is the order
    assert s.shape is None
    assert np.array_equal(s.score, s.prior)
    assert personal.order(s.score, len(rows)) == personal.order(s.prior, len(rows))


answer = st.tuples(
    st.integers(0, 95).map(lambda q: q / 4),
    st.integers(0, 6),
    st.booleans(),
    st.floats(0, 400),
)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 6), st.lists(answer, min_size=1, max_size=200))
def test_scores_are_probabilities_whatever_was_answered(
    seed: int, weekday: int, given_answers: list[tuple[float, int, bool, float]]
) -> None:
    # given: any answers, at any times and ages
    said = answers_of(given_answers)
    rows = day_rows(weekday, seed)
    # when
    s = personal.scored(rows, said, None)
    # then: the posterior predictive is a probability, and so are the model weights
    assert s.shape is not None
    assert np.all(np.isfinite(s.score))
    assert np.all((s.score > 0) & (s.score < 1))
    assert 0 <= s.shape.no_band <= 1
    assert 0 <= s.shape.apart <= 1
    assert s.shape.chance.shape == (2, 96)
    # and a day with no free slot left scores nothing, answers or not
    assert len(personal.scored(rows[:0], said, None).score) == 0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(answer, min_size=1, max_size=14))
def test_exploring_draws_a_new_slot_each_time_and_repeats_for_the_same_key(
    seed: int, given_answers: list[tuple[float, int, bool, float]]
) -> None:
    # given: a user still being explored
    said = answers_of(given_answers)
    rows = day_rows(seed % 7, seed)
    # when
    first = personal.rank(rows, said, None, 5, f"key-{seed}")
    again = personal.rank(rows, said, None, 5, f"key-{seed}")
    # then: five different slots, the same for the same question
    assert len({p.row for p in first}) == 5
    assert [p.row for p in first] == [p.row for p in again]


def test_the_band_reason_names_where_the_band_is() -> None:
    # given
    said = band_answers()
    rows = day_rows(weekday=2)
    # when
    picks = personal.rank(rows, said, None, 3, "key")
    # then: the terms include the band's shift, named by its centre
    every = personal.terms([picks[0].row], personal.scored(rows, said, None), said, None)[0]
    labels = [label for label, _ in every]
    band = [label for label in labels if label.startswith(personal.BAND)]
    assert len(band) == 1
    hour, minute = band[0].split(" around ")[1].split(" ")[0].split(":")
    assert abs(int(hour) + int(minute) / 60 - 10.75) <= 0.5
    assert band[0].endswith("on weekdays")
    s = personal.scored(rows, said, None)
    shift = logit(s.score[picks[0].row]) - logit(s.posterior.mean[picks[0].row])
    assert dict(every)[band[0]] == pytest.approx(float(shift))

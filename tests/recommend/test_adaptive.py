"""A user's own answers on top of the ranker: the Beta posteriors, exploration, reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from graphql_api.recommend import adaptive
from graphql_api.recommend.adaptive import EXPLORE_UNTIL, Answers, answers, explore, posterior
from graphql_api.recommend.features import Outcome, Said

TOKYO = ZoneInfo("Asia/Tokyo")
TUESDAY = date(2026, 3, 17)
NOW = datetime(2026, 3, 31, 0, 0, tzinfo=TOKYO)
HOURS = np.arange(6, 22, 0.25)  # a day's candidate starts, local hours


def tokyo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).astimezone(UTC)


def said(day: date, hour: int, accepted: bool) -> Said:
    return Said(tokyo(day, hour), accepted, tokyo(day, 5))


def index_of(hour: float) -> int:
    return int(np.flatnonzero(np.isclose(HOURS, hour))[0])


def day_of(weekday: int) -> np.ndarray:
    return np.full(len(HOURS), float(weekday))


def mean(a: Answers, weekday: int = 1, prior: float = 0.3) -> np.ndarray:
    return posterior(np.full(len(HOURS), prior), HOURS, day_of(weekday), a).mean


def test_without_answers_the_score_is_the_rankers_own() -> None:
    prior = np.linspace(0.1, 0.9, len(HOURS))
    assert np.allclose(posterior(prior, HOURS, day_of(1), adaptive.NONE).mean, prior)


def test_answers_are_read_in_the_users_time_zone_and_only_once_known() -> None:
    # given: two answers on Tuesday 07:00 in Tokyo, one given after `known`
    early = said(TUESDAY, 7, accepted=True)
    late = Said(tokyo(TUESDAY, 8), True, NOW.astimezone(UTC) + timedelta(minutes=1))
    # and a booked run done on the day `known` falls in (its outcome is not known yet)
    today = Outcome(tokyo(NOW.date(), 7), done=True)
    # when
    a = answers(TOKYO, NOW, [today], [early, late])
    # then
    assert a.quarter.tolist() == [7 * 4]
    assert a.weekday.tolist() == [1]
    assert a.yes.tolist() == [1.0]


def test_a_yes_lifts_the_times_near_it_and_a_no_lowers_them() -> None:
    # given / when
    liked = mean(answers(TOKYO, NOW, [], [said(TUESDAY, 7, accepted=True)]))
    disliked = mean(answers(TOKYO, NOW, [], [said(TUESDAY, 7, accepted=False)]))
    # then: 07:00 moves most, 09:00 less, the evening not at all
    at = {h: index_of(h) for h in (7, 9, 20)}
    assert liked[at[7]] > liked[at[9]] > 0.3
    assert disliked[at[7]] < disliked[at[9]] < 0.3
    assert abs(liked[at[20]] - 0.3) < 1e-6
    assert abs(disliked[at[20]] - 0.3) < 1e-6


def test_weekends_are_learned_apart_from_weekdays() -> None:
    # given: yes to Saturday evenings, no to Tuesday evenings
    saturday = TUESDAY + timedelta(days=4)
    a = answers(
        TOKYO,
        NOW,
        [],
        [said(saturday - timedelta(weeks=w), 19, True) for w in range(3)]
        + [said(TUESDAY - timedelta(weeks=w), 19, False) for w in range(3)],
    )
    # when
    evening = index_of(19)
    on_saturday, on_sunday = mean(a, weekday=5)[evening], mean(a, weekday=6)[evening]
    on_tuesday = mean(a, weekday=1)[evening]
    # then: the other weekend day leans the same way
    assert on_saturday > on_sunday > 0.5
    assert on_tuesday < 0.3


def test_recent_answers_outweigh_old_ones_when_a_taste_moves() -> None:
    # given: mornings liked two months ago and turned down lately; evenings the reverse
    long_ago, lately = TUESDAY - timedelta(weeks=8), TUESDAY
    a = answers(
        TOKYO,
        NOW,
        [],
        [
            said(long_ago, 7, True),
            said(long_ago, 19, False),
            said(lately, 7, False),
            said(lately, 19, True),
        ],
    )
    # when
    m = mean(a)
    # then
    assert m[index_of(19)] > m[index_of(7)]


answer = st.tuples(
    st.integers(0, 95), st.integers(0, 6), st.booleans(), st.floats(0, 400, allow_nan=False)
)


@given(
    st.lists(answer, max_size=60),
    st.lists(st.floats(0.001, 0.999), min_size=len(HOURS), max_size=len(HOURS)),
)
def test_the_score_stays_a_probability_and_keeps_the_rankers_order_where_no_answer_is(
    given_answers: list[tuple[int, int, bool, float]], prior_values: list[float]
) -> None:
    # given
    a = Answers(
        quarter=np.array([q for q, _, _, _ in given_answers], dtype=np.int64),
        weekday=np.array([d for _, d, _, _ in given_answers], dtype=np.int64),
        yes=np.array([float(y) for _, _, y, _ in given_answers]),
        age_days=np.array([age for _, _, _, age in given_answers]),
    )
    prior = np.array(prior_values)
    # when
    p = posterior(prior, HOURS, day_of(3), a)
    # then
    assert np.all((p.mean > 0) & (p.mean < 1))
    assert np.all(p.alpha >= adaptive.PRIOR_STRENGTH * prior - 1e-12)
    if not given_answers:
        assert np.allclose(p.mean, prior)


def test_exploration_offers_a_slot_not_chosen_while_answers_are_few() -> None:
    # given
    p = posterior(np.linspace(0.2, 0.4, len(HOURS)), HOURS, day_of(1), adaptive.NONE)
    chosen = [63, 62, 61, 60]
    # when
    picks = {explore(p, chosen, answered=3, seed=seed)[0] for seed in range(40)}
    # then: never a chosen one, not always the same, and the same for the same seed
    assert picks.isdisjoint(chosen)
    assert len(picks) > 1
    assert explore(p, chosen, answered=3, seed=5) == explore(p, chosen, answered=3, seed=5)
    two = explore(p, chosen, answered=3, seed=5, k=2)
    assert len(set(two)) == 2
    assert set(two).isdisjoint(chosen)
    assert explore(p, chosen, answered=EXPLORE_UNTIL, seed=5) == []
    assert explore(p, list(range(len(HOURS))), answered=0, seed=5) == []


def test_the_reason_counts_the_answers_near_the_slot_in_words() -> None:
    # given: five Tuesdays at 07:00 (four liked) and one Thursday at 07:00
    said_of = [said(TUESDAY - timedelta(weeks=w), 7, w != 2) for w in range(5)]
    said_of.append(said(TUESDAY + timedelta(days=2), 7, False))
    a = answers(TOKYO, NOW, [], said_of)
    # when / then
    assert adaptive.reason(a, 7.25, 1) == ("you liked Tuesdays around 07:00 4 of 5 times", 4, 5)
    assert adaptive.reason(a, 7.0, 0) == ("you liked weekdays around 07:00 4 of 6 times", 4, 6)
    assert adaptive.reason(a, 7.0, 5) is None
    assert adaptive.reason(a, 15.0, 1) is None

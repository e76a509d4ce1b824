"""The oracle of bench/recommend_bound.py sees the scenario users' tastes as they are."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.recommend_bound import Posterior, Slots, Tastes
from graphql_api.recommend import scenarios as sc
from graphql_api.recommend.simulate import FIRST_DAY, day_slots
from graphql_api.scheduling.slots import Slot


@settings(max_examples=60, deadline=None)
@given(
    scenario=st.sampled_from(sc.SCENARIOS),
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(0, 34),
)
def test_a_taste_the_oracle_holds_gives_each_slot_the_scenario_users_chance(
    scenario: sc.Scenario, seed: int, d: int
) -> None:
    user = sc.band_user(random.Random(seed), scenario, "u")
    band = user.band
    tastes = Tastes(
        peak=np.array([band.peak]),
        weekend_peak=np.array([band.weekend_peak]),
        spread=np.array([band.spread]),
        drift=np.array([band.drift]),
        base=np.array([band.base]),
        floor=np.array([band.floor]),
        squeeze=np.array([band.squeeze]),
        second=np.array([np.nan if band.second_peak is None else band.second_peak]),
        waves=np.array([list(band.waves) if band.waves else [np.nan] * 4]),
    )
    day = FIRST_DAY + timedelta(days=d)
    slots = day_slots(user.empty(), day, user.meetings[day])
    seen = tastes.chance(Slots.of(user, [(s, d) for s in slots]))[0]
    assert np.allclose(seen, [user.chance(s, d) for s in slots])


@settings(max_examples=25, deadline=None)
@given(scenario=st.sampled_from(sc.SCENARIOS), seed=st.integers(0, 2**32 - 1))
def test_tastes_drawn_are_the_scenarios_own(scenario: sc.Scenario, seed: int) -> None:
    """Every drawn taste lies where `band_user` could have drawn it."""
    t = Tastes.draw(scenario, 500, np.random.default_rng(seed))
    assert np.all((t.peak >= 6.5) & (t.peak <= 21))
    assert np.all((t.spread >= scenario.spread[0]) & (t.spread <= scenario.spread[1]))
    gap = np.abs(t.weekend_peak - t.peak)
    if scenario.weekend_apart:
        assert np.all((gap >= 3 - 1e-9) & (gap <= 7 + 1e-9))
    else:
        assert np.all(gap == 0)


def test_answers_move_the_oracle_towards_the_users_band() -> None:
    """Yes near the peak, no elsewhere: the predictive is highest near the hidden peak."""
    scenario = sc.SCENARIOS[4]  # narrow band
    user = sc.band_user(random.Random(3), scenario, "u")
    post = Posterior(user, Tastes.draw(scenario, 20000, np.random.default_rng(0)))
    rng = random.Random(1)
    for d in range(20):
        day = FIRST_DAY + timedelta(days=d)
        slots = day_slots(user.empty(), day, user.meetings[day])
        slot = rng.choice(slots)
        post.answer(slot, d, rng.random() < user.chance(slot, d))
        near = min(slots, key=lambda s: abs(_hour(user, s) - user.band.peak))
        post.answer(near, d, rng.random() < user.chance(near, d))
    day = FIRST_DAY + timedelta(days=21)
    slots = day_slots(user.empty(), day, user.meetings[day])
    best = slots[int(np.argmax(post.predictive(post.chances(slots, 21))))]
    assert abs(_hour(user, best) - user.band.peak) < 1.0


def _hour(user: sc.BandUser, slot: Slot) -> float:
    local = slot.start.astimezone(user.zone)
    return float(local.hour + local.minute / 60)

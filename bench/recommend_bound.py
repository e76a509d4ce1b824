"""How far a user's answers can take a ranker: the Bayes-optimal ranker of `evaluate`'s
scenario users, beside the shipped one.

    .venv/bin/python -m bench.recommend_bound [--seed 7] [--users 40] [--draws 20000]
        [--scenario NAME] [--no-write]

The scenario users' tastes are drawn from distributions `scenarios.band_user` states
(a peak anywhere from 06:30 to 21:00, a width, a level, a floor, a squeeze next to
meetings; a weekend peak 3-7 hours away; a drift; a second band; two waves). A ranker
that knows those distributions exactly, and nothing else of the user, can do no better
on average than the posterior predictive under them: each slot's chance averaged over
the tastes the distributions allow, weighed by how likely each makes the user's
answers. That ranker (*the oracle*) is computed here by Monte Carlo (`--draws` tastes
drawn from the scenario's own distributions, weighed by their likelihoods), for the
same test users `evaluate --seed` draws (the same random stream), in three ways:

- *oracle, the shipped ranker's answers*: the oracle's ranking given the answers the
  user gave on the slots the shipped ranker showed. What is short of the ceiling here
  no ranker could recover from those answers: the information was not in them.
- *oracle, showing 4 best + 1 drawn*: the user answers on the slots the oracle shows,
  the shipped ranker's way (the four best, one drawn by Thompson sampling).
- *oracle, showing 5 drawn*: every slot shown is the best under one taste drawn from
  the posterior (Thompson sampling): more exploration.

The shipped ranker's own figures and the ceiling are computed as `evaluate` computes
them (the same users, answers and test days). The shipped ranker does not know these
distributions (they are the simulator's, not the world's; `scenarios` warns against
a prior tuned to them), so the oracle is a bound, not a target: the gap between the
ceiling and the oracle is what the answers cannot tell, the gap between the oracle and
the shipped ranker is what better inference or exploration might still win.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
import numpy.typing as npt

from bench.lib import RESULTS, machine
from bench.results import update_section
from bench.tune_recommend import model
from graphql_api.recommend import personal
from graphql_api.recommend import scenarios as sc
from graphql_api.recommend.adaptive import Answers
from graphql_api.recommend.data import HabitData
from graphql_api.recommend.model import Ranker
from graphql_api.recommend.simulate import FIRST_DAY, day_slots, squeezed
from graphql_api.scheduling.slots import Slot

Array = npt.NDArray[np.float64]

ORACLE_SHIPPED = "oracle, the shipped ranker's answers"
ORACLE_OWN = "oracle, showing 4 best + 1 drawn"
ORACLE_DRAWN = "oracle, showing 5 drawn"
COLUMNS = (sc.CEILING, ORACLE_SHIPPED, ORACLE_OWN, ORACLE_DRAWN, sc.SHIPPED)


@dataclass(frozen=True)
class Tastes:
    """`n` tastes drawn from a scenario's distributions, as arrays (one row each)."""

    peak: Array
    weekend_peak: Array
    spread: Array
    drift: Array
    base: Array
    floor: Array
    squeeze: Array
    second: Array  # NaN where the taste has one band
    waves: Array  # (n, 4): a1, f1, a2, f2; NaN where the taste is a band

    @classmethod
    def draw(cls, scenario: sc.Scenario, n: int, rng: np.random.Generator) -> Tastes:
        """As `scenarios.band_user` draws one (its distributions, not its random stream)."""
        peak = rng.uniform(6.5, 21, n)
        weekend_peak = peak.copy()
        if scenario.weekend_apart:
            away = peak + rng.choice([-1.0, 1.0], n) * rng.uniform(3, 7, n)
            outside = (away < 6.5) | (away > 21)
            weekend_peak = np.where(outside, 2 * peak - away, away)
        second = np.full(n, np.nan)
        waves = np.full((n, 4), np.nan)
        if scenario.taste == sc.TWO_BANDS:
            away = peak + rng.choice([-1.0, 1.0], n) * rng.uniform(4, 9, n)
            outside = (away < 6.5) | (away > 21)
            second = np.where(outside, 2 * peak - away, away)
        elif scenario.taste == sc.SMOOTH:
            waves = np.stack(
                [
                    rng.uniform(0.2, 0.35, n),
                    rng.uniform(0, 2 * math.pi, n),
                    rng.uniform(0.1, 0.2, n),
                    rng.uniform(0, 2 * math.pi, n),
                ],
                axis=1,
            )
        return cls(
            peak=peak,
            weekend_peak=weekend_peak,
            spread=rng.uniform(*scenario.spread, n),
            drift=rng.uniform(-scenario.drift, scenario.drift, n),
            base=rng.uniform(0.75, 0.95, n),
            floor=rng.uniform(0.03, 0.1, n),
            squeeze=rng.uniform(0.5, 0.9, n),
            second=second,
            waves=waves,
        )

    def chance(self, slots: Slots) -> Array:
        """(tastes, slots): each taste's chance of each slot, as `scenarios.Band.chance`."""
        shift = self.drift[:, None] * slots.day[None, :] / 30
        hour = slots.hour[None, :]
        weekend = slots.weekend[None, :]
        peak = np.where(weekend, self.weekend_peak[:, None], self.peak[:, None]) + shift
        level = _bump(hour, peak, self.spread[:, None])
        has_second = ~np.isnan(self.second)
        if has_second.any():
            other = _bump(hour, self.second[:, None] + shift, self.spread[:, None])
            level = np.where(has_second[:, None], np.maximum(level, other), level)
        smooth = ~np.isnan(self.waves[:, 0])
        if smooth.any():
            a1, f1, a2, f2 = (self.waves[:, k, None] for k in range(4))
            x = 2 * math.pi * (hour - shift) / 24
            wave = np.clip(0.5 + a1 * np.cos(x - f1) + a2 * np.cos(2 * x - f2), 0.0, 1.0)
            level = np.where(smooth[:, None], wave, level)
        p = self.floor[:, None] + (self.base - self.floor)[:, None] * level
        result: Array = np.where(slots.squeezed[None, :], p * self.squeeze[:, None], p)
        return result


def _bump(hour: Array, peak: Array, spread: Array) -> Array:
    distance = np.abs(hour - peak) % 24
    distance = np.minimum(distance, 24 - distance)
    result: Array = np.exp(-np.square(distance) / (2 * np.square(spread)))
    return result


@dataclass(frozen=True)
class Slots:
    """Slots as the tastes see them: local hour, weekend, squeezed, the day's index."""

    hour: Array
    weekend: npt.NDArray[np.bool_]
    squeezed: npt.NDArray[np.bool_]
    day: Array

    @classmethod
    def of(cls, user: sc.BandUser, slots: list[tuple[Slot, int]]) -> Slots:
        local = [s.start.astimezone(user.zone) for s, _ in slots]
        return cls(
            hour=np.array([t.hour + t.minute / 60 for t in local]),
            weekend=np.array([t.weekday() >= 5 for t in local], dtype=bool),
            squeezed=np.array(
                [squeezed(s, user.meetings[FIRST_DAY + timedelta(days=d)]) for s, d in slots],
                dtype=bool,
            ),
            day=np.array([float(d) for _, d in slots]),
        )


class Posterior:
    """The oracle's belief about one user: the drawn tastes, weighed by the answers."""

    def __init__(self, user: sc.BandUser, tastes: Tastes) -> None:
        self.user = user
        self.tastes = tastes
        self.log_weight = np.zeros(len(tastes.peak))

    def answer(self, slot: Slot, d: int, yes: bool) -> None:
        p = self.tastes.chance(Slots.of(self.user, [(slot, d)]))[:, 0]
        self.log_weight += np.log(np.clip(p if yes else 1 - p, 1e-12, 1.0))

    def weights(self) -> Array:
        w = np.exp(self.log_weight - self.log_weight.max())
        result: Array = w / w.sum()
        return result

    def chances(self, slots: list[Slot], d: int) -> Array:
        """(tastes, slots): every drawn taste's chance of each of the day's slots."""
        return self.tastes.chance(Slots.of(self.user, [(s, d) for s in slots]))

    def predictive(self, chances: Array) -> Array:
        result: Array = self.weights() @ chances
        return result

    def drawn_best(self, chances: Array, k: int, rng: np.random.Generator) -> list[int]:
        """`k` different slots, each the best under one taste drawn from the posterior."""
        w = self.weights()
        chosen: list[int] = []
        for _ in range(50 * k):
            if len(chosen) == min(k, chances.shape[1]):
                break
            row = chances[int(rng.choice(len(w), p=w))].copy()
            row[chosen] = -np.inf
            chosen.append(int(np.argmax(row + 1e-9 * rng.random(len(row)))))
        return chosen


Policy = Callable[[Posterior, list[Slot], int, np.random.Generator], list[int]]


def four_best_one_drawn(
    post: Posterior, slots: list[Slot], d: int, rng: np.random.Generator
) -> list[int]:
    chances = post.chances(slots, d)
    best = personal.order(post.predictive(chances), sc.SHOWN - 1)
    # one more: the best of the rest under one taste drawn from the posterior
    row = chances[int(rng.choice(len(post.log_weight), p=post.weights()))].copy()
    row[best] = -np.inf
    return [*best, int(np.argmax(row))] if np.isfinite(row).any() else best


def five_drawn(post: Posterior, slots: list[Slot], d: int, rng: np.random.Generator) -> list[int]:
    return post.drawn_best(post.chances(slots, d), sc.SHOWN, rng)


def answered_to_oracle(
    user: sc.BandUser,
    tastes: Tastes,
    policy: Policy,
    rng: random.Random,
    np_rng: np.random.Generator,
) -> Posterior:
    """`scenarios.answered` with the oracle showing the slots: the user's answers, each on
    one of the slots shown that day (drawn evenly), as their taste says."""
    post = Posterior(user, tastes)
    for _, d, slots in sc.answer_days(user, user.empty()):
        shown = policy(post, slots, d, np_rng)
        slot = slots[rng.choice(shown)]
        yes = rng.random() < user.chance(slot, d)
        post.answer(slot, d, yes)
    return post


def oracle_of_answers(user: sc.BandUser, tastes: Tastes, data: HabitData) -> Posterior:
    """The oracle's belief from the answers of a habit (feedback or booked outcomes)."""
    post = Posterior(user, tastes)
    given = [(s.start, s.accepted) for s in data.feedback] + [
        (b.start, b.done) for b in data.scheduled
    ]
    for start, yes in given:
        local_day = start.astimezone(user.zone).date()
        d = (local_day - FIRST_DAY).days
        post.answer(_slot_at(start), d, yes)
    return post


def _slot_at(start: datetime) -> Slot:
    end = start + timedelta(minutes=30)
    return Slot(start=start, end=end, window_start=start, window_end=end)


@dataclass
class Hits:
    by: dict[str, list[float]]

    def add(self, name: str, score: Array, chances: Array) -> None:
        top = np.lexsort((np.arange(len(score)), -score))[:3]
        self.by.setdefault(name, []).append(float(chances[top].sum() / chances.sum()))


def test_users(seed: int, scenario_users: int) -> dict[str, list[sc.BandUser]]:
    """The scenario users `evaluate --seed` tests (the same stream, in the same order)."""
    test_rng = random.Random(f"{seed}:test")
    return {
        s.name: [sc.band_user(test_rng, s, f"test-{k}-{n}") for n in range(scenario_users)]
        for k, s in enumerate(sc.SCENARIOS)
    }


def bound(
    ranker: Ranker, seed: int, scenario_users: int, draws: int, names: list[str]
) -> dict[str, dict[str, float]]:
    def use(history: int) -> Ranker | None:
        return ranker if history >= sc.MIN_HISTORY else None

    def show(rows: sc.Matrix, said: Answers, history: int, key: str) -> list[int]:
        return [r.row for r in personal.rank(rows, said, use(history), sc.SHOWN, key)]

    found: dict[str, dict[str, float]] = {}
    for scenario in sc.SCENARIOS:
        wanted = scenario.name in names if names else scenario.answers >= 15
        if not wanted:
            continue
        users = test_users(seed, scenario_users)[scenario.name]
        hits = Hits({})
        for k, user in enumerate(users):
            np_rng = np.random.default_rng([seed, k])
            tastes = Tastes.draw(scenario, draws, np_rng)
            data = sc.answered(user, show, random.Random(f"{seed}:{user.sub}"))
            beliefs = {
                ORACLE_SHIPPED: oracle_of_answers(user, tastes, data),
                ORACLE_OWN: answered_to_oracle(
                    user, tastes, four_best_one_drawn, random.Random(f"{seed}:{user.sub}"), np_rng
                ),
                ORACLE_DRAWN: answered_to_oracle(
                    user, tastes, five_drawn, random.Random(f"{seed}:{user.sub}"), np_rng
                ),
            }
            for d in range(user.first_test_day, user.first_test_day + sc.TEST_DAYS):
                day = FIRST_DAY + timedelta(days=d)
                slots = day_slots(data, day, user.meetings[day])
                if len(slots) < 4:
                    continue
                chances = np.array([user.chance(s, d) for s in slots])
                hits.add(sc.CEILING, chances, chances)
                rows, said, history = sc.view(data, slots, datetime.combine(day, time(), user.zone))
                hits.add(sc.SHIPPED, personal.scored(rows, said, use(history)).score, chances)
                for name, post in beliefs.items():
                    hits.add(name, post.predictive(post.chances(slots, d)), chances)
        found[scenario.name] = {name: 100 * float(np.mean(v)) for name, v in hits.by.items()}
        row = found[scenario.name]
        print(
            f"{scenario.name}: " + ", ".join(f"{name} {row[name]:.1f}%" for name in COLUMNS),
            flush=True,
        )
    return found


def _one(job: tuple[int, int, int, str]) -> dict[str, dict[str, float]]:
    seed, users, draws, name = job
    return bound(model(seed), seed, users, draws, [name])


def table(found: dict[str, dict[str, float]]) -> str:
    lines = [
        "| scenario | " + " | ".join(COLUMNS) + " | shipped short of the ceiling | "
        "oracle (shipped's answers) short of the ceiling |",
        "|---|" + "---:|" * (len(COLUMNS) + 2),
    ]
    for name, row in found.items():
        cells = " | ".join(f"{row[c]:.1f}%" for c in COLUMNS)
        lines.append(
            f"| {name} | {cells} | {row[sc.CEILING] - row[sc.SHIPPED]:.1f} | "
            f"{row[sc.CEILING] - row[ORACLE_SHIPPED]:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", type=int, default=40, help="test users per scenario")
    parser.add_argument("--draws", type=int, default=20000, help="tastes the oracle weighs")
    parser.add_argument("--scenario", action="append", default=[], dest="names")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = args.names or [s.name for s in sc.SCENARIOS if s.answers >= 15]
    model(args.seed)  # trained (and cached) once, before the processes read it
    # spawned, not forked: xgboost's OpenMP threads do not survive a fork
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
        parts = pool.map(_one, [(args.seed, args.users, args.draws, n) for n in names])
        found = {name: row for part in parts for name, row in part.items()}
    print(table(found))
    if args.no_write or args.names:
        return
    command = (
        f"`.venv/bin/python -m bench.recommend_bound --seed {args.seed} --users {args.users} "
        f"--draws {args.draws}`"
    )
    body = "\n".join(
        [
            f"Command: {command}  ",
            f"Machine: {machine()}",
            "",
            "Top-3 hit rate (as in the table above) of the test users `evaluate --seed "
            f"{args.seed}` draws, {args.users} per scenario with 15 answers or more. The "
            "*oracle* is the Bayes-optimal ranker for each scenario's own distribution of "
            "tastes (module docstring of bench/recommend_bound.py): given the answers the "
            "shipped ranker collected, and collecting its own.",
            "",
            table(found),
        ]
    )
    update_section(RESULTS, "Recommendations: what the answers allow", body)


if __name__ == "__main__":
    main()

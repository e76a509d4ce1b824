"""Tuning the shipped ranker on users `evaluate` never tests.

    .venv/bin/python -m bench.tune_recommend [--seed 11] [--stream tune] [--users 80]
        [--set shape.LEAN=0.5 --set shape.WIDTHS=0.5,1,2] [--no-shape] [--scenario NAME]

Trains the model of `--seed` as `evaluate` does (cached in the temporary directory),
then, for every scenario with 15 answers or more (or the `--scenario`s named), draws
`--users` users from the random stream `{seed}:{stream}:{scenario}` (evaluate's test
users come from `{seed}:test`, its training users from `{seed}:train`), lets each
answer on the slots the shipped ranker shows, and prints per scenario how far the
shipped ranker's top-3 hit rate falls short of the ceiling (points) and its AUC, and
the mean shortfall. `--set module.NAME=value` changes a constant of `personal`,
`adaptive` or `shape` first (the band grid is rebuilt); `--no-shape` scores with the
smoothed rate alone (the ranker before `shape`).
"""

from __future__ import annotations

import argparse
import pickle
import random
import tempfile
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt

from graphql_api.recommend import adaptive, calibration, personal, shape
from graphql_api.recommend import scenarios as sc
from graphql_api.recommend.adaptive import Answers
from graphql_api.recommend.model import MODEL_ALONE, Ranker, load_booster
from graphql_api.recommend.scores import roc_auc
from graphql_api.recommend.simulate import FIRST_DAY, day_slots, simulate
from graphql_api.recommend.training import fit_global

MODULES: dict[str, ModuleType] = {"personal": personal, "adaptive": adaptive, "shape": shape}


def model(seed: int, users: int = 200, days: int = 112, test_days: int = 14) -> Ranker:
    """The model `evaluate --seed` trains (the same rows), cached."""
    path = Path(tempfile.gettempdir()) / f"tune-recommend-{seed}-{users}-{days}.pickle"
    if not path.exists():
        seen = simulate(users, days, seed=seed)[int(users * 0.2) :]
        train = sc.training_rows(seen, FIRST_DAY + timedelta(days=days - test_days), seed, 40)
        fitted = fit_global(train, rounds=400)
        blend = calibration.Blend.of(fitted.metrics["blend"]) or MODEL_ALONE
        path.write_bytes(pickle.dumps((bytes(fitted.booster.save_raw("ubj")), blend)))
    raw, blend = pickle.loads(path.read_bytes())  # noqa: S301 (our own file)
    booster = load_booster(raw)
    booster.set_param({"nthread": 1})
    return Ranker("global", 0, booster, blend)


def shortfalls(
    ranker: Ranker, seed: int, stream: str, users: int, names: list[str]
) -> dict[str, tuple[float, float]]:
    """Per scenario: the ceiling's top-3 hit rate less the shipped ranker's (points), and
    the shipped ranker's AUC, on users of the stream, as `evaluate` scores its test users."""

    def use(history: int) -> Ranker | None:
        return ranker if history >= sc.MIN_HISTORY else None

    def show(rows: sc.Matrix, said: Answers, history: int, key: str) -> list[int]:
        return [r.row for r in personal.rank(rows, said, use(history), sc.SHOWN, key)]

    found = {}
    for k, scenario in enumerate(sc.SCENARIOS):
        if scenario.name not in names if names else scenario.answers < 15:
            continue
        rng = random.Random(f"{seed}:{stream}:{scenario.name}")
        outcomes = np.random.default_rng(1)
        hits, best, labels, scores = [], [], [], []
        for n in range(users):
            user = sc.band_user(rng, scenario, f"tune-{k}-{n}")
            data = sc.answered(user, show, random.Random(f"{seed}:{user.sub}"))
            for d in range(user.first_test_day, user.first_test_day + sc.TEST_DAYS):
                day = FIRST_DAY + timedelta(days=d)
                slots = day_slots(data, day, user.meetings[day])
                if len(slots) < 4:
                    continue
                rows, said, history = sc.view(data, slots, datetime.combine(day, time(), user.zone))
                score = personal.scored(rows, said, use(history)).score
                chances = np.array([user.chance(s, d) for s in slots])
                top = np.lexsort((np.arange(len(score)), -score))[:3]
                hits.append(chances[top].sum() / chances.sum())
                best.append(np.sort(chances)[-3:].sum() / chances.sum())
                labels.append((outcomes.random(len(chances)) < chances).astype(np.float64))
                scores.append(score)
        short = float(np.mean(best) - np.mean(hits)) * 100
        found[scenario.name] = (short, roc_auc(np.concatenate(labels), np.concatenate(scores)))
    return found


def configure(settings: list[str], no_shape: bool) -> None:
    for setting in settings:
        key, _, value = setting.partition("=")
        module, _, name = key.rpartition(".")
        parsed = [float(v) for v in value.split(",")]
        setattr(MODULES[module], name, tuple(parsed) if "," in value else parsed[0])
    shape.CHANCE, shape.LOG_YES, shape.LOG_NO = shape._grid()
    shape.BANDS = len(shape.CHANCE)
    shape._FLAT = shape.CHANCE.reshape(shape.BANDS * adaptive.QUARTERS, adaptive.QUARTERS)
    both = np.concatenate([shape.LOG_YES, shape.LOG_NO], axis=2)
    shape._LOG = both.reshape(shape.BANDS * adaptive.QUARTERS, 2 * adaptive.QUARTERS)
    if no_shape:  # the smoothed rate's weight stays 1: the ranking before `shape`
        of = shape.of

        def rate_only(a: Answers, p0: float, allowed: npt.NDArray[np.bool_]) -> shape.Shape:
            return replace(of(a, p0, allowed), no_band=1.0)

        setattr(shape, "of", rate_only)  # noqa: B010 (a function, replaced for this run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--stream", default="tune")
    parser.add_argument("--users", type=int, default=80)
    parser.add_argument("--set", action="append", default=[], dest="settings")
    parser.add_argument("--no-shape", action="store_true")
    parser.add_argument("--scenario", action="append", default=[], dest="names")
    args = parser.parse_args()
    configure(args.settings, args.no_shape)
    found = shortfalls(model(args.seed), args.seed, args.stream, args.users, args.names)
    for name, (short, auc) in found.items():
        print(f"{name}: {short:.1f} points short of the ceiling, AUC {auc:.3f}")
    print(f"mean: {np.mean([short for short, _ in found.values()]):.2f} points")


if __name__ == "__main__":
    main()

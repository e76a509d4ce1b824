"""Training the slot ranker from what users did (`scheduling-worker train`).

Labels: every booked instance of a habit whose day has a check-in (DONE = 1,
MISSED or SKIPPED = 0), and every piece of feedback on a recommendation
(accepted = 1). Each row's features are computed as of the slot's day, from
what was known before it, with the slot's own event left out of the busy time.

A global model (binary logistic XGBoost) is trained on everyone, validated on
the latest fifth of the rows in time, then refitted on all of them with the
number of rounds that validated best. A user with enough rows of their own gets
a model continued from the global one, kept only when it beats the global one
on their own latest rows. Models are stored in Mongo with their metrics; the
API serves a new version within `MODEL_REFRESH_S`.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from graphql_api.cache.store import Cache
from graphql_api.recommend import calibration, heuristic
from graphql_api.recommend.data import (
    HabitData,
    HabitRecord,
    Tally,
    busy_of,
    habit_data,
    rows_for,
)
from graphql_api.recommend.features import NAMES
from graphql_api.recommend.model import GLOBAL, MODELS_SCOPE
from graphql_api.recommend.scores import log_loss, roc_auc
from graphql_api.recurrence import expand
from models import (
    Calendar,
    CheckInEntry,
    CheckInYear,
    Event,
    Feedback,
    Habit,
    RecommenderModel,
    User,
)
from models.event import overlapping

log = logging.getLogger(__name__)

PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "auc"],
    "tree_method": "hist",
    "max_depth": 5,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
    "lambda": 1.0,
}
ROUNDS = 400
EARLY_STOP = 30
USER_ROUNDS = 60
VALIDATION_SHARE = 0.2
MIN_ROWS = 50  # fewer labelled rows than this and there is nothing to learn from


@dataclass
class Dataset:
    rows: list[npt.NDArray[np.float32]] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def add(self, row: npt.NDArray[np.float32], label: bool, user: str, at: datetime) -> None:
        self.rows.append(row)
        self.labels.append(float(label))
        self.users.append(user)
        self.times.append(at.timestamp())

    def __len__(self) -> int:
        return len(self.labels)

    def matrix(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        """Rows in time order, with their labels."""
        order = np.argsort(np.array(self.times), kind="stable")
        x = np.vstack(self.rows).astype(np.float32) if self.rows else np.empty((0, len(NAMES)))
        return x[order].astype(np.float32), np.array(self.labels)[order]

    def of(self, user: str) -> Dataset:
        picked = Dataset()
        for row, label, who, at in zip(self.rows, self.labels, self.users, self.times, strict=True):
            if who == user:
                picked.rows.append(row)
                picked.labels.append(label)
                picked.users.append(who)
                picked.times.append(at)
        return picked


def labelled_rows(
    data: HabitData,
    user: str,
    into: Dataset,
    wanted: Callable[[datetime], bool] | None = None,
) -> None:
    """The habit's labelled slots (those `wanted`, by start) as feature rows, each as of
    its own day."""
    labelled: list[tuple[datetime, bool, str | None]] = [
        (booked.start, booked.done, booked.event_id) for booked in data.scheduled
    ]
    labelled += [(said.start, said.accepted, None) for said in data.feedback]
    for start, label, own_event in labelled:
        if wanted is not None and not wanted(start):
            continue
        # Known at the start of the slot's day: the days before, not the day itself.
        day = start.astimezone(data.zone).date()
        midnight = datetime.combine(day, datetime.min.time(), data.zone)
        rows = rows_for(data, midnight, [start], [data.window_of(start)], leave_out=own_event)
        into.add(rows[0], label, user, start)


async def user_dataset(user: User, into: Dataset) -> None:
    """Every labelled row of one user's habits."""
    habits = await Habit.find({"userId": user.sub}).to_list()
    booked = await Event.find({"userId": user.sub, "habitId": {"$ne": None}}).to_list()
    feedback = await Feedback.find({"userId": user.sub}).to_list()
    if not habits or (not booked and not feedback):
        return
    years = CheckInYear.get_pymongo_collection().find({"userId": user.sub})
    entries = [entry async for year in years for entry in CheckInEntry.all_of(year)]
    moments = [e.start_time for e in booked] + [f.start for f in feedback]
    around = (min(moments) - timedelta(days=1), max(moments) + timedelta(days=1))
    busy = busy_of(await _events_between(user, *around))
    by_habit: dict[str, list[CheckInEntry]] = defaultdict(list)
    for entry in entries:
        by_habit[entry.habit_id].append(entry)
    zone = ZoneInfo(user.timezone)
    tally = Tally.of((date.fromisoformat(c.date), c.status) for c in entries)
    for habit in habits:
        record = HabitRecord.of(
            zone,
            [e for e in booked if e.habit_id == str(habit.id)],
            by_habit[str(habit.id)],
            [f for f in feedback if f.habit_id == str(habit.id)],
        )
        data = habit_data(
            user=user, habit=habit, busy=list(busy), record=record, user_rate=tally.rate_before
        )
        labelled_rows(data, user.sub, into)


async def _events_between(user: User, start: datetime, end: datetime) -> list[Event]:
    calendars = await Calendar.find({"userId": user.sub}).to_list()
    stored = await Event.find(overlapping(user.sub, start, end)).to_list()
    overridden: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for event in stored:
        if event.instance and not event.recurrence:
            overridden[event.calendar_id][event.external_id].add(event.instance)
    zones = {str(c.id): c.timezone for c in calendars}
    return expand(stored, start, end, zones, overridden)


# --- fitting ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    booster: xgb.Booster
    metrics: dict[str, Any]
    size: int


def _split(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.float64]
) -> tuple[xgb.DMatrix, xgb.DMatrix, npt.NDArray[np.float64]]:
    cut = int(len(y) * (1 - VALIDATION_SHARE))
    train = xgb.DMatrix(x[:cut], label=y[:cut], feature_names=NAMES)
    valid = xgb.DMatrix(x[cut:], label=y[cut:], feature_names=NAMES)
    return train, valid, y[cut:]


def _metrics(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> dict[str, float]:
    both = len(set(y.tolist())) == 2
    return {
        "auc": roc_auc(y, p) if both else float("nan"),
        "logloss": log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)),
    }


def fit_global(
    dataset: Dataset, *, rounds: int = ROUNDS, progress: Callable[[int], None] | None = None
) -> Fitted:
    """Validated on the latest rows, then refitted on all of them."""
    x, y = dataset.matrix()
    train, valid, y_valid = _split(x, y)
    params = {**PARAMS, "nthread": os.cpu_count() or 1}
    callbacks = [_Progress(progress)] if progress else []
    probe = xgb.train(
        params,
        train,
        num_boost_round=rounds,
        evals=[(valid, "valid")],
        early_stopping_rounds=EARLY_STOP,
        verbose_eval=False,
        callbacks=callbacks,
    )
    best = probe.best_iteration + 1
    predicted = probe.predict(valid, iteration_range=(0, best))
    validated = _metrics(y_valid, predicted)
    # The blend of the model and the heuristic (and its calibration), fitted on rows the
    # probe did not learn from.
    cut = len(y) - len(y_valid)
    by_heuristic = heuristic.score(x[cut:])[0]
    blend = calibration.fit(y_valid, by_heuristic, predicted)
    blended = blend.probability(predicted, by_heuristic)
    full = xgb.train(params, xgb.DMatrix(x, label=y, feature_names=NAMES), num_boost_round=best)
    metrics = {
        **validated,
        "blend": blend.as_list(),
        "blendAuc": _metrics(y_valid, blended)["auc"],
        "brier": calibration.brier(y_valid, predicted),
        "blendBrier": calibration.brier(y_valid, blended),
        "rounds": best,
        "rows": len(y),
        "validationRows": len(y_valid),
        "positiveShare": float(y.mean()),
    }
    return Fitted(full, metrics, len(y))


def fit_user(
    global_model: xgb.Booster, dataset: Dataset, blend: list[float] | None = None
) -> Fitted | None:
    """The global model continued on one user's rows; None unless it does better on them.
    `blend`: the global model's, kept."""
    x, y = dataset.matrix()
    train, valid, y_valid = _split(x, y)
    if len(set(y_valid.tolist())) < 2:
        return None
    before = _metrics(y_valid, global_model.predict(valid))
    params = {**PARAMS, "nthread": 1}
    tuned = xgb.train(
        params,
        train,
        num_boost_round=USER_ROUNDS,
        xgb_model=global_model,
        evals=[(valid, "valid")],
        early_stopping_rounds=10,
        verbose_eval=False,
    )
    best = tuned.best_iteration + 1  # counted from the global model's first round
    extra = best - global_model.num_boosted_rounds()
    after = _metrics(y_valid, tuned.predict(valid, iteration_range=(0, best)))
    if extra <= 0 or not after["logloss"] < before["logloss"]:
        return None
    refit = xgb.train(
        params,
        xgb.DMatrix(x, label=y, feature_names=NAMES),
        num_boost_round=extra,
        xgb_model=global_model,
    )
    metrics = {
        **after,
        "globalLogloss": before["logloss"],
        "rounds": best,
        "rows": len(y),
        "blend": blend,
    }
    return Fitted(refit, metrics, len(y))


class _Progress(xgb.callback.TrainingCallback):
    def __init__(self, step: Callable[[int], None]) -> None:
        super().__init__()
        self.step = step

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.step(1)
        return False


async def store(scope: str, fitted: Fitted) -> RecommenderModel:
    """Saves the model as the scope's next version."""
    last = await RecommenderModel.find({"scope": scope}).sort("-version").first_or_none()
    doc = RecommenderModel(
        scope=scope,
        version=(last.version + 1) if last else 1,
        booster=bytes(fitted.booster.save_raw("ubj")),
        features=list(NAMES),
        training_size=fitted.size,
        metrics=fitted.metrics,
    )
    await doc.insert()
    return doc


@dataclass
class Report:
    rows: int
    global_model: RecommenderModel | None
    user_models: list[RecommenderModel]

    def __str__(self) -> str:
        if self.global_model is None:
            return f"{self.rows} labelled rows: too few to train (at least {MIN_ROWS})"
        m = self.global_model.metrics
        return (
            f"global model v{self.global_model.version}: {self.rows} rows, "
            f"validation AUC {m['auc']:.3f}, log loss {m['logloss']:.3f}; "
            f"{len(self.user_models)} per-user models"
        )


async def train(
    users: Sequence[User] | None = None,
    *,
    cache: Cache | None = None,
    min_user_rows: int = 200,
    rounds: int = ROUNDS,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> Report:
    """Trains and stores the global model and the per-user ones; with `cache`, tells every
    API process (and retires the answers ranked by the models before)."""
    everyone = list(users) if users is not None else await User.find_all().to_list()
    dataset = Dataset()
    step = progress("users", len(everyone)) if progress else None
    for user in everyone:
        await user_dataset(user, dataset)
        if step:
            step(1)
    if len(dataset) < MIN_ROWS:
        return Report(len(dataset), None, [])
    fitted = fit_global(
        dataset, rounds=rounds, progress=progress("rounds", rounds) if progress else None
    )
    global_doc = await store(GLOBAL, fitted)
    per_user = []
    for sub in _with_enough(dataset.users, min_user_rows):
        own = fit_user(fitted.booster, dataset.of(sub), fitted.metrics["blend"])
        if own is not None:
            per_user.append(await store(sub, own))
    if cache is not None:
        await cache.bump([MODELS_SCOPE])
    return Report(len(dataset), global_doc, per_user)


def _with_enough(users: Iterable[str], least: int) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for user in users:
        counts[user] += 1
    return sorted(u for u, n in counts.items() if n >= least)

"""Trained rankers as the API serves them: the newest version of a user's scope (or the
global one), loaded once per version, noticed within `refresh_s` of `train` storing it.

Scoring runs in a worker thread (XGBoost holds the GIL only briefly) with one
thread per call: requests are the parallelism, not the trees.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache, TTLCache

from graphql_api.recommend.calibration import Blend
from graphql_api.recommend.features import NAMES
from models import RecommenderModel

if TYPE_CHECKING:
    # Imported where a model is first loaded: XGBoost and the SciPy it brings cost each
    # API process some 40 MB, which a process that ranks no slot never needs.
    import xgboost as xgb

log = logging.getLogger(__name__)
GLOBAL = "global"
MODELS_SCOPE = "shared:models"  # bumped by `train`: cached answers name their model
MODEL_ALONE = Blend(model=1.0, heuristic=0.0, bias=0.0)  # models stored without a blend

Matrix = npt.NDArray[np.float32]
Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Ranker:
    scope: str
    version: int
    booster: xgb.Booster
    blend: Blend = MODEL_ALONE

    def scores(self, rows: Matrix) -> Array:
        """P(done) for each row: one call for all of them."""
        predicted = self.booster.inplace_predict(rows, validate_features=False)
        return np.asarray(predicted, dtype=np.float64).reshape(-1)

    def contributions(self, rows: Matrix) -> Array:
        """Each feature's share of each row's log-odds, the bias column dropped: the changes
        of the trees' expected value along each row's decision paths (Saabas; XGBoost's
        `approx_contribs`). Like SHAP values they add up to the log-odds less the bias, so the
        reasons add up to the score; they cost a tenth of exact TreeSHAP, which took longer
        than scoring every candidate of a week (1.4 ms for five rows against 0.6 ms for 600)."""
        import xgboost as xgb  # noqa: PLC0415 - loaded with the booster (load_booster)

        matrix = xgb.DMatrix(rows, feature_names=NAMES, nthread=1)
        contribs = self.booster.predict(matrix, pred_contribs=True, approx_contribs=True)
        return np.asarray(contribs, dtype=np.float64)[:, :-1]


def load_booster(raw: bytes) -> xgb.Booster:
    import xgboost as xgb  # noqa: PLC0415 - see the TYPE_CHECKING import above

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    booster.set_param({"nthread": 1})
    return booster


class ModelStore:
    """The rankers this process serves."""

    def __init__(self, refresh_s: float = 10.0) -> None:
        self.refresh_s = refresh_s
        self._versions: TTLCache[str, dict[str, int]] = TTLCache(
            maxsize=10_000, ttl=refresh_s, timer=time.monotonic
        )
        self._boosters: LRUCache[tuple[str, int], Ranker] = LRUCache(maxsize=64)
        self._generation: str | None = None

    async def for_user(self, user_id: str, generation: str | None = None) -> Ranker | None:
        """The user's own model if they have one, else the global one, else None.

        `generation` is the version token of the `shared:models` cache scope, which
        `train` bumps: a new one means new models, looked for at once.
        """
        if generation != self._generation:
            self._versions.clear()
            self._generation = generation
        versions = self._versions.get(user_id)
        if versions is None:
            versions = await self._newest(user_id)
            self._versions[user_id] = versions
        for scope in (user_id, GLOBAL):
            if scope in versions:
                ranker = await self._ranker(scope, versions[scope])
                if ranker is not None:
                    return ranker
        return None

    async def _newest(self, user_id: str) -> dict[str, int]:
        newest: dict[str, int] = {}
        rows = RecommenderModel.get_pymongo_collection().find(
            {"scope": {"$in": [GLOBAL, user_id]}}, {"scope": 1, "version": 1, "features": 1}
        )
        async for row in rows:
            if row.get("features") != NAMES:
                continue  # trained on other features: retrain to use it
            if row["version"] > newest.get(row["scope"], -1):
                newest[row["scope"]] = row["version"]
        return newest

    async def _ranker(self, scope: str, version: int) -> Ranker | None:
        key = (scope, version)
        if key not in self._boosters:
            doc = await RecommenderModel.find_one({"scope": scope, "version": version})
            if doc is None:
                return None
            booster = await asyncio.to_thread(load_booster, doc.booster)
            blend = Blend.of(doc.metrics.get("blend")) or MODEL_ALONE
            self._boosters[key] = Ranker(scope, version, booster, blend)
            log.info("serving the %s ranker, version %d", scope, version)
        return self._boosters[key]

    def forget(self) -> None:
        """Look for new versions at the next request (after `train` in this process)."""
        self._versions.clear()

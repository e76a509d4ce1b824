"""The cold-start ranker: before a model is trained, or while a habit has little history.

A weighted mean of four plain signals, each in [0, 1] with 0.5 meaning "no
opinion": close to the time the habit is usually done, room around the slot,
what the user said of nearby times, and how often it was done at this hour.
Each signal's contribution is its weight times its distance from 0.5, so the
reasons add up to the score's distance from 0.5.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from graphql_api.recommend.features import COLUMN

Matrix = npt.NDArray[np.float32]
Array = npt.NDArray[np.float64]

USUAL_SPREAD_H = 1.5  # a slot this far from the usual time keeps ~60% of the signal
ROOM_SCALE_MIN = 45.0  # minutes of free time around a slot that make it comfortable

SIGNALS: tuple[tuple[str, float], ...] = (
    ("close to the usual time", 0.35),
    ("free time around", 0.25),
    ("feedback on nearby times", 0.20),
    ("done at this time of day before", 0.20),
)


def signals(rows: Matrix) -> Array:
    """Each signal for each row, shape (n, len(SIGNALS))."""
    distance = rows[:, COLUMN["hours_from_usual"]].astype(np.float64)
    usual = np.where(
        np.isnan(distance), 0.5, np.exp(-np.square(distance) / (2 * USUAL_SPREAD_H**2))
    )
    gap = np.minimum(rows[:, COLUMN["free_before"]], rows[:, COLUMN["free_after"]])
    room = 1 - np.exp(-np.maximum(gap.astype(np.float64), 0) / ROOM_SCALE_MIN)
    feedback = 0.5 + 0.5 * rows[:, COLUMN["feedback_nearby"]].astype(np.float64)
    hour_rate = rows[:, COLUMN["hour_rate"]].astype(np.float64)
    result: Array = np.column_stack([usual, room, feedback, hour_rate])
    return result


def score(rows: Matrix) -> tuple[Array, Array]:
    """Scores in [0, 1] and each signal's signed contribution, shape (n, len(SIGNALS))."""
    weights = np.array([w for _, w in SIGNALS])
    contributions: Array = (signals(rows) - 0.5) * weights
    scores: Array = 0.5 + contributions.sum(axis=1)
    return np.clip(scores, 0.0, 1.0), contributions


LABELS = [name for name, _ in SIGNALS]

"""Scores as probabilities: a logistic blend of the model's and the heuristic's evidence.

Pure numpy. `fit` is logistic regression by Newton's method on the log-odds of the
inputs (Platt scaling when there is one input, a learned blend of the two rankers
when there are two), with a little ridge so that a separable set stays finite.
`train` fits the blend on the rows it validated on and stores it with the model;
without a trained model the heuristic alone is calibrated by `HEURISTIC`, fitted the
same way on the simulator's training users (`scheduling-worker evaluate` prints the
refitted values, so a reader can check them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
EPS = 1e-4
RIDGE = 1e-3
STEPS = 25


def logit(p: npt.ArrayLike) -> Array:
    q = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    result: Array = np.log(q / (1 - q))
    return result


def sigmoid(z: npt.ArrayLike) -> Array:
    result: Array = 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))
    return result


@dataclass(frozen=True)
class Blend:
    """P(yes) = sigmoid(model * logit(m) + heuristic * logit(h) + bias)."""

    model: float
    heuristic: float
    bias: float

    def probability(self, model: Array | None, heuristic: Array) -> Array:
        z = self.heuristic * logit(heuristic) + self.bias
        if model is not None:
            z = z + self.model * logit(model)
        return sigmoid(z)

    def as_list(self) -> list[float]:
        return [self.model, self.heuristic, self.bias]

    @classmethod
    def of(cls, values: object) -> Blend | None:
        """From a stored list (None when absent or malformed: the caller's default)."""
        if not isinstance(values, list) or len(values) != 3:
            return None
        if not all(isinstance(v, int | float) for v in values):
            return None
        return cls(float(values[0]), float(values[1]), float(values[2]))


# Platt scaling of the heuristic alone, fitted on the training rows of
# `scheduling-worker evaluate` (seed 7, the defaults), which prints the refit as
# "heuristic calibration" beside these.
HEURISTIC = Blend(model=0.0, heuristic=1.22, bias=-0.99)


def fit(labels: npt.ArrayLike, heuristic: npt.ArrayLike, model: npt.ArrayLike | None) -> Blend:
    """The blend that maximises the likelihood of the labels (Newton-Raphson)."""
    y = np.asarray(labels, dtype=np.float64)
    columns = [logit(heuristic)]
    if model is not None:
        columns.insert(0, logit(model))
    x = np.column_stack([*columns, np.ones(len(y))])
    w = np.zeros(x.shape[1])
    penalty = RIDGE * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(STEPS):
        p = sigmoid(x @ w)
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    if model is None:
        return Blend(0.0, float(w[0]), float(w[1]))
    return Blend(float(w[0]), float(w[1]), float(w[2]))


def brier(labels: npt.ArrayLike, probabilities: npt.ArrayLike) -> float:
    """The mean squared distance of the probabilities from what happened (lower is better)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    return float(np.mean(np.square(p - y)))

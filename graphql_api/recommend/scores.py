"""How well scores rank outcomes: ROC AUC and log loss, for training reports and `evaluate`.

On scipy (which xgboost needs anyway) rather than scikit-learn: with scikit-learn
installed, `import xgboost` imports it too (xgboost's estimator wrappers), about
64 MB of every API process's memory for two functions the API never calls.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import mannwhitneyu


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """The chance that a random positive scores above a random negative (ties count half):
    the Mann-Whitney U of the positives over the negatives, normalised."""
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    positives, negatives = s[y == 1], s[y == 0]
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError("AUC needs both outcomes among the labels")
    u = mannwhitneyu(positives, negatives, alternative="two-sided").statistic
    return float(u) / (len(positives) * len(negatives))


def log_loss(labels: npt.ArrayLike, probabilities: npt.ArrayLike, eps: float = 1e-15) -> float:
    """The mean negative log-likelihood of the labels under the predicted probabilities."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

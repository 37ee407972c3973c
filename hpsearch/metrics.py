"""Scores of predictions against observed values, one set of metrics per task.

Plain numpy/scipy (no sklearn import), computed without RuntimeWarnings: an undefined value
(constant predictions for a correlation, one class only for ROC-AUC, non-finite predictions)
is NaN, and the caller decides what that means. Names match
:data:`hpsearch.trial.METRIC_DIRECTIONS`.
"""

from __future__ import annotations

import math

import numpy as np

from hpsearch.errors import ConfigError

#: Task → the metrics :func:`score_predictions` returns for it.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("pearson_r", "spearman_r", "mse", "rmse", "slope"),
    "binary": ("roc_auc", "accuracy", "log_loss"),
    "multiclass": ("accuracy", "log_loss"),
}

_EPS = float(np.finfo(np.float64).eps)


def metric_names(task: str) -> tuple[str, ...]:
    """The metric names computed for ``task``."""
    if task not in TASK_METRICS:
        raise ConfigError.at(None, "task", f"be one of {', '.join(TASK_METRICS)}", task)
    return TASK_METRICS[task]


def score_predictions(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Every metric of ``task`` for the predictions ``y_pred`` of ``y_true``.

    regression: ``y_pred`` on the target's scale; binary: probability of class 1;
    multiclass: (n, k) class probabilities with ``y_true`` the class codes 0..k-1.
    """
    names = metric_names(task)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if task == "multiclass":
        if y_pred.ndim != 2:
            raise ValueError(f"multiclass predictions must be (n, k), got shape {y_pred.shape}")
    else:
        y_pred = _as_vector(y_pred)
    y_true = _as_vector(y_true)
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{y_true.shape[0]} observed values but {y_pred.shape[0]} predictions")
    if y_true.shape[0] == 0 or not np.all(np.isfinite(y_pred)):
        return dict.fromkeys(names, math.nan)
    if task == "regression":
        return _regression(y_true.astype(np.float64), y_pred)
    if task == "binary":
        return _binary(y_true.astype(np.int64), y_pred)
    return _multiclass(y_true.astype(np.int64), y_pred)


def _as_vector(values: np.ndarray) -> np.ndarray:
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"expected a vector or an (n, 1) column, got shape {values.shape}")
    return values


def is_constant(values: np.ndarray) -> bool:
    """All values equal up to rounding (their mean may differ from them in the last bits, so
    centring a constant vector need not give exact zeros)."""
    if values.size == 0:
        return True
    spread = float(np.max(values) - np.min(values))
    return spread <= 8.0 * _EPS * float(np.max(np.abs(values)))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant (no warning)."""
    if is_constant(a) or is_constant(b):
        return math.nan
    da = a - a.mean()
    db = b - b.mean()
    saa = float(da @ da)
    sbb = float(db @ db)
    if saa <= 0.0 or sbb <= 0.0 or not math.isfinite(saa * sbb):
        return math.nan
    r = float(da @ db) / math.sqrt(saa * sbb)
    return max(-1.0, min(1.0, r))


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values).astype(np.float64)


def _regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    residual = y_true - y_pred
    mse = float(residual @ residual) / y_true.shape[0]
    dp = y_pred - y_pred.mean()
    spp = float(dp @ dp)
    constant = is_constant(y_pred) or spp <= 0.0
    slope = math.nan if constant else float(dp @ (y_true - y_true.mean())) / spp
    return {
        "pearson_r": pearson(y_true, y_pred),
        "spearman_r": pearson(_ranks(y_true), _ranks(y_pred)),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "slope": slope,
    }


def _binary(y_true: np.ndarray, p: np.ndarray) -> dict[str, float]:
    positive = y_true == 1
    n_pos = int(positive.sum())
    n_neg = y_true.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        auc = math.nan
    else:  # Mann-Whitney U with mid-ranks for ties = the area under the ROC curve
        rank_sum = float(_ranks(p)[positive].sum())
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    clipped = np.clip(p, _EPS, 1.0 - _EPS)
    log_loss = -float(np.mean(np.where(positive, np.log(clipped), np.log1p(-clipped))))
    return {
        "roc_auc": auc,
        "accuracy": float(np.mean((p > 0.5) == positive)),
        "log_loss": log_loss,
    }


def _multiclass(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    n, k = proba.shape
    if y_true.min() < 0 or y_true.max() >= k:
        raise ValueError(f"class codes must be in 0..{k - 1}, got {y_true.min()}..{y_true.max()}")
    clipped = np.clip(proba, _EPS, 1.0 - _EPS)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    picked = clipped[np.arange(n), y_true]
    return {
        "accuracy": float(np.mean(np.argmax(proba, axis=1) == y_true)),
        "log_loss": -float(np.mean(np.log(picked))),
    }

"""Metrics against scipy/sklearn on random data, and the NaN cases (without warnings)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from hpsearch.errors import ConfigError
from hpsearch.metrics import TASK_METRICS, metric_names, score_predictions
from hpsearch.trial import METRIC_DIRECTIONS


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_regression_matches_scipy_and_sklearn(rng: np.random.Generator) -> None:
    y = rng.normal(size=200)
    pred = 0.6 * y + rng.normal(scale=0.8, size=200) + 3.0
    got = score_predictions("regression", y, pred)
    assert set(got) == set(TASK_METRICS["regression"])
    assert got["pearson_r"] == pytest.approx(stats.pearsonr(y, pred).statistic, rel=1e-12)
    assert got["spearman_r"] == pytest.approx(stats.spearmanr(y, pred).statistic, rel=1e-12)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-12)
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)), rel=1e-12)
    assert got["slope"] == pytest.approx(np.polyfit(pred, y, 1)[0], rel=1e-9)


def test_regression_accepts_column_vectors_and_ties(rng: np.random.Generator) -> None:
    y = rng.integers(0, 4, size=50).astype(float)
    pred = rng.integers(0, 3, size=50).astype(float)
    got = score_predictions("regression", y[:, None], pred[:, None])
    assert got["spearman_r"] == pytest.approx(stats.spearmanr(y, pred).statistic, rel=1e-12)


def test_binary_matches_sklearn(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, size=300)
    p = np.clip(0.3 * y + rng.uniform(0.05, 0.7, size=300), 0.01, 0.99)
    p[:20] = 0.5  # ties and the threshold itself
    got = score_predictions("binary", y, p)
    assert set(got) == set(TASK_METRICS["binary"])
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, (p > 0.5).astype(int)))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=1e-9)


def test_multiclass_matches_sklearn(rng: np.random.Generator) -> None:
    y = rng.integers(0, 4, size=250)
    logits = rng.normal(size=(250, 4))
    logits[np.arange(250), y] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = score_predictions("multiclass", y, proba)
    assert set(got) == set(TASK_METRICS["multiclass"])
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, proba.argmax(axis=1)))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2, 3]), rel=1e-9)


@pytest.mark.parametrize("value", [0.25, 0.9034701816518086, 0.2201951234700494, -1234.5678])
def test_constant_prediction_gives_nan_without_warnings(
    rng: np.random.Generator, value: float
) -> None:
    # the mean of 40 copies of 0.9034701816518086 is not exactly it: centring leaves noise
    y = rng.normal(size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score_predictions("regression", y, np.full(40, value))
        flipped = score_predictions("regression", np.full(40, value), y)
    assert math.isnan(got["pearson_r"]) and math.isnan(flipped["pearson_r"])
    assert math.isnan(got["spearman_r"])
    assert math.isnan(got["slope"])
    assert got["mse"] == pytest.approx(float(np.mean((y - value) ** 2)))


def test_one_class_gives_nan_auc_without_warnings(rng: np.random.Generator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score_predictions("binary", np.ones(30, dtype=int), rng.uniform(size=30))
    assert math.isnan(got["roc_auc"])
    assert math.isfinite(got["accuracy"]) and math.isfinite(got["log_loss"])


def test_non_finite_predictions_give_nan_everywhere() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score_predictions("regression", np.arange(5.0), np.array([1, 2, np.nan, 4, 5.0]))
    assert all(math.isnan(v) for v in got.values())


def test_names_match_objective_directions() -> None:
    every = {name for names in TASK_METRICS.values() for name in names}
    # slope is a calibration diagnostic (ideal 1), not something to maximise or minimise
    assert every - {"slope"} == set(METRIC_DIRECTIONS)


def test_unknown_task_and_shape_mismatch() -> None:
    with pytest.raises(ConfigError, match="task"):
        metric_names("ranking")
    with pytest.raises(ValueError, match="predictions"):
        score_predictions("regression", np.zeros(3), np.zeros(4))

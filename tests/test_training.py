"""The training loop on small synthetic data: scores, failures, leakage, determinism."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import replace

import numpy as np
import pytest

from hpsearch.data.dataset import FoldPlan, GenomicData, Split
from hpsearch.errors import ConfigError
from hpsearch.models import get_builder
from hpsearch.training import TrainOptions, configure_threads, fit_and_score, fit_final
from hpsearch.trial import Objective, TrialResult, TrialStatus

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
pytest.importorskip("keras")
pytestmark = pytest.mark.integration

N_LINES, N_MARKERS, N_TEST = 200, 50, 40
FAST = {
    "optimizer": "adam",
    "learning_rate": 0.03,
    "n_layers": 1,
    "units": 16,
    "epochs": 20,
    "patience": 5,
    "batch_size": 32,
}
PEARSON = Objective("pearson_r", "maximize")


# --------------------------------------------------------------------------- data


def make_data(task: str = "regression", seed: int = 0) -> GenomicData:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(N_LINES, N_MARKERS)).astype(np.float32)
    beta = np.zeros(N_MARKERS)
    beta[rng.choice(N_MARKERS, 20, replace=False)] = rng.normal(size=20)
    g = (x - x.mean(0)) @ beta
    y = g + rng.normal(scale=0.3 * g.std(), size=N_LINES)
    classes = None
    if task == "binary":
        y, classes = (y > np.median(y)).astype(np.int64), [0, 1]
    elif task == "multiclass":
        y, classes = (
            np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])).astype(np.int64),
            ["a", "b", "c"],
        )
    return GenomicData(
        genotypes=x,
        target=y,
        task=task,
        trait="t",
        classes=classes,
        line_ids=[f"l{i}" for i in range(N_LINES)],
        marker_ids=[f"m{j}" for j in range(N_MARKERS)],
    )


def make_plan(seed: int = 0) -> FoldPlan:
    order = np.random.default_rng(seed).permutation(N_LINES)
    test, train = np.sort(order[:N_TEST]), order[N_TEST:]
    half = train.size // 2
    halves = [np.sort(train[:half]), np.sort(train[half:])]
    inner = (Split(halves[1], halves[0], "inner0"), Split(halves[0], halves[1], "inner1"))
    return FoldPlan(outer=Split(np.sort(train), test, "outer1"), inner=inner)


MLP = get_builder("mlp")


@pytest.fixture(scope="module")
def data() -> GenomicData:
    return make_data()


@pytest.fixture(scope="module")
def plan() -> FoldPlan:
    return make_plan()


@pytest.fixture(scope="module")
def reported() -> list[tuple[int, dict[str, float]]]:
    return []


@pytest.fixture(scope="module")
def result(data: GenomicData, plan: FoldPlan, reported: list) -> TrialResult:
    configure_threads(1)
    return fit_and_score(
        MLP,
        FAST,
        data,
        plan,
        PEARSON,
        seed=3,
        trial_id=7,
        report=lambda step, metrics: reported.append((step, dict(metrics))),
    )


# --------------------------------------------------------------------------- tests


def test_learns_the_signal(result: TrialResult) -> None:
    assert result.ok, result.error
    assert result.score is not None and result.score > 0.5
    assert result.trial_id == 7 and result.params == FAST
    assert result.score == pytest.approx(np.mean([f["pearson_r"] for f in result.fold_metrics]))
    assert result.metrics["n_markers_used"] == N_MARKERS
    assert {"pearson_r", "spearman_r", "mse", "rmse", "slope"} <= set(result.metrics)
    for fold in result.fold_metrics:
        assert 1 <= fold["best_epoch"] <= fold["epochs_run"] <= FAST["epochs"]
        assert fold["n_markers"] == N_MARKERS
    best = result.info["best_epochs"]
    assert best == [f["best_epoch"] for f in result.fold_metrics]
    assert result.info["refit_epochs"] == math.floor(np.mean(best) + 0.5)
    assert result.duration_s > 0


def test_curves_and_reports(result: TrialResult, reported: list) -> None:
    runs = [int(f["epochs_run"]) for f in result.fold_metrics]
    assert sorted(result.curves) == ["fold0/loss", "fold0/val_loss", "fold1/loss", "fold1/val_loss"]
    for k, n in enumerate(runs):
        assert len(result.curves[f"fold{k}/loss"]) == len(result.curves[f"fold{k}/val_loss"]) == n
    assert [step for step, _ in reported] == list(range(1, sum(runs) + 1))
    assert [m["fold"] for _, m in reported] == [0] * runs[0] + [1] * runs[1]
    assert [m["val_loss"] for _, m in reported[: runs[0]]] == result.curves["fold0/val_loss"]
    assert all(math.isfinite(m["loss"]) for _, m in reported)


def test_result_json_round_trip(result: TrialResult) -> None:
    data = json.loads(json.dumps(result.to_dict()))
    back = TrialResult.from_dict(data)
    assert back == result


def test_outer_test_rows_cannot_change_the_score(
    result: TrialResult, data: GenomicData, plan: FoldPlan
) -> None:
    test = plan.outer.valid
    rng = np.random.default_rng(99)
    genotypes = data.genotypes.copy()
    target = data.target.copy()
    genotypes[test] = 1.0 - genotypes[test]
    target[test] = rng.normal(scale=100.0, size=test.size)
    changed = replace(data, genotypes=genotypes, target=target)
    again = fit_and_score(MLP, FAST, changed, plan, PEARSON, seed=3, trial_id=7)
    assert again.score == result.score  # bit-identical
    assert again.fold_metrics == result.fold_metrics
    assert again.curves == result.curves


def test_early_stopping_restores_the_best_epoch(data: GenomicData, plan: FoldPlan) -> None:
    patience = 2
    out = fit_and_score(MLP, {**FAST, "patience": patience}, data, plan, PEARSON, seed=5)
    assert out.ok, out.error
    stopped_early = 0
    for k, (split, fold) in enumerate(zip(plan.inner, out.fold_metrics, strict=True)):
        val_loss = out.curves[f"fold{k}/val_loss"]
        best = int(np.argmin(val_loss)) + 1
        assert fold["best_epoch"] == best
        if fold["epochs_run"] < FAST["epochs"]:
            stopped_early += 1
            assert fold["epochs_run"] == best + patience
        # the scored model is the best epoch's: its MSE on the standardised target is the
        # smallest validation loss (no regularisation terms here)
        sd = float(np.std(data.target[split.train]))
        assert fold["mse"] / sd**2 == pytest.approx(min(val_loss), rel=1e-4)
    assert stopped_early >= 1


def test_seed_decides_the_result(result: TrialResult, data: GenomicData, plan: FoldPlan) -> None:
    same = fit_and_score(MLP, FAST, data, plan, PEARSON, seed=3)
    other = fit_and_score(MLP, FAST, data, plan, PEARSON, seed=4)
    assert same.score == result.score
    assert other.ok and other.score != result.score


def test_divergence_is_returned_as_failure(data: GenomicData, plan: FoldPlan) -> None:
    params = {**FAST, "optimizer": "sgd", "learning_rate": 1e6}
    out = fit_and_score(MLP, params, data, plan, PEARSON, seed=0, trial_id=3)
    assert out.status == TrialStatus.FAILED and out.score is None
    assert out.error is not None
    assert re.fullmatch(r"diverged: loss became (nan|inf) at epoch \d+ of fold inner0", out.error)
    assert len(out.curves["fold0/loss"]) < FAST["epochs"]
    assert TrialResult.from_dict(json.loads(json.dumps(out.to_dict()))).error == out.error


def test_bad_parameter_is_returned_as_failure(data: GenomicData, plan: FoldPlan) -> None:
    out = fit_and_score(MLP, {**FAST, "optimizer": "adamw2"}, data, plan, PEARSON, seed=0)
    assert not out.ok
    assert out.error.startswith("ConfigError: model parameters: optimizer: must be one of sgd")
    out = fit_and_score(MLP, {**FAST, "batch_size": 0}, data, plan, PEARSON, seed=0)
    assert out.error == (
        "ConfigError: trainer parameters: batch_size: must be an integer in [1, inf], got 0"
    )


def test_builder_exceptions_and_constant_predictions_are_failures(
    data: GenomicData, plan: FoldPlan
) -> None:
    def broken(params, *, input_shape, n_outputs, task):
        raise ZeroDivisionError("no\nway")

    out = fit_and_score(broken, FAST, data, plan, PEARSON, seed=0)
    assert out.error == "ZeroDivisionError: no way"

    def constant(params, *, input_shape, n_outputs, task):
        import keras

        inputs = keras.Input(shape=input_shape)
        zero = keras.layers.Dense(1, kernel_initializer="zeros", trainable=False)(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(zero))
        model.compile(optimizer="sgd", loss="mse")
        return model

    out = fit_and_score(constant, {**FAST, "epochs": 2}, data, plan, PEARSON, seed=0)
    assert out.error == "constant predictions on fold inner0: pearson_r undefined"


def test_report_exceptions_propagate(data: GenomicData, plan: FoldPlan) -> None:
    class Stop(Exception):
        pass

    def report(step: int, metrics: dict) -> None:
        if step == 2:
            raise Stop("pruned")

    with pytest.raises(Stop):
        fit_and_score(MLP, FAST, data, plan, PEARSON, seed=0, report=report)


def test_wrong_metric_for_task_is_a_config_error(plan: FoldPlan) -> None:
    with pytest.raises(ConfigError, match=r"evaluation\.metric"):
        fit_and_score(MLP, FAST, make_data("binary"), plan, PEARSON, seed=0)


@pytest.mark.parametrize(("task", "metric"), [("binary", "roc_auc"), ("multiclass", "accuracy")])
def test_classification_tasks(task: str, metric: str, plan: FoldPlan) -> None:
    out = fit_and_score(
        MLP, {**FAST, "epochs": 8}, make_data(task), plan, Objective.for_metric(metric), seed=1
    )
    assert out.ok, out.error
    assert set(out.metrics) == (
        {"roc_auc", "accuracy", "log_loss", "n_markers_used"}
        if task == "binary"
        else {"accuracy", "log_loss", "n_markers_used"}
    )
    assert out.score is not None and 0.0 <= out.score <= 1.0
    # a network that learnt something beats chance on the held-out rows
    assert out.score > (0.5 if task == "binary" else 1 / 3)


def test_sequence_model_gets_a_channel_axis(data: GenomicData, plan: FoldPlan) -> None:
    params = {**FAST, "epochs": 2, "filters": 4, "n_layers": 0, "preselect_top_k": 20}
    out = fit_and_score(get_builder("cnn"), params, data, plan, PEARSON, seed=0)
    assert out.ok, out.error
    assert out.metrics["n_markers_used"] == 20


def test_fit_final_scores_outer_test_rows_only(data: GenomicData, plan: FoldPlan) -> None:
    metrics, pred = fit_final(MLP, FAST, data, plan.outer, seed=0, epochs=6)
    test = plan.outer.valid
    assert pred.shape == (test.size,)
    assert metrics["pearson_r"] == pytest.approx(np.corrcoef(data.target[test], pred)[0, 1])
    assert metrics["mse"] == pytest.approx(np.mean((data.target[test] - pred) ** 2))
    assert metrics["pearson_r"] > 0.3
    # the test rows' targets play no part in the fit: changing them changes no prediction
    target = data.target.copy()
    target[test] = -target[test] + 50.0
    changed, pred2 = fit_final(
        MLP, FAST, replace(data, target=target), plan.outer, seed=0, epochs=6
    )
    np.testing.assert_array_equal(pred, pred2)
    assert changed["pearson_r"] == pytest.approx(-metrics["pearson_r"])
    with pytest.raises(ConfigError, match="epochs"):
        fit_final(MLP, FAST, data, plan.outer, seed=0, epochs=0)


def test_train_options_defaults_and_checks() -> None:
    assert TrainOptions.from_params({}) == TrainOptions(32, 200, 10, 0.0)
    with pytest.raises(ConfigError, match="patience"):
        TrainOptions.from_params({"patience": -1})
    assert configure_threads(None) is False
    with pytest.raises(ConfigError, match="threads"):
        configure_threads(0)

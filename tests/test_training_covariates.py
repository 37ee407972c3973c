"""Covariates as the networks' second input, and the trainer's row-index preprocessing path.

Simulated data where an environment (3 levels) shifts the phenotype by two genetic sds: a
network that sees the environment predicts held-out lines far better than one that does not.
The covariate encoding is learnt from each split's training rows only; the genotypes are read
by row index, with results bit-identical to slicing the rows out first.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hpsearch.data.dataset import FoldPlan, GenomicData, Split
from hpsearch.data.preprocess import Preprocessor
from hpsearch.errors import ConfigError
from hpsearch.models import accepts_covariates, get_builder
from hpsearch.trial import Objective, TrialResult

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
pytest.importorskip("keras")

N_LINES, N_MARKERS = 300, 40
ENV_SHIFT = (-2.0, 0.0, 2.0)  # in genetic sds
PEARSON = Objective("pearson_r", "maximize")
#: Small and quick; l2 keeps the markers from memorising the environment shift.
FAST = {
    "optimizer": "adam",
    "learning_rate": 0.05,
    "l2": 1e-3,
    "n_layers": 1,
    "units": 8,
    "epochs": 40,
    "patience": 5,
    "batch_size": 32,
}
SHORT = {**FAST, "epochs": 4, "patience": 2}


# --------------------------------------------------------------------------- data


def covariate_table(columns: dict[str, list[Any]]) -> np.ndarray:
    names = list(columns)
    out = np.empty((len(columns[names[0]]), len(names)), dtype=object)
    for j, name in enumerate(names):
        out[:, j] = columns[name]
    return out


def make_data(
    seed: int = 0, *, with_age: bool = False, shift: tuple[float, ...] = ENV_SHIFT
) -> GenomicData:
    """Genotypes 0/1/2, an additive trait, and an environment shift of ``shift`` genetic sds
    (+-2 by default)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(N_LINES, N_MARKERS)).astype(np.float32)
    g = (x - x.mean(0)) @ rng.normal(size=N_MARKERS)
    env = rng.integers(0, 3, size=N_LINES)
    y = g + np.asarray(shift)[env] * g.std() + rng.normal(scale=0.5 * g.std(), size=N_LINES)
    columns: dict[str, list[Any]] = {"env": [f"E{e}" for e in env]}
    kinds = ["categorical"]
    if with_age:
        columns["age"] = rng.normal(40.0, 10.0, size=N_LINES).tolist()
        kinds.append("numeric")
    return GenomicData(
        genotypes=x,
        target=y,
        task="regression",
        trait="t",
        line_ids=[f"l{i}" for i in range(N_LINES)],
        marker_ids=[f"m{j}" for j in range(N_MARKERS)],
        covariates=covariate_table(columns),
        covariate_names=list(columns),
        covariate_kinds=kinds,
    )


def without_covariates(data: GenomicData) -> GenomicData:
    return replace(data, covariates=None, covariate_names=None, covariate_kinds=None)


def make_plan(seed: int = 0) -> FoldPlan:
    order = np.random.default_rng(seed).permutation(N_LINES)
    n_test = N_LINES // 5
    test, train = np.sort(order[:n_test]), order[n_test:]
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


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    from hpsearch.training import configure_threads

    configure_threads(1)


def recording(seen: list[int]) -> Any:
    """The MLP builder, noting the n_covariates each call gets (0 when not passed)."""

    def build(params, *, input_shape, n_outputs, task, n_covariates: int = 0):
        seen.append(n_covariates)
        return MLP(
            params,
            input_shape=input_shape,
            n_outputs=n_outputs,
            task=task,
            n_covariates=n_covariates,
        )

    build.input_rank = 1
    return build


def same_result(a: TrialResult, b: TrialResult) -> None:
    assert a.ok and b.ok, (a.error, b.error)
    assert a.score == b.score
    assert a.fold_metrics == b.fold_metrics
    assert a.curves == b.curves


# --------------------------------------------------------------------------- covariates


@pytest.mark.integration
def test_covariates_make_the_environment_predictable(data: GenomicData, plan: FoldPlan) -> None:
    from hpsearch.training import fit_and_score

    seen: list[int] = []
    plain = fit_and_score(MLP, FAST, without_covariates(data), plan, PEARSON, seed=0)
    with_env = fit_and_score(recording(seen), FAST, data, plan, PEARSON, seed=0)
    assert plain.ok and with_env.ok, (plain.error, with_env.error)
    assert seen == [3, 3]  # one one-hot column per environment, per inner fold
    # the environment explains ~2/3 of the variance and the markers cannot see it
    assert plain.score < 0.5
    assert with_env.score > 0.75
    assert with_env.score > plain.score + 0.3
    for fold in with_env.fold_metrics:
        assert fold["pearson_r"] > 0.6 and fold["n_markers"] == N_MARKERS


@pytest.mark.integration
def test_encoding_is_learnt_from_training_rows_only(plan: FoldPlan) -> None:
    """Outer test rows with a level unseen in training (and odd ages) change nothing else."""
    from hpsearch.training import fit_final

    data = make_data(with_age=True)
    test = plan.outer.valid  # predictions come in this order
    n_changed = test.size // 2  # the first half of the test rows get new covariate values

    def refit(env: str | None = None, age: float = 0.0, *, change: bool = True) -> np.ndarray:
        covariates = data.covariates.copy()
        if change:
            covariates[test[:n_changed], 0] = env
            covariates[test[:n_changed], 1] = age
        changed = replace(data, covariates=covariates)
        return fit_final(builder, SHORT, changed, plan.outer, seed=0, epochs=4)[1]

    seen: list[int] = []
    builder = recording(seen)
    base = refit(change=False)
    unseen, missing, known = refit("E9", 1e4), refit(None, 1e4), refit("E0", 1e4)
    # levels (E0..E2, never E9) and the age's mean/sd come from the training rows: the
    # model's input width and the rows left alone are untouched by the changed rows
    assert seen == [4, 4, 4, 4]
    for other in (unseen, missing, known):
        np.testing.assert_array_equal(other[n_changed:], base[n_changed:])
    # a level seen only outside the training rows encodes as all zeros, as a missing one does
    np.testing.assert_array_equal(unseen[:n_changed], missing[:n_changed])
    # ... and the covariate input is used: a known level moves the prediction
    assert not np.array_equal(known[:n_changed], unseen[:n_changed])


@pytest.mark.integration
def test_held_out_covariates_do_not_reach_the_fold_that_holds_them_out(
    data: GenomicData, plan: FoldPlan
) -> None:
    from hpsearch.training import fit_and_score

    first = fit_and_score(MLP, SHORT, data, plan, PEARSON, seed=2)
    covariates = data.covariates.copy()
    covariates[plan.inner[0].valid, 0] = "E7"  # held out by fold 0, trained on by fold 1
    again = fit_and_score(MLP, SHORT, replace(data, covariates=covariates), plan, PEARSON, seed=2)
    assert first.ok and again.ok, (first.error, again.error)
    assert again.curves["fold0/loss"] == first.curves["fold0/loss"]
    assert again.curves["fold1/loss"] != first.curves["fold1/loss"]


@pytest.mark.integration
def test_validation_loss_and_model_reuse_see_the_covariates(
    data: GenomicData, plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hpsearch.training as training

    params = {**FAST, "epochs": 12, "l2": 0.0}
    kept = training.fit_and_score(MLP, params, data, plan, PEARSON, seed=4)
    assert kept.ok, kept.error
    for k, (split, fold) in enumerate(zip(plan.inner, kept.fold_metrics, strict=True)):
        # the scored model is the best epoch's, and the monitor's val_loss is its MSE on
        # the standardised target: both passes fed [markers, covariates]
        sd = float(np.std(data.target[split.train]))
        assert fold["mse"] / sd**2 == pytest.approx(min(kept.curves[f"fold{k}/val_loss"]), rel=1e-4)
    monkeypatch.setattr(training, "MODEL_REUSE", False)
    same_result(kept, training.fit_and_score(MLP, params, data, plan, PEARSON, seed=4))


@pytest.mark.integration
def test_fit_final_with_covariates(data: GenomicData, plan: FoldPlan) -> None:
    from hpsearch.training import fit_final

    metrics, pred = fit_final(MLP, FAST, data, plan.outer, seed=0, epochs=15)
    plain, _ = fit_final(MLP, FAST, without_covariates(data), plan.outer, seed=0, epochs=15)
    test = plan.outer.valid
    assert pred.shape == (test.size,)
    assert metrics["pearson_r"] == pytest.approx(np.corrcoef(data.target[test], pred)[0, 1])
    assert metrics["pearson_r"] > 0.75
    assert metrics["pearson_r"] > plain["pearson_r"] + 0.3


@pytest.mark.integration
@pytest.mark.parametrize("name", ["cnn", "lstm"])
def test_sequence_models_take_covariates(name: str, data: GenomicData, plan: FoldPlan) -> None:
    from hpsearch.training import fit_and_score

    params = {
        **SHORT,
        "epochs": 2,
        "filters": 4,
        "lstm_units": 4,
        "n_layers": 0,
        "preselect_top_k": 10,
    }
    out = fit_and_score(get_builder(name), params, data, plan, PEARSON, seed=0)
    assert out.ok, out.error
    assert out.metrics["n_markers_used"] == 10


@pytest.mark.integration
def test_builder_without_the_keyword_fails_the_trial_with_one_line(
    data: GenomicData, plan: FoldPlan
) -> None:
    from hpsearch.training import fit_and_score, fit_final

    def old_style(params, *, input_shape, n_outputs, task):
        return MLP(params, input_shape=input_shape, n_outputs=n_outputs, task=task)

    out = fit_and_score(old_style, SHORT, data, plan, PEARSON, seed=0)
    assert not out.ok and out.error is not None
    assert "\n" not in out.error
    assert out.error.startswith("ConfigError: model: must take the keyword n_covariates")
    assert "(env)" in out.error and "old_style, which does not" in out.error
    with pytest.raises(ConfigError, match="n_covariates"):
        fit_final(old_style, SHORT, data, plan.outer, seed=0, epochs=1)
    # without covariates the same builder is fine (the keyword is passed only when needed)
    plain = fit_and_score(old_style, SHORT, without_covariates(data), plan, PEARSON, seed=0)
    assert plain.ok, plain.error


@pytest.mark.integration
def test_builder_that_ignores_the_covariates_is_a_clear_failure(
    data: GenomicData, plan: FoldPlan
) -> None:
    from hpsearch.training import fit_and_score

    def ignores(params, *, input_shape, n_outputs, task, **extra):
        return MLP(params, input_shape=input_shape, n_outputs=n_outputs, task=task)

    out = fit_and_score(ignores, SHORT, data, plan, PEARSON, seed=0)
    assert out.error == (
        "TypeError: the builder got n_covariates=3 but returned a model with 1 input(s); "
        "it needs two: [markers, covariates]"
    )


# --------------------------------------------------------------------------- fixed-effect start


BIG_SHIFT = (-4.0, 0.0, 4.0)
#: A short fit with a small learning rate: too short for random covariate weights to grow.
BRIEF = {**FAST, "learning_rate": 1e-4}


def fixed_effect_predictions(data: GenomicData, train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """OLS of the raw trait on a full-rank coding of the raw covariates (intercept, env E1 and
    E2 indicators, age when present), fitted on ``train``, predicted for ``rows``."""

    def design(at: np.ndarray) -> np.ndarray:
        env = data.covariates[at, 0]
        columns = [np.ones(at.size), env == "E1", env == "E2"]
        if data.covariates.shape[1] > 1:
            columns.append(data.covariates[at, 1].astype(np.float64))
        return np.column_stack(columns).astype(np.float64)

    coef = np.linalg.lstsq(design(train), data.target[train], rcond=None)[0]
    return design(rows) @ coef


def starts(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Spy on the trainer's fixed-effect start: one entry (did it set the head?) per call."""
    import hpsearch.training as training

    calls: list[bool] = []
    original = training._start_at_fixed_effects

    def spy(model: Any, c_train: np.ndarray, y_train: np.ndarray) -> bool:
        calls.append(original(model, c_train, y_train))
        return calls[-1]

    monkeypatch.setattr(training, "_start_at_fixed_effects", spy)
    return calls


@pytest.mark.integration
def test_fixed_effect_start_is_the_least_squares_fit_of_the_training_rows(
    plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the average genotype the fresh model predicts the OLS fixed effects; nothing else
    differs from the builder's initial values."""
    import keras

    import hpsearch.training as training
    from hpsearch.data.preprocess import PreprocessOptions

    data = make_data(with_age=True, shift=BIG_SHIFT)  # one-hot env (collinear with 1) + age
    split = plan.outer

    def built(start: bool) -> tuple[Any, Any]:
        monkeypatch.setattr(training, "FIXED_EFFECT_START", start)
        keras.utils.set_random_seed(0)
        fold = training._prepare(data, split, PreprocessOptions(), rank=1, valid_targets=False)
        return fold, training._build(MLP, FAST, fold, data)

    fold, model = built(True)
    _, plain = built(False)
    # markers are centred, so zeros are the training rows' average genotype, where the relu
    # units (zero biases) output 0: the model is then bias + covariates @ covariate weights
    zeros = np.zeros_like(fold.x_valid)
    out = keras.ops.convert_to_numpy(model([zeros, fold.c_valid], training=False))
    pred = fold.preprocessor.inverse_target(out).reshape(-1)
    expected = fixed_effect_predictions(data, split.train, split.valid)
    sd = float(np.std(data.target[split.train]))
    np.testing.assert_allclose(pred, expected, rtol=0, atol=1e-4 * sd)
    # the builder's random initial values everywhere else, the output kernel's hidden rows too
    head = model.get_layer("output")
    hidden = head.kernel.shape[0] - fold.n_covariates
    for variable, other in zip(model.variables, plain.variables, strict=True):
        assert variable.path == other.path
        mine, theirs = keras.ops.convert_to_numpy(variable), keras.ops.convert_to_numpy(other)
        if variable.path == head.kernel.path:
            np.testing.assert_array_equal(mine[:hidden], theirs[:hidden])
            assert not np.allclose(mine[hidden:], theirs[hidden:])
        elif variable.path != head.bias.path:
            np.testing.assert_array_equal(mine, theirs)


@pytest.mark.integration
def test_large_fixed_effects_are_learnt_in_a_short_fit(
    plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Environment shifts of +-4 genetic sds, 3 epochs at learning rate 1e-4: with the start
    the network is near the OLS fixed effects; with the builder's random head it is not."""
    import hpsearch.training as training

    data = make_data(1, shift=BIG_SHIFT)
    split = plan.outer
    y = data.target[split.valid]
    ols = fixed_effect_predictions(data, split.train, split.valid)
    r_ols = float(np.corrcoef(ols, y)[0, 1])
    assert r_ols > 0.9  # the environment explains most of the trait

    def held_out(start: bool) -> tuple[float, float]:
        monkeypatch.setattr(training, "FIXED_EFFECT_START", start)
        metrics, pred = training.fit_final(MLP, BRIEF, data, split, seed=1, epochs=3)
        return metrics["pearson_r"], float(np.corrcoef(pred, ols)[0, 1])

    (r_start, near_ols), (r_random, _) = held_out(True), held_out(False)
    # what is left between the start and OLS is the random marker part of the initial head
    assert r_start > r_ols - 0.2 and near_ols > 0.75
    assert r_start > r_random + 0.3


@pytest.mark.integration
def test_fixed_effect_start_keeps_model_reuse_bit_identical(
    data: GenomicData, plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hpsearch.training as training

    params = {**SHORT, "epochs": 6, "dropout": 0.2}
    calls = starts(monkeypatch)
    kept = training.fit_and_score(MLP, params, data, plan, PEARSON, seed=5)
    monkeypatch.setattr(training, "MODEL_REUSE", False)
    fresh = training.fit_and_score(MLP, params, data, plan, PEARSON, seed=5)
    assert calls == [True] * 4  # every fold's fresh model started at the fixed effects
    same_result(kept, fresh)
    monkeypatch.setattr(training, "FIXED_EFFECT_START", False)
    random_head = training.fit_and_score(MLP, params, data, plan, PEARSON, seed=5)
    assert random_head.ok and random_head.curves != kept.curves


@pytest.mark.integration
def test_without_covariates_the_start_changes_nothing(
    data: GenomicData, plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hpsearch.training as training

    plain = without_covariates(data)
    calls = starts(monkeypatch)
    on = training.fit_and_score(MLP, SHORT, plain, plan, PEARSON, seed=3)
    on_final = training.fit_final(MLP, SHORT, plain, plan.outer, seed=3, epochs=3)
    monkeypatch.setattr(training, "FIXED_EFFECT_START", False)
    off = training.fit_and_score(MLP, SHORT, plain, plan, PEARSON, seed=3)
    off_final = training.fit_final(MLP, SHORT, plain, plan.outer, seed=3, epochs=3)
    assert calls == []
    same_result(on, off)
    assert on_final[0] == off_final[0]
    np.testing.assert_array_equal(on_final[1], off_final[1])


@pytest.mark.integration
def test_binary_task_is_left_as_built(
    data: GenomicData, plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hpsearch.training as training

    binary = replace(
        data, task="binary", target=(data.target > np.median(data.target)).astype(np.int64)
    )
    binary = replace(binary, classes=[0, 1])
    auc = Objective("roc_auc", "maximize")
    calls = starts(monkeypatch)
    on = training.fit_and_score(MLP, SHORT, binary, plan, auc, seed=3)
    monkeypatch.setattr(training, "FIXED_EFFECT_START", False)
    off = training.fit_and_score(MLP, SHORT, binary, plan, auc, seed=3)
    assert calls == []
    same_result(on, off)


def head_after_the_join(params, *, input_shape, n_outputs, task, n_covariates=0):
    """A user's builder: one more hidden layer between the covariates and the output."""
    import keras

    from hpsearch.models.common import finish

    markers = keras.Input(shape=input_shape, name="markers")
    covariates = keras.Input(shape=(n_covariates,), name="covariates")
    x = keras.layers.Dense(4, activation="relu")(markers)
    x = keras.layers.Concatenate(name="with_covariates")([x, covariates])
    x = keras.layers.Dense(4, activation="relu")(x)
    return finish([markers, covariates], x, params, task=task, n_outputs=n_outputs, name="own")


def covariates_first(params, *, input_shape, n_outputs, task, n_covariates=0):
    """A user's builder: the join in the other order, [covariates, hidden]."""
    import keras

    from hpsearch.models.common import compile_for_task

    markers = keras.Input(shape=input_shape, name="markers")
    covariates = keras.Input(shape=(n_covariates,), name="covariates")
    x = keras.layers.Dense(4, activation="relu")(markers)
    x = keras.layers.Concatenate(name="with_covariates")([covariates, x])
    out = keras.layers.Dense(n_outputs, name="output")(x)
    return compile_for_task(keras.Model([markers, covariates], out), params, task)


@pytest.mark.integration
@pytest.mark.parametrize("own", [head_after_the_join, covariates_first])
def test_a_builder_of_the_users_own_with_another_head_is_left_as_built(
    own: Any, data: GenomicData, plan: FoldPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hpsearch.training as training

    own.input_rank = 1
    calls = starts(monkeypatch)
    on = training.fit_and_score(own, SHORT, data, plan, PEARSON, seed=0)
    monkeypatch.setattr(training, "FIXED_EFFECT_START", False)
    off = training.fit_and_score(own, SHORT, data, plan, PEARSON, seed=0)
    assert calls == [False, False]
    same_result(on, off)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_shipped_builders_have_the_head_the_start_sets(name: str) -> None:
    from hpsearch.training import _fixed_effect_head

    shape = (20,) if name == "mlp" else (20, 1)
    params = {"n_layers": 1, "units": 4, "filters": 2, "lstm_units": 2, "dropout": 0.1}
    model = get_builder(name)(
        params, input_shape=shape, n_outputs=1, task="regression", n_covariates=3
    )
    head = _fixed_effect_head(model, 3)
    assert head is not None and head is model.get_layer("output")
    assert _fixed_effect_head(model, 2) is None  # the width must be the encoded one


def test_accepts_covariates() -> None:
    def named(params, *, input_shape, n_outputs, task, n_covariates=0): ...

    def positional(params, input_shape, n_outputs, task, n_covariates): ...

    def kwargs(params, **options): ...

    def without(params, *, input_shape, n_outputs, task): ...

    def var_positional(params, *n_covariates): ...

    assert accepts_covariates(named) and accepts_covariates(positional)
    assert accepts_covariates(kwargs)
    assert not accepts_covariates(without) and not accepts_covariates(var_positional)
    assert all(accepts_covariates(get_builder(n)) for n in ("mlp", "cnn", "lstm"))


# --------------------------------------------------------------------------- prepare-time check


BUILDER_MODULE = """
from hpsearch.models import get_builder


def build(params, *, input_shape, n_outputs, task):
    return get_builder("mlp")(params, input_shape=input_shape, n_outputs=n_outputs, task=task)
"""


def write_experiment(folder: Path, *, covariates: bool) -> Path:
    rng = np.random.default_rng(0)
    n = 24
    geno = rng.integers(0, 3, size=(n, 6))
    (folder / "g.txt").write_text(
        "".join(f"L{i} " + " ".join(map(str, row)) + "\n" for i, row in enumerate(geno))
    )
    rows = [f"L{i}\tE{i % 3}\t{rng.normal():.3f}\n" for i in range(n)]
    (folder / "p.tsv").write_text("IID\tenv\ty\n" + "".join(rows))
    (folder / "space.yaml").write_text("parameters:\n  units: {type: int, low: 4, high: 8}\n")
    (folder / "old_builder.py").write_text(BUILDER_MODULE)
    config = folder / "exp.yaml"
    config.write_text(
        "name: cov\n"
        "data: {genotypes: g.txt, phenotypes: p.tsv, trait: y"
        + (", covariates: [env]" if covariates else "")
        + "}\n"
        "evaluation: {outer: {kfold: 3, folds: [1]}, inner: {kfold: 2}}\n"
        "model: old_builder:build\n"
        "space: space.yaml\n"
        "stages: [{strategy: random, trials: 1}]\n"
        f"output: {folder / 'runs'}\n"
    )
    return config


def test_prepare_refuses_a_builder_that_cannot_take_covariates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpsearch.config import load_config
    from hpsearch.runner.experiment import prepare

    monkeypatch.syspath_prepend(str(tmp_path))
    config = write_experiment(tmp_path, covariates=True)
    with pytest.raises(ConfigError) as info:
        prepare(load_config(config))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{config}: model: must take the keyword n_covariates")
    assert "(env)" in message and "old_builder:build" in message
    prepared = prepare(load_config(write_experiment(tmp_path, covariates=False)))
    assert prepared.data.covariates is None


# --------------------------------------------------------------------------- rows= path


class SlicingPreprocessor(Preprocessor):
    """The trainer's old path: slice the split's rows out of the genotypes, then fit/transform."""

    def fit(self, x_train, y_train, *, rows=None):  # type: ignore[override]
        return super().fit(x_train if rows is None else x_train[rows], y_train)

    def transform(self, x, *, rows=None):  # type: ignore[override]
        return super().transform(x if rows is None else x[rows])


def coded(data: GenomicData, tmp_path: Path) -> GenomicData:
    """The same lines as int8 codes in a read-only memory map, with missing calls (-1)."""
    rng = np.random.default_rng(4)
    codes = data.genotypes.astype(np.int8)
    codes[rng.random(codes.shape) < 0.05] = -1
    path = tmp_path / "g.int8"
    codes.tofile(path)
    mapped = np.memmap(path, dtype=np.int8, mode="r", shape=codes.shape)
    return replace(data, genotypes=mapped, missing_code=-1)


@pytest.mark.integration
@pytest.mark.parametrize("genotypes", ["float", "int8-memmap"])
@pytest.mark.parametrize("preselect", [None, 15])
def test_row_index_path_is_bit_identical_to_slicing(
    genotypes: str,
    preselect: int | None,
    data: GenomicData,
    plan: FoldPlan,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hpsearch.training as training

    data = without_covariates(data)
    if genotypes == "float":
        x = data.genotypes.copy()
        x[np.random.default_rng(3).random(x.shape) < 0.05] = np.nan
        data = replace(data, genotypes=x)
    else:
        data = coded(data, tmp_path)
    params = {**SHORT, "epochs": 3}
    if preselect is not None:
        params["preselect_top_k"] = preselect

    calls: list[tuple[bool, bool]] = []

    class Spy(Preprocessor):
        def fit(self, x_train, y_train, *, rows=None):  # type: ignore[override]
            calls.append((x_train is data.genotypes, rows is not None))
            return super().fit(x_train, y_train, rows=rows)

    monkeypatch.setattr(training, "Preprocessor", Spy)
    new = training.fit_and_score(MLP, params, data, plan, PEARSON, seed=1)
    new_final = training.fit_final(MLP, params, data, plan.outer, seed=1, epochs=3)
    assert calls == [(True, True)] * 3  # two inner folds and the refit, on the whole matrix
    monkeypatch.setattr(training, "Preprocessor", SlicingPreprocessor)
    old = training.fit_and_score(MLP, params, data, plan, PEARSON, seed=1)
    old_final = training.fit_final(MLP, params, data, plan.outer, seed=1, epochs=3)
    same_result(new, old)
    assert new_final[0] == old_final[0]
    np.testing.assert_array_equal(new_final[1], old_final[1])
    expected = N_MARKERS if preselect is None else preselect
    assert new.metrics["n_markers_used"] == expected

"""Covariates as fixed effects in the baselines: accuracy, GLS/REML correctness, rank
deficiency, training-only levels, and ``hpsearch baseline`` on a config with data.covariates."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hpsearch.baselines.methods import (
    FixedEffects,
    GBLUPBaseline,
    LogisticBaseline,
    RandomForestBaseline,
    RandomForestClassifierBaseline,
    RidgeBaseline,
    RKHSBaseline,
    kernel_cv_mse,
    reml_profile,
    reml_variance_ratio,
    ridge_with_fixed_effects,
)
from hpsearch.data.covariates import CovariateEncoder
from hpsearch.data.simulate import simulate, write_simulated
from hpsearch.errors import DataError
from hpsearch.metrics import pearson, score_predictions

SHIFTS = {"E1": -2.5, "E2": 0.5, "E3": 3.0}


@dataclass
class EnvData:
    """Simulated lines grown in three environments that shift the trait by SHIFTS."""

    x: np.ndarray  # 0/1 markers
    genetic: np.ndarray  # the simulated phenotype without the environment (sd 1, h² 0.6)
    env: np.ndarray  # object array of labels
    y: np.ndarray  # genetic + shift
    train: np.ndarray
    test: np.ndarray

    def encoded(self) -> tuple[CovariateEncoder, np.ndarray, np.ndarray]:
        raw = self.env.astype(object)[:, None]
        encoder = CovariateEncoder(["env"], ["categorical"]).fit(raw[self.train])
        return encoder, encoder.transform(raw[self.train]), encoder.transform(raw[self.test])


@pytest.fixture(scope="module")
def env_data() -> EnvData:
    sim = simulate(n_lines=300, n_markers=300, n_traits=1, n_qtl=20, h2=0.6, seed=11)
    rng = np.random.default_rng(5)
    env = np.array(sorted(SHIFTS), dtype=object)[rng.integers(0, 3, 300)]
    genetic = sim.phenotypes[:, 0]
    y = genetic + np.array([SHIFTS[e] for e in env])
    return EnvData(
        sim.genotypes.astype(np.float64), genetic, env, y, np.arange(225), np.arange(225, 300)
    )


def _regressors() -> list[tuple[str, type, dict]]:
    return [
        ("ridge", RidgeBaseline, {}),
        ("gblup", GBLUPBaseline, {}),
        ("gblup-cv", GBLUPBaseline, {"variance_ratio": "cv", "inner_folds": 3}),
        ("rkhs", RKHSBaseline, {"inner_folds": 3}),
        ("rf", RandomForestBaseline, {"n_estimators": 100}),
    ]


@pytest.mark.parametrize(("name", "kind", "options"), _regressors(), ids=lambda v: str(v)[:8])
def test_each_regressor_with_the_environment_beats_itself_without(
    env_data: EnvData, name: str, kind: type, options: dict
) -> None:
    d = env_data
    _, cov_train, cov_test = d.encoded()
    without = kind(**options).fit(d.x[d.train], d.y[d.train]).predict(d.x[d.test])
    model = kind(**options).fit(d.x[d.train], d.y[d.train], covariates=cov_train)
    with_env = model.predict(d.x[d.test], covariates=cov_test)
    mse_without = float(np.mean((without - d.y[d.test]) ** 2))
    mse_with = float(np.mean((with_env - d.y[d.test]) ** 2))
    # the shifts carry ~5/6 of the variance: without them the error is about var(y) ≈ 5
    assert mse_with < 0.6 * mse_without, f"{name}: MSE {mse_with:.3f} vs {mse_without:.3f}"
    assert pearson(d.y[d.test], with_env) > pearson(d.y[d.test], without) + 0.3
    assert model.chosen_["covariate_columns"] == 3
    if name != "rf":  # the linear / mixed models still predict the genetic part
        shift = np.array([SHIFTS[e] for e in d.env[d.test]])
        assert pearson(d.genetic[d.test], with_env - shift) > 0.4, name
        assert model.chosen_["fixed_effects_rank"] == 3  # intercept + 2 level contrasts


def test_classifiers_with_the_environment_beat_themselves_without(env_data: EnvData) -> None:
    d = env_data
    _, cov_train, cov_test = d.encoded()
    labels = (d.y > np.median(d.y)).astype(np.int64)
    for kind, options in (
        (LogisticBaseline, {"cs": [1e-3, 1e-2, 1e-1, 1.0], "inner_folds": 3}),
        (RandomForestClassifierBaseline, {"n_estimators": 100}),
    ):
        plain = kind(**options).fit(d.x[d.train], labels[d.train])
        aware = kind(**options).fit(d.x[d.train], labels[d.train], covariates=cov_train)
        auc_without = score_predictions(
            "binary", labels[d.test], plain.predict_proba(d.x[d.test])[:, 1]
        )["roc_auc"]
        proba = aware.predict_proba(d.x[d.test], covariates=cov_test)
        auc_with = score_predictions("binary", labels[d.test], proba[:, 1])["roc_auc"]
        assert auc_with > auc_without + 0.2, f"{kind.__name__}: {auc_with:.3f} / {auc_without:.3f}"
        assert aware.predict(d.x[d.test], covariates=cov_test).shape == (d.test.size,)


# -- GBLUP: the mixed model y = Xb + g + e ----------------------------------------------------


def _vanraden(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    means = x[cols].mean(axis=0)
    scale = float((means * (1 - means)).sum())
    return (x[rows] - means) @ (x[cols] - means).T / scale


def test_gblup_recovers_the_environment_shifts_and_equals_a_textbook_gls(
    env_data: EnvData,
) -> None:
    d = env_data
    encoder, cov_train, cov_test = d.encoded()
    model = GBLUPBaseline().fit(d.x[d.train], d.y[d.train], covariates=cov_train)
    b = model.fixed_effects_
    assert encoder.feature_names_ == ["env=E1", "env=E2", "env=E3"] and b.shape == (4,)
    # level effects are deviations from their average: compare with the centred shifts
    centred = np.array([SHIFTS[k] for k in ("E1", "E2", "E3")]) - np.mean(list(SHIFTS.values()))
    np.testing.assert_allclose(b[1:], centred, atol=0.3)
    assert abs(b[1:].sum()) < 1e-8
    # the same model written from scratch with a drop-one-level coding X = [1, E1, E2]:
    # b = (X'H⁻¹X)⁻¹X'H⁻¹y, prediction X_new b + G_new,train H⁻¹(y - Xb), H = G + δI
    delta = model.chosen_["variance_ratio"]
    kernel = _vanraden(d.x, d.train, d.train)
    design = np.column_stack([np.ones(d.train.size), cov_train[:, :2]])
    h_inv = np.linalg.inv(kernel + delta * np.eye(d.train.size))
    coef = np.linalg.solve(design.T @ h_inv @ design, design.T @ h_inv @ d.y[d.train])
    alpha = h_inv @ (d.y[d.train] - design @ coef)
    new_design = np.column_stack([np.ones(d.test.size), cov_test[:, :2]])
    expected = new_design @ coef + _vanraden(d.x, d.test, d.train) @ alpha
    np.testing.assert_allclose(
        model.predict(d.x[d.test], covariates=cov_test), expected, rtol=1e-7, atol=1e-7
    )
    assert coef[1] == pytest.approx(b[1] - b[3], abs=1e-7)  # E1 - E3 in either coding


def test_reml_with_an_intercept_only_design_is_todays_reml(env_data: EnvData) -> None:
    d = env_data
    kernel = _vanraden(d.x, d.train[:150], d.train[:150])
    y = d.genetic[d.train[:150]]
    today, _ = reml_profile(kernel, y)
    explicit, _ = reml_profile(kernel, y, fixed=np.ones((150, 1)))
    for delta in (0.01, 0.3, 1.0, 5.0, 100.0):
        assert explicit(delta) == pytest.approx(today(delta), rel=1e-10)
    a = reml_variance_ratio(kernel, y)
    b = reml_variance_ratio(kernel, y, fixed=np.full((150, 1), 2.0))  # any intercept column
    assert b.variance_ratio == pytest.approx(a.variance_ratio, rel=1e-6)
    assert b.sigma_g2 == pytest.approx(a.sigma_g2, rel=1e-6)
    assert b.log_likelihood == pytest.approx(a.log_likelihood, rel=1e-10)


def _naive_reml(kernel: np.ndarray, y: np.ndarray, x: np.ndarray, delta: float) -> float:
    """Restricted log-likelihood, σg² profiled out, from the textbook formula (up to a
    constant): -½[(n-p) log σ̂² + log|H| + log|X'H⁻¹X|], H = G + δI, X of full rank p."""
    n, p = x.shape
    h = kernel + delta * np.eye(n)
    h_inv = np.linalg.inv(h)
    xhx = x.T @ h_inv @ x
    proj = h_inv - h_inv @ x @ np.linalg.solve(xhx, x.T @ h_inv)
    sigma2 = float(y @ proj @ y) / (n - p)
    return -0.5 * ((n - p) * math.log(sigma2) + np.linalg.slogdet(h)[1] + np.linalg.slogdet(xhx)[1])


def test_reml_with_fixed_effects_matches_the_direct_likelihood(env_data: EnvData) -> None:
    d = env_data
    rows = d.train[:120]
    kernel = _vanraden(d.x, rows, rows)
    _, cov, _ = d.encoded()
    x = np.column_stack([np.ones(rows.size), cov[:120, :2]])  # full rank: E3 dropped
    y = d.y[rows]
    loglik, _ = reml_profile(kernel, y, fixed=x)
    deltas = [0.05, 0.3, 1.0, 4.0, 30.0]
    fast = np.array([loglik(v) for v in deltas])
    slow = np.array([_naive_reml(kernel, y, x, v) for v in deltas])
    np.testing.assert_allclose(fast - fast[0], slow - slow[0], rtol=1e-7, atol=1e-7)
    # the rank-deficient design (all three levels + intercept) spans the same columns
    full, _ = reml_profile(kernel, y, fixed=np.column_stack([np.ones(rows.size), cov[:120]]))
    np.testing.assert_allclose([full(v) for v in deltas], fast, rtol=1e-9)
    fit = reml_variance_ratio(kernel, y, fixed=x)
    dense = np.exp(np.linspace(math.log(1e-3), math.log(1e3), 300))
    assert (
        _naive_reml(kernel, y, x, fit.variance_ratio)
        >= max(_naive_reml(kernel, y, x, v) for v in dense) - 1e-6
    )
    # ignoring the shifts inflates the residual variance: REML sees a smaller h²
    assert reml_variance_ratio(kernel, y).h2 < fit.h2


def test_kernel_cv_with_fixed_effects_is_gls_in_every_inner_fold() -> None:
    rng = np.random.default_rng(3)
    n = 40
    z = rng.normal(size=(n, 15))
    kernel = z @ z.T / 15
    fixed = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = fixed @ [1.0, 2.0] + z[:, 0] + rng.normal(0, 0.5, n)
    folds = [(np.arange(10, 40), np.arange(10)), (np.arange(30), np.arange(30, 40))]
    lambdas = np.array([0.1, 1.0, 10.0])
    fast = kernel_cv_mse(kernel, y, lambdas, folds, fixed=fixed)
    for k, lam in enumerate(lambdas):
        sse = 0.0
        for train, valid in folds:
            h_inv = np.linalg.inv(kernel[np.ix_(train, train)] + lam * np.eye(train.size))
            x = fixed[train]
            b = np.linalg.solve(x.T @ h_inv @ x, x.T @ h_inv @ y[train])
            pred = fixed[valid] @ b + kernel[np.ix_(valid, train)] @ h_inv @ (y[train] - x @ b)
            sse += float(((pred - y[valid]) ** 2).sum())
        assert fast[k] == pytest.approx(sse / 20, rel=1e-8)  # pooled over the 2 × 10 held out


def test_ridge_fixed_effects_are_unpenalised_and_alpha_is_the_exact_loo_choice() -> None:
    rng = np.random.default_rng(4)
    n, m = 40, 25
    z = rng.normal(size=(n, m))
    z -= z.mean(axis=0)
    fixed = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = fixed @ [0.5, 3.0, -2.0] + z @ rng.normal(0, 0.3, m) + rng.normal(0, 1.0, n)
    alphas = np.array([0.1, 1.0, 5.0, 20.0, 100.0])

    def joint(rows: np.ndarray, alpha: float) -> np.ndarray:
        """Penalised least squares on [X, Z] with the penalty on Z only."""
        design = np.column_stack([fixed[rows], z[rows]])
        penalty = np.diag([0.0] * fixed.shape[1] + [alpha] * m)
        return np.linalg.solve(design.T @ design + penalty, design.T @ y[rows])

    loo = []
    for alpha in alphas:
        errors = []
        for i in range(n):
            rows = np.delete(np.arange(n), i)
            coef = joint(rows, alpha)
            errors.append(y[i] - np.concatenate([fixed[i], z[i]]) @ coef)
        loo.append(float(np.mean(np.square(errors))))
    chosen, beta = ridge_with_fixed_effects(z, y, fixed, alphas)
    assert chosen == alphas[int(np.argmin(loo))]
    np.testing.assert_allclose(beta, joint(np.arange(n), chosen)[3:], atol=1e-8)
    # through the estimator: the covariate coefficients are the unpenalised joint ones
    model = RidgeBaseline(alphas=alphas).fit(z, y, covariates=fixed[:, 1:])
    coef = joint(np.arange(n), model.chosen_["alpha"])
    np.testing.assert_allclose(model.fixed_effects_[1:], coef[1:3], atol=1e-8)
    np.testing.assert_allclose(model.coef_, coef[3:], atol=1e-8)


# -- rank deficiency, unseen levels, numeric covariates ----------------------------------------


def test_redundant_columns_change_nothing_and_one_level_is_todays_path(env_data: EnvData) -> None:
    d = env_data
    _, cov_train, cov_test = d.encoded()

    def redundant(cov: np.ndarray) -> np.ndarray:  # a duplicate, a zero and a constant column
        ones = np.ones((cov.shape[0], 1))
        return np.hstack([cov, cov[:, :1], 0 * ones, 3 * ones])

    for kind, options in (
        (GBLUPBaseline, {}),
        (RidgeBaseline, {}),
        (RKHSBaseline, {"bandwidths": [0.5], "inner_folds": 3}),
    ):
        clean = kind(**options).fit(d.x[d.train], d.y[d.train], covariates=cov_train)
        messy = kind(**options).fit(d.x[d.train], d.y[d.train], covariates=redundant(cov_train))
        np.testing.assert_allclose(
            messy.predict(d.x[d.test], covariates=redundant(cov_test)),
            clean.predict(d.x[d.test], covariates=cov_test),
            rtol=1e-6,
            atol=1e-6,
        )
        assert messy.chosen_["fixed_effects_rank"] == 3 and messy.chosen_["covariate_columns"] == 6
        # a covariate with one level is the intercept again: exactly today's numbers
        plain = kind(**options).fit(d.x[d.train], d.y[d.train])
        single = kind(**options).fit(
            d.x[d.train], d.y[d.train], covariates=np.ones((d.train.size, 1))
        )
        expected = plain.predict(d.x[d.test])
        got = single.predict(d.x[d.test], covariates=np.ones((d.test.size, 1)))
        np.testing.assert_array_equal(got, expected)
        assert single.fixed_effects_ is None


def test_more_fixed_effects_than_lines_is_a_data_error() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (8, 20)).astype(np.float64)
    with pytest.raises(DataError, match="covariates: must span fewer fixed-effect columns"):
        GBLUPBaseline().fit(x, rng.normal(size=8), covariates=np.eye(8))


def test_levels_come_from_the_training_rows_and_an_unseen_level_gets_their_average(
    env_data: EnvData,
) -> None:
    d = env_data
    seen = np.array([i for i in d.train if d.env[i] != "E3"])  # E3 only outside training
    raw = d.env.astype(object)[:, None]
    encoder = CovariateEncoder(["env"], ["categorical"]).fit(raw[seen])
    assert encoder.feature_names_ == ["env=E1", "env=E2"]
    new = d.x[d.test[:5]]
    for kind in (GBLUPBaseline, RidgeBaseline, RKHSBaseline):
        options = {"bandwidths": [0.5], "inner_folds": 3} if kind is RKHSBaseline else {}
        model = kind(**options).fit(d.x[seen], d.y[seen], covariates=encoder.transform(raw[seen]))

        def at(level: list[float], model: object = model) -> np.ndarray:
            return model.predict(new, covariates=np.tile(level, (5, 1)))

        unseen = encoder.transform(np.array([["E3"]], dtype=object))[0]
        assert unseen.tolist() == [0.0, 0.0]
        # the unseen level is neither E1 nor E2 but the average of the two
        np.testing.assert_allclose(at(unseen), (at([1, 0]) + at([0, 1])) / 2, atol=1e-8)
        gap = at([0, 1]) - at([1, 0])
        assert np.allclose(gap, gap[0]) and gap[0] == pytest.approx(3.0, abs=0.4), kind


def test_a_numeric_covariate_is_a_slope(env_data: EnvData) -> None:
    d = env_data
    rng = np.random.default_rng(8)
    age = rng.uniform(20, 60, d.y.size)
    y = d.genetic + 0.1 * age  # 0.1 per unit: var ≈ 1.3, as large as the genetic part
    raw = age.astype(object)[:, None]
    encoder = CovariateEncoder(["age"], ["numeric"]).fit(raw[d.train])
    cov_train, cov_test = encoder.transform(raw[d.train]), encoder.transform(raw[d.test])
    model = GBLUPBaseline().fit(d.x[d.train], y[d.train], covariates=cov_train)
    # the encoder standardised age: b is per training sd
    assert model.fixed_effects_[1] / encoder.sds_[0] == pytest.approx(0.1, abs=0.015)
    without = GBLUPBaseline().fit(d.x[d.train], y[d.train]).predict(d.x[d.test])
    with_age = model.predict(d.x[d.test], covariates=cov_test)
    assert np.mean((with_age - y[d.test]) ** 2) < 0.8 * np.mean((without - y[d.test]) ** 2)


def test_predicting_needs_the_covariates_the_model_was_fitted_with(env_data: EnvData) -> None:
    d = env_data
    _, cov_train, cov_test = d.encoded()
    rows = d.train[:60]
    for model in (
        RidgeBaseline().fit(d.x[rows], d.y[rows], covariates=cov_train[:60]),
        RandomForestBaseline(n_estimators=10).fit(d.x[rows], d.y[rows], covariates=cov_train[:60]),
    ):
        with pytest.raises(ValueError, match="fitted with 3 covariate column"):
            model.predict(d.x[d.test])
        with pytest.raises(ValueError, match="fitted with 3 covariate column"):
            model.predict(d.x[d.test], covariates=cov_test[:, :2])
    with pytest.raises(ValueError, match="fitted with 0 covariate column"):
        GBLUPBaseline().fit(d.x[rows], d.y[rows]).predict(d.x[d.test], covariates=cov_test)
    with pytest.raises(ValueError, match="rows"):
        GBLUPBaseline().fit(d.x[rows], d.y[rows], covariates=cov_train)


def test_fixed_effects_design_centres_on_the_training_rows() -> None:
    cov = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 4.0], [1.0, 0.0, 6.0]])
    fixed = FixedEffects.fit(cov)
    np.testing.assert_allclose(fixed.means, [2 / 3, 1 / 3, 4.0])
    assert fixed.rank == 3  # intercept, one level contrast, the numeric column
    design = fixed.design(cov)
    assert np.allclose(design[:, 0], 1.0) and np.allclose(design[:, 1:].sum(axis=0), 0.0)
    np.testing.assert_allclose(fixed.basis.T @ fixed.basis, np.eye(3), atol=1e-12)


# -- through the experiment: run_baselines and the command line --------------------------------


def _covariate_experiment(folder: Path, *, covariates: str | None) -> Path:
    """150 simulated lines × 200 markers, three environments (shifts SHIFTS) and a numeric
    covariate in a phenotype table with IDs; 3 outer folds from the fold file."""
    sim = simulate(n_lines=150, n_markers=200, n_traits=1, n_qtl=20, h2=0.6, n_folds=3, seed=2)
    paths = write_simulated(sim, folder, prefix="sim")
    rng = np.random.default_rng(1)
    env = np.array(sorted(SHIFTS))[rng.integers(0, 3, 150)]
    age = rng.uniform(20, 60, 150).round(1)
    y = sim.phenotypes[:, 0] + np.array([SHIFTS[e] for e in env]) + 0.05 * age
    lines = ["IID\tenv\tage\tyield"]
    lines += [f"L{i + 1}\t{env[i]}\t{age[i]}\t{y[i]:.5f}" for i in range(150)]
    (folder / "pheno.tsv").write_text("\n".join(lines) + "\n")
    config = folder / "exp.yaml"
    config.write_text(
        "name: sim-cov\n"
        "data: {genotypes: sim.X, phenotypes: pheno.tsv, trait: yield"
        + (f", covariates: {covariates}" if covariates else "")
        + "}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: all}, inner: {kfold: 3}}\n"
        "preprocess: {preselect_top_k: 100}\n"
        f"tracking: {{uri: 'sqlite:///{folder / 'mlflow.db'}', experiment: sim-cov}}\n"
        f"output: {folder / 'runs'}\n"
        "seed: 3\n"
    )
    assert paths["folds"].is_file()
    return config


def test_hpsearch_baseline_uses_the_config_covariates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient

    from hpsearch.cli import build_parser, main

    try:
        build_parser().parse_args(["baseline", "x.yaml"])
    except SystemExit:
        pytest.skip("'hpsearch baseline' is not wired into hpsearch/cli.py yet")
    with_cov = tmp_path / "with"
    with_cov.mkdir()
    config = _covariate_experiment(with_cov, covariates="[env, age]")
    assert main(["baseline", str(config), "--methods", "ridge,gblup", "--quiet"]) == 0
    assert "pearson_r (mean ± sd)" in capsys.readouterr().out
    (run_dir,) = (with_cov / "runs").iterdir()
    saved = json.loads((run_dir / "baselines.json").read_text())
    assert saved["covariates"] == {"names": ["env", "age"], "kinds": ["categorical", "numeric"]}
    for row in saved["results"]:
        assert row["covariates"] == ["env=E1", "env=E2", "env=E3", "age"]
        if row["method"] == "gblup":
            effects = row["fixed_effects"]
            assert set(effects) == {"intercept", "env=E1", "env=E2", "env=E3", "age"}
            gap = effects["env=E3"] - effects["env=E1"]  # trait scale: 3.0 - (-2.5)
            assert gap == pytest.approx(5.5, abs=0.6), effects
    assert (
        "Covariates as fixed effects: env (categorical), age (numeric)"
        in (run_dir / "baselines.md").read_text()
    )
    client = MlflowClient(tracking_uri=f"sqlite:///{with_cov / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("sim-cov").experiment_id])
    assert len(runs) == 2
    for run in runs:
        assert run.data.params["covariates"] == "env,age"
        assert int(run.data.params["fold1.covariate_columns"]) == 4
    # the same experiment without data.covariates: the shifts are noise to every method
    plain = tmp_path / "plain"
    plain.mkdir()
    config = _covariate_experiment(plain, covariates=None)
    assert main(["baseline", str(config), "--methods", "ridge,gblup", "--no-mlflow"]) == 0
    (plain_dir,) = (plain / "runs").iterdir()
    baseline = json.loads((plain_dir / "baselines.json").read_text())
    assert baseline["covariates"] == {}
    assert all(r["covariates"] == [] and r["fixed_effects"] == {} for r in baseline["results"])
    for method in ("ridge", "gblup"):
        better = saved["summary"][method]["pearson_r"]["mean"]
        worse = baseline["summary"][method]["pearson_r"]["mean"]
        assert better > worse + 0.3, f"{method}: {better:.3f} with, {worse:.3f} without"


def test_covariate_encoding_and_choices_ignore_the_test_rows(tmp_path: Path) -> None:
    import dataclasses

    from hpsearch.baselines.methods import BASELINES
    from hpsearch.baselines.run import evaluate_split, preprocess_options
    from hpsearch.config import load_config
    from hpsearch.runner.experiment import prepare

    prepared = prepare(load_config(_covariate_experiment(tmp_path, covariates="[env, age]")))
    data, plan = prepared.data, prepared.plans[0]
    assert data.covariate_names == ["env", "age"]
    test = plan.outer.valid
    changed = dataclasses.replace(data, covariates=data.covariates.copy())
    changed.covariates[test, 0] = "E9"  # a level no training line has
    changed.covariates[test, 1] = 99.0
    options = preprocess_options(prepared.config.preprocess)
    for name in ("ridge", "gblup", "rkhs"):
        method = BASELINES.get(name)
        first = evaluate_split(data, plan.outer, method, preprocess=options, seed=1)
        second = evaluate_split(changed, plan.outer, method, preprocess=options, seed=1)
        assert first.covariates == second.covariates == ["env=E1", "env=E2", "env=E3", "age"]
        assert first.chosen == second.chosen, name
        assert first.fixed_effects == second.fixed_effects and first.fixed_effects, name
        assert first.metrics["mse"] != second.metrics["mse"], name  # the test rows did change

"""The baseline estimators: accuracy on simulated data, nulls, REML, and GBLUP ≡ ridge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpsearch.baselines.methods import (
    BASELINES,
    GBLUPBaseline,
    LogisticBaseline,
    RandomForestBaseline,
    RandomForestClassifierBaseline,
    RidgeBaseline,
    RKHSBaseline,
    reml_profile,
    reml_variance_ratio,
)
from hpsearch.data.simulate import simulate
from hpsearch.errors import ConfigError, DataError, UnknownNameError
from hpsearch.metrics import pearson, score_predictions


@pytest.fixture(scope="module")
def additive() -> tuple[np.ndarray, np.ndarray]:
    """500 inbred lines × 500 markers (0/1), one trait with h² = 0.6, QTL off the panel."""
    sim = simulate(n_lines=500, n_markers=500, n_traits=1, n_qtl=30, h2=0.6, epistasis=0.0, seed=0)
    return sim.genotypes.astype(np.float64), sim.phenotypes[:, 0]


def _regressors() -> list[tuple[str, object]]:
    return [
        ("ridge", RidgeBaseline()),
        ("gblup", GBLUPBaseline()),
        ("gblup-cv", GBLUPBaseline(variance_ratio="cv")),
        ("rkhs", RKHSBaseline()),
        ("rf", RandomForestBaseline(n_estimators=200)),
    ]


@pytest.mark.parametrize(("name", "estimator"), _regressors(), ids=lambda v: str(v)[:8])
def test_each_method_predicts_signal_and_nothing_from_a_permuted_phenotype(
    additive: tuple[np.ndarray, np.ndarray], name: str, estimator: object
) -> None:
    x, y = additive
    train, test = np.arange(375), np.arange(375, 500)
    r = pearson(y[test], estimator.fit(x[train], y[train]).predict(x[test]))
    assert r > 0.3, f"{name}: r = {r:.3f} on h² = 0.6"
    rng = np.random.default_rng(1)
    null = []
    for _ in range(3):
        permuted = rng.permutation(y)
        pred = estimator.fit(x[train], permuted[train]).predict(x[test])
        null.append(pearson(permuted[test], pred))
    assert abs(float(np.nanmean(null))) < 0.15, f"{name}: permuted r = {null}"


def test_classifiers_rank_a_binary_trait_and_handle_three_classes(
    additive: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = additive
    train, test = np.arange(375), np.arange(375, 500)
    binary = (y > np.median(y)).astype(np.int64)
    for estimator in (
        LogisticBaseline(cs=[1e-3, 1e-2, 1e-1], inner_folds=3),
        RandomForestClassifierBaseline(n_estimators=100),
    ):
        estimator.fit(x[train], binary[train])
        proba = estimator.predict_proba(x[test])
        assert proba.shape == (test.size, 2) and np.allclose(proba.sum(axis=1), 1.0)
        auc = score_predictions("binary", binary[test], proba[:, 1])["roc_auc"]
        assert auc > 0.6, f"{type(estimator).__name__}: AUC {auc:.3f} (chance 0.5)"
    classes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    logistic = LogisticBaseline(cs=[1e-2, 1e-1], inner_folds=3).fit(x[train], classes[train])
    proba = logistic.predict_proba(x[test])
    assert proba.shape == (test.size, 3)
    assert np.mean(logistic.predict(x[test]) == classes[test]) > 0.45  # chance is 1/3
    assert logistic.chosen_["C"] in (1e-2, 1e-1)


# -- REML ---------------------------------------------------------------------------------


def _gblup_data(seed: int, ratio: float, coding: str = "01") -> tuple[np.ndarray, np.ndarray]:
    """Genotypes from the simulator and y = μ + Zβ + e with var(Zβ) ≈ 1 and var(e) = ratio."""
    sim = simulate(n_lines=600, n_markers=800, n_traits=1, coding=coding, seed=seed)
    x = sim.genotypes.astype(np.float64)
    ploidy = 2.0 if coding == "012" else 1.0
    p = x.mean(axis=0) / ploidy
    scale = ploidy * float((p * (1 - p)).sum())
    rng = np.random.default_rng(seed)
    beta = rng.normal(0.0, math.sqrt(1.0 / scale), x.shape[1])
    y = 3.0 + (x - x.mean(axis=0)) @ beta + rng.normal(0.0, math.sqrt(ratio), x.shape[0])
    return x, y


def test_reml_recovers_the_simulated_variance_ratio() -> None:
    ratio = 1.5  # h² = 0.4
    for seed, coding in ((3, "01"), (4, "012")):
        x, y = _gblup_data(seed, ratio, coding)
        model = GBLUPBaseline().fit(x, y)
        chosen = model.chosen_
        assert chosen["coding"] == coding
        assert ratio / 2 < chosen["variance_ratio"] < ratio * 2, chosen
        assert 0.2 < chosen["h2"] < 0.6
        assert not chosen["at_bound"]


def _naive_reml(kernel: np.ndarray, y: np.ndarray, delta: float) -> float:
    """Restricted log-likelihood with σg² profiled out, straight from the textbook formula
    (up to a constant): -½[(n-1) log σ̂² + log|H| + log|1'H⁻¹1|], H = G + δI."""
    n = y.size
    h = kernel + delta * np.eye(n)
    h_inv = np.linalg.inv(h)
    one = np.ones(n)
    a = float(one @ h_inv @ one)
    p = h_inv - np.outer(h_inv @ one, one @ h_inv) / a
    sigma2 = float(y @ p @ y) / (n - 1)
    return -0.5 * ((n - 1) * math.log(sigma2) + np.linalg.slogdet(h)[1] + math.log(a))


def test_reml_eigen_trick_matches_the_direct_likelihood_and_finds_its_maximum() -> None:
    x, y = _gblup_data(5, 1.0)
    x, y = x[:150], y[:150]
    z = x - x.mean(axis=0)
    p = x.mean(axis=0)
    kernel = z @ z.T / float((p * (1 - p)).sum())
    loglik, _ = reml_profile(kernel, y)
    deltas = [0.05, 0.3, 1.0, 4.0, 30.0]
    fast = np.array([loglik(d) for d in deltas])
    slow = np.array([_naive_reml(kernel, y, d) for d in deltas])
    np.testing.assert_allclose(fast - fast[0], slow - slow[0], rtol=1e-7, atol=1e-7)
    fit = reml_variance_ratio(kernel, y)
    dense = np.exp(np.linspace(math.log(1e-3), math.log(1e3), 400))
    best_dense = max(_naive_reml(kernel, y, d) for d in dense)
    assert _naive_reml(kernel, y, fit.variance_ratio) >= best_dense - 1e-6


# -- GBLUP ≡ ridge ----------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["01", "012"])
def test_gblup_equals_ridge_with_penalty_c_times_delta(coding: str) -> None:
    from sklearn.linear_model import Ridge

    x, y = _gblup_data(6, 1.0, coding)
    train, test = np.arange(450), np.arange(450, 600)
    ploidy = 2.0 if coding == "012" else 1.0
    p = x[train].mean(axis=0) / ploidy  # allele frequencies of the training part
    c = ploidy * float((p * (1 - p)).sum())  # VanRaden: 2Σp(1-p) dosages, Σp(1-p) inbreds
    for delta in (0.3, 2.0):
        gblup = GBLUPBaseline(variance_ratio=delta).fit(x[train], y[train])
        ridge = Ridge(alpha=c * delta).fit(x[train], y[train])
        np.testing.assert_allclose(gblup.predict(x[test]), ridge.predict(x[test]), atol=1e-8)
        # the kernel form (G_new,train α + μ) gives the same predictions as the marker form
        kernel_form = gblup.mu_ + gblup.relationship(x[test]) @ gblup.alpha_
        np.testing.assert_allclose(kernel_form, gblup.predict(x[test]), atol=1e-8)
    reml = GBLUPBaseline().fit(x[train], y[train])
    ridge = Ridge(alpha=c * reml.chosen_["variance_ratio"]).fit(x[train], y[train])
    np.testing.assert_allclose(reml.predict(x[test]), ridge.predict(x[test]), atol=1e-8)
    assert reml.chosen_["ridge_alpha"] == pytest.approx(c * reml.chosen_["variance_ratio"])


def test_rkhs_kernel_uses_the_training_median_distance() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (60, 40)).astype(np.float64)
    y = x[:, 0] - x[:, 1] + rng.normal(0, 0.5, 60)
    model = RKHSBaseline(bandwidths=[0.5], lambdas=[0.1, 1.0], inner_folds=3).fit(x[:40], y[:40])
    d = ((x[:40, None, :] - x[None, :40, :]) ** 2).sum(axis=2)
    median = float(np.median(d[np.triu_indices(40, 1)]))
    assert model.chosen_["median_distance"] == pytest.approx(median)
    new = ((x[40:, None, :] - x[None, :40, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(model.kernel(x[40:]), np.exp(-0.5 * new / median), atol=1e-12)
    expected = model.mu_ + np.exp(-0.5 * new / median) @ model.alpha_
    np.testing.assert_allclose(model.predict(x[40:]), expected, atol=1e-10)


# -- registry and bad options -------------------------------------------------------------------


def test_registry_names_tasks_and_unknown_names() -> None:
    assert BASELINES.names() == ["gblup", "rf", "ridge", "rkhs"]
    assert BASELINES.get("ridge").supports("binary")
    assert not BASELINES.get("gblup").supports("binary")
    with pytest.raises(UnknownNameError, match="did you mean 'gblup'"):
        BASELINES.get("gblpu", source="exp.yaml", field="methods")
    with pytest.raises(ConfigError, match="regression"):
        BASELINES.get("rkhs").make("binary")
    with pytest.raises(ConfigError, match=r"options\.rf\.trees: must be one of"):
        BASELINES.get("rf").make("regression", options={"trees": 10})
    forest = BASELINES.get("rf").make("multiclass", seed=7, n_jobs=2)
    assert isinstance(forest, RandomForestClassifierBaseline)
    assert (forest.seed, forest.n_jobs) == (7, 2)


def test_bad_inputs_are_one_line_errors() -> None:
    x = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [2.0, 0.0, 1.0], [0.0, 2.0, 1.0]])
    y = np.array([1.0, 2.0, 0.5, 1.5])
    with pytest.raises(DataError, match=r"lie in \[0, 1\] for coding '01'"):
        GBLUPBaseline(coding="01").fit(x, y)
    with pytest.raises(ConfigError, match="variance_ratio: must be 'reml', 'cv' or a positive"):
        GBLUPBaseline(variance_ratio="ml").fit(x, y)
    with pytest.raises(DataError, match="polymorphic"):
        GBLUPBaseline().fit(np.ones((4, 3)), y)
    with pytest.raises(ConfigError, match="alphas: must be a non-empty list of positive"):
        RidgeBaseline(alphas=[-1.0]).fit(x, y)
    with pytest.raises(ValueError, match="impute"):
        RidgeBaseline().fit(np.where(x > 1, np.nan, x), y)
    with pytest.raises(RuntimeError, match="fit must be called"):
        RKHSBaseline().predict(x)

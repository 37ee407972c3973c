"""Preprocessing fitted on training rows only: options, transforms, p-values, and leakage."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hpsearch.data import preprocess
from hpsearch.data.dataset import Split
from hpsearch.data.folds import outer_plans
from hpsearch.data.loading import load_dataset
from hpsearch.data.preprocess import PreprocessOptions, Preprocessor, marker_pvalues
from hpsearch.data.simulate import simulate
from hpsearch.errors import ConfigError


def _xy(n: int = 120, m: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (n, m)).astype(np.float32)
    y = x[:, 2] - 0.8 * x[:, 7] + rng.normal(size=n)
    return x, y


# --- options -------------------------------------------------------------------------------


def test_options_from_params_fall_back_to_base_and_ignore_other_keys():
    base = PreprocessOptions(scale_markers=True, preselect_top_k=50)
    opts = PreprocessOptions.from_params({"preselect_pvalue": 0.01, "units": 64}, base)
    assert opts == PreprocessOptions(True, 50, 0.01, True)
    assert PreprocessOptions.from_params({}) == PreprocessOptions()
    assert PreprocessOptions.from_params({"preselect_top_k": np.int64(7)}).preselect_top_k == 7


def test_options_normalise_off_values():
    opts = PreprocessOptions(preselect_top_k=0, preselect_pvalue=1.0)
    assert opts.preselect_top_k is None and opts.preselect_pvalue is None
    assert not opts.preselects


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"preselect_top_k": -3}, "preselect_top_k"),
        ({"preselect_top_k": 2.5}, "preselect_top_k"),
        ({"preselect_pvalue": 0.0}, "preselect_pvalue"),
        ({"preselect_pvalue": "0.05"}, "preselect_pvalue"),
        ({"scale_markers": "yes"}, "scale_markers"),
    ],
)
def test_bad_options_are_config_errors(params, field):
    with pytest.raises(ConfigError, match=field):
        PreprocessOptions.from_params(params)


# --- transforms ----------------------------------------------------------------------------


def test_transform_imputes_centres_and_scales_with_training_statistics():
    x, y = _xy()
    x[3, 0] = np.nan
    x[:, 5] = 1.0  # monomorphic
    pre = Preprocessor(PreprocessOptions(scale_markers=True), "regression").fit(x[:80], y[:80])
    out = pre.transform(x[:80])
    assert out.dtype == np.float32 and out.shape == (80, 30)
    assert out[3, 0] == 0.0  # missing → training mean → 0 after centring
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    sd = out.std(axis=0)
    np.testing.assert_allclose(np.delete(sd, 5), 1.0, rtol=1e-3)
    assert np.all(out[:, 5] == 0.0) and np.isfinite(pre.transform(x[80:])).all()
    held = pre.transform(x[80:])
    observed = x[:80, 1][~np.isnan(x[:80, 1])]
    expected = (x[80:, 1] - observed.mean()) / observed.std()
    np.testing.assert_allclose(held[:, 1], expected, rtol=1e-5, atol=1e-5)


def test_centring_only_keeps_the_scale():
    x, y = _xy()
    out = Preprocessor(PreprocessOptions(), "regression").fit(x, y).transform(x)
    np.testing.assert_allclose(out, x - x.mean(axis=0), atol=1e-5)


def test_target_standardisation_round_trip_and_class_passthrough():
    x, y = _xy()
    pre = Preprocessor(PreprocessOptions(), "regression").fit(x[:60], y[:60])
    z = pre.transform_target(y[:60])
    assert z.mean() == pytest.approx(0.0, abs=1e-12) and z.std() == pytest.approx(1.0)
    np.testing.assert_allclose(pre.inverse_target(pre.transform_target(y)), y)
    off = Preprocessor(PreprocessOptions(standardize_target=False), "regression").fit(x, y)
    np.testing.assert_array_equal(off.transform_target(y), y)
    codes = (y > 0).astype(np.int64)
    binary = Preprocessor(PreprocessOptions(), "binary").fit(x, codes)
    np.testing.assert_array_equal(binary.transform_target(codes), codes)


def test_transform_before_fit_and_wrong_width():
    x, y = _xy()
    pre = Preprocessor(PreprocessOptions(), "regression")
    with pytest.raises(RuntimeError):
        pre.transform(x)
    pre.fit(x, y)
    with pytest.raises(ValueError, match="30 marker columns"):
        pre.transform(x[:, :10])


# --- p-values and selection ----------------------------------------------------------------


def test_regression_pvalues_match_scipy_linregress():
    x, y = _xy()
    x[:, 4] = 2.0
    p = marker_pvalues(x, y, "regression")
    for j in range(x.shape[1]):
        expected = 1.0 if j == 4 else stats.linregress(x[:, j], y).pvalue
        assert p[j] == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_multiclass_pvalues_match_sklearn_f_classif():
    from sklearn.feature_selection import f_classif

    x, _ = _xy()
    x = x.astype(np.float64)
    classes = np.random.default_rng(1).integers(0, 3, x.shape[0])
    x[:, 0] += classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = f_classif(x, classes)[1]
    np.testing.assert_allclose(marker_pvalues(x, classes, "multiclass"), expected, rtol=1e-9)


def test_pvalues_are_the_same_in_small_chunks(monkeypatch):
    x, y = _xy(m=50)
    x[::7, 3] = np.nan
    whole = marker_pvalues(x, y, "regression")
    monkeypatch.setattr(preprocess, "_CELLS_PER_CHUNK", 120 * 3)  # 3 columns per chunk
    np.testing.assert_allclose(marker_pvalues(x, y, "regression"), whole, rtol=1e-12)


def test_top_k_keeps_the_smallest_pvalues_and_breaks_ties_by_column():
    x, y = _xy()
    x[:, 20] = x[:, 2]  # identical to the strongest marker: same p-value
    pre = Preprocessor(PreprocessOptions(preselect_top_k=1), "regression").fit(x, y)
    assert pre.selected_.tolist() == [2]
    pre3 = Preprocessor(PreprocessOptions(preselect_top_k=3), "regression").fit(x, y)
    assert pre3.selected_.tolist() == sorted(pre3.selected_.tolist())
    assert set(pre3.selected_.tolist()) == {2, 7, 20}
    assert pre3.transform(x).shape == (120, 3) and pre3.n_features_out == 3
    assert np.all(pre3.pvalues_[pre3.selected_].max() <= np.delete(pre3.pvalues_, pre3.selected_))
    everything = Preprocessor(PreprocessOptions(preselect_top_k=500), "regression").fit(x, y)
    assert everything.selected_.size == 30


def test_pvalue_threshold_then_top_k_and_the_empty_case():
    x, y = _xy()
    strict = Preprocessor(PreprocessOptions(preselect_pvalue=1e-6), "regression").fit(x, y)
    assert set(strict.selected_.tolist()) <= {2, 7} and strict.selected_.size >= 1
    both = PreprocessOptions(preselect_pvalue=1e-6, preselect_top_k=1)
    assert Preprocessor(both, "regression").fit(x, y).selected_.size == 1
    noise = np.random.default_rng(9).normal(size=120)
    empty = Preprocessor(PreprocessOptions(preselect_pvalue=1e-12), "regression").fit(x, noise)
    assert empty.selected_.size == 1 and empty.warning and "kept the single best" in empty.warning
    assert empty.selected_[0] == int(np.argmin(empty.pvalues_))


def test_binary_and_multiclass_preselection_find_the_signal():
    x, _ = _xy()
    labels = (x[:, 11] >= 1).astype(np.int64)
    pre = Preprocessor(PreprocessOptions(preselect_top_k=1), "binary").fit(x, labels)
    assert pre.selected_.tolist() == [11]
    multi = x[:, 13].astype(np.int64)
    pre = Preprocessor(PreprocessOptions(preselect_top_k=1), "multiclass").fit(x, multi)
    assert pre.selected_.tolist() == [13]


# --- leakage -------------------------------------------------------------------------------


def test_rows_not_passed_to_fit_cannot_change_anything():
    """(a) Changing x or y of held-out rows leaves selection, means and transforms identical."""
    sim = simulate(n_lines=200, n_markers=300, n_traits=1, n_folds=4, seed=2)
    x = sim.genotypes.astype(np.float32)
    y = sim.phenotypes[:, 0].copy()
    train, test = np.flatnonzero(sim.folds != 1), np.flatnonzero(sim.folds == 1)
    options = PreprocessOptions(scale_markers=True, preselect_top_k=25)
    first = Preprocessor(options, "regression").fit(x[train], y[train])

    x2, y2 = x.copy(), y.copy()
    rng = np.random.default_rng(0)
    x2[test] = rng.integers(0, 2, x2[test].shape)
    x2[test[:5], :10] = np.nan
    y2[test] = rng.normal(scale=50, size=test.size)
    second = Preprocessor(options, "regression").fit(x2[train], y2[train])

    np.testing.assert_array_equal(first.selected_, second.selected_)
    np.testing.assert_array_equal(first.means_, second.means_)
    np.testing.assert_array_equal(first.pvalues_, second.pvalues_)
    assert first.transform(x[train]).tobytes() == second.transform(x2[train]).tobytes()
    assert (
        first.transform_target(y[train]).tobytes() == second.transform_target(y2[train]).tobytes()
    )
    # ... while the same change made to training rows does change the fit.
    x3 = x.copy()
    x3[train[:50]] = 1 - x3[train[:50]]
    third = Preprocessor(options, "regression").fit(x3[train], y[train])
    assert not np.array_equal(first.means_, third.means_)


def _null_correlations(
    x: np.ndarray, y: np.ndarray, splits: list[Split], *, leaky: bool, k: int = 20
) -> float:
    """Mean test r of a ridge on top-k markers over 5 permutations of y (no signal at all)."""
    from sklearn.linear_model import Ridge

    options = PreprocessOptions(scale_markers=True, preselect_top_k=k)
    rs = []
    for perm in range(5):
        yp = np.random.default_rng(perm).permutation(y)
        everyone = Preprocessor(options, "regression").fit(x, yp) if leaky else None
        for split in splits:
            tr, te = split.train, split.valid
            pre = everyone or Preprocessor(options, "regression").fit(x[tr], yp[tr])
            model = Ridge(alpha=1.0).fit(pre.transform(x[tr]), yp[tr])
            rs.append(np.corrcoef(model.predict(pre.transform(x[te])), yp[te])[0, 1])
    return float(np.mean(rs))


def _assert_selection_inside_folds_is_honest(x, y, splits) -> None:
    honest = _null_correlations(x, y, splits, leaky=False)
    leaky = _null_correlations(x, y, splits, leaky=True)
    assert abs(honest) < 0.08, honest
    assert leaky > 0.15, leaky
    assert leaky - honest > 0.12, (honest, leaky)


@pytest.mark.wheat
def test_permuted_wheat_phenotype_gives_zero_inside_folds_and_about_point_two_leaky(wheat_dir):
    """(b) Literature §5.2: inside-fold selection ≈ 0, selection on all 599 lines ≈ 0.2."""
    data, _ = load_dataset(
        genotypes=wheat_dir / "wheat.X", phenotypes=wheat_dir / "wheat.Y", trait=0
    )
    plans = outer_plans(
        data, {"fold_file": "wheat.sets"}, {"holdout": 0.2}, seed=0, base_dir=wheat_dir
    )
    _assert_selection_inside_folds_is_honest(
        data.genotypes, data.target, [plan.outer for plan in plans]
    )


def test_permuted_simulated_phenotype_gives_zero_inside_folds():
    """(b) The same control on simulated lines (runs without the wheat data)."""
    sim = simulate(n_lines=300, n_markers=2000, n_traits=1, n_folds=5, seed=0)
    splits = [
        Split(train=np.flatnonzero(sim.folds != f), valid=np.flatnonzero(sim.folds == f))
        for f in range(1, 6)
    ]
    x = sim.genotypes.astype(np.float32)
    _assert_selection_inside_folds_is_honest(x, sim.phenotypes[:, 0], splits)


def test_plans_and_preprocessing_together_never_see_outer_test_rows():
    """Fitting on every inner training part of a plan is unaffected by the outer test rows."""
    sim = simulate(n_lines=120, n_markers=200, n_traits=1, seed=4)
    from hpsearch.data.dataset import GenomicData

    def data_with(x: np.ndarray, y: np.ndarray) -> GenomicData:
        return GenomicData(
            genotypes=x,
            target=y,
            task="regression",
            trait="0",
            line_ids=sim.line_ids,
            marker_ids=sim.marker_ids,
        )

    x = sim.genotypes.astype(np.float32)
    y = sim.phenotypes[:, 0].copy()
    outer, inner = {"kfold": 4, "seed": 1, "folds": [2]}, {"kfold": 3}
    (plan,) = outer_plans(data_with(x, y), outer, inner, seed=0, base_dir=Path("."))
    x2, y2 = x.copy(), y.copy()
    x2[plan.outer.valid] = 2.0 - x2[plan.outer.valid]
    y2[plan.outer.valid] *= -10
    (plan2,) = outer_plans(data_with(x2, y2), outer, inner, seed=0, base_dir=Path("."))
    options = PreprocessOptions(preselect_top_k=10, scale_markers=True)
    for a, b in zip(plan.inner, plan2.inner, strict=True):
        np.testing.assert_array_equal(a.train, b.train)
        fa = Preprocessor(options, "regression").fit(x[a.train], y[a.train])
        fb = Preprocessor(options, "regression").fit(x2[b.train], y2[b.train])
        np.testing.assert_array_equal(fa.selected_, fb.selected_)
        assert fa.transform(x[a.valid]).tobytes() == fb.transform(x2[b.valid]).tobytes()

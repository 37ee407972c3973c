"""The baseline estimators a network must beat: ridge, GBLUP, Gaussian-kernel RKHS, random forest.

Every estimator is sklearn-style (``fit(x, y)`` then ``predict(x)``; classifiers add
``predict_proba``), takes keyword-only options that its constructor only stores, and chooses
its hyperparameters inside ``fit`` from the rows it is given (the outer training part), by
inner cross-validation or REML. What it chose is in ``chosen_`` (plain floats and strings).

Inputs are genotypes in their own coding (0/1 for inbred lines, 0/1/2 dosages), missing calls
already imputed; each estimator centres on its training rows itself. The facts behind the
defaults (grids, VanRaden scaling, expected accuracies on the wheat data) are in
``shared/reference/genomic-prediction-literature.md`` §2 and §8 and
``measurements-2026-11.md`` §4.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.errors import ConfigError, DataError
from hpsearch.registry import Registry

#: Ridge penalties tried by generalised cross-validation (efficient leave-one-out).
RIDGE_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-2, 6, 49))
#: Inverse penalties of the L2 logistic regression (binary / multiclass "ridge").
LOGISTIC_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 2, 13))
#: Gaussian-kernel bandwidths h in exp(-h * D / median(D)).
RKHS_BANDWIDTHS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0)
#: Kernel-ridge penalties λ (variance ratios σe²/σg²) tried by inner CV.
KERNEL_LAMBDAS: tuple[float, ...] = tuple(float(v) for v in np.logspace(-3, 2, 21))
#: Search interval of REML's variance ratio δ = σe²/σg² (log scale).
REML_BOUNDS: tuple[float, float] = (1e-5, 1e5)
CODINGS: tuple[str, ...] = ("auto", "01", "012")
_SOURCE = "baselines"


# -- small helpers -------------------------------------------------------------------------


def _matrix(x: Any, what: str = "x") -> np.ndarray:
    """A finite float64 (n, m) matrix (missing calls must be imputed before a baseline)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{what} must be a non-empty 2-D matrix (lines × markers), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} has missing or infinite values; impute them first")
    return x


def _vector(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"y must have one value per line ({n}), got {y.shape[0]}")
    if not np.isfinite(y).all():
        raise ValueError("y has missing or infinite values; drop those lines first")
    return y


def _grid(values: Sequence[float] | None, default: Sequence[float], name: str) -> np.ndarray:
    grid = np.asarray(default if values is None else values, dtype=np.float64).reshape(-1)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ConfigError.at(_SOURCE, name, "be a non-empty list of positive numbers", values)
    return np.unique(grid)


def _positive_int(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError.at(_SOURCE, name, f"be an integer >= {low}", value)
    return int(value)


def inner_folds(
    n: int, k: int, seed: int, labels: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, valid) row positions of a shuffled k-fold split of ``n`` rows (stratified when
    ``labels`` are given); fewer folds when there are fewer rows than ``k``."""
    from hpsearch.data.folds import kfold_ids

    k = min(_positive_int(k, "inner_folds", 2), n)
    if k < 2:
        raise ValueError(f"inner cross-validation needs at least 2 rows, got {n}")
    ids = kfold_ids(n, k, seed, stratify=labels, source=_SOURCE, field="inner_folds")
    rows = np.arange(n)
    return [(rows[ids != f], rows[ids == f]) for f in range(1, k + 1)]


def _at_edge(value: float, grid: np.ndarray) -> bool:
    return grid.size > 1 and value in (float(grid[0]), float(grid[-1]))


def kernel_cv_mse(
    kernel: np.ndarray,
    y: np.ndarray,
    lambdas: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Pooled held-out MSE of kernel ridge (intercept = training mean) for every λ.

    One eigendecomposition per inner fold serves the whole λ grid.
    """
    sse = np.zeros(lambdas.size)
    count = 0
    for train, valid in folds:
        values, vectors = np.linalg.eigh(kernel[np.ix_(train, train)])
        values = np.maximum(values, 0.0)
        mu = float(y[train].mean())
        projected = vectors.T @ (y[train] - mu)
        cross = kernel[np.ix_(valid, train)] @ vectors
        coefs = projected[:, None] / (values[:, None] + lambdas[None, :])
        predictions = mu + cross @ coefs
        sse += ((predictions - y[valid][:, None]) ** 2).sum(axis=0)
        count += valid.size
    return sse / max(count, 1)


def _solve_psd(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve with a positive-definite ``matrix`` (Cholesky; symmetric solve as a fallback)."""
    from scipy import linalg

    try:
        return linalg.cho_solve(linalg.cho_factor(matrix, lower=True), rhs)
    except linalg.LinAlgError:
        return linalg.solve(matrix, rhs, assume_a="sym")


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and of ``b`` (clipped at 0)."""
    d = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def genotype_coding(x: np.ndarray) -> str:
    """``"012"`` when any value exceeds 1 (dosages), else ``"01"`` (inbred presence/absence)."""
    finite = np.asarray(x)[np.isfinite(x)]
    return "012" if finite.size and float(finite.max()) > 1.0 + 1e-9 else "01"


class _Fitted:
    """Shared bits: the ``chosen_`` record and the fitted check."""

    chosen_: dict[str, Any]

    def _check_fitted(self) -> None:
        if not hasattr(self, "chosen_"):
            raise RuntimeError(f"{type(self).__name__}.fit must be called before predicting")


# -- ridge ---------------------------------------------------------------------------------


class RidgeBaseline(_Fitted):
    """Ridge regression on the centred markers, penalty by generalised CV (RidgeCV).

    Ridge on 0/1 markers is GBLUP with a penalty chosen by prediction error rather than REML.
    """

    def __init__(self, *, alphas: Sequence[float] | None = None):
        self.alphas = alphas

    def fit(self, x: Any, y: Any) -> RidgeBaseline:
        from sklearn.linear_model import RidgeCV

        x = _matrix(x)
        y = _vector(y, x.shape[0])
        grid = _grid(self.alphas, RIDGE_ALPHAS, "alphas")
        self.means_ = x.mean(axis=0)
        model = RidgeCV(alphas=grid, fit_intercept=True).fit(x - self.means_, y)
        self.coef_ = np.asarray(model.coef_, dtype=np.float64)
        self.intercept_ = float(model.intercept_)
        alpha = float(model.alpha_)
        self.chosen_ = {"alpha": alpha, "alpha_at_grid_edge": _at_edge(alpha, grid)}
        return self

    def predict(self, x: Any) -> np.ndarray:
        self._check_fitted()
        return (_matrix(x) - self.means_) @ self.coef_ + self.intercept_


class LogisticBaseline(_Fitted):
    """L2 logistic regression (multinomial for several classes), C by inner k-fold log-loss."""

    def __init__(
        self,
        *,
        cs: Sequence[float] | None = None,
        inner_folds: int = 5,
        seed: int = 0,
        max_iter: int = 2000,
    ):
        self.cs = cs
        self.inner_folds = inner_folds
        self.seed = seed
        self.max_iter = max_iter

    def _model(self, c: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=_positive_int(self.max_iter, "max_iter"))

    def fit(self, x: Any, y: Any) -> LogisticBaseline:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        x = _matrix(x)
        labels = np.asarray(y).reshape(-1)
        _vector(labels, x.shape[0])
        self.means_ = x.mean(axis=0)
        xc = x - self.means_
        grid = _grid(self.cs, LOGISTIC_CS, "cs")
        classes = np.unique(labels)
        if classes.size < 2:
            raise DataError.at(
                _SOURCE, "target", "have two classes or more in the training part", classes
            )
        folds = inner_folds(x.shape[0], self.inner_folds, self.seed, labels)
        loss = np.zeros(grid.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for train, valid in folds:
                for i, c in enumerate(grid):
                    model = self._model(float(c)).fit(xc[train], labels[train])
                    full = np.full((valid.size, classes.size), 1e-15)
                    full[:, np.searchsorted(classes, model.classes_)] = np.clip(
                        model.predict_proba(xc[valid]), 1e-15, 1.0
                    )
                    picked = full[np.arange(valid.size), np.searchsorted(classes, labels[valid])]
                    loss[i] += -np.log(picked).sum()
            best = int(np.argmin(loss))
            self.model_ = self._model(float(grid[best])).fit(xc, labels)
        self.classes_ = self.model_.classes_
        c = float(grid[best])
        self.chosen_ = {
            "C": c,
            "C_at_grid_edge": _at_edge(c, grid),
            "inner_log_loss": float(loss[best] / x.shape[0]),
        }
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict_proba(_matrix(x) - self.means_))

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]


# -- GBLUP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemlFit:
    """REML estimates of y = 1μ + g + e, g ~ N(0, σg² G), e ~ N(0, σe² I)."""

    variance_ratio: float  # δ = σe² / σg²
    sigma_g2: float
    sigma_e2: float
    log_likelihood: float
    at_bound: bool

    @property
    def h2(self) -> float:
        """σg² / (σg² + σe²): heritability on the scale of G."""
        return self.sigma_g2 / (self.sigma_g2 + self.sigma_e2)


def reml_profile(
    kernel: np.ndarray, y: np.ndarray
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """REML log-likelihood of δ and σg²(δ), from one eigendecomposition (EMMA, Kang 2008).

    With S = I - 11'/n, the eigenvalues of S(G + I)S are 0 (the intercept's direction) and
    ξ_s + 1 for the n-1 others; with η = U'y on those, the restricted log-likelihood is
    ½[(n-1) log((n-1)/2π) - (n-1) - (n-1) log Σ η²/(ξ+δ) - Σ log(ξ+δ)].
    """
    n = y.shape[0]
    if n < 3:
        raise ValueError(f"REML needs at least 3 lines, got {n}")
    centring = np.eye(n) - 1.0 / n
    shifted = centring @ (kernel + np.eye(n)) @ centring
    values, vectors = np.linalg.eigh((shifted + shifted.T) / 2.0)
    xi = np.maximum(values[1:] - 1.0, 0.0)  # drop the smallest (≈ 0: the intercept)
    eta2 = (vectors[:, 1:].T @ y) ** 2
    dof = n - 1
    constant = dof * math.log(dof / (2.0 * math.pi)) - dof

    def loglik(delta: float) -> float:
        scaled = xi + delta
        return 0.5 * (
            constant - dof * math.log(float((eta2 / scaled).sum())) - float(np.log(scaled).sum())
        )

    def sigma_g2(delta: float) -> float:
        return float((eta2 / (xi + delta)).sum()) / dof

    return loglik, sigma_g2


def reml_variance_ratio(
    kernel: np.ndarray, y: np.ndarray, *, bounds: tuple[float, float] = REML_BOUNDS
) -> RemlFit:
    """Maximise the REML likelihood over δ: a log grid, then Brent's method around the best."""
    from scipy.optimize import minimize_scalar

    loglik, sigma_g2 = reml_profile(kernel, np.asarray(y, dtype=np.float64))
    low, high = math.log(bounds[0]), math.log(bounds[1])
    grid = np.linspace(low, high, 101)
    values = np.array([loglik(math.exp(t)) for t in grid])
    best = int(np.argmax(values))
    left, right = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    result = minimize_scalar(
        lambda t: -loglik(math.exp(t)),
        bounds=(left, right),
        method="bounded",
        options={"xatol": 1e-6},
    )
    t = float(result.x) if -float(result.fun) >= values[best] else float(grid[best])
    delta = math.exp(t)
    sg2 = sigma_g2(delta)
    return RemlFit(
        variance_ratio=delta,
        sigma_g2=sg2,
        sigma_e2=delta * sg2,
        log_likelihood=loglik(delta),
        at_bound=best in (0, grid.size - 1),
    )


class GBLUPBaseline(_Fitted):
    """GBLUP: kernel ridge on VanRaden's G, variance ratio by REML (default) or inner CV.

    G = ZZ'/c with Z the genotypes centred on the training means (= 2p for 0/1/2 dosages,
    p for 0/1 inbred coding) and c = 2Σp(1-p) for dosages, Σp(1-p) for 0/1 coding (the
    variance a marker with frequency p has under that coding), p from the training rows.
    ``variance_ratio`` is ``"reml"``, ``"cv"`` or a fixed number δ = σe²/σg²; the
    equivalent ridge penalty on Z is c·δ. Predictions for new lines are ĝ = G_new,train α,
    computed as Z_new β with β = Z'α / c.
    """

    def __init__(
        self,
        *,
        variance_ratio: str | float = "reml",
        coding: str = "auto",
        lambdas: Sequence[float] | None = None,
        inner_folds: int = 5,
        seed: int = 0,
    ):
        self.variance_ratio = variance_ratio
        self.coding = coding
        self.lambdas = lambdas
        self.inner_folds = inner_folds
        self.seed = seed

    def _coding(self, x: np.ndarray) -> str:
        if self.coding not in CODINGS:
            raise ConfigError.at(_SOURCE, "coding", f"be one of {', '.join(CODINGS)}", self.coding)
        coding = genotype_coding(x) if self.coding == "auto" else self.coding
        high = 1.0 if coding == "01" else 2.0
        if float(x.min()) < -1e-9 or float(x.max()) > high + 1e-9:
            raise DataError.at(
                _SOURCE,
                "genotypes",
                f"lie in [0, {high:g}] for coding {coding!r} (GBLUP)",
                f"<values from {float(x.min()):g} to {float(x.max()):g}>",
            )
        return coding

    def relationship(self, x: Any) -> np.ndarray:
        """G between the lines of ``x`` and the training lines (same centring and scaling)."""
        self._check_fitted()
        return ((_matrix(x) - self.means_) @ self.z_train_.T) / self.scale_

    def fit(self, x: Any, y: Any) -> GBLUPBaseline:
        x = _matrix(x)
        y = _vector(y, x.shape[0])
        coding = self._coding(x)
        ploidy = 2.0 if coding == "012" else 1.0
        self.means_ = x.mean(axis=0)
        p = self.means_ / ploidy
        scale = float(ploidy * (p * (1.0 - p)).sum())
        if not scale > 0.0:
            raise DataError.at(
                _SOURCE, "genotypes", "have a polymorphic marker in the training part", "<none>"
            )
        self.scale_ = scale
        self.z_train_ = x - self.means_
        kernel = (self.z_train_ @ self.z_train_.T) / scale
        chosen: dict[str, Any] = {"coding": coding, "scale": scale}
        mode = self.variance_ratio
        if isinstance(mode, str) and mode == "reml":
            fit = reml_variance_ratio(kernel, y)
            delta = fit.variance_ratio
            chosen.update(
                method="reml",
                sigma_g2=fit.sigma_g2,
                sigma_e2=fit.sigma_e2,
                h2=fit.h2,
                reml_log_likelihood=fit.log_likelihood,
                at_bound=fit.at_bound,
            )
        elif isinstance(mode, str) and mode == "cv":
            grid = _grid(self.lambdas, KERNEL_LAMBDAS, "lambdas")
            folds = inner_folds(x.shape[0], self.inner_folds, self.seed)
            mse = kernel_cv_mse(kernel, y, grid, folds)
            best = int(np.argmin(mse))
            delta = float(grid[best])
            chosen.update(method="cv", inner_mse=float(mse[best]), at_bound=_at_edge(delta, grid))
        elif isinstance(mode, int | float) and not isinstance(mode, bool) and mode > 0:
            delta = float(mode)
            chosen.update(method="fixed")
        else:
            raise ConfigError.at(
                _SOURCE, "variance_ratio", "be 'reml', 'cv' or a positive number", mode
            )
        h = kernel + delta * np.eye(x.shape[0])
        solved = _solve_psd(h, np.column_stack([np.ones_like(y), y]))
        mu = float(solved[:, 1].sum() / solved[:, 0].sum())  # GLS intercept
        alpha = solved[:, 1] - mu * solved[:, 0]  # (G + δI)⁻¹ (y - 1μ)
        self.mu_ = mu
        self.alpha_ = alpha
        self.beta_ = self.z_train_.T @ alpha / scale  # marker effects: Z β = G α
        chosen["variance_ratio"] = delta
        chosen["ridge_alpha"] = delta * scale
        self.chosen_ = chosen
        return self

    def predict(self, x: Any) -> np.ndarray:
        self._check_fitted()
        return self.mu_ + (_matrix(x) - self.means_) @ self.beta_


# -- RKHS ----------------------------------------------------------------------------------


class RKHSBaseline(_Fitted):
    """Kernel ridge with the Gaussian kernel exp(-h·D/median(D)), h and λ by inner k-fold CV.

    D is the squared Euclidean distance between lines; its median is taken over the pairs of
    training lines and kept for new lines. The intercept is the training mean.
    """

    def __init__(
        self,
        *,
        bandwidths: Sequence[float] | None = None,
        lambdas: Sequence[float] | None = None,
        inner_folds: int = 5,
        seed: int = 0,
    ):
        self.bandwidths = bandwidths
        self.lambdas = lambdas
        self.inner_folds = inner_folds
        self.seed = seed

    def fit(self, x: Any, y: Any) -> RKHSBaseline:
        x = _matrix(x)
        y = _vector(y, x.shape[0])
        n = x.shape[0]
        hs = _grid(self.bandwidths, RKHS_BANDWIDTHS, "bandwidths")
        lambdas = _grid(self.lambdas, KERNEL_LAMBDAS, "lambdas")
        self.means_ = x.mean(axis=0)
        self.x_train_ = x - self.means_
        distances = squared_distances(self.x_train_, self.x_train_)
        np.fill_diagonal(distances, 0.0)
        median = float(np.median(distances[np.triu_indices(n, k=1)])) if n > 1 else 0.0
        if not median > 0.0:
            raise DataError.at(
                _SOURCE, "genotypes", "differ between training lines (RKHS)", "<all identical>"
            )
        self.median_ = median
        folds = inner_folds(n, self.inner_folds, self.seed)
        mse = np.vstack(
            [kernel_cv_mse(np.exp(-h * distances / median), y, lambdas, folds) for h in hs]
        )
        i, j = np.unravel_index(int(np.argmin(mse)), mse.shape)
        self.bandwidth_, self.lambda_ = float(hs[i]), float(lambdas[j])
        kernel = np.exp(-self.bandwidth_ * distances / median)
        self.mu_ = float(y.mean())
        self.alpha_ = _solve_psd(kernel + self.lambda_ * np.eye(n), y - self.mu_)
        self.chosen_ = {
            "bandwidth": self.bandwidth_,
            "lambda": self.lambda_,
            "inner_mse": float(mse[i, j]),
            "median_distance": median,
            "bandwidth_at_grid_edge": _at_edge(self.bandwidth_, hs),
            "lambda_at_grid_edge": _at_edge(self.lambda_, lambdas),
        }
        return self

    def kernel(self, x: Any) -> np.ndarray:
        """K between the lines of ``x`` and the training lines."""
        self._check_fitted()
        d = squared_distances(_matrix(x) - self.means_, self.x_train_)
        return np.exp(-self.bandwidth_ * d / self.median_)

    def predict(self, x: Any) -> np.ndarray:
        kernel = self.kernel(x)
        return self.mu_ + kernel @ self.alpha_


# -- random forests ------------------------------------------------------------------------


class RandomForestBaseline(_Fitted):
    """Random forest regression: 500 trees, √m markers per split (nothing tuned)."""

    classifier = False

    def __init__(
        self,
        *,
        n_estimators: int = 500,
        max_features: str | float | int = "sqrt",
        min_samples_leaf: int = 1,
        n_jobs: int | None = 1,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.seed = seed

    def _model(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        kind = RandomForestClassifier if self.classifier else RandomForestRegressor
        return kind(
            n_estimators=_positive_int(self.n_estimators, "n_estimators"),
            max_features=self.max_features,
            min_samples_leaf=_positive_int(self.min_samples_leaf, "min_samples_leaf"),
            n_jobs=self.n_jobs,
            random_state=self.seed,
        )

    def fit(self, x: Any, y: Any) -> RandomForestBaseline:
        x = _matrix(x)
        target = np.asarray(y).reshape(-1)
        _vector(target, x.shape[0])
        try:
            self.model_ = self._model().fit(x, target)
        except ValueError as exc:  # e.g. a bad max_features
            raise ConfigError.at(
                _SOURCE,
                "max_features",
                "suit RandomForest",
                self.max_features,
                str(exc).splitlines()[0],
            ) from exc
        self.chosen_ = {
            "n_estimators": int(self.n_estimators),
            "max_features": str(self.max_features),
            "min_samples_leaf": int(self.min_samples_leaf),
        }
        if self.classifier:
            self.classes_ = self.model_.classes_
        return self

    def predict(self, x: Any) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict(_matrix(x)))


class RandomForestClassifierBaseline(RandomForestBaseline):
    """Random forest classification: 500 trees, √m markers per split (nothing tuned)."""

    classifier = True

    def predict_proba(self, x: Any) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict_proba(_matrix(x)))


# -- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineMethod:
    """A named baseline: which estimator class serves which task."""

    name: str
    description: str
    estimators: Mapping[str, type] = field(default_factory=dict)
    unsupported: str = ""  # why the missing tasks are missing

    def supports(self, task: str) -> bool:
        return task in self.estimators

    def make(
        self,
        task: str,
        *,
        seed: int = 0,
        n_jobs: int | None = 1,
        options: Mapping[str, Any] | None = None,
        source: str | None = None,
    ) -> Any:
        """An unfitted estimator for ``task``; ``options`` go to its constructor (checked)."""
        if task not in self.estimators:
            raise ConfigError.at(
                source,
                f"methods: {self.name}",
                f"suit a {' or '.join(self.estimators)} trait",
                task,
                self.unsupported or None,
            )
        kind = self.estimators[task]
        accepted = [p for p in inspect.signature(kind.__init__).parameters if p != "self"]
        options = dict(options or {})
        for key in options:
            if key not in accepted:
                raise ConfigError.at(
                    source,
                    f"options.{self.name}.{key}",
                    f"be one of {', '.join(accepted)}",
                    key,
                )
        if "seed" in accepted:
            options.setdefault("seed", seed)
        if "n_jobs" in accepted:
            options.setdefault("n_jobs", n_jobs)
        return kind(**options)


_CLASSIFICATION_NOTE = "kernel methods here are for regression traits; use ridge or rf"

BASELINES: Registry[BaselineMethod] = Registry("baseline")
BASELINES.register("ridge", "ridge regression, penalty by GCV (L2 logistic for classes)")(
    BaselineMethod(
        "ridge",
        "ridge regression on the markers (L2 logistic for binary/multiclass)",
        {"regression": RidgeBaseline, "binary": LogisticBaseline, "multiclass": LogisticBaseline},
    )
)
BASELINES.register("gblup", "GBLUP on VanRaden's G, variance ratio by REML")(
    BaselineMethod(
        "gblup",
        "GBLUP (VanRaden G, REML)",
        {"regression": GBLUPBaseline},
        _CLASSIFICATION_NOTE,
    )
)
BASELINES.register("rkhs", "Gaussian-kernel ridge (RKHS), h and λ by inner CV")(
    BaselineMethod(
        "rkhs",
        "Gaussian-kernel RKHS regression",
        {"regression": RKHSBaseline},
        _CLASSIFICATION_NOTE,
    )
)
BASELINES.register("rf", "random forest, 500 trees, max_features sqrt")(
    BaselineMethod(
        "rf",
        "random forest",
        {
            "regression": RandomForestBaseline,
            "binary": RandomForestClassifierBaseline,
            "multiclass": RandomForestClassifierBaseline,
        },
    )
)

#: The default order of ``hpsearch baseline``.
DEFAULT_METHODS: tuple[str, ...] = ("ridge", "gblup", "rkhs", "rf")

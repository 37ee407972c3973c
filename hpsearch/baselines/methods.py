"""The baseline estimators a network must beat: ridge, GBLUP, Gaussian-kernel RKHS, random forest.

Every estimator is sklearn-style (``fit(x, y)`` then ``predict(x)``; classifiers add
``predict_proba``), takes keyword-only options that its constructor only stores, and chooses
its hyperparameters inside ``fit`` from the rows it is given (the outer training part), by
inner cross-validation or REML. What it chose is in ``chosen_`` (plain floats and strings).

Inputs are genotypes in their own coding (0/1 for inbred lines, 0/1/2 dosages), missing calls
already imputed; each estimator centres on its training rows itself. Optional ``covariates``
(the encoded fixed effects of :mod:`hpsearch.data.covariates`, fitted on the same training rows)
go to ``fit`` and ``predict`` as a keyword: GBLUP and RKHS fit them as the fixed effects of the
mixed model y = Xb + g + e (X = [1, covariates], b by GLS), ridge leaves them unpenalised, random
forest and logistic regression take them as extra feature columns. Without covariates (None, or
zero columns) every estimator runs exactly its intercept-only path. The facts behind the
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
#: Relative size below which a singular value of a fixed-effect design counts as zero.
RANK_TOLERANCE = 1e-8
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
    *,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Pooled held-out MSE of kernel ridge (intercept = training mean) for every λ.

    With a ``fixed`` design (n, p; intercept column included), the fixed effects are fitted
    by GLS inside each inner training part instead (the mixed-model form y = Xb + g + e);
    columns that part cannot identify (a level absent from it) are reduced by
    :func:`column_basis`. One eigendecomposition per inner fold serves the whole λ grid.
    """
    sse = np.zeros(lambdas.size)
    count = 0
    for train, valid in folds:
        values, vectors = np.linalg.eigh(kernel[np.ix_(train, train)])
        values = np.maximum(values, 0.0)
        cross = kernel[np.ix_(valid, train)] @ vectors
        if fixed is None:
            mu = float(y[train].mean())
            projected = vectors.T @ (y[train] - mu)
            coefs = projected[:, None] / (values[:, None] + lambdas[None, :])
            predictions = mu + cross @ coefs
        else:
            predictions = _gls_cv_predictions(
                values, vectors, cross, fixed[train], fixed[valid], y[train], lambdas
            )
        sse += ((predictions - y[valid][:, None]) ** 2).sum(axis=0)
        count += valid.size
    return sse / max(count, 1)


def _gls_cv_predictions(
    values: np.ndarray,
    vectors: np.ndarray,
    cross: np.ndarray,
    fixed_train: np.ndarray,
    fixed_valid: np.ndarray,
    y_train: np.ndarray,
    lambdas: np.ndarray,
) -> np.ndarray:
    """(n_valid, λ) predictions X_v b + K_vt α of one inner fold, b by GLS for every λ,
    from the fold's eigendecomposition K_tt = U diag(values) U' (``cross`` = K_vt U)."""
    basis = column_basis(fixed_train)
    f_train, f_valid = fixed_train @ basis, fixed_valid @ basis
    rotated_f = vectors.T @ f_train  # (n_t, r)
    rotated_y = vectors.T @ y_train
    weights = 1.0 / (values[:, None] + lambdas[None, :])  # (n_t, L): eigenvalues of H⁻¹
    a = np.einsum("ip,il,iq->lpq", rotated_f, weights, rotated_f)
    r = np.einsum("ip,il,i->lp", rotated_f, weights, rotated_y)
    gamma = np.linalg.solve(a, r[..., None])[..., 0]  # (L, r)
    coefs = weights * (rotated_y[:, None] - rotated_f @ gamma.T)  # U'H⁻¹(y - Fγ)
    return f_valid @ gamma.T + cross @ coefs


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


def _covariates(covariates: Any, n: int) -> np.ndarray | None:
    """Encoded covariates as a finite float64 (n, c) matrix; None when absent or c = 0."""
    if covariates is None:
        return None
    cov = np.asarray(covariates, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != n:
        raise ValueError(f"covariates must be a 2-D matrix with {n} rows, got shape {cov.shape}")
    if not np.isfinite(cov).all():
        raise ValueError("covariates have missing or infinite values; encode them first")
    return cov if cov.shape[1] else None


def column_basis(matrix: np.ndarray, *, tol: float = RANK_TOLERANCE) -> np.ndarray:
    """Right singular vectors (p, r) of the r non-zero singular values of ``matrix`` (n, p):
    ``matrix @ basis`` has full column rank r and spans the same columns."""
    _, values, vt = np.linalg.svd(matrix, full_matrices=False)
    if values.size == 0 or not values[0] > 0.0:
        return np.zeros((matrix.shape[1], 0))
    return vt[values > tol * values[0]].T


@dataclass(frozen=True)
class FixedEffects:
    """The fixed-effect design X = [1, covariates - training means] of one training part.

    Rank deficiency (the one-hot levels of a categorical covariate sum to the intercept; a
    constant or duplicated column) is resolved without dropping a level: models fit on
    ``fitting(c) = X V`` with V an orthonormal basis of X's row space (:func:`column_basis`),
    and ``coefficients(γ) = V γ`` maps their estimates back to the minimum-norm b on X's
    columns. Each categorical's level effects are then deviations that sum to zero, so a
    level unseen in training (one-hot all zeros) gets the average of the seen levels' effects
    rather than that of an arbitrary reference level; predictions X b on the training levels
    are those of any full-rank coding.
    """

    means: np.ndarray  # (c,) covariate means over the training rows
    basis: np.ndarray  # (1 + c, r) orthonormal; r = rank of X on the training rows

    @classmethod
    def fit(cls, covariates: np.ndarray) -> FixedEffects:
        """Learn the centring and the rank of X from the training rows' covariates."""
        means = covariates.mean(axis=0)
        design = np.column_stack([np.ones(covariates.shape[0]), covariates - means])
        return cls(means=means, basis=column_basis(design))

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])

    def design(self, covariates: np.ndarray) -> np.ndarray:
        """X = [1, covariates - training means] (n, 1 + c)."""
        return np.column_stack([np.ones(covariates.shape[0]), covariates - self.means])

    def fitting(self, covariates: np.ndarray) -> np.ndarray:
        """X V: the full-rank (n, r) columns the models are fitted on."""
        return self.design(covariates) @ self.basis

    def coefficients(self, gamma: np.ndarray) -> np.ndarray:
        """b = V γ on X's columns (intercept first), from the estimates γ on ``fitting``."""
        return self.basis @ gamma


def gls(h: np.ndarray, fixed: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generalised least squares with covariance ∝ H = K + λI: (γ, H⁻¹(y - Fγ)), where
    γ = (F'H⁻¹F)⁻¹F'H⁻¹y for a full-rank ``fixed`` design F (the BLUE of the mixed model)."""
    solved = _solve_psd(h, np.column_stack([fixed, y]))
    h_fixed, h_y = solved[:, :-1], solved[:, -1]
    gamma = np.linalg.solve(fixed.T @ h_fixed, fixed.T @ h_y)
    return gamma, h_y - h_fixed @ gamma


class _Fitted:
    """Shared bits: the ``chosen_`` record, the fitted check and the covariates' bookkeeping."""

    chosen_: dict[str, Any]
    n_covariates_: int = 0

    def _check_fitted(self) -> None:
        if not hasattr(self, "chosen_"):
            raise RuntimeError(f"{type(self).__name__}.fit must be called before predicting")

    def _fit_covariates(self, covariates: Any, n: int) -> np.ndarray | None:
        """Checked training covariates (None without any); remembers their width."""
        cov = _covariates(covariates, n)
        self.n_covariates_ = 0 if cov is None else int(cov.shape[1])
        return cov

    def _predict_covariates(self, covariates: Any, n: int) -> np.ndarray | None:
        """Checked covariates of new lines: as many columns as in ``fit``."""
        cov = _covariates(covariates, n)
        got = 0 if cov is None else int(cov.shape[1])
        if got != self.n_covariates_:
            raise ValueError(
                f"{type(self).__name__} was fitted with {self.n_covariates_} covariate "
                f"column(s), got {got} to predict with"
            )
        return cov

    def _fit_fixed(self, covariates: Any, n: int) -> np.ndarray | None:
        """The full-rank fixed-effect columns X V of the training rows (None: intercept only).

        Sets ``fixed_`` (the :class:`FixedEffects`, or None when the covariates add nothing
        to the intercept: today's path) and ``fixed_effects_`` (None until ``fit`` sets b).
        """
        cov = self._fit_covariates(covariates, n)
        self.fixed_: FixedEffects | None = None
        self.fixed_effects_: np.ndarray | None = None
        if cov is None:
            return None
        fixed = FixedEffects.fit(cov)
        if fixed.rank >= n - 1:
            raise DataError.at(
                _SOURCE,
                "covariates",
                f"span fewer fixed-effect columns than training lines - 1 ({n - 1})",
                f"<rank {fixed.rank}>",
            )
        if fixed.rank <= 1:  # nothing beyond the intercept (e.g. one level, constant columns)
            return None
        self.fixed_ = fixed
        return fixed.fitting(cov)

    def _fixed_part(self, covariates: Any, n: int) -> np.ndarray | None:
        """X_new b for new lines, or None when fitted on the intercept only."""
        cov = self._predict_covariates(covariates, n)
        if self.fixed_ is None or cov is None or self.fixed_effects_ is None:
            return None
        return self.fixed_.design(cov) @ self.fixed_effects_

    def _fixed_choices(self, chosen: dict[str, Any]) -> None:
        """Record how many covariate columns came in and how many fixed effects they gave."""
        if self.n_covariates_:
            chosen["covariate_columns"] = self.n_covariates_
            chosen["fixed_effects_rank"] = 1 if self.fixed_ is None else self.fixed_.rank


# -- ridge ---------------------------------------------------------------------------------


def ridge_with_fixed_effects(
    z: np.ndarray, y: np.ndarray, fixed: np.ndarray, alphas: np.ndarray
) -> tuple[float, np.ndarray]:
    """(α, β) of ridge on ``z`` with the columns of ``fixed`` unpenalised, α by exact LOO.

    See :class:`RidgeBaseline`: β is the ridge fit of Py on PZ, P the projection off
    ``fixed``; the leave-one-out residual of the joint fit is e_i / (1 - h_ii).
    """
    q, _ = np.linalg.qr(fixed)  # orthonormal basis of the fixed-effect columns
    z_res = z - q @ (q.T @ z)
    y_res = y - q @ (q.T @ y)
    u, values, vt = np.linalg.svd(z_res, full_matrices=False)
    keep = values > RANK_TOLERANCE * values[0]  # all False when every marker is constant
    u, values, vt = u[:, keep], values[keep], vt[keep]
    squares = values**2
    rotated = u.T @ y_res
    shrink = squares[:, None] / (squares[:, None] + alphas[None, :])  # (k, L)
    residuals = y_res[:, None] - u @ (shrink * rotated[:, None])  # (n, L)
    leverage = (q**2).sum(axis=1)[:, None] + (u**2) @ shrink
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = ((residuals / (1.0 - leverage)) ** 2).mean(axis=0)
    loo = np.where(np.isfinite(loo), loo, np.inf)
    best = int(np.argmin(loo))
    alpha = float(alphas[best])
    beta = vt.T @ (values / (squares + alpha) * rotated)
    return alpha, beta


class RidgeBaseline(_Fitted):
    """Ridge regression on the centred markers, penalty by generalised CV (RidgeCV).

    Ridge on 0/1 markers is GBLUP with a penalty chosen by prediction error rather than REML.
    Covariates are unpenalised fixed effects, fitted jointly with the markers by projecting
    them out (Frisch–Waugh–Lovell): with P = I - QQ' the projection off X = [1, covariates]
    on the training rows, the marker effects β are the ridge fit of Py on PZ (the exact
    minimiser of |y - Xb - Zβ|² + α|β|² over b and β), then b = least squares of y - Zβ on
    X; predictions are X_new b + Z_new β. α minimises the exact leave-one-out error of that
    joint fit, e_i / (1 - h_ii) with hat matrix QQ' + PZ(Z'PZ + αI)⁻¹Z'P (one SVD of PZ for
    the whole grid), the criterion RidgeCV applies to the intercept-only model.
    """

    def __init__(self, *, alphas: Sequence[float] | None = None):
        self.alphas = alphas

    def fit(self, x: Any, y: Any, *, covariates: Any = None) -> RidgeBaseline:
        from sklearn.linear_model import RidgeCV

        x = _matrix(x)
        y = _vector(y, x.shape[0])
        grid = _grid(self.alphas, RIDGE_ALPHAS, "alphas")
        fixed = self._fit_fixed(covariates, x.shape[0])
        self.means_ = x.mean(axis=0)
        z = x - self.means_
        if fixed is None or self.fixed_ is None:
            model = RidgeCV(alphas=grid, fit_intercept=True).fit(z, y)
            self.coef_ = np.asarray(model.coef_, dtype=np.float64)
            self.intercept_ = float(model.intercept_)
            alpha = float(model.alpha_)
        else:
            alpha, self.coef_ = ridge_with_fixed_effects(z, y, fixed, grid)
            gamma = np.linalg.lstsq(fixed, y - z @ self.coef_, rcond=None)[0]
            self.fixed_effects_ = self.fixed_.coefficients(gamma)
            self.intercept_ = float(self.fixed_effects_[0])
        self.chosen_ = {"alpha": alpha, "alpha_at_grid_edge": _at_edge(alpha, grid)}
        self._fixed_choices(self.chosen_)
        return self

    def predict(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        self._check_fitted()
        x = _matrix(x)
        fixed = self._fixed_part(covariates, x.shape[0])
        markers = (x - self.means_) @ self.coef_
        return markers + self.intercept_ if fixed is None else markers + fixed


class LogisticBaseline(_Fitted):
    """L2 logistic regression (multinomial for several classes), C by inner k-fold log-loss.

    Covariates are extra feature columns after the centred markers (penalised with them).
    """

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

    def fit(self, x: Any, y: Any, *, covariates: Any = None) -> LogisticBaseline:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        x = _matrix(x)
        labels = np.asarray(y).reshape(-1)
        _vector(labels, x.shape[0])
        cov = self._fit_covariates(covariates, x.shape[0])
        self.means_ = x.mean(axis=0)
        xc = x - self.means_ if cov is None else np.hstack([x - self.means_, cov])
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
        if self.n_covariates_:
            self.chosen_["covariate_columns"] = self.n_covariates_
        return self

    def predict_proba(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        self._check_fitted()
        x = _matrix(x)
        cov = self._predict_covariates(covariates, x.shape[0])
        xc = x - self.means_ if cov is None else np.hstack([x - self.means_, cov])
        return np.asarray(self.model_.predict_proba(xc))

    def predict(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x, covariates=covariates), axis=1)]


# -- GBLUP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemlFit:
    """REML estimates of y = Xb + g + e, g ~ N(0, σg² G), e ~ N(0, σe² I) (X = 1: y = 1μ + ...)."""

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
    kernel: np.ndarray, y: np.ndarray, *, fixed: np.ndarray | None = None
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """REML log-likelihood of δ and σg²(δ), from one eigendecomposition (EMMA, Kang 2008).

    ``fixed`` is the design X (n, p) of the fixed effects, intercept column included; None
    means the intercept only (S = I - 11'/n, the original computation). With S = I - X(X'X)⁻X'
    the projection that removes X (of rank r), the eigenvalues of S(G + I)S are 0 for the r
    directions of X and ξ_s + 1 for the n-r others; with η = U'y on those, the restricted
    log-likelihood (up to a constant in δ) is
    ½[(n-r) log((n-r)/2π) - (n-r) - (n-r) log Σ η²/(ξ+δ) - Σ log(ξ+δ)].
    """
    n = y.shape[0]
    if fixed is None:
        if n < 3:
            raise ValueError(f"REML needs at least 3 lines, got {n}")
        rank = 1
        centring = np.eye(n) - 1.0 / n
    else:
        fixed = np.asarray(fixed, dtype=np.float64).reshape(n, -1)
        q = fixed @ column_basis(fixed)
        q, _ = np.linalg.qr(q)  # orthonormal basis of X's columns (rank r)
        rank = q.shape[1]
        if rank == 0 or n - rank < 2:
            raise ValueError(
                f"REML needs at least 2 more lines ({n}) than fixed-effect columns ({rank})"
            )
        centring = np.eye(n) - q @ q.T
    shifted = centring @ (kernel + np.eye(n)) @ centring
    values, vectors = np.linalg.eigh((shifted + shifted.T) / 2.0)
    xi = np.maximum(values[rank:] - 1.0, 0.0)  # drop the r smallest (≈ 0: the fixed effects)
    eta2 = (vectors[:, rank:].T @ y) ** 2
    dof = n - rank
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
    kernel: np.ndarray,
    y: np.ndarray,
    *,
    fixed: np.ndarray | None = None,
    bounds: tuple[float, float] = REML_BOUNDS,
) -> RemlFit:
    """Maximise the REML likelihood over δ: a log grid, then Brent's method around the best.

    ``fixed``: the fixed-effect design X with its intercept column (None: intercept only).
    """
    from scipy.optimize import minimize_scalar

    loglik, sigma_g2 = reml_profile(kernel, np.asarray(y, dtype=np.float64), fixed=fixed)
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

    With covariates the model is y = Xb + g + e, X = [1, covariates] (see
    :class:`FixedEffects`): REML of δ on the projection that removes X, b by GLS
    (X'H⁻¹X)⁻¹X'H⁻¹y with H = G + δI, α = H⁻¹(y - Xb); predictions X_new b + Z_new β.
    ``fixed_effects_`` holds b (intercept first, then one value per covariate column).
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

    def fit(self, x: Any, y: Any, *, covariates: Any = None) -> GBLUPBaseline:
        x = _matrix(x)
        y = _vector(y, x.shape[0])
        coding = self._coding(x)
        fixed = self._fit_fixed(covariates, x.shape[0])
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
            fit = reml_variance_ratio(kernel, y, fixed=fixed)
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
            mse = kernel_cv_mse(kernel, y, grid, folds, fixed=fixed)
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
        if fixed is None or self.fixed_ is None:
            solved = _solve_psd(h, np.column_stack([np.ones_like(y), y]))
            mu = float(solved[:, 1].sum() / solved[:, 0].sum())  # GLS intercept
            alpha = solved[:, 1] - mu * solved[:, 0]  # (G + δI)⁻¹ (y - 1μ)
        else:
            gamma, alpha = gls(h, fixed, y)  # b = V γ; α = (G + δI)⁻¹ (y - Xb)
            self.fixed_effects_ = self.fixed_.coefficients(gamma)
            mu = float(self.fixed_effects_[0])
        self.mu_ = mu
        self.alpha_ = alpha
        self.beta_ = self.z_train_.T @ alpha / scale  # marker effects: Z β = G α
        chosen["variance_ratio"] = delta
        chosen["ridge_alpha"] = delta * scale
        self._fixed_choices(chosen)
        self.chosen_ = chosen
        return self

    def predict(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        self._check_fitted()
        x = _matrix(x)
        fixed = self._fixed_part(covariates, x.shape[0])
        genetic = (x - self.means_) @ self.beta_
        return self.mu_ + genetic if fixed is None else fixed + genetic


# -- RKHS ----------------------------------------------------------------------------------


class RKHSBaseline(_Fitted):
    """Kernel ridge with the Gaussian kernel exp(-h·D/median(D)), h and λ by inner k-fold CV.

    D is the squared Euclidean distance between lines; its median is taken over the pairs of
    training lines and kept for new lines. The intercept is the training mean. With covariates
    the model is the mixed-model form y = Xb + g + e with g ~ N(0, σg² K): inside every inner
    fold and in the final fit b is the GLS estimate for H = K + λI (see :class:`FixedEffects`
    for X), α = H⁻¹(y - Xb), and predictions are X_new b + K_new α.
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

    def fit(self, x: Any, y: Any, *, covariates: Any = None) -> RKHSBaseline:
        x = _matrix(x)
        y = _vector(y, x.shape[0])
        n = x.shape[0]
        fixed = self._fit_fixed(covariates, n)
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
            [
                kernel_cv_mse(np.exp(-h * distances / median), y, lambdas, folds, fixed=fixed)
                for h in hs
            ]
        )
        i, j = np.unravel_index(int(np.argmin(mse)), mse.shape)
        self.bandwidth_, self.lambda_ = float(hs[i]), float(lambdas[j])
        kernel = np.exp(-self.bandwidth_ * distances / median)
        if fixed is None or self.fixed_ is None:
            self.mu_ = float(y.mean())
            self.alpha_ = _solve_psd(kernel + self.lambda_ * np.eye(n), y - self.mu_)
        else:
            gamma, self.alpha_ = gls(kernel + self.lambda_ * np.eye(n), fixed, y)
            self.fixed_effects_ = self.fixed_.coefficients(gamma)
            self.mu_ = float(self.fixed_effects_[0])
        self.chosen_ = {
            "bandwidth": self.bandwidth_,
            "lambda": self.lambda_,
            "inner_mse": float(mse[i, j]),
            "median_distance": median,
            "bandwidth_at_grid_edge": _at_edge(self.bandwidth_, hs),
            "lambda_at_grid_edge": _at_edge(self.lambda_, lambdas),
        }
        self._fixed_choices(self.chosen_)
        return self

    def kernel(self, x: Any) -> np.ndarray:
        """K between the lines of ``x`` and the training lines."""
        self._check_fitted()
        d = squared_distances(_matrix(x) - self.means_, self.x_train_)
        return np.exp(-self.bandwidth_ * d / self.median_)

    def predict(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        kernel = self.kernel(x)
        fixed = self._fixed_part(covariates, kernel.shape[0])
        return self.mu_ + kernel @ self.alpha_ if fixed is None else fixed + kernel @ self.alpha_


# -- random forests ------------------------------------------------------------------------


class RandomForestBaseline(_Fitted):
    """Random forest regression: 500 trees, √m markers per split (nothing tuned).

    Covariates are extra feature columns after the markers.
    """

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

    def _features(self, x: Any, covariates: Any, *, fitting: bool = False) -> np.ndarray:
        x = _matrix(x)
        check = self._fit_covariates if fitting else self._predict_covariates
        cov = check(covariates, x.shape[0])
        return x if cov is None else np.hstack([x, cov])

    def fit(self, x: Any, y: Any, *, covariates: Any = None) -> RandomForestBaseline:
        x = self._features(x, covariates, fitting=True)
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
        if self.n_covariates_:
            self.chosen_["covariate_columns"] = self.n_covariates_
        if self.classifier:
            self.classes_ = self.model_.classes_
        return self

    def predict(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict(self._features(x, covariates)))


class RandomForestClassifierBaseline(RandomForestBaseline):
    """Random forest classification: 500 trees, √m markers per split (nothing tuned)."""

    classifier = True

    def predict_proba(self, x: Any, *, covariates: Any = None) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.model_.predict_proba(self._features(x, covariates)))


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

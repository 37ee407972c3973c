"""Preprocessing learnt from the training rows of a split, and only from them.

A :class:`Preprocessor` is fitted on one training part (imputation means, centring, scaling,
single-marker p-values for SNP preselection, target standardisation) and then applied to the
training and held-out parts. Fitting on anything else leaks: SNP preselection on all lines
"finds" r ≈ 0.2 on a permuted phenotype of the wheat data (tests/data/test_preprocess.py).

Genotypes may be float (NaN = missing call) or a signed integer code matrix, typically int8
(0/1/2 with a negative sentinel such as -127 or -1 for a missing call). Large matrices are
handled in column chunks in float64, never as one float64 copy; integer input is converted
chunk by chunk (smaller chunks, since the point of int8 is memory), and :meth:`transform`
turns only the selected columns of the requested rows into float32. ``rows=`` lets a caller
pass the whole (possibly shared, read-only) matrix plus row indices instead of a row copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hpsearch.errors import ConfigError

TASKS: tuple[str, ...] = ("regression", "binary", "multiclass")
#: Target float64 cells per column chunk (e.g. 4096 markers × 2000 lines).
_CELLS_PER_CHUNK = 8_000_000
#: The same for integer-coded input (8 MB of float64 per chunk).
_CODED_CELLS_PER_CHUNK = 1_000_000
_MAX_CHUNK_COLUMNS = 4096


def is_coded(dtype: np.dtype) -> bool:
    """True for integer genotype codes (signed: a negative value is a missing call)."""
    return np.issubdtype(dtype, np.integer)


def missing_mask(block: np.ndarray) -> np.ndarray:
    """Missing calls of a genotype block: NaN for floats, a negative code for signed integers."""
    block = np.asarray(block)
    if np.issubdtype(block.dtype, np.signedinteger):
        return block < 0
    if np.issubdtype(block.dtype, np.integer):
        return np.zeros(block.shape, dtype=bool)
    return np.isnan(block)


def count_missing(x: np.ndarray, *, cells_per_chunk: int = 16_000_000) -> int:
    """Missing calls in a whole genotype matrix, counted in row blocks (no full-size mask)."""
    n = int(x.shape[0])
    if n == 0 or x.ndim != 2:
        return int(missing_mask(x).sum())
    step = max(1, cells_per_chunk // max(1, int(x.shape[1])))
    return int(sum(int(missing_mask(x[a : a + step]).sum()) for a in range(0, n, step)))


def _check_rows(rows: np.ndarray | None, n: int, name: str) -> np.ndarray | None:
    if rows is None:
        return None
    rows = np.asarray(rows)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(
            f"{name} must be a 1-D array of row indices, got {rows.dtype} {rows.shape}"
        )
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise ValueError(f"{name} holds row indices outside 0..{n - 1}")
    return rows.astype(np.intp, copy=False)


def _n_rows(x: np.ndarray, rows: np.ndarray | None) -> int:
    return int(x.shape[0] if rows is None else rows.size)


def _float_block(x: np.ndarray, rows: np.ndarray | None, start: int, stop: int) -> np.ndarray:
    """Columns start..stop-1 (of ``rows`` only, when given) as float64 with NaN = missing."""
    part = x[:, start:stop] if rows is None else x[rows, start:stop]
    if is_coded(part.dtype):
        out = part.astype(np.float64)
        out[missing_mask(part)] = np.nan
        return out
    return np.asarray(part, dtype=np.float64)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    raise ConfigError.at(None, name, "be true or false", value)


def _as_top_k(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        raise ConfigError.at(None, "preselect_top_k", "be a number of markers (>= 0)", value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, int | np.integer) or value < 0:
        raise ConfigError.at(None, "preselect_top_k", "be a number of markers (>= 0)", value)
    return int(value) or None


def _as_pvalue(value: Any) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if not ok or not 0.0 < float(value) <= 1.0:
        raise ConfigError.at(None, "preselect_pvalue", "be a p-value in (0, 1]", value)
    return None if float(value) == 1.0 else float(value)


@dataclass(frozen=True)
class PreprocessOptions:
    """What to learn from the training rows; values are checked and normalised on creation."""

    scale_markers: bool = False  # centre always; divide by sd when True
    preselect_top_k: int | None = None  # keep the k markers with the smallest p-value; None/0 = all
    preselect_pvalue: float | None = None  # keep markers with p <= threshold; None/1.0 = off
    standardize_target: bool = True  # regression only

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale_markers", _as_bool(self.scale_markers, "scale_markers"))
        object.__setattr__(
            self, "standardize_target", _as_bool(self.standardize_target, "standardize_target")
        )
        object.__setattr__(self, "preselect_top_k", _as_top_k(self.preselect_top_k))
        object.__setattr__(self, "preselect_pvalue", _as_pvalue(self.preselect_pvalue))

    @property
    def preselects(self) -> bool:
        return self.preselect_top_k is not None or self.preselect_pvalue is not None

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], base: PreprocessOptions | None = None
    ) -> PreprocessOptions:
        """Options from a trial's params (keys: scale_markers, preselect_top_k, preselect_pvalue,
        standardize_target), falling back to `base` (the experiment's defaults)."""
        start = base if base is not None else cls()
        values = {f.name: params.get(f.name, getattr(start, f.name)) for f in fields(cls)}
        return cls(**values)


def _chunk_width(n_rows: int, dtype: np.dtype | None = None) -> int:
    cells = _CELLS_PER_CHUNK
    if dtype is not None and is_coded(dtype):
        cells = min(cells, _CODED_CELLS_PER_CHUNK)
    return max(1, min(_MAX_CHUNK_COLUMNS, cells // max(1, n_rows)))


def _column_stats(
    x: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: mean of the observed values, sd after mean imputation, monomorphic flag.

    A column that is constant (or entirely missing) gets its constant as mean (so training
    values centre to exactly 0) and sd 1. ``rows`` restricts everything to those rows.
    """
    n, m = _n_rows(x, rows), int(x.shape[1])
    means = np.zeros(m, dtype=np.float64)
    sds = np.ones(m, dtype=np.float64)
    mono = np.zeros(m, dtype=bool)
    width = _chunk_width(n, x.dtype)
    for start in range(0, m, width):
        block = _float_block(x, rows, start, start + width)
        observed = ~np.isnan(block)
        counts = observed.sum(axis=0)
        filled = np.where(observed, block, 0.0)
        mean = np.divide(filled.sum(axis=0), counts, out=np.zeros(block.shape[1]), where=counts > 0)
        low = np.where(observed, block, np.inf).min(axis=0)
        high = np.where(observed, block, -np.inf).max(axis=0)
        constant = (counts == 0) | (low == high)
        mean = np.where(constant & (counts > 0), low, mean)
        centred = np.where(observed, block - mean, 0.0)
        sd = np.sqrt((centred**2).sum(axis=0) / max(n, 1))
        sd = np.where(constant | (sd <= 0), 1.0, sd)
        means[start : start + width] = mean
        sds[start : start + width] = sd
        mono[start : start + width] = constant
    return means, sds, mono


def marker_pvalues(
    x: np.ndarray,
    y: np.ndarray,
    task: str,
    *,
    means: np.ndarray | None = None,
    monomorphic: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Single-marker test p-value per column of ``x`` (missing calls imputed with the mean).

    Regression and binary: the slope t-test of ``y ~ 1 + x_j`` (= Pearson r with n-2 df).
    Multiclass: the one-way ANOVA F-test of ``x_j`` across classes (as sklearn's f_classif).
    Monomorphic markers get p = 1. ``x`` may be float (NaN) or integer codes (negative =
    missing), read in column chunks; with ``rows``, only those rows of ``x`` are used and
    ``y`` holds their values in that order.
    """
    from scipy import stats

    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    rows = _check_rows(rows, int(x.shape[0]), "rows")
    n, m = _n_rows(x, rows), int(x.shape[1])
    if means is None or monomorphic is None:
        means, _, monomorphic = _column_stats(x, rows)
    pvalues = np.ones(m, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if task == "multiclass":
        codes = np.unique(y, return_inverse=True)[1].reshape(-1)
        k = int(codes.max()) + 1 if n else 0
        df1, df2 = k - 1, n - k
        if df1 < 1 or df2 < 1:
            return pvalues
        onehot = np.zeros((n, k))
        onehot[np.arange(n), codes] = 1.0
        sizes = onehot.sum(axis=0)
    else:
        df = n - 2
        if df < 1:
            return pvalues
        yc = y - y.mean()
        syy = float(yc @ yc)
        if syy == 0.0:
            return pvalues
    width = _chunk_width(n, x.dtype)
    for start in range(0, m, width):
        stop = min(m, start + width)
        block = _float_block(x, rows, start, stop)
        centred = np.nan_to_num(block - means[start:stop], nan=0.0)
        sxx = (centred**2).sum(axis=0)
        live = ~monomorphic[start:stop] & (sxx > 0)
        if task == "multiclass":
            group = onehot.T @ centred
            between = (group**2 / sizes[:, None]).sum(axis=0)
            within = np.maximum(sxx - between, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = (between / df1) / (within / df2)
            f = np.where(within > 0, f, np.inf)
            p = stats.f.sf(f, df1, df2)
        else:
            r = (yc @ centred) / np.sqrt(np.where(live, sxx, 1.0) * syy)
            r = np.clip(r, -1.0, 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = r * np.sqrt(df / np.maximum(1.0 - r**2, 0.0))
            p = 2.0 * stats.t.sf(np.abs(t), df)
        pvalues[start:stop] = np.where(live, p, 1.0)
    return pvalues


def _select(
    pvalues: np.ndarray, top_k: int | None, threshold: float | None
) -> tuple[np.ndarray, str | None]:
    """Sorted column indices kept by the threshold then top-k (ties by column index)."""
    order = np.lexsort((np.arange(pvalues.size), pvalues))  # by p, then by index
    warning = None
    if threshold is not None:
        order = order[pvalues[order] <= threshold]
        if order.size == 0:
            best = int(np.lexsort((np.arange(pvalues.size), pvalues))[0])
            warning = (
                f"no marker has p <= {threshold:g} (smallest p = {pvalues[best]:.3g}); "
                f"kept the single best marker (column {best})"
            )
            order = np.array([best])
    if top_k is not None:
        order = order[:top_k]
    return np.sort(order).astype(np.int64), warning


class Preprocessor:
    """Imputation, centring, optional scaling and SNP preselection fitted on training rows."""

    def __init__(self, options: PreprocessOptions, task: str):
        if task not in TASKS:
            raise ConfigError.at(None, "task", f"be one of {', '.join(TASKS)}", task)
        self.options = options
        self.task = task
        self.selected_: np.ndarray | None = None
        self.pvalues_: np.ndarray | None = None
        self.means_: np.ndarray | None = None
        self.scales_: np.ndarray | None = None
        self.target_mean_: float = 0.0
        self.target_scale_: float = 1.0
        self.n_markers_: int | None = None
        self.warning: str | None = None
        self._shift: np.ndarray | None = None
        self._scale: np.ndarray | None = None

    @property
    def n_features_out(self) -> int:
        """Columns that :meth:`transform` returns (the model's input width)."""
        return int(self._fitted_selection().size)

    def fit(
        self, x_train: np.ndarray, y_train: np.ndarray, *, rows: np.ndarray | None = None
    ) -> Preprocessor:
        """Learn everything from these rows only; returns self.

        ``x_train`` is float (NaN = missing) or integer codes (negative = missing). With
        ``rows``, ``x_train`` is the whole matrix (e.g. a shared read-only copy), only those
        rows are read (chunk by chunk, no row copy) and ``y_train`` holds their targets.
        """
        x = x_train if isinstance(x_train, np.ndarray) else np.asarray(x_train)
        y = np.asarray(y_train)
        if x.ndim != 2:
            raise ValueError(f"x_train must be 2-D (lines × markers), got shape {x.shape}")
        rows = _check_rows(rows, int(x.shape[0]), "rows")
        n = _n_rows(x, rows)
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"y_train must be 1-D with {n} values, got shape {y.shape}")
        if n == 0 or x.shape[1] == 0:
            raise ValueError(f"x_train must have rows and columns, got shape {(n, x.shape[1])}")
        y_float = y.astype(np.float64)
        if np.isnan(y_float).any():
            raise ValueError("y_train has missing values; drop those lines before fitting")
        self.warning = None
        means, sds, mono = _column_stats(x, rows)
        self.n_markers_ = int(x.shape[1])
        self.means_, self.scales_ = means, (sds if self.options.scale_markers else None)
        if self.options.preselects:
            self.pvalues_ = marker_pvalues(
                x, y_float, self.task, means=means, monomorphic=mono, rows=rows
            )
            self.selected_, self.warning = _select(
                self.pvalues_, self.options.preselect_top_k, self.options.preselect_pvalue
            )
        else:
            self.pvalues_ = None
            self.selected_ = np.arange(x.shape[1], dtype=np.int64)
        self._shift = means[self.selected_].astype(np.float32)
        self._scale = sds[self.selected_].astype(np.float32) if self.scales_ is not None else None
        if self.task == "regression" and self.options.standardize_target:
            self.target_mean_ = float(y_float.mean())
            sd = float(y_float.std())
            self.target_scale_ = sd if sd > 0 else 1.0
        else:
            self.target_mean_, self.target_scale_ = 0.0, 1.0
        return self

    def _fitted_selection(self) -> np.ndarray:
        if self.selected_ is None or self._shift is None:
            raise RuntimeError("Preprocessor.fit must be called before transform")
        return self.selected_

    def transform(self, x: np.ndarray, *, rows: np.ndarray | None = None) -> np.ndarray:
        """float32 (n, n_selected): selected columns, missing → training mean, centred, scaled.

        Integer-coded input is converted in row blocks, selected columns only; ``rows``
        picks the rows to transform from a whole matrix (no row copy of unselected columns).
        """
        selected = self._fitted_selection()
        x = x if isinstance(x, np.ndarray) else np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_markers_:
            raise ValueError(f"x must have {self.n_markers_} marker columns, got shape {x.shape}")
        rows = _check_rows(rows, int(x.shape[0]), "rows")
        everything = selected.size == x.shape[1]
        if is_coded(x.dtype):
            out = self._transform_coded(x, rows, selected, everything)
        else:
            if rows is None:
                picked = x if everything else x[:, selected]
            else:
                picked = x[rows] if everything else x[np.ix_(rows, selected)]
            # A fresh float32 array: the caller's matrix is never modified.
            out = np.array(picked, dtype=np.float32, copy=picked is x or None)
            out -= self._shift
            np.nan_to_num(out, copy=False, nan=0.0)
        if self._scale is not None:
            out /= self._scale
        return out

    def _transform_coded(
        self, x: np.ndarray, rows: np.ndarray | None, selected: np.ndarray, everything: bool
    ) -> np.ndarray:
        """Integer codes → centred float32, row block by row block (missing → 0 = the mean)."""
        assert self._shift is not None
        n = _n_rows(x, rows)
        out = np.empty((n, selected.size), dtype=np.float32)
        step = max(
            1, _CODED_CELLS_PER_CHUNK // max(1, int(x.shape[1] if everything else selected.size))
        )
        for start in range(0, n, step):
            stop = min(n, start + step)
            if rows is None:
                part = x[start:stop] if everything else x[start:stop, selected]
            else:
                chunk = rows[start:stop]
                part = x[chunk] if everything else x[np.ix_(chunk, selected)]
            block = out[start:stop]
            np.copyto(block, part, casting="unsafe")
            block -= self._shift
            block[missing_mask(part)] = 0.0
        return out

    def transform_target(self, y: np.ndarray) -> np.ndarray:
        """Regression: (y - mean) / sd of the training y (float64); class codes unchanged."""
        self._fitted_selection()
        if self.task != "regression":
            return np.asarray(y)
        return (np.asarray(y, dtype=np.float64) - self.target_mean_) / self.target_scale_

    def inverse_target(self, y_scaled: np.ndarray) -> np.ndarray:
        """Back to the trait's scale (regression); anything else is returned as given."""
        self._fitted_selection()
        if self.task != "regression":
            return np.asarray(y_scaled)
        return np.asarray(y_scaled, dtype=np.float64) * self.target_scale_ + self.target_mean_

"""Fixed-effect covariates (sex, environment, trial, ...) from the phenotype table.

A covariate is **numeric** (standardised with the training part's mean and sd; a missing
value becomes 0, the training mean) or **categorical** (one-hot over the levels seen in the
training part; an unseen or missing level is all zeros). Everything learnt — levels, means,
sds — comes from the training rows of a split only, like marker preprocessing, so the
encoder is fitted per split: :class:`CovariateEncoder`. ``GenomicData.covariates`` holds the
raw values (object array, lines × covariates) aligned with the genotype rows.

How models use the encoded (lines × features) float32 matrix: networks take it as a second
Keras input joined to the last hidden layer, right before the output (see
:func:`with_covariates`); ridge, GBLUP and RKHS fit it as unpenalised fixed effects (GLS in the
mixed model); random forests and logistic regressions get it as extra feature columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.errors import ConfigError, DataError

KINDS: tuple[str, ...] = ("auto", "numeric", "categorical")


@dataclass(frozen=True)
class CovariateSpec:
    """One covariate asked for in the config: a phenotype-table column and how to read it."""

    name: str
    kind: str = "auto"


def parse_covariates(value: Any, *, source: str | None = None) -> list[CovariateSpec]:
    """``data.covariates`` as specs: a list of column names (kinds detected), a mapping
    ``{name: numeric|categorical|auto}``, or a list mixing names and one-entry mappings."""
    field_name = "data.covariates"
    if value is None:
        return []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for entry in value:
            if isinstance(entry, Mapping) and len(entry) == 1:
                items.extend(entry.items())
            else:
                items.append((entry, "auto"))
    else:
        raise ConfigError.at(
            source, field_name, "be a list of phenotype columns or {column: kind}", value
        )
    specs: list[CovariateSpec] = []
    for name, kind in items:
        if not isinstance(name, str | int) or isinstance(name, bool) or not str(name).strip():
            raise ConfigError.at(source, field_name, "name phenotype columns", name)
        kind = "auto" if kind is None else kind
        if kind not in KINDS:
            raise ConfigError.at(
                source, f"{field_name}.{name}", f"be one of {', '.join(KINDS)}", kind
            )
        if any(spec.name == str(name) for spec in specs):
            raise ConfigError.at(source, field_name, "name each column once", str(name))
        specs.append(CovariateSpec(str(name).strip(), kind))
    return specs


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _label(value: Any) -> str:
    """A categorical level as text (1.0 → "1", so numeric codes read as labels)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def covariate_columns(
    frame: Any, specs: Sequence[CovariateSpec], *, rows: np.ndarray, source: str, trait: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Raw covariates of ``rows`` of a phenotype frame: (object array, names, kinds).

    Numeric columns hold floats (NaN = missing); categorical ones hold text labels (None =
    missing). ``auto`` is numeric when every present value is a number, else categorical.
    """
    columns = [str(c) for c in frame.columns]
    values = np.empty((rows.size, len(specs)), dtype=object)
    names: list[str] = []
    kinds: list[str] = []
    for j, spec in enumerate(specs):
        if spec.name not in columns:
            listing = ", ".join(repr(c) for c in columns[:20])
            raise DataError.at(
                source, "covariates", f"name columns of the phenotype table ({listing})", spec.name
            )
        if spec.name == trait:
            raise DataError.at(
                source, "covariates", f"not include the trait being predicted ({trait!r})", trait
            )
        raw = frame.iloc[:, columns.index(spec.name)].to_numpy()[rows]
        numeric = raw.dtype != object
        if spec.kind == "numeric" and not numeric:
            word = next(v for v in raw if _present(v) and not _is_number(v))
            raise DataError.at(
                source,
                f"covariate {spec.name!r}",
                "hold numbers (kind: numeric)",
                word,
                "declare it categorical",
            )
        kind = spec.kind if spec.kind != "auto" else ("numeric" if numeric else "categorical")
        if kind == "numeric":
            column = np.asarray(raw, dtype=np.float64)
            if not np.isfinite(column[~np.isnan(column)]).all():
                raise DataError.at(source, f"covariate {spec.name!r}", "be finite", "<inf>")
            values[:, j] = column
        else:
            values[:, j] = [_label(v) if _present(v) else None for v in raw.tolist()]
        names.append(spec.name)
        kinds.append(kind)
    return values, names, kinds


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass
class CovariateEncoder:
    """One-hot / standardisation of covariates, learnt from training rows only."""

    names: list[str]
    kinds: list[str]
    levels_: list[list[str] | None] = field(default_factory=list)
    means_: list[float] = field(default_factory=list)
    sds_: list[float] = field(default_factory=list)
    feature_names_: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.kinds):
            raise ValueError("names and kinds must have the same length")
        for kind in self.kinds:
            if kind not in ("numeric", "categorical"):
                raise ValueError(f"covariate kind must be numeric or categorical, got {kind!r}")

    @property
    def n_features_out(self) -> int:
        return len(self.feature_names_)

    def fit(self, raw_train: np.ndarray) -> CovariateEncoder:
        """Learn levels (categorical) and mean/sd (numeric) from these rows; returns self."""
        raw_train = self._check(raw_train)
        self.levels_, self.means_, self.sds_, self.feature_names_ = [], [], [], []
        for j, (name, kind) in enumerate(zip(self.names, self.kinds, strict=True)):
            column = raw_train[:, j]
            if kind == "numeric":
                numbers = column.astype(np.float64)
                seen = numbers[~np.isnan(numbers)]
                mean = float(seen.mean()) if seen.size else 0.0
                sd = float(seen.std()) if seen.size else 0.0
                self.levels_.append(None)
                self.means_.append(mean)
                self.sds_.append(sd if sd > 0 else 1.0)
                self.feature_names_.append(name)
            else:
                levels = sorted({str(v) for v in column.tolist() if v is not None})
                self.levels_.append(levels)
                self.means_.append(0.0)
                self.sds_.append(1.0)
                self.feature_names_.extend(f"{name}={level}" for level in levels)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """float32 (rows × n_features_out): standardised numbers and training-level one-hots."""
        if len(self.levels_) != len(self.names):
            raise RuntimeError("CovariateEncoder.fit must be called before transform")
        raw = self._check(raw)
        out = np.zeros((raw.shape[0], self.n_features_out), dtype=np.float32)
        at = 0
        for j, kind in enumerate(self.kinds):
            column = raw[:, j]
            if kind == "numeric":
                numbers = column.astype(np.float64)
                scaled = (numbers - self.means_[j]) / self.sds_[j]
                out[:, at] = np.where(np.isnan(scaled), 0.0, scaled)
                at += 1
                continue
            levels = self.levels_[j] or []
            index = {level: k for k, level in enumerate(levels)}
            for i, value in enumerate(column.tolist()):
                k = index.get(str(value)) if value is not None else None
                if k is not None:
                    out[i, at + k] = 1.0
            at += len(levels)
        return out

    def _check(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=object)
        if raw.ndim != 2 or raw.shape[1] != len(self.names):
            raise ValueError(
                f"covariates must be (lines × {len(self.names)}), got shape {raw.shape}"
            )
        return raw


def encode_covariates(
    data: Any, train: np.ndarray, *parts: np.ndarray
) -> tuple[CovariateEncoder | None, list[np.ndarray | None]]:
    """Fit on ``data.covariates[train]`` and encode ``train`` and each of ``parts``.

    Returns (encoder, [train matrix, part matrices...]); (None, [None, ...]) when the data
    set has no covariates.
    """
    if getattr(data, "covariates", None) is None:
        return None, [None] * (1 + len(parts))
    encoder = CovariateEncoder(list(data.covariate_names), list(data.covariate_kinds))
    encoder.fit(data.covariates[np.asarray(train)])
    return encoder, [
        encoder.transform(data.covariates[np.asarray(rows)]) for rows in (train, *parts)
    ]


def with_covariates(
    model_input: np.ndarray, covariates: np.ndarray | None, *, mode: str = "inputs"
) -> Any:
    """Combine marker input with encoded covariates for a model.

    ``mode="inputs"``: ``[model_input, covariates]`` for a two-input Keras model (markers
    first; ``model_input`` may be (n, m) or (n, m, 1)); ``mode="concat"``: one (n, m + c)
    float32 matrix for linear baselines (covariates as extra fixed-effect columns). Without
    covariates the marker input is returned unchanged.
    """
    if mode not in ("inputs", "concat"):
        raise ValueError(f"mode must be 'inputs' or 'concat', got {mode!r}")
    if covariates is None or covariates.shape[1] == 0:
        return model_input
    if covariates.shape[0] != model_input.shape[0]:
        raise ValueError(
            f"covariates have {covariates.shape[0]} rows, the marker input {model_input.shape[0]}"
        )
    covariates = np.asarray(covariates, dtype=np.float32)
    if mode == "inputs":
        return [model_input, covariates]
    flat = np.asarray(model_input, dtype=np.float32).reshape(model_input.shape[0], -1)
    return np.concatenate([flat, covariates], axis=1)

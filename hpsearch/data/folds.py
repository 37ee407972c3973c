"""Outer and inner splits: k-fold ids, fold files (``wheat.sets``), and the plans a search runs on.

The rule this module enforces: inner splits are cut from an outer fold's training rows only,
so the outer test lines never reach preprocessing, early stopping or model selection.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.dataset import FoldPlan, GenomicData, Split
from hpsearch.data.readers import read_csv_args, sniff_table
from hpsearch.errors import ConfigError, DataError

OUTER_KEYS: dict[str, tuple[str, ...]] = {
    "fold_file": ("fold_file", "folds"),
    "kfold": ("kfold", "seed", "folds"),
    "holdout": ("holdout", "seed"),
}
INNER_KEYS: dict[str, tuple[str, ...]] = {
    "kfold": ("kfold", "seed"),
    "holdout": ("holdout", "seed"),
}
_CLASSIFICATION = ("binary", "multiclass")


def _check_int(value: Any, *, low: int, source: str | None, field: str, must: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError.at(source, field, must, value)
    return int(value)


def kfold_ids(
    n: int,
    k: int,
    seed: int,
    *,
    stratify: np.ndarray | None = None,
    source: str | None = None,
    field: str = "kfold",
) -> np.ndarray:
    """Fold id 1..k for each of ``n`` rows (shuffled KFold, StratifiedKFold when ``stratify``).

    With a class smaller than k, stratification is as even as it can be; when no class has k
    members it falls back to plain shuffled folds.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    k = _check_int(k, low=2, source=source, field=field, must="be an integer >= 2")
    if k > n:
        raise ConfigError.at(source, field, f"be at most the number of rows ({n})", k)
    seed = _check_int(seed, low=0, source=source, field="seed", must="be an integer >= 0")
    ids = np.zeros(n, dtype=np.int64)
    rows = np.zeros((n, 1))
    splits = None
    if stratify is not None:
        labels = np.asarray(stratify)
        if labels.shape[0] != n:
            raise ValueError(f"stratify has {labels.shape[0]} labels for {n} rows")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                splits = list(
                    StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, labels)
                )
        except ValueError:
            splits = None
    if splits is None:
        splits = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(rows))
    for fold, (_, test) in enumerate(splits, start=1):
        ids[test] = fold
    return ids


def _holdout(
    rows: np.ndarray,
    fraction: float,
    seed: int,
    labels: np.ndarray | None,
    *,
    source: str | None,
    field: str,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) sorted subsets of ``rows``; stratified when labels allow it."""
    from sklearn.model_selection import train_test_split

    n_out = round(fraction * rows.size)
    if n_out < 1 or n_out > rows.size - 1:
        raise ConfigError.at(
            source,
            field,
            f"leave at least one row on each side of {rows.size} rows",
            fraction,
        )
    train = held = None
    if labels is not None:
        try:
            train, held = train_test_split(
                rows, test_size=n_out, random_state=seed, shuffle=True, stratify=labels
            )
        except ValueError:  # a class too small to stratify: fall back to a plain shuffle
            train = held = None
    if train is None or held is None:
        train, held = train_test_split(rows, test_size=n_out, random_state=seed, shuffle=True)
    return np.sort(train), np.sort(held)


def _read_fold_table(path: str | Path) -> tuple[list[str] | None, np.ndarray, Any]:
    """(IDs or None, fold ids, layout) from a one- or two-column fold file."""
    import pandas as pd

    layout = sniff_table(path, missing=())
    if layout.n_fields > 2:
        raise DataError.at(
            layout.source,
            layout.row_label(0),
            "have one column (fold id) or two (line ID, fold id)",
            layout.n_fields,
        )
    frame = pd.read_csv(layout.source, **read_csv_args(layout), dtype=str)
    tokens = frame.iloc[:, -1].tolist()
    folds = np.zeros(len(tokens), dtype=np.int64)
    for row, token in enumerate(tokens):
        text = "" if not isinstance(token, str) else token.strip()
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if not np.isfinite(number) or not number.is_integer():
            raise DataError.at(layout.source, layout.row_label(row), "be an integer fold id", text)
        folds[row] = int(number)
    ids = None
    if layout.n_fields == 2:
        ids = [("" if not isinstance(v, str) else v.strip()) for v in frame.iloc[:, 0].tolist()]
    return ids, folds, layout


def read_fold_file(
    path: str | Path, *, n_rows: int | None = None, line_ids: list[str] | None = None
) -> np.ndarray:
    """Fold ids from a fold file, as int64.

    One column (like ``wheat.sets``): one id per genotype-file row, in that order; ``n_rows``
    (the genotype file's row count) is checked. Two columns ``ID fold``: matched to
    ``line_ids`` and returned in their order (every line must be listed).
    """
    ids, folds, layout = _read_fold_table(path)
    if ids is None:
        if n_rows is not None and folds.size != n_rows:
            raise DataError.at(
                layout.source,
                "rows",
                f"have one fold id per genotype row ({n_rows})",
                f"<{folds.size} lines>",
            )
        return folds
    if line_ids is None:
        raise DataError.at(
            layout.source,
            "columns",
            "have one column (fold ids in genotype-file order) when the lines have no IDs",
            "<two columns>",
        )
    position: dict[str, int] = {}
    for row, line in enumerate(ids):
        if line in position:
            raise DataError.at(
                layout.source,
                f"{layout.row_label(row)}, column 1",
                f"be a unique line ID (first at {layout.row_label(position[line])})",
                line,
            )
        position[line] = row
    absent = [line for line in line_ids if line not in position]
    if absent:
        raise DataError.at(
            layout.source,
            "line IDs",
            f"list every line of the data ({len(absent)} missing)",
            absent[0],
        )
    return np.asarray([folds[position[line]] for line in line_ids], dtype=np.int64)


def _check_keys(
    spec: Any, allowed: dict[str, tuple[str, ...]], field: str, source: str | None
) -> str:
    """The split method named in ``spec``; unknown or conflicting keys are ConfigErrors."""
    if not isinstance(spec, Mapping):
        raise ConfigError.at(source, field, f"be a mapping with one of {', '.join(allowed)}", spec)
    methods = [key for key in allowed if key in spec]
    if len(methods) != 1:
        raise ConfigError.at(
            source,
            field,
            f"name exactly one of {', '.join(allowed)}",
            sorted(str(key) for key in spec),
        )
    method = methods[0]
    for key in spec:
        if key not in allowed[method]:
            raise ConfigError.at(
                source,
                f"{field}.{key}",
                f"be one of {', '.join(allowed[method])} (with {method})",
                "<unknown key>",
            )
    return method


def _fraction(value: Any, *, source: str | None, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError.at(source, field, "be a fraction between 0 and 1 (exclusive)", value)
    return float(value)


def _wanted_folds(
    value: Any, present: Sequence[int], *, source: str | None, where: str
) -> list[int]:
    field = "evaluation.outer.folds"
    if value == "all" or value is None:
        return sorted(present)
    chosen = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(chosen, list | tuple)
        or not chosen
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in chosen)
    ):
        raise ConfigError.at(source, field, 'be "all" or a list of fold ids', value)
    absent = [int(v) for v in chosen if v not in set(present)]
    if absent:
        shown = ", ".join(str(f) for f in sorted(present)[:20])
        raise ConfigError.at(source, field, f"be fold ids present in {where} ({shown})", absent)
    return sorted({int(v) for v in chosen})


def _inner_splits(
    data: GenomicData,
    train: np.ndarray,
    inner: Mapping[str, Any],
    *,
    seed: int,
    source: str | None,
) -> tuple[Split, ...]:
    method = _check_keys(inner, INNER_KEYS, "evaluation.inner", source)
    inner_seed = _check_int(
        inner.get("seed", seed),
        low=0,
        source=source,
        field="evaluation.inner.seed",
        must="be an integer >= 0",
    )
    labels = data.target[train] if data.task in _CLASSIFICATION else None
    if method == "kfold":
        ids = kfold_ids(
            train.size,
            inner["kfold"],
            inner_seed,
            stratify=labels,
            source=source,
            field="evaluation.inner.kfold",
        )
        return tuple(
            Split(train=train[ids != f], valid=train[ids == f], name=f"inner{f}")
            for f in range(1, int(ids.max()) + 1)
        )
    fraction = _fraction(inner["holdout"], source=source, field="evaluation.inner.holdout")
    part, held = _holdout(
        train, fraction, inner_seed, labels, source=source, field="evaluation.inner.holdout"
    )
    return (Split(train=part, valid=held, name="inner1"),)


def _genotype_row_folds(data: GenomicData, path: Path) -> tuple[np.ndarray, list[int]]:
    """Fold id per row of ``data`` from a fold file (through ``data.file_rows``), and the ids
    the file uses."""
    ids, folds, layout = _read_fold_table(path)
    present = sorted(set(folds.tolist()))
    if ids is not None:
        return read_fold_file(path, line_ids=data.line_ids), present
    shown = layout.source
    n_rows = data.source.get("genotype_rows") if data.source else None
    if n_rows is None and data.file_rows is None:
        n_rows = data.n_lines
    if n_rows is not None and folds.size != n_rows:
        raise DataError.at(
            shown,
            "rows",
            f"have one fold id per genotype row ({n_rows})",
            f"<{folds.size} lines>",
        )
    rows = data.file_rows if data.file_rows is not None else np.arange(data.n_lines)
    if rows.size and int(rows.max()) >= folds.size:
        raise DataError.at(
            shown, "rows", f"have a fold id for genotype row {int(rows.max()) + 1}", folds.size
        )
    return folds[rows], present


def outer_plans(
    data: GenomicData,
    outer: Mapping[str, Any],
    inner: Mapping[str, Any],
    *,
    seed: int,
    base_dir: Path,
    source: str | None = None,
) -> list[FoldPlan]:
    """The fold plans of an experiment: outer splits and, inside each training part, inner ones.

    ``outer``: ``{fold_file: PATH, folds: [..] | "all"}`` (PATH relative to ``base_dir``),
    ``{kfold: K, seed?: S, folds: ...}`` or ``{holdout: F, seed?: S}``. ``inner``:
    ``{kfold: K, seed?: S}`` or ``{holdout: F, seed?: S}``. Class targets are stratified.
    """
    method = _check_keys(outer, OUTER_KEYS, "evaluation.outer", source)
    outer_seed = _check_int(
        outer.get("seed", seed),
        low=0,
        source=source,
        field="evaluation.outer.seed",
        must="be an integer >= 0",
    )
    labels = data.target if data.task in _CLASSIFICATION else None
    everyone = np.arange(data.n_lines, dtype=np.int64)
    outer_splits: list[Split] = []
    if method == "holdout":
        fraction = _fraction(outer["holdout"], source=source, field="evaluation.outer.holdout")
        train, test = _holdout(
            everyone, fraction, outer_seed, labels, source=source, field="evaluation.outer.holdout"
        )
        outer_splits.append(Split(train=train, valid=test, name="holdout"))
    else:
        if method == "fold_file":
            value = outer["fold_file"]
            if not isinstance(value, str | Path) or not str(value):
                raise ConfigError.at(source, "evaluation.outer.fold_file", "be a file path", value)
            path = Path(value)
            if not path.is_absolute():
                path = Path(base_dir) / path
            fold_of_row, present = _genotype_row_folds(data, path)
            where = str(path)
        else:
            fold_of_row = kfold_ids(
                data.n_lines,
                outer["kfold"],
                outer_seed,
                stratify=labels,
                source=source,
                field="evaluation.outer.kfold",
            )
            present = sorted(set(fold_of_row.tolist()))
            where = f"kfold: {outer['kfold']}"
        for fold in _wanted_folds(outer.get("folds", "all"), present, source=source, where=where):
            test = np.flatnonzero(fold_of_row == fold)
            train = np.flatnonzero(fold_of_row != fold)
            if test.size == 0 or train.size == 0:
                raise ConfigError.at(
                    source,
                    "evaluation.outer.folds",
                    "select folds with lines (with a phenotype) on both sides",
                    fold,
                    f"fold {fold} has {test.size} test and {train.size} training lines",
                )
            outer_splits.append(Split(train=train, valid=test, name=f"fold{fold}"))
    return [
        FoldPlan(
            outer=split,
            inner=_inner_splits(data, split.train, inner, seed=seed, source=source),
        )
        for split in outer_splits
    ]

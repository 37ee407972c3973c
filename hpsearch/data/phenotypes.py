"""Phenotype tables: reading, choosing one trait, deciding the task and encoding the target."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.readers import DEFAULT_MISSING, check_ids, read_csv_args, sniff_table
from hpsearch.errors import ConfigError, DataError

TASKS: tuple[str, ...] = ("regression", "binary", "multiclass")
#: Numeric traits with more distinct values than this (or any non-integer) are regression.
MAX_CLASS_LEVELS = 10


@dataclass
class PhenotypeTable:
    """One column per trait; the index holds line IDs (str) or is a RangeIndex without IDs.

    Numeric columns are float64 (NaN = missing); columns with words are object (None = missing).
    Without a header the columns are named "0", "1", ... by position.
    """

    frame: Any  # pandas.DataFrame (pandas is imported lazily)
    has_ids: bool
    source: str
    has_header: bool = True

    @property
    def traits(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


@dataclass
class TraitColumn:
    """One trait, aligned with the table's rows; ``kept`` marks rows that have a value."""

    values: np.ndarray
    name: str
    kept: np.ndarray
    n_dropped: int


def read_phenotypes(
    path: str | Path,
    *,
    sep: str | None = None,
    header: bool | None = None,
    id_column: bool | None = None,
    missing: Sequence[str] = DEFAULT_MISSING,
) -> PhenotypeTable:
    """Read a lines × traits table with the layout rules of the genotype reader.

    Columns whose values are all numbers (or missing) become float64; others keep their labels
    as strings. ``id_column=None`` makes the first column IDs when some row has a word there
    (a one-column file never has IDs).
    """
    import pandas as pd

    layout = sniff_table(path, sep=sep, header=header, id_column=id_column, missing=missing)
    source = layout.source
    try:
        frame = pd.read_csv(source, **read_csv_args(layout), dtype=str)
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError.at(source, "file", "be a readable table", f"<{err}>") from None
    if frame.shape != (layout.n_rows, layout.n_fields):
        raise DataError.at(
            source,
            "file",
            f"hold {layout.n_rows} rows of {layout.n_fields} values",
            f"<{frame.shape[0]} rows of {frame.shape[1]} values as read by pandas>",
        )
    columns = [_cells(frame.iloc[:, j]) for j in range(layout.n_fields)]
    has_ids = layout.id_column
    if has_ids is None:
        has_ids = any(
            value is not None and not _numeric_token(value) for value in columns[0].tolist()
        )
    names = (
        [str(n).strip() for n in layout.header]
        if layout.header is not None
        else [str(j) for j in range(layout.n_fields)]
    )
    offset = 1 if has_ids else 0
    if layout.header is None and has_ids:
        names = ["", *[str(j) for j in range(layout.n_fields - 1)]]
    trait_names = names[offset:]
    if not trait_names:
        raise DataError.at(source, "columns", "hold at least one trait after the line IDs", 0)
    for position, name in enumerate(trait_names):
        if trait_names.index(name) != position:
            raise DataError.at(
                source,
                f"row {layout.header_line} (header), column {position + 1 + offset}",
                "be a unique trait name",
                name,
            )
    data = {name: _as_trait(col) for name, col in zip(trait_names, columns[offset:], strict=True)}
    if has_ids:
        ids = check_ids(layout, columns[0].tolist(), auto=id_column is None)
        index = pd.Index(ids, dtype=object, name=names[0] or "line")
    else:
        index = pd.RangeIndex(layout.n_rows)
    # Explicit dtypes: pandas 3 would turn label columns into its string dtype (NaN, not None).
    table = pd.DataFrame(
        {name: pd.Series(col, index=index, dtype=col.dtype) for name, col in data.items()},
        index=index,
    )
    return PhenotypeTable(
        frame=table, has_ids=has_ids, source=source, has_header=layout.header is not None
    )


def _cells(column: Any) -> Any:
    """A column as Python strings with None for missing cells."""
    return column.astype(object).where(column.notna(), None)


def _numeric_token(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _as_trait(column: Any) -> np.ndarray:
    """float64 when every present value is a number, else object labels (None = missing)."""
    raw = column.tolist()
    present = [v.strip() for v in raw if v is not None]
    if all(_numeric_token(v) for v in present):
        return np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)
    return np.array([None if v is None else v.strip() for v in raw], dtype=object)


def _is_missing(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array(
            [v is None or (isinstance(v, float) and np.isnan(v)) for v in values], dtype=bool
        )
    return np.isnan(values.astype(np.float64, copy=False))


def select_trait(
    table: PhenotypeTable, trait: int | str, *, source: str | None = None
) -> TraitColumn:
    """Pick one trait by 0-based position (int, or digits when no name matches) or by name.

    Wrong names/positions and all-missing traits are :class:`DataError` listing the traits.
    """
    where = source or table.source
    columns = table.traits
    listing = ", ".join(repr(c) for c in columns[:20]) + (" ..." if len(columns) > 20 else "")
    position: int | None = None
    if isinstance(trait, bool) or not isinstance(trait, int | str | np.integer):
        raise DataError.at(where, "trait", "be a trait name or a 0-based column position", trait)
    if isinstance(trait, int | np.integer):
        position = int(trait)
        if not 0 <= position < len(columns):
            raise DataError.at(
                where,
                "trait",
                f"be a column position 0..{len(columns) - 1} (traits: {listing})",
                position,
            )
    elif trait in columns:
        position = columns.index(trait)
    elif trait.strip().isdigit() and int(trait) < len(columns):
        position = int(trait)
    else:
        close = difflib.get_close_matches(trait, columns, n=1)
        hint = f"did you mean {close[0]!r}?" if close else None
        raise DataError.at(where, "trait", f"be one of the traits {listing}", trait, hint)
    name = columns[position]
    values = table.frame.iloc[:, position].to_numpy()
    kept = ~_is_missing(values)
    if not kept.any():
        raise DataError.at(
            table.source, f"trait {name!r}", "have at least one value", "<all values missing>"
        )
    return TraitColumn(values=values, name=name, kept=kept, n_dropped=int((~kept).sum()))


def _numeric_values(values: np.ndarray) -> np.ndarray | None:
    """float64 copy when every value is a number, else None."""
    if values.dtype != object:
        return values.astype(np.float64)
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None


def detect_task(values: np.ndarray) -> str:
    """Regression for numbers with > 10 distinct values or any fraction; binary for exactly
    two distinct values; multiclass otherwise (labels, or a few integer levels)."""
    values = np.asarray(values)
    present = values[~_is_missing(values)]
    numbers = _numeric_values(present)
    distinct = len(set(present.tolist())) if numbers is None else len(np.unique(numbers))
    if distinct == 2:
        return "binary"
    if numbers is None:
        return "multiclass"
    if distinct > MAX_CLASS_LEVELS or not np.all(np.equal(np.mod(numbers, 1), 0)) or distinct < 2:
        return "regression"
    return "multiclass"


def _plain(label: Any) -> Any:
    """A JSON-friendly class label (numpy scalars → Python; 1.0 → 1)."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        return int(label)
    return label


def encode_target(
    values: np.ndarray, task: str, *, source: str | None, field: str
) -> tuple[np.ndarray, list[Any] | None]:
    """Target for training: float64 for regression, int64 codes 0..k-1 for classes.

    Returns ``(target, classes)``; ``classes`` lists the original labels in code order (sorted)
    and is None for regression. Missing values must have been dropped before.
    """
    if task not in TASKS:
        raise ConfigError.at(source, "task", f"be one of {', '.join(TASKS)}", task)
    values = np.asarray(values)
    if _is_missing(values).any():
        raise DataError.at(source, field, "have no missing values here", "<missing values>")
    if values.size == 0:
        raise DataError.at(source, field, "have at least one value", 0)
    numbers = _numeric_values(values)
    if task == "regression":
        if numbers is None:
            word = next(v for v in values if not _numeric_token(str(v)))
            raise DataError.at(
                source,
                field,
                "be numeric for task regression",
                word,
                "set task: binary or multiclass for labels",
            )
        if not np.all(np.isfinite(numbers)):
            raise DataError.at(source, field, "be finite numbers", "<inf>")
        if np.ptp(numbers) == 0:
            raise DataError.at(
                source,
                field,
                "vary (a constant trait cannot be predicted)",
                f"<all values = {_plain(numbers[0])}>",
            )
        return numbers, None
    labels = numbers if numbers is not None else np.array([str(v) for v in values], dtype=object)
    classes, codes = np.unique(labels, return_inverse=True)
    plain = [_plain(c) for c in classes]
    if task == "binary" and len(classes) != 2:
        if len(classes) < 2:
            raise DataError.at(
                source,
                field,
                "have two classes for task binary",
                f"<only {plain[0]!r}>",
            )
        raise DataError.at(
            source,
            field,
            "have exactly two classes for task binary",
            f"<{len(classes)} classes>",
            "set task: multiclass",
        )
    if task == "multiclass" and len(classes) < 2:
        raise DataError.at(
            source, field, "have at least two classes for task multiclass", f"<only {plain[0]!r}>"
        )
    return codes.astype(np.int64).reshape(-1), plain

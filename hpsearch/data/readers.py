"""Genotype matrices from delimited text files, and the table sniffing the other readers share.

Text matrices (BGLR / DLpipeline ``wheat.X`` style, CSV exports, R ``write.table`` output) are
read with pandas' C parser for speed. Everything pandas would report in an unreadable way
(ragged rows, stray words, odd codes) is checked here first or located afterwards, so the user
gets one line naming the file, the row and the column.

Row numbers in messages are 1-based line numbers of the file (what an editor shows); column
numbers are 1-based field positions in that line (an ID column counts as column 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.errors import ConfigError, DataError

#: Tokens read as a missing value unless the caller passes its own list.
DEFAULT_MISSING: tuple[str, ...] = ("NA", "nan", "NaN", ".", "-9")
#: Genotype codings: "auto" and "012" accept {0, 1, 2}; "-101" accepts {-1, 0, 1} and adds 1;
#: "continuous" accepts any finite number (e.g. imputed dosages).
CODINGS: tuple[str, ...] = ("auto", "012", "-101", "continuous")
_ALLOWED_CODES = {"auto": (0.0, 1.0, 2.0), "012": (0.0, 1.0, 2.0), "-101": (-1.0, 0.0, 1.0)}
_PEEK_ROWS = 20
_CELLS_PER_CHUNK = 2_000_000
#: The int8 code of a missing call (bed-reader's convention, used for every int8 reader).
INT8_MISSING = -127
#: In-memory types of a text matrix: float32 (NaN = missing) or int8 (INT8_MISSING).
DTYPES: tuple[str, ...] = ("float32", "int8")
#: Bump when the layout of cached .npy files changes (old caches are then ignored).
_CACHE_VERSION = 1


@dataclass
class GenotypeMatrix:
    """Lines × markers with the IDs the file carried.

    ``values`` is float32 with NaN for a missing call (``missing_code`` None), or int8 dosages
    with ``missing_code`` (:data:`INT8_MISSING`) — possibly a read-only memory map. PLINK and
    VCF readers also fill the marker map (``chromosomes`` as strings, ``positions``) and
    ``info`` (counted allele, skipped sites, cache file).
    """

    values: np.ndarray
    line_ids: list[str] | None
    marker_ids: list[str] | None
    source: str
    missing_code: int | None = None
    chromosomes: np.ndarray | None = None
    positions: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_lines(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_markers(self) -> int:
        return int(self.values.shape[1])


@dataclass
class TextLayout:
    """How a delimited text table is laid out, as found by :func:`sniff_table`."""

    source: str
    #: The field separator; None means runs of whitespace (spaces and tabs).
    sep: str | None
    #: Header names, one per column (the ID column's may be ""); None when there is no header.
    header: list[str] | None
    #: 1-based line number of the header row (0 when there is none).
    header_line: int
    #: True/False when known; None when the first column looked numeric in the peeked rows and
    #: the reader must look at every row to decide.
    id_column: bool | None
    #: Number of fields in every data row.
    n_fields: int
    #: 1-based file line number of each data row.
    row_lines: np.ndarray
    #: The first few data rows, split into fields.
    peek: list[list[str]]
    #: Tokens that mean "missing" (the caller's list plus the empty field).
    missing: frozenset[str]

    @property
    def n_rows(self) -> int:
        return len(self.row_lines)

    @property
    def pandas_sep(self) -> str:
        return r"\s+" if self.sep is None else self.sep

    def row_label(self, row: int) -> str:
        """``row N`` for the 0-based data row ``row`` (N is the line number in the file)."""
        return f"row {int(self.row_lines[row])}"


def _normalise_sep(sep: str | None, source: str) -> str | None:
    if sep is None or sep in (" ", r"\s+", "whitespace"):
        return None
    if not isinstance(sep, str) or len(sep) != 1 or sep in '\r\n"':
        raise ConfigError.at(
            source, "sep", "be one character (e.g. ',' or '\\t') or omitted for whitespace", sep
        )
    return sep


def _normalise_missing(missing: Sequence[str] | str, source: str) -> frozenset[str]:
    if isinstance(missing, str):
        missing = (missing,)
    try:
        codes = frozenset(str(code) for code in missing)
    except TypeError:
        raise ConfigError.at(
            source, "missing", "be a list of missing-value codes", missing
        ) from None
    return codes | {""}


def split_fields(line: str, sep: str | None) -> list[str]:
    """Split one text line into fields the way pandas will (whitespace runs or a CSV dialect)."""
    if sep is None:
        return line.split()
    return [field.strip() for field in next(csv.reader([line], delimiter=sep))]


def _is_number(token: str, missing: frozenset[str]) -> bool:
    if token in missing:
        return True
    try:
        float(token)
    except ValueError:
        return False
    return "_" not in token  # Python accepts 1_000, the C parser does not


def _count_fields(raw: bytes, sep: bytes | None) -> int:
    """Fields in one (non-blank) line, at C speed for the common layouts."""
    if sep is None:
        text = raw.strip()
        if b"\t" in text or b"  " in text:
            return len(text.split())
        return text.count(b" ") + 1
    text = raw.rstrip(b"\r\n")
    if b'"' in text:
        return len(next(csv.reader([text.decode("utf-8", "replace")], delimiter=sep.decode())))
    return text.count(sep) + 1


def _scan(path: Path, sep: str | None, source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Line numbers and field counts of the non-blank lines, plus the first few lines as text."""
    numbers: list[int] = []
    counts: list[int] = []
    head: list[str] = []
    sep_b = sep.encode() if sep is not None else None
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                numbers.append(number)
                counts.append(_count_fields(raw, sep_b))
                if len(head) <= _PEEK_ROWS:
                    head.append(raw.decode("utf-8").rstrip("\r\n"))
    except UnicodeDecodeError:
        raise DataError.at(source, "file", "be a UTF-8 text table", "<undecodable bytes>") from None
    except OSError as err:
        raise DataError.at(source, "file", "be readable", f"<{err.strerror or err}>") from None
    return np.asarray(numbers, dtype=np.int64), np.asarray(counts, dtype=np.int64), head


def _check_file(path: str | Path) -> tuple[Path, str]:
    source = str(path)
    file = Path(path)
    if not file.exists():
        raise DataError.at(source, "file", "exist", "<no such file>", "check the path")
    if not file.is_file():
        raise DataError.at(source, "file", "be a regular file", "<a directory or device>")
    return file, source


def _looks_like_header(first: list[str], later: list[list[str]], missing: frozenset[str]) -> bool:
    """A header has words where data has numbers, and those words do not recur below.

    Fields after the first are judged (the first may be an ID column); most of them (at least
    half) must be non-numeric. Words that recur in the same column of the following rows are
    labels in data (e.g. a categorical trait), not names.
    """
    candidates = list(range(1, len(first))) if len(first) > 1 else [0]
    words = [j for j in candidates if not _is_number(first[j], missing)]
    if not words or 2 * len(words) < len(candidates):
        return False
    recurring = [j for j in words if any(len(row) > j and row[j] == first[j] for row in later)]
    return len(recurring) < len(words)


def sniff_table(
    path: str | Path,
    *,
    sep: str | None = None,
    header: bool | None = None,
    id_column: bool | None = None,
    missing: Sequence[str] | str = DEFAULT_MISSING,
) -> TextLayout:
    """Find the separator, header and ID column of a text table and check every row's width.

    ``sep=None`` means whitespace unless the first line has a comma. ``header=None`` decides
    from the first row (see :func:`_looks_like_header`); a header one field shorter than the
    data rows (R's ``write.table``) implies an ID column. ``id_column=None`` is settled here
    when a peeked row starts with a non-number; otherwise the layout leaves it open (None).
    """
    file, source = _check_file(path)
    missing_set = _normalise_missing(missing, source)
    sep_given = _normalise_sep(sep, source)
    if header is not None and not isinstance(header, bool | np.bool_):
        raise ConfigError.at(source, "header", "be true, false or omitted (auto)", header)
    if id_column is not None and not isinstance(id_column, bool | np.bool_):
        raise ConfigError.at(source, "id_column", "be true, false or omitted (auto)", id_column)

    # The first line decides the separator; the scan then counts fields with it.
    first_text = _first_line(file, source)
    if first_text is None:
        raise DataError.at(source, "file", "contain a table", "<an empty file>")
    chosen_sep = sep_given
    if sep is None and "," in first_text:
        chosen_sep = ","
    numbers, counts, head = _scan(file, chosen_sep, source)
    rows = [split_fields(line, chosen_sep) for line in head]

    if header is None:
        is_header = len(rows) > 1 and (
            _looks_like_header(rows[0], rows[1:], missing_set)
            or (
                len(rows[0]) == len(rows[1]) - 1
                and not all(_is_number(f, missing_set) for f in rows[0])
            )
        )
    else:
        is_header = bool(header)

    names: list[str] | None = None
    header_line = 0
    data_numbers, data_counts = numbers, counts
    if is_header:
        names = rows[0]
        header_line = int(numbers[0])
        data_numbers, data_counts = numbers[1:], counts[1:]
        rows = rows[1:]
    if data_numbers.size == 0:
        raise DataError.at(
            source, "rows", "hold at least one data row", "<only a header>" if is_header else 0
        )
    n_fields = int(data_counts[0])
    ragged = np.flatnonzero(data_counts != n_fields)
    if ragged.size:
        bad = int(ragged[0])
        raise DataError.at(
            source,
            f"row {int(data_numbers[bad])}",
            f"have {n_fields} values like row {int(data_numbers[0])}",
            int(data_counts[bad]),
        )

    ids: bool | None = None if id_column is None else bool(id_column)
    if names is not None:
        if len(names) == n_fields - 1:  # R write.table: no name above the row names
            if ids is False:
                raise DataError.at(
                    source,
                    f"row {header_line} (header)",
                    f"have {n_fields} names like the data rows when id_column is false",
                    len(names),
                )
            ids = True
            names = ["", *names]
        elif len(names) != n_fields:
            raise DataError.at(
                source,
                f"row {header_line} (header)",
                f"have {n_fields} names like the data rows",
                len(names),
            )
    if ids is None:
        if n_fields == 1:
            ids = False
        elif names is not None and not names[0].strip():
            ids = True  # an unnamed first column (pandas/R index) holds the row names
        elif any(not _is_number(row[0], missing_set) for row in rows if row):
            ids = True
    return TextLayout(
        source=source,
        sep=chosen_sep,
        header=names,
        header_line=header_line,
        id_column=ids,
        n_fields=n_fields,
        row_lines=data_numbers,
        peek=rows[:_PEEK_ROWS],
        missing=missing_set,
    )


def _first_line(file: Path, source: str) -> str | None:
    try:
        with open(file, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if raw.strip():
                    return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise DataError.at(source, "file", "be a UTF-8 text table", "<undecodable bytes>") from None
    except OSError as err:
        raise DataError.at(source, "file", "be readable", f"<{err.strerror or err}>") from None
    return None


def read_csv_args(layout: TextLayout) -> dict:
    """Keyword arguments for ``pd.read_csv`` that read the data rows of ``layout``."""
    return {
        "sep": layout.pandas_sep,
        "header": None,
        "skiprows": layout.header_line,
        "na_values": sorted(layout.missing),
        "keep_default_na": False,
        "engine": "c",
        "skip_blank_lines": True,
        "encoding": "utf-8-sig",
    }


def iter_data_rows(layout: TextLayout, start: int, stop: int) -> Iterable[tuple[int, list[str]]]:
    """(line number, fields) of data rows ``start``..``stop-1`` (0-based), read from the file."""
    wanted = layout.row_lines[start:stop]
    if wanted.size == 0:
        return
    first, last = int(wanted[0]), int(wanted[-1])
    wanted_set = set(wanted.tolist())
    with open(layout.source, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if number > last:
                break
            if number >= first and number in wanted_set:
                yield number, split_fields(line.rstrip("\r\n"), layout.sep)


def _first_bad_token(
    layout: TextLayout, start: int, stop: int, first_field: int
) -> tuple[int, int, str] | None:
    """(line, 1-based column, token) of the first non-number in rows start..stop-1."""
    for number, fields in iter_data_rows(layout, start, stop):
        bad = {t for t in set(fields[first_field:]) if not _is_number(t, layout.missing)}
        if bad:
            column = next(j for j in range(first_field, len(fields)) if fields[j] in bad)
            return number, column + 1, fields[column]
    return None


def _locate_bad_token(layout: TextLayout, first_field: int) -> tuple[int, int, str] | None:
    """Find the first non-numeric genotype: pandas finds the chunk, Python scans only that."""
    import pandas as pd

    rows_per_chunk = max(1, _CELLS_PER_CHUNK // max(1, layout.n_fields))
    dtype: dict = defaultdict(lambda: np.float32)
    if first_field:
        dtype[0] = str
    chunk = 0
    with pd.read_csv(
        layout.source, **read_csv_args(layout), dtype=dtype, chunksize=rows_per_chunk
    ) as reader:
        while True:
            try:
                next(reader)
            except StopIteration:
                return None
            except ValueError:
                start = chunk * rows_per_chunk
                return _first_bad_token(layout, start, start + rows_per_chunk, first_field)
            chunk += 1


def _missing_list(layout: TextLayout) -> str:
    return ", ".join(sorted(code for code in layout.missing if code))


def _bad_value(layout: TextLayout, err: Exception, bad: tuple[int, int, str] | None) -> DataError:
    """The one-line error for a cell pandas could not read as a number."""
    if bad is None:
        return DataError.at(layout.source, "values", "be numbers or missing codes", f"<{err}>")
    number, column, token = bad
    return DataError.at(
        layout.source,
        f"row {number}, column {column}",
        f"be a number or a missing code ({_missing_list(layout)})",
        token,
        "declare other missing codes with `missing:`" if len(token) <= 3 else None,
    )


def _read_numeric(layout: TextLayout) -> tuple[np.ndarray, list | None, bool]:
    """The numeric block (float32) and the raw ID column; returns whether IDs were found."""
    import pandas as pd

    ids = layout.id_column
    attempts = [ids] if ids is not None else [False, True]
    for attempt in attempts:
        dtype: dict = defaultdict(lambda: np.float32)
        if attempt:
            dtype[0] = str
        try:
            frame = pd.read_csv(layout.source, **read_csv_args(layout), dtype=dtype)
        except pd.errors.ParserError as err:  # widths were checked, so this is rare
            raise DataError.at(layout.source, "file", "be a readable table", f"<{err}>") from None
        except ValueError as err:
            bad = _locate_bad_token(layout, 1 if attempt else 0)
            if bad is not None and bad[1] == 1 and not attempt and ids is None:
                continue  # the first column holds words somewhere: it is the ID column
            raise _bad_value(layout, err, bad) from None
        if frame.shape[0] != layout.n_rows or frame.shape[1] != layout.n_fields:
            raise DataError.at(
                layout.source,
                "file",
                f"hold {layout.n_rows} rows of {layout.n_fields} values",
                f"<{frame.shape[0]} rows of {frame.shape[1]} values as read by pandas>",
                "check for quotes or comment characters",
            )
        if attempt:
            raw_ids = frame.iloc[:, 0].tolist()
            values = frame.iloc[:, 1:].to_numpy(dtype=np.float32)
            return values, raw_ids, True
        return frame.to_numpy(dtype=np.float32), None, False
    raise AssertionError("unreachable")  # pragma: no cover


def check_ids(layout: TextLayout, raw_ids: list, *, auto: bool) -> list[str]:
    """Line IDs as stripped strings; missing or duplicated IDs are errors naming the row."""
    ids: list[str] = []
    seen: dict[str, int] = {}
    for row, value in enumerate(raw_ids):
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        text = text.strip()
        if not text:
            raise DataError.at(
                layout.source, f"{layout.row_label(row)}, column 1", "be a line ID", "<missing>"
            )
        if text in seen:
            hint = "column 1 was read as line IDs; set id_column: false if it holds data"
            hint = hint if auto else None
            raise DataError.at(
                layout.source,
                f"{layout.row_label(row)}, column 1",
                f"be a unique line ID (first seen at {layout.row_label(seen[text])})",
                text,
                hint,
            )
        seen[text] = row
        ids.append(text)
    return ids


def _outside(block: np.ndarray, allowed: tuple[float, ...]) -> np.ndarray:
    """Mask of cells that are neither missing nor one of the allowed codes."""
    return ~(np.isnan(block) | np.isin(block, allowed))


def _check_coding(
    layout: TextLayout, values: np.ndarray, coding: str, offset: int, row_offset: int = 0
) -> None:
    """Reject codes outside the declared coding, naming the first offending cell.

    ``row_offset`` is the data row of ``values[0]`` (when checking one chunk of the file).
    """
    rows_per_block = max(1, _CELLS_PER_CHUNK // max(1, values.shape[1]))
    allowed = _ALLOWED_CODES.get(coding)
    for start in range(0, values.shape[0], rows_per_block):
        block = values[start : start + rows_per_block]
        bad = np.isinf(block) if allowed is None else _outside(block, allowed)
        if not bad.any():
            continue
        i, j = (int(v) for v in np.argwhere(bad)[0])
        value = float(block[i, j])
        shown = int(value) if value.is_integer() else value
        column = j + 1 + offset
        if allowed is None:
            must, hint = "be a finite number (coding: continuous)", None
        else:
            codes = ", ".join(f"{c:g}" for c in allowed)
            must = f"be one of {codes} or a missing code (coding: {coding})"
            hint = (
                "use coding: -101 for -1/0/1 markers or coding: continuous for imputed dosages"
                if coding in ("auto", "012")
                else "use coding: continuous for other values"
            )
            if column == 1:
                hint += "; set id_column: true if column 1 holds line IDs"
        raise DataError.at(
            layout.source,
            f"{layout.row_label(row_offset + start + i)}, column {column}",
            must,
            shown,
            hint,
        )


def _marker_names(layout: TextLayout, offset: int) -> list[str] | None:
    """Header names of the marker columns (unique), or None without a header."""
    if layout.header is None:
        return None
    names = [name.strip() for name in layout.header[offset:]]
    seen: set[str] = set()
    for column, name in enumerate(names, start=1 + offset):
        if name in seen:
            raise DataError.at(
                layout.source,
                f"row {layout.header_line} (header), column {column}",
                "be a unique marker name",
                name,
            )
        seen.add(name)
    return names


def _check_text_options(source: str, coding: str, dtype: str) -> None:
    if coding not in CODINGS:
        raise ConfigError.at(source, "coding", f"be one of {', '.join(CODINGS)}", coding)
    if dtype not in DTYPES:
        raise ConfigError.at(source, "dtype", f"be one of {', '.join(DTYPES)}", dtype)
    if dtype == "int8" and coding == "continuous":
        raise ConfigError.at(
            source,
            "dtype",
            "be float32 for coding: continuous (int8 holds only 0/1/2 codes)",
            dtype,
        )


def read_genotypes(
    path: str | Path,
    *,
    sep: str | None = None,
    header: bool | None = None,
    id_column: bool | None = None,
    missing: Sequence[str] = DEFAULT_MISSING,
    coding: str = "auto",
    dtype: str = "float32",
) -> GenotypeMatrix:
    """Read a lines × markers text matrix.

    Layout is detected as in :func:`sniff_table`. ``coding`` says what the numbers mean:
    "auto"/"012" allow {0, 1, 2}, "-101" allows {-1, 0, 1} (shifted to 0/1/2), "continuous"
    allows any finite number. Rows may be entirely missing (imputed later); an empty matrix,
    ragged rows, words, out-of-range codes and duplicated line IDs are :class:`DataError`.

    ``dtype="float32"`` returns float32 with NaN for missing calls; ``dtype="int8"`` reads
    the file in row chunks straight into int8 dosages (missing = :data:`INT8_MISSING`), so
    the peak is the int8 matrix plus one chunk, never a float copy of the whole matrix.
    """
    source = str(path)
    _check_text_options(source, coding, dtype)
    layout = sniff_table(path, sep=sep, header=header, id_column=id_column, missing=missing)
    if dtype == "int8":
        return _read_coded(
            layout,
            coding=coding,
            auto_ids=id_column is None,
            allocate=lambda shape: np.empty(shape, dtype=np.int8),
        )
    values, raw_ids, has_ids = _read_numeric(layout)
    if values.shape[1] == 0:
        raise DataError.at(
            source, "columns", "hold at least one marker column after the line IDs", 0
        )
    line_ids = check_ids(layout, raw_ids, auto=id_column is None) if has_ids else None
    offset = 1 if has_ids else 0
    _check_coding(layout, values, coding, offset)
    if coding == "-101":
        values += np.float32(1.0)
    marker_ids = _marker_names(layout, offset)
    return GenotypeMatrix(values=values, line_ids=line_ids, marker_ids=marker_ids, source=source)


class _FirstColumnHoldsWords(Exception):
    """Raised inside the chunked reader: retry with the first column as line IDs."""


def _read_coded(
    layout: TextLayout,
    *,
    coding: str,
    auto_ids: bool,
    allocate: Callable[[tuple[int, int]], np.ndarray],
) -> GenotypeMatrix:
    """Chunked text → int8 reader; ``allocate(shape)`` gives the destination (array or memmap)."""
    attempts = [layout.id_column] if layout.id_column is not None else [False, True]
    for attempt in attempts:
        try:
            values, raw_ids = _fill_coded(
                layout, bool(attempt), coding, allocate, retry=auto_ids and len(attempts) > 1
            )
        except _FirstColumnHoldsWords:
            continue
        line_ids = check_ids(layout, raw_ids, auto=auto_ids) if attempt else None
        return GenotypeMatrix(
            values=values,
            line_ids=line_ids,
            marker_ids=_marker_names(layout, 1 if attempt else 0),
            source=layout.source,
            missing_code=INT8_MISSING,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _fill_coded(
    layout: TextLayout,
    ids: bool,
    coding: str,
    allocate: Callable[[tuple[int, int]], np.ndarray],
    *,
    retry: bool,
) -> tuple[np.ndarray, list]:
    import pandas as pd

    offset = 1 if ids else 0
    n_markers = layout.n_fields - offset
    if n_markers == 0:
        raise DataError.at(
            layout.source, "columns", "hold at least one marker column after the line IDs", 0
        )
    rows_per_chunk = max(1, _CELLS_PER_CHUNK // max(1, layout.n_fields))
    dtype: dict = defaultdict(lambda: np.float32)
    if ids:
        dtype[0] = str
    out: np.ndarray | None = None
    raw_ids: list = []
    start = 0
    with pd.read_csv(
        layout.source, **read_csv_args(layout), dtype=dtype, chunksize=rows_per_chunk
    ) as reader:
        while True:
            try:
                frame = next(reader)
            except StopIteration:
                break
            except pd.errors.ParserError as err:
                raise DataError.at(
                    layout.source, "file", "be a readable table", f"<{err}>"
                ) from None
            except ValueError as err:
                bad = _first_bad_token(layout, start, start + rows_per_chunk, offset)
                if bad is not None and bad[1] == 1 and not ids and retry:
                    raise _FirstColumnHoldsWords from None
                raise _bad_value(layout, err, bad) from None
            if frame.shape[1] != layout.n_fields or start + frame.shape[0] > layout.n_rows:
                break  # reported below
            if out is None:
                out = allocate((layout.n_rows, n_markers))
            if ids:
                raw_ids.extend(frame.iloc[:, 0].tolist())
            block = frame.iloc[:, offset:].to_numpy(dtype=np.float32)
            _check_coding(layout, block, coding, offset, row_offset=start)
            if coding == "-101":
                block += np.float32(1.0)
            missing = np.isnan(block)
            block[missing] = INT8_MISSING
            out[start : start + block.shape[0]] = block.astype(np.int8)
            start += block.shape[0]
    if out is None or start != layout.n_rows:
        raise DataError.at(
            layout.source,
            "file",
            f"hold {layout.n_rows} rows of {layout.n_fields} values",
            "<a different shape as read by pandas>",
            "check for quotes or comment characters",
        )
    return out, raw_ids


# --------------------------------------------------------------------------- int8 cache


def default_cache_dir() -> Path:
    """``$HPSEARCH_CACHE``, else ``$XDG_CACHE_HOME/hpsearch``, else ``~/.cache/hpsearch``."""
    if os.environ.get("HPSEARCH_CACHE"):
        return Path(os.environ["HPSEARCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "hpsearch"


def _cache_key(path: Path, options: dict[str, Any]) -> str:
    stat = path.stat()
    facts = {
        "version": _CACHE_VERSION,
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "options": {
            k: (sorted(v) if isinstance(v, list | tuple | set) else v)
            for k, v in sorted(options.items())
        },
    }
    text = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_genotypes_cached(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    sep: str | None = None,
    header: bool | None = None,
    id_column: bool | None = None,
    missing: Sequence[str] = DEFAULT_MISSING,
    coding: str = "auto",
) -> GenotypeMatrix:
    """A text matrix as a read-only int8 memory map, converted once and cached as ``.npy``.

    The cache file is named after the text file plus a key of its absolute path, size,
    modification time and reader options, so an edited file or other options make a new
    cache. Conversion streams the text in row chunks into the memory-mapped ``.npy``
    (written under a temporary name, renamed when complete), so neither the conversion nor
    later loads ever hold a float copy; later loads cost an ``np.load(mmap_mode="r")``.
    """
    source = str(path)
    file, _ = _check_file(path)
    _check_text_options(source, coding, "int8")
    options = {
        "sep": sep,
        "header": header,
        "id_column": id_column,
        "missing": [missing] if isinstance(missing, str) else list(missing),
        "coding": coding,
    }
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = f"{file.name}.{_cache_key(file, options)}"
    npy, meta = folder / f"{stem}.int8.npy", folder / f"{stem}.json"
    if npy.is_file() and meta.is_file():
        try:
            facts = json.loads(meta.read_text(encoding="utf-8"))
            values = np.load(npy, mmap_mode="r")
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
        else:
            if values.dtype == np.int8 and values.ndim == 2:
                return GenotypeMatrix(
                    values=values,
                    line_ids=facts.get("line_ids"),
                    marker_ids=facts.get("marker_ids"),
                    source=source,
                    missing_code=INT8_MISSING,
                    info={"cache": str(npy), "cache_hit": True},
                )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError.at(
            source, "cache", "name a writable folder", str(folder), err.strerror or str(err)
        ) from None
    layout = sniff_table(path, sep=sep, header=header, id_column=id_column, missing=missing)
    partial = npy.with_name(f"{npy.name}.{os.getpid()}.partial")

    def allocate(shape: tuple[int, int]) -> np.ndarray:
        return np.lib.format.open_memmap(partial, mode="w+", dtype=np.int8, shape=shape)

    try:
        geno = _read_coded(layout, coding=coding, auto_ids=id_column is None, allocate=allocate)
        if isinstance(geno.values, np.memmap):
            geno.values.flush()
        facts = {"source": source, "line_ids": geno.line_ids, "marker_ids": geno.marker_ids}
        meta_partial = meta.with_name(f"{meta.name}.{os.getpid()}.partial")
        meta_partial.write_text(json.dumps(facts), encoding="utf-8")
        os.replace(partial, npy)
        os.replace(meta_partial, meta)
    finally:
        if partial.exists():
            partial.unlink()
    return GenotypeMatrix(
        values=np.load(npy, mmap_mode="r"),
        line_ids=geno.line_ids,
        marker_ids=geno.marker_ids,
        source=source,
        missing_code=INT8_MISSING,
        info={"cache": str(npy), "cache_hit": False},
    )

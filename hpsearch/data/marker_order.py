"""The order of marker columns: file order, map order (chromosome, position) or shuffled.

Convolutions and LSTMs read neighbouring columns together, which means something only when
neighbours on the genome are neighbours in the matrix. ``map`` sorts markers by
(chromosome, position) from a marker map (PLINK ``.bim``, VCF CHROM/POS, or a map file
``marker chrom pos`` such as the simulator's ``{prefix}.map``); ``shuffled`` is the control
that destroys locality on purpose (a seeded permutation); ``file`` keeps the columns as read.
The permutation is computed once at load time and applied to the columns once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpsearch.errors import ConfigError, DataError

ORDERS: tuple[str, ...] = ("file", "map", "shuffled")
_CHROM_PREFIX = re.compile(r"^(chr(omosome)?)", re.IGNORECASE)


@dataclass
class MarkerMap:
    """Chromosome (as text) and position of each marker, in the order of ``marker_ids``."""

    marker_ids: list[str]
    chromosomes: np.ndarray  # object (str)
    positions: np.ndarray  # float64
    source: str


def chromosome_key(name: str) -> tuple[int, float, str]:
    """Sort key of a chromosome name: numbers numerically first, then names (X, Y, MT, 1A...).

    A ``chr`` / ``chromosome`` prefix is ignored, so ``chr2`` sorts with ``2`` before ``10``.
    Names with a leading number and a suffix (wheat ``1A``, ``1B``) sort by number, then text.
    """
    text = _CHROM_PREFIX.sub("", str(name).strip())
    match = re.match(r"^(\d+)(.*)$", text)
    if match:
        return (0, float(match.group(1)), match.group(2).upper())
    return (1, 0.0, text.upper())


def map_order(chromosomes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Column permutation sorting by (chromosome, position); ties keep file order."""
    chromosomes = np.asarray(chromosomes)
    positions = np.asarray(positions, dtype=np.float64)
    if chromosomes.shape != positions.shape or chromosomes.ndim != 1:
        raise ValueError("chromosomes and positions must be 1-D arrays of the same length")
    names = sorted({str(c) for c in chromosomes.tolist()}, key=chromosome_key)
    rank = {name: i for i, name in enumerate(names)}
    chrom_rank = np.fromiter((rank[str(c)] for c in chromosomes.tolist()), np.int64)
    return np.lexsort((np.arange(positions.size), positions, chrom_rank)).astype(np.int64)


def shuffled_order(n_markers: int, seed: int) -> np.ndarray:
    """A seeded random permutation of ``n_markers`` columns (the no-locality control)."""
    return np.random.default_rng(seed).permutation(int(n_markers)).astype(np.int64)


def is_identity(order: np.ndarray | None) -> bool:
    return order is None or bool(np.array_equal(order, np.arange(len(order))))


def read_map(path: str | Path) -> MarkerMap:
    """Read a marker map: ``marker chrom pos`` (header optional, whitespace or CSV), or a PLINK
    ``.map`` (``chrom marker cM bp``, 4 columns, no header: bp is used)."""
    import pandas as pd

    from hpsearch.data.readers import read_csv_args, sniff_table

    source = str(path)
    layout = sniff_table(path, header=None, id_column=False, missing=("NA", "."))
    try:
        frame = pd.read_csv(source, **read_csv_args(layout), dtype=str)
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError.at(source, "file", "be a readable table", f"<{err}>") from None
    if layout.n_fields == 4 and layout.header is None:
        ids, chrom, pos, column = frame.iloc[:, 1], frame.iloc[:, 0], frame.iloc[:, 3], 4
    elif layout.n_fields >= 3:
        ids, chrom, pos, column = frame.iloc[:, 0], frame.iloc[:, 1], frame.iloc[:, 2], 3
        if layout.header is not None:
            lowered = [name.strip().lower() for name in layout.header]
            picks = {}
            for key, names in (
                ("marker", ("marker", "snp", "id", "sid", "name", "marker_id")),
                ("chrom", ("chrom", "chr", "chromosome", "#chrom")),
                ("pos", ("pos", "position", "bp", "bp_position", "cm", "pos_cm")),
            ):
                found = next((lowered.index(n) for n in names if n in lowered), None)
                if found is not None:
                    picks[key] = found
            if len(picks) == 3:
                ids, chrom, pos = (frame.iloc[:, picks[k]] for k in ("marker", "chrom", "pos"))
                column = picks["pos"] + 1
    else:
        raise DataError.at(
            source,
            "columns",
            "be marker, chromosome and position (3 columns) or a PLINK .map (4 columns)",
            layout.n_fields,
        )
    numbers = pd.to_numeric(pos, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        row = int(bad[0])
        raise DataError.at(
            source,
            f"{layout.row_label(row)}, column {column}",
            "be a numeric position",
            pos.iloc[row],
        )
    marker_ids = [str(v).strip() for v in ids.tolist()]
    seen: dict[str, int] = {}
    for row, name in enumerate(marker_ids):
        if name in seen:
            raise DataError.at(
                source,
                layout.row_label(row),
                f"name each marker once (first at {layout.row_label(seen[name])})",
                name,
            )
        seen[name] = row
    return MarkerMap(
        marker_ids=marker_ids,
        chromosomes=np.asarray([str(c).strip() for c in chrom.tolist()], dtype=object),
        positions=numbers,
        source=source,
    )


def align_map(marker_map: MarkerMap, marker_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(chromosomes, positions) for ``marker_ids``; every marker must be on the map."""
    where = {name: i for i, name in enumerate(marker_map.marker_ids)}
    missing = [name for name in marker_ids if name not in where]
    if missing:
        raise DataError.at(
            marker_map.source,
            "markers",
            "list every genotype marker",
            f"<{len(missing)} of {len(marker_ids)} missing, e.g. {missing[0]!r}>",
            "marker names must match the genotype file's (m0, m1, ... when it has no header)",
        )
    index = np.fromiter((where[name] for name in marker_ids), np.int64, len(marker_ids))
    return marker_map.chromosomes[index], marker_map.positions[index]


def marker_order(
    kind: str,
    *,
    n_markers: int,
    chromosomes: np.ndarray | None = None,
    positions: np.ndarray | None = None,
    seed: int = 0,
    source: str | None = None,
) -> np.ndarray | None:
    """The column permutation for ``kind`` (None for ``file``: keep the columns as they are).

    ``map`` needs ``chromosomes`` and ``positions``; ``shuffled`` uses ``seed``.
    """
    if kind not in ORDERS:
        raise ConfigError.at(
            source, "preprocess.marker_order", f"be one of {', '.join(ORDERS)}", kind
        )
    if kind == "file":
        return None
    if kind == "shuffled":
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError.at(
                source, "preprocess.marker_order_seed", "be a non-negative integer", seed
            )
        return shuffled_order(n_markers, int(seed))
    if chromosomes is None or positions is None:
        raise ConfigError.at(
            source,
            "preprocess.marker_order",
            "have a marker map for 'map' (PLINK .bim, VCF, or data.map: file)",
            kind,
            "give data.map or use marker_order: file",
        )
    return map_order(chromosomes, positions)

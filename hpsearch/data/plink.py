"""PLINK 1 binary filesets (``.bed/.bim/.fam``) as int8 dosages, read with bed-reader.

Which allele is counted: bed-reader's default (``count_A1=True``), i.e. **allele 1 (A1)**, the
fifth column of the ``.bim`` (usually the minor allele as PLINK wrote it). A dosage is the
number of A1 copies (0/1/2); a missing call is -127. ``counted_allele="A2"`` counts the
other allele instead. Line IDs are the ``.fam`` IIDs (the FIDs are kept for phenotype files
keyed by FID+IID); marker IDs, chromosomes and base-pair positions come from the ``.bim``.

The ``.bed`` is never loaded whole as floats: :meth:`PlinkFileset.read` asks bed-reader for
exactly the rows and columns wanted (in the order wanted), straight into a C-ordered int8
array (lines × markers), so the peak is the int8 result itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.readers import INT8_MISSING, GenotypeMatrix
from hpsearch.errors import ConfigError, DataError

PLINK_SUFFIXES: tuple[str, ...] = (".bed", ".bim", ".fam")
ALLELES: tuple[str, ...] = ("A1", "A2")


def plink_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """The ``.bed``, ``.bim`` and ``.fam`` of a fileset given by any of them or by its prefix.

    Missing members are a :class:`DataError` naming the file that is missing.
    """
    given = Path(path)
    prefix = given.with_suffix("") if given.suffix.lower() in PLINK_SUFFIXES else given
    bed, bim, fam = (prefix.with_name(prefix.name + suffix) for suffix in PLINK_SUFFIXES)
    for member in (bed, bim, fam):
        if not member.is_file():
            raise DataError.at(
                str(path),
                "PLINK fileset",
                "have .bed, .bim and .fam files with the same prefix",
                f"<no {member.name}>",
                f"looked for {member}",
            )
    return bed, bim, fam


def is_plink(path: str | Path) -> bool:
    """True when ``path`` is a ``.bed/.bim/.fam`` file or a prefix with a ``.bed`` next to it."""
    given = Path(path)
    if given.suffix.lower() in PLINK_SUFFIXES:
        return True
    return not given.is_file() and given.with_name(given.name + ".bed").is_file()


@dataclass
class PlinkFileset:
    """An opened fileset: IDs and marker map are read, genotypes only on :meth:`read`."""

    bed: Path
    line_ids: list[str]
    family_ids: list[str]
    marker_ids: list[str]
    chromosomes: np.ndarray  # str, as in the .bim (e.g. "1", "X", "chr2")
    positions: np.ndarray  # int64 base pairs
    allele_1: np.ndarray
    allele_2: np.ndarray
    counted_allele: str = "A1"
    _bed: Any = field(default=None, repr=False)

    @property
    def n_lines(self) -> int:
        return len(self.line_ids)

    @property
    def n_markers(self) -> int:
        return len(self.marker_ids)

    def read(
        self,
        *,
        rows: np.ndarray | None = None,
        columns: np.ndarray | None = None,
        num_threads: int | None = None,
    ) -> np.ndarray:
        """int8 dosages (lines × markers, C order) of ``rows`` × ``columns`` (None = all).

        Indices may be in any order; the result follows it. Missing calls are -127.
        """
        index = (
            slice(None) if rows is None else np.asarray(rows, dtype=np.intp),
            slice(None) if columns is None else np.asarray(columns, dtype=np.intp),
        )
        try:
            return self._bed.read(index=index, dtype="int8", order="C", num_threads=num_threads)
        except Exception as err:  # bed-reader raises plain ValueError/OSError on bad files
            raise DataError.at(
                str(self.bed), "genotypes", "be a readable PLINK .bed file", f"<{err}>"
            ) from None


def _strings(values: Any) -> list[str]:
    return [str(v) for v in np.asarray(values).tolist()]


def _unique(ids: list[str], source: Path, what: str) -> None:
    seen: dict[str, int] = {}
    for row, value in enumerate(ids, start=1):
        if value in seen:
            raise DataError.at(
                str(source),
                f"row {row}",
                f"hold a unique {what} (first seen at row {seen[value]})",
                value,
            )
        seen[value] = row


def open_plink(path: str | Path, *, counted_allele: str = "A1") -> PlinkFileset:
    """Open a fileset (``prefix``, ``prefix.bed``, ``.bim`` or ``.fam``) and read its IDs/map."""
    if counted_allele not in ALLELES:
        raise ConfigError.at(str(path), "counted_allele", "be A1 or A2", counted_allele)
    from bed_reader import open_bed

    bed, bim, fam = plink_paths(path)
    try:
        handle = open_bed(bed, count_A1=counted_allele == "A1")
        iid, fid = _strings(handle.iid), _strings(handle.fid)
        sid = _strings(handle.sid)
        chromosomes = np.asarray(_strings(handle.chromosome), dtype=object)
        positions = np.asarray(handle.bp_position, dtype=np.int64)
        allele_1 = np.asarray(_strings(handle.allele_1), dtype=object)
        allele_2 = np.asarray(_strings(handle.allele_2), dtype=object)
    except DataError:
        raise
    except Exception as err:  # malformed .fam/.bim/.bed header
        raise DataError.at(
            str(bed), "PLINK fileset", "be a readable .bed/.bim/.fam fileset", f"<{err}>"
        ) from None
    if not iid:
        raise DataError.at(str(fam), "rows", "list at least one individual", 0)
    if not sid:
        raise DataError.at(str(bim), "rows", "list at least one variant", 0)
    _unique(iid, fam, "individual ID (IID)")
    return PlinkFileset(
        bed=bed,
        line_ids=iid,
        family_ids=fid,
        marker_ids=sid,
        chromosomes=chromosomes,
        positions=positions,
        allele_1=allele_1,
        allele_2=allele_2,
        counted_allele=counted_allele,
        _bed=handle,
    )


def read_plink(
    path: str | Path,
    *,
    rows: np.ndarray | None = None,
    columns: np.ndarray | None = None,
    counted_allele: str = "A1",
) -> GenotypeMatrix:
    """A fileset's dosages as int8 (missing = -127) with IIDs, SNP IDs and the ``.bim`` map.

    ``rows`` / ``columns`` read only those lines / markers (in that order).
    """
    fileset = open_plink(path, counted_allele=counted_allele)
    values = fileset.read(rows=rows, columns=columns)
    r = np.arange(fileset.n_lines) if rows is None else np.asarray(rows, dtype=np.intp)
    c = np.arange(fileset.n_markers) if columns is None else np.asarray(columns, dtype=np.intp)
    return GenotypeMatrix(
        values=values,
        line_ids=[fileset.line_ids[i] for i in r.tolist()],
        marker_ids=[fileset.marker_ids[j] for j in c.tolist()],
        source=str(fileset.bed),
        missing_code=INT8_MISSING,
        chromosomes=fileset.chromosomes[c],
        positions=fileset.positions[c],
        info=plink_info(fileset),
    )


def plink_info(fileset: PlinkFileset) -> dict[str, Any]:
    """What the load report says about a fileset (which allele a dosage counts)."""
    return {
        "format": "plink",
        "counted_allele": f"{fileset.counted_allele} (.bim column "
        f"{5 if fileset.counted_allele == 'A1' else 6})",
        "family_ids": len(set(fileset.family_ids)),
    }

"""VCF/BCF genotype calls (``GT``) as int8 ALT-allele dosages, read with cyvcf2.

cyvcf2's ``gt_types`` codes are easy to mis-read: by default 0 = HOM_REF, 1 = HET,
**2 = UNKNOWN, 3 = HOM_ALT**. The reader opens files with ``gts012=True`` (0 = HOM_REF,
1 = HET, 2 = HOM_ALT, 3 = UNKNOWN) and ``strict_gt=True`` (a half-missing call such as
``./1`` is missing rather than a het), so a dosage is the number of ALT copies and code 3
becomes -127. A haploid call (``0`` / ``1``, common for inbred lines) is HOM_REF / HOM_ALT,
i.e. dosage 0 / 2, the inbred-line coding. Multi-allelic sites (more than one ALT) are
skipped and counted; sites without an ALT (``.``) are kept (all 0: monomorphic).

Only the rows asked for are kept per variant, into int8 column blocks, so the peak is about
the int8 result (plus one block) however many samples the file has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.readers import INT8_MISSING, GenotypeMatrix
from hpsearch.errors import ConfigError, DataError

VCF_SUFFIXES: tuple[str, ...] = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")
_UNKNOWN = 3  # gt_types code of a missing call with gts012=True
_BLOCK_MARKERS = 4096


def is_vcf(path: str | Path) -> bool:
    """True for a ``.vcf``, ``.vcf.gz``, ``.vcf.bgz`` or ``.bcf`` file name."""
    name = str(path).lower()
    return any(name.endswith(suffix) for suffix in VCF_SUFFIXES)


def _cyvcf2() -> Any:
    try:
        import cyvcf2
    except ImportError:
        raise ConfigError.at(
            None,
            "data.genotypes",
            "be readable: VCF input needs the cyvcf2 package",
            "<cyvcf2 not installed>",
            "pip install cyvcf2",
        ) from None
    return cyvcf2


def _open(path: Path, source: str) -> Any:
    if not path.is_file():
        raise DataError.at(source, "file", "exist", "<no such file>", "check the path")
    cyvcf2 = _cyvcf2()
    try:
        return cyvcf2.VCF(str(path), gts012=True, strict_gt=True, lazy=True)
    except Exception as err:  # OSError / ValueError from htslib
        raise DataError.at(source, "file", "be a readable VCF/BCF file", f"<{err}>") from None


def vcf_samples(path: str | Path) -> list[str]:
    """The sample names of a VCF header (cheap: reads no records)."""
    source = str(path)
    handle = _open(Path(path), source)
    try:
        samples = [str(s) for s in handle.samples]
    finally:
        handle.close()
    _check_samples(samples, source)
    return samples


def _check_samples(samples: list[str], source: str) -> None:
    if not samples:
        raise DataError.at(source, "header", "name at least one sample", 0)
    seen: set[str] = set()
    for position, name in enumerate(samples, start=1):
        if name in seen:
            raise DataError.at(
                source, f"header, sample {position}", "be a unique sample name", name
            )
        seen.add(name)


def read_vcf(path: str | Path, *, rows: np.ndarray | None = None) -> GenotypeMatrix:
    """ALT dosages (samples × biallelic sites, int8, missing = -127) with the site map.

    ``rows`` keeps only those samples (header order positions, in the order given). Marker
    IDs are the ``ID`` column, or ``CHROM:POS`` where it is ``.``. ``info`` reports sites
    read, multi-allelic sites skipped and the counted allele (ALT).
    """
    source = str(path)
    handle = _open(Path(path), source)
    samples = [str(s) for s in handle.samples]
    _check_samples(samples, source)
    keep = None if rows is None else np.asarray(rows, dtype=np.intp)
    n = len(samples) if keep is None else int(keep.size)
    blocks: list[np.ndarray] = []
    block = np.empty((n, _BLOCK_MARKERS), dtype=np.int8)
    filled = 0
    marker_ids: list[str] = []
    chromosomes: list[str] = []
    positions: list[int] = []
    skipped = 0
    sites = 0
    try:
        for variant in handle:
            sites += 1
            if len(variant.ALT) > 1:
                skipped += 1
                continue
            codes = variant.gt_types
            if keep is not None:
                codes = codes[keep]
            column = codes.astype(np.int8)
            column[codes == _UNKNOWN] = INT8_MISSING
            block[:, filled] = column
            filled += 1
            if filled == _BLOCK_MARKERS:
                blocks.append(block)
                block = np.empty((n, _BLOCK_MARKERS), dtype=np.int8)
                filled = 0
            chromosomes.append(str(variant.CHROM))
            positions.append(int(variant.POS))
            marker_ids.append(variant.ID or f"{variant.CHROM}:{variant.POS}")
    except Exception as err:  # a malformed record
        raise DataError.at(
            source, f"record {sites}", "be a valid VCF record with GT calls", f"<{err}>"
        ) from None
    finally:
        handle.close()
    if filled:
        blocks.append(block[:, :filled])
    if not marker_ids:
        raise DataError.at(
            source,
            "records",
            "hold at least one biallelic site",
            f"<{sites} sites, {skipped} multi-allelic>",
        )
    values = blocks[0].copy() if len(blocks) == 1 else np.concatenate(blocks, axis=1)
    del blocks
    line_ids = samples if keep is None else [samples[i] for i in keep.tolist()]
    return GenotypeMatrix(
        values=np.ascontiguousarray(values),
        line_ids=line_ids,
        marker_ids=marker_ids,
        source=source,
        missing_code=INT8_MISSING,
        chromosomes=np.asarray(chromosomes, dtype=object),
        positions=np.asarray(positions, dtype=np.int64),
        info={
            "format": "vcf",
            "counted_allele": "ALT (dosage = ALT copies; haploid calls count 0 or 2)",
            "vcf_sites": sites,
            "multiallelic_skipped": skipped,
        },
    )

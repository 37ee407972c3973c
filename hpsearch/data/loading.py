"""One call from file paths to an aligned :class:`GenomicData` plus a report of what was kept.

Genotype formats: a text matrix (float32, or int8 with ``dtype: int8`` / ``cache: true``), a
PLINK ``.bed/.bim/.fam`` fileset and a VCF/BCF (both int8 dosages, missing = -127). The format
comes from the file name (``.bed``/``.bim``/``.fam`` or a prefix with a ``.bed`` next to it →
plink; ``.vcf``/``.vcf.gz``/``.bcf`` → vcf; else text) unless ``genotype_format`` says.

Only the matched lines and the ordered markers are ever materialised, once: PLINK reads
exactly those rows and columns; a text matrix or VCF is taken in row blocks; when every line
is kept in file order and the columns keep their order, a cached int8 matrix stays a
read-only memory map.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.covariates import covariate_columns, parse_covariates
from hpsearch.data.dataset import GenomicData
from hpsearch.data.marker_order import align_map, is_identity, marker_order, read_map
from hpsearch.data.phenotypes import (
    TASKS,
    PhenotypeTable,
    detect_task,
    encode_target,
    read_phenotypes,
    select_trait,
)
from hpsearch.data.plink import is_plink, open_plink, plink_info
from hpsearch.data.preprocess import count_missing
from hpsearch.data.readers import (
    DEFAULT_MISSING,
    INT8_MISSING,
    GenotypeMatrix,
    TextLayout,
    check_ids,
    read_csv_args,
    read_genotypes,
    read_genotypes_cached,
    sniff_table,
)
from hpsearch.data.vcf import is_vcf, read_vcf, vcf_samples
from hpsearch.errors import ConfigError, DataError

GENOTYPE_FORMATS: tuple[str, ...] = ("text", "plink", "vcf")
#: Reader options per genotype format (``data.genotype_options``).
FORMAT_OPTIONS: dict[str, tuple[str, ...]] = {
    "text": ("sep", "header", "id_column", "missing", "coding", "dtype", "cache"),
    "plink": ("counted_allele",),
    "vcf": (),
}
GENOTYPE_OPTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(key for keys in FORMAT_OPTIONS.values() for key in keys)
)
PHENOTYPE_OPTIONS: tuple[str, ...] = ("sep", "header", "id_column", "missing")
#: Header names (case-insensitive) of a line-ID column in a phenotype table.
IID_NAMES: frozenset[str] = frozenset({"iid", "#iid", "id", "line_id", "sample_id"})
#: Header names of a PLINK family-ID column (dropped when an IID column holds the IDs).
FID_NAMES: frozenset[str] = frozenset({"fid", "#fid"})
_EXAMPLES = 5
#: The load report's key holding every dropped line as [line ID, reason].
DROPPED_LINES_KEY = "dropped_lines"
DROP_NO_PHENOTYPE = "genotyped, no phenotype row"
DROP_NO_GENOTYPES = "phenotype row, no genotypes"
DROP_MISSING_TRAIT = "trait value missing"
_TAKE_CELLS = 16_000_000


def _options(
    given: Mapping[str, Any] | None, allowed: tuple[str, ...], field: str, source: str | None
) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigError.at(source, field, "be a mapping of reader options", given)
    for key in given:
        if key not in allowed:
            raise ConfigError.at(
                source, f"{field}.{key}", f"be one of {', '.join(allowed)}", "<unknown option>"
            )
    return dict(given)


def _align(
    genotype_ids: list[str] | None,
    n_genotype_rows: int,
    phenotype_ids: list[str] | None,
    n_phenotype_rows: int,
    *,
    genotypes: str,
    phenotypes: str,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices (genotype file, phenotype file) of matched lines, in genotype-file order."""
    if genotype_ids is not None and phenotype_ids is not None:
        position = {line: row for row, line in enumerate(phenotype_ids)}
        geno_rows = [row for row, line in enumerate(genotype_ids) if line in position]
        if not geno_rows:
            raise DataError.at(
                phenotypes,
                "line IDs",
                f"share line IDs with {genotypes}",
                f"<no common IDs; e.g. {genotype_ids[0]!r} there, {phenotype_ids[0]!r} here>",
            )
        pheno_rows = [position[genotype_ids[row]] for row in geno_rows]
        return np.asarray(geno_rows, np.int64), np.asarray(pheno_rows, np.int64), "id"
    if n_genotype_rows != n_phenotype_rows:
        raise DataError.at(
            phenotypes,
            "rows",
            f"have as many rows as {genotypes} ({n_genotype_rows})",
            n_phenotype_rows,
            "or give both files line IDs to match by ID",
        )
    rows = np.arange(n_genotype_rows, dtype=np.int64)
    return rows, rows, "row order"


def detect_format(path: str | Path, given: str | None = None, *, source: str | None = None) -> str:
    """``given`` when set (checked), else plink / vcf / text from the file name."""
    if given is not None:
        if given not in GENOTYPE_FORMATS:
            raise ConfigError.at(
                source,
                "data.genotype_format",
                f"be one of {', '.join(GENOTYPE_FORMATS)} or omitted (detected)",
                given,
            )
        return given
    if is_vcf(path):
        return "vcf"
    if is_plink(path):
        return "plink"
    return "text"


@dataclass
class _Genotypes:
    """An opened genotype input: line IDs now, the aligned int8/float matrix on ``read``."""

    line_ids: list[str] | None
    n_lines: int
    #: (rows or None, choose_columns) -> the final matrix with its marker IDs and map.
    read: Callable[[np.ndarray | None, Callable], GenotypeMatrix]


def _take(values: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> np.ndarray:
    """values[rows][:, cols] in row blocks (one output allocation); no copy when both None."""
    if rows is None and cols is None:
        return values
    n = values.shape[0] if rows is None else rows.size
    m = values.shape[1] if cols is None else cols.size
    out = np.empty((n, m), dtype=values.dtype)
    step = max(1, _TAKE_CELLS // max(1, values.shape[1]))
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = values[start:stop] if rows is None else values[rows[start:stop]]
        out[start:stop] = block if cols is None else block[:, cols]
    return out


def _marker_names(geno: GenotypeMatrix) -> list[str]:
    return geno.marker_ids or [f"m{j}" for j in range(geno.n_markers)]


def _ordered(
    geno: GenotypeMatrix,
    values: np.ndarray,
    cols: np.ndarray | None,
    chromosomes: np.ndarray | None,
    positions: np.ndarray | None,
) -> GenotypeMatrix:
    """``geno`` with ``values`` and its marker IDs / map put in column order ``cols``."""
    marker_ids = _marker_names(geno)
    if cols is not None:
        marker_ids = [marker_ids[j] for j in cols.tolist()]
        chromosomes = None if chromosomes is None else chromosomes[cols]
        positions = None if positions is None else positions[cols]
    return GenotypeMatrix(
        values=values,
        line_ids=geno.line_ids,
        marker_ids=marker_ids,
        source=geno.source,
        missing_code=geno.missing_code,
        chromosomes=chromosomes,
        positions=positions,
        info=geno.info,
    )


def _open_genotypes(
    path: str | Path,
    fmt: str,
    options: dict[str, Any],
    *,
    cache_dir: str | Path | None,
    source: str | None,
) -> _Genotypes:
    """Open ``path`` as ``fmt``: IDs now, values later (only the rows and columns needed)."""
    allowed = FORMAT_OPTIONS[fmt]
    for key in options:
        if key not in allowed:
            must = (
                f"be one of {', '.join(allowed)} for {fmt} genotypes"
                if allowed
                else f"be omitted for {fmt} genotypes (no options)"
            )
            raise ConfigError.at(
                source, f"data.genotype_options.{key}", must, "<not for this format>"
            )
    if fmt == "plink":
        fileset = open_plink(path, **options)

        def read_plink_rows(rows: np.ndarray | None, choose: Callable) -> GenotypeMatrix:
            cols, chrom, pos = choose(fileset.marker_ids, fileset.chromosomes, fileset.positions)
            values = fileset.read(rows=rows, columns=cols)
            ids = fileset.line_ids if rows is None else [fileset.line_ids[i] for i in rows]
            head = GenotypeMatrix(
                values=values,
                line_ids=ids,
                marker_ids=fileset.marker_ids,
                source=str(fileset.bed),
                missing_code=INT8_MISSING,
                info=plink_info(fileset),
            )
            return _ordered(head, values, cols, chrom, pos)

        return _Genotypes(fileset.line_ids, fileset.n_lines, read_plink_rows)
    if fmt == "vcf":
        samples = vcf_samples(path)

        def read_vcf_rows(rows: np.ndarray | None, choose: Callable) -> GenotypeMatrix:
            geno = read_vcf(path, rows=rows)
            cols, chrom, pos = choose(geno.marker_ids, geno.chromosomes, geno.positions)
            return _ordered(geno, _take(geno.values, None, cols), cols, chrom, pos)

        return _Genotypes(samples, len(samples), read_vcf_rows)
    text_options = dict(options)
    cache = text_options.pop("cache", False)
    if cache not in (True, False, None) and not isinstance(cache, str | Path):
        raise ConfigError.at(
            source, "data.genotype_options.cache", "be true, false or a folder", cache
        )
    if cache:
        if text_options.pop("dtype", "int8") != "int8":
            raise ConfigError.at(
                source, "data.genotype_options.dtype", "be int8 (or omitted) with cache", "float32"
            )
        folder = cache_dir if cache is True else _cache_folder(cache, source)
        geno = read_genotypes_cached(path, cache_dir=folder, **text_options)
    else:
        geno = read_genotypes(path, **text_options)

    def read_text_rows(rows: np.ndarray | None, choose: Callable) -> GenotypeMatrix:
        cols, chrom, pos = choose(_marker_names(geno), None, None)
        return _ordered(geno, _take(geno.values, rows, cols), cols, chrom, pos)

    return _Genotypes(geno.line_ids, geno.n_lines, read_text_rows)


def _cache_folder(value: str | Path, source: str | None) -> Path:
    folder = Path(value).expanduser()
    if not folder.is_absolute() and source is not None and Path(source).exists():
        folder = Path(source).resolve().parent / folder
    return folder


@dataclass
class _IdPlan:
    """Where a phenotype file keeps its line IDs when that is not simply the first column."""

    layout: TextLayout
    field: int  # 0-based file field holding the IIDs
    drop: list[int]  # fields that are not traits (IID, FID)
    how: str


def _field_strings(layout: TextLayout, field_index: int) -> list[str]:
    """Raw text of one field of a table (IDs must not go through float): check_ids rules."""
    import pandas as pd

    frame = pd.read_csv(layout.source, **read_csv_args(layout), dtype=str, usecols=[field_index])
    return check_ids(layout, frame.iloc[:, 0].tolist(), auto=False)


def _maybe_ids(layout: TextLayout, field_index: int) -> list[str] | None:
    """A field's values when they could be line IDs (all present, unique), else None."""
    try:
        return _field_strings(layout, field_index)
    except DataError:
        return None


def _sniff(path: str | Path, options: dict[str, Any], header: bool | None) -> TextLayout:
    return sniff_table(
        path,
        sep=options.get("sep"),
        header=header,
        id_column=options.get("id_column"),
        missing=options.get("missing", DEFAULT_MISSING),
    )


def _plan_ids(
    path: str | Path, options: dict[str, Any], genotype_ids: list[str] | None
) -> _IdPlan | None:
    """Find PLINK-style ``FID IID trait...`` tables (or an ``IID``/``id`` column anywhere).

    With a header: the first column named IID/id (see :data:`IID_NAMES`) holds the IDs and
    FID columns are dropped. Without a header (PLINK ``--pheno`` files), ``FID IID trait...``
    is recognised when field 2 holds unique values matching more genotype IDs than field 1.
    None means: let the phenotype reader decide (first column, as before).
    """
    if options.get("id_column") is True:
        return None
    layout = _sniff(path, options, options.get("header"))
    if layout.header is not None:
        if not layout.header[0].strip():  # R write.table: unnamed row-name column
            return None
        names = [name.strip().lower() for name in layout.header]
        found = [j for j, name in enumerate(names) if name in IID_NAMES]
        first_row_is_data = (
            not found
            and options.get("header") is None
            and genotype_ids is not None
            and layout.n_fields >= 3
            and layout.header[1].strip() in set(genotype_ids)
        )
        if first_row_is_data:  # "FID IID value" rows look like a header to the sniffer
            layout = _sniff(path, options, False)
        elif not found:
            return None
    if layout.header is not None:
        fid = [j for j, name in enumerate(names) if name in FID_NAMES]
        drop = sorted({found[0], *fid})
        return _IdPlan(layout, found[0], drop, layout.header[found[0]].strip())
    if genotype_ids is None or layout.n_fields < 3:
        return None
    second = _maybe_ids(layout, 1)
    if second is None:
        return None
    known = set(genotype_ids)
    first = _maybe_ids(layout, 0) or []
    if sum(v in known for v in second) > sum(v in known for v in first):
        return _IdPlan(layout, 1, [0, 1], "FID IID (no header; field 2 matched the genotype IDs)")
    return None


def _read_phenotype_table(
    path: str | Path, options: dict[str, Any], genotype_ids: list[str] | None
) -> tuple[PhenotypeTable, str | None]:
    """The phenotype table indexed by line ID, and which column the IDs came from."""
    import pandas as pd

    plan = _plan_ids(path, options, genotype_ids)
    if plan is None:
        table = read_phenotypes(path, **options)
        name = str(table.frame.index.name or "column 1") if table.has_ids else None
        return table, name
    header = plan.layout.header is not None
    table = read_phenotypes(path, **{**options, "id_column": False, "header": header})
    ids = _field_strings(plan.layout, plan.field)
    traits = table.traits
    kept = table.frame.drop(columns=[traits[j] for j in plan.drop])
    if kept.shape[1] == 0:
        raise DataError.at(
            table.source, "columns", f"hold at least one trait besides {plan.how}", 0
        )
    if not table.has_header:
        kept.columns = [str(j) for j in range(kept.shape[1])]
    kept.index = pd.Index(ids, dtype=object, name=traits[plan.field] if table.has_header else "IID")
    table = PhenotypeTable(
        frame=kept, has_ids=True, source=table.source, has_header=table.has_header
    )
    return table, plan.how


def _examples(values: list[str]) -> list[str]:
    return values[:_EXAMPLES]


def _line_ids(
    geno_ids: list[str] | None,
    pheno_ids: list[str] | None,
    geno_rows: np.ndarray,
    pheno_rows: np.ndarray,
) -> list[str]:
    """Names of these lines: genotype IDs, else phenotype IDs, else ``row<genotype row>``."""
    if geno_ids is not None:
        return [geno_ids[r] for r in geno_rows]
    if pheno_ids is not None:
        return [pheno_ids[r] for r in pheno_rows]
    return [f"row{r}" for r in geno_rows]


def load_dataset(
    *,
    genotypes: str | Path,
    phenotypes: str | Path,
    trait: int | str,
    task: str | None = None,
    genotype_options: dict | None = None,
    phenotype_options: dict | None = None,
    source: str | None = None,
    genotype_format: str | None = None,
    covariates: Any = None,
    map_file: str | Path | None = None,
    marker_order_kind: str = "file",
    marker_order_seed: int = 0,
    cache_dir: str | Path | None = None,
) -> tuple[GenomicData, dict]:
    """Read, align and encode one trait; return the data set and a load report.

    Lines are matched by ID when both files have IDs (genotype-file order, inner join), else
    by row order (row counts must agree). Phenotype IDs come from the first column, or from
    an IID column (PLINK ``FID IID trait...`` with or without header; FID is dropped). Lines
    without a value for the trait are dropped and counted. ``task=None`` detects it
    (:func:`detect_task`). ``source`` names the config file in errors about the options.

    ``genotype_format`` overrides the detection from the file name. ``covariates`` (see
    :func:`~hpsearch.data.covariates.parse_covariates`) are phenotype-table columns kept raw
    per line. ``marker_order_kind`` (file | map | shuffled) orders the marker columns once,
    by the map of the genotype file or ``map_file``; ``marker_order_seed`` seeds shuffled.
    ``cache_dir`` is where ``genotype_options: {cache: true}`` puts int8 copies of text
    matrices (default: :func:`~hpsearch.data.readers.default_cache_dir`).
    """
    geno_path, pheno_path = str(genotypes), str(phenotypes)
    gopts = _options(genotype_options, GENOTYPE_OPTIONS, "data.genotype_options", source)
    popts = _options(phenotype_options, PHENOTYPE_OPTIONS, "data.phenotype_options", source)
    if task is not None and task not in TASKS:
        raise ConfigError.at(source, "data.task", f"be one of {', '.join(TASKS)} or omitted", task)
    fmt = detect_format(genotypes, genotype_format, source=source)
    specs = parse_covariates(covariates, source=source)
    # Checked before any reading: a wrong order name should not cost a 2 GB read.
    marker_order(
        marker_order_kind,
        n_markers=0,
        seed=marker_order_seed,
        source=source,
        chromosomes=np.zeros(0),
        positions=np.zeros(0),
    )

    geno = _open_genotypes(genotypes, fmt, gopts, cache_dir=cache_dir, source=source)
    table, id_column = _read_phenotype_table(phenotypes, popts, geno.line_ids)
    pheno_ids = [str(i) for i in table.frame.index] if table.has_ids else None
    geno_rows, pheno_rows, matched_by = _align(
        geno.line_ids,
        geno.n_lines,
        pheno_ids,
        len(table.frame),
        genotypes=geno_path,
        phenotypes=pheno_path,
    )
    column = select_trait(table, trait, source=pheno_path)
    kept = column.kept[pheno_rows]
    missing_trait_ids = _line_ids(geno.line_ids, pheno_ids, geno_rows[~kept], pheno_rows[~kept])
    if not kept.any():
        raise DataError.at(
            pheno_path,
            f"trait {column.name!r}",
            "have a value for at least one line that has genotypes",
            "<all matched lines missing>",
        )
    geno_rows, pheno_rows = geno_rows[kept], pheno_rows[kept]
    values = column.values[pheno_rows]
    detected = task is None
    chosen = detect_task(values) if task is None else task
    target, classes = encode_target(
        values, chosen, source=pheno_path, field=f"trait {column.name!r}"
    )

    map_source: list[str | None] = [None]

    def choose(
        names: list[str], chromosomes: np.ndarray | None, positions: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Marker map and column order, decided once the marker names are known."""
        if chromosomes is not None:
            map_source[0] = fmt
        if map_file is not None:
            chromosomes, positions = align_map(read_map(map_file), names)
            map_source[0] = str(map_file)
        cols = marker_order(
            marker_order_kind,
            n_markers=len(names),
            chromosomes=chromosomes,
            positions=positions,
            seed=marker_order_seed,
            source=source,
        )
        return (None if is_identity(cols) else cols), chromosomes, positions

    # Every line kept in file order: no row copy of a possibly large (memory-mapped) matrix.
    everything = geno_rows.size == geno.n_lines
    read = geno.read(None if everything else geno_rows, choose)
    matrix = read.values
    line_ids = _line_ids(geno.line_ids, pheno_ids, geno_rows, pheno_rows)
    marker_ids = read.marker_ids or [f"m{j}" for j in range(matrix.shape[1])]
    raw_covariates, cov_names, cov_kinds = None, None, None
    if specs:
        raw_covariates, cov_names, cov_kinds = covariate_columns(
            table.frame, specs, rows=pheno_rows, source=pheno_path, trait=column.name
        )

    data = GenomicData(
        genotypes=matrix,
        target=target,
        task=chosen,
        trait=column.name,
        line_ids=line_ids,
        marker_ids=marker_ids,
        classes=classes,
        source={
            "genotypes": geno_path,
            "phenotypes": pheno_path,
            "genotype_rows": geno.n_lines,
        },
        file_rows=geno_rows,
        missing_code=read.missing_code,
        covariates=raw_covariates,
        covariate_names=cov_names,
        covariate_kinds=cov_kinds,
        chromosomes=read.chromosomes,
        positions=read.positions,
    )
    n_matched = int(kept.size)
    report: dict[str, Any] = {
        "genotype_file": geno_path,
        "phenotype_file": pheno_path,
        "genotype_lines": geno.n_lines,
        "markers": int(matrix.shape[1]),
        "phenotype_lines": len(table.frame),
        "traits_in_file": table.traits,
        "trait": column.name,
        "matched_by": matched_by,
        "matched": n_matched,
        "genotype_lines_without_phenotype_row": geno.n_lines - n_matched,
        "phenotype_lines_without_genotypes": len(table.frame) - n_matched,
        "dropped_missing_trait": int((~kept).sum()),
        "lines": data.n_lines,
        "task": chosen,
        "task_detected": detected,
        "classes": classes,
        "missing_genotype_fraction": count_missing(matrix) / matrix.size if matrix.size else 0.0,
        "genotype_format": fmt,
        "genotype_dtype": str(matrix.dtype),
        "genotype_bytes": int(matrix.nbytes),
        "memory_mapped": isinstance(matrix, np.memmap),
        **{k: v for k, v in read.info.items() if k != "format"},
        "phenotype_id_column": id_column,
        "marker_order": marker_order_kind,
        "marker_map": map_source[0],
    }
    dropped: list[tuple[str, str]] = [(line, DROP_MISSING_TRAIT) for line in missing_trait_ids]
    if matched_by == "id" and geno.line_ids is not None and pheno_ids is not None:
        geno_set, pheno_set = set(geno.line_ids), set(pheno_ids)
        no_pheno = [line for line in geno.line_ids if line not in pheno_set]
        no_geno = [line for line in pheno_ids if line not in geno_set]
        report["genotype_ids_without_phenotype_row"] = _examples(no_pheno)
        report["phenotype_ids_without_genotypes"] = _examples(no_geno)
        dropped = (
            [(line, DROP_NO_PHENOTYPE) for line in no_pheno]
            + [(line, DROP_NO_GENOTYPES) for line in no_geno]
            + dropped
        )
    report["dropped_missing_trait_ids"] = _examples(missing_trait_ids)
    #: Every dropped line with its reason (the run directory writes it as dropped_lines.tsv).
    report[DROPPED_LINES_KEY] = [list(pair) for pair in dropped]
    if cov_names:
        report["covariates"] = _covariate_report(raw_covariates, cov_names, cov_kinds)
    if classes is not None:
        counts = np.bincount(target, minlength=len(classes))
        report["class_counts"] = {
            str(label): int(count) for label, count in zip(classes, counts, strict=True)
        }
    return data, report


def _covariate_report(
    raw: np.ndarray | None, names: list[str], kinds: list[str] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for j, (name, kind) in enumerate(zip(names, kinds or [], strict=True)):
        column = raw[:, j] if raw is not None else np.zeros(0)
        if kind == "numeric":
            missing = int(np.isnan(column.astype(np.float64)).sum())
            out[name] = {"kind": kind, "missing": missing}
        else:
            present = [v for v in column.tolist() if v is not None]
            out[name] = {
                "kind": kind,
                "missing": len(column) - len(present),
                "levels": len(set(present)),
            }
    return out

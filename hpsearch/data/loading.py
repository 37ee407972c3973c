"""One call from file paths to an aligned :class:`GenomicData` plus a report of what was kept."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.dataset import GenomicData
from hpsearch.data.phenotypes import (
    TASKS,
    detect_task,
    encode_target,
    read_phenotypes,
    select_trait,
)
from hpsearch.data.readers import read_genotypes
from hpsearch.errors import ConfigError, DataError

GENOTYPE_OPTIONS: tuple[str, ...] = ("sep", "header", "id_column", "missing", "coding")
PHENOTYPE_OPTIONS: tuple[str, ...] = ("sep", "header", "id_column", "missing")


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


def load_dataset(
    *,
    genotypes: str | Path,
    phenotypes: str | Path,
    trait: int | str,
    task: str | None = None,
    genotype_options: dict | None = None,
    phenotype_options: dict | None = None,
    source: str | None = None,
) -> tuple[GenomicData, dict]:
    """Read, align and encode one trait; return the data set and a load report.

    Lines are matched by ID when both files have IDs (genotype-file order, inner join), else
    by row order (row counts must agree). Lines without a value for the trait are dropped and
    counted. ``task=None`` detects it (:func:`detect_task`). ``source`` names the config file
    in errors about the options themselves.
    """
    geno_path, pheno_path = str(genotypes), str(phenotypes)
    gopts = _options(genotype_options, GENOTYPE_OPTIONS, "data.genotype_options", source)
    popts = _options(phenotype_options, PHENOTYPE_OPTIONS, "data.phenotype_options", source)
    if task is not None and task not in TASKS:
        raise ConfigError.at(source, "data.task", f"be one of {', '.join(TASKS)} or omitted", task)

    geno = read_genotypes(genotypes, **gopts)
    table = read_phenotypes(phenotypes, **popts)
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

    # Every line kept in file order: no copy of a possibly large matrix.
    everything = geno_rows.size == geno.n_lines
    matrix = geno.values if everything else geno.values[geno_rows]
    if geno.line_ids is not None:
        line_ids = [geno.line_ids[r] for r in geno_rows]
    elif pheno_ids is not None:
        line_ids = [pheno_ids[r] for r in pheno_rows]
    else:
        line_ids = [f"row{r}" for r in geno_rows]
    marker_ids = geno.marker_ids or [f"m{j}" for j in range(geno.n_markers)]

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
    )
    n_matched = int(kept.size)
    report: dict[str, Any] = {
        "genotype_file": geno_path,
        "phenotype_file": pheno_path,
        "genotype_lines": geno.n_lines,
        "markers": geno.n_markers,
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
        "missing_genotype_fraction": float(np.isnan(matrix).mean()) if matrix.size else 0.0,
    }
    if classes is not None:
        counts = np.bincount(target, minlength=len(classes))
        report["class_counts"] = {
            str(label): int(count) for label, count in zip(classes, counts, strict=True)
        }
    return data, report

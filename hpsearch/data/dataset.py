"""The in-memory data set a search runs on, and the index splits over it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class GenomicData:
    """Genotypes and one trait for the same lines, aligned row by row.

    ``genotypes`` is (lines × markers), either float32 with NaN for a missing call, or int8
    dosages 0/1/2 with ``missing_code`` (-127 for PLINK/VCF, -1 for the simulator; any
    negative code counts as missing) — possibly a read-only memory map or a zero-copy Ray
    object. Missing calls are imputed later, inside training parts only. ``target`` is
    float64 for regression and int64 class codes (0..n_classes-1) for binary / multiclass;
    ``classes`` holds the original labels then.

    ``covariates`` (optional) are the raw fixed effects of each line (object array, lines ×
    covariates, None = missing), named by ``covariate_names``; they are encoded per training
    part by :class:`hpsearch.data.covariates.CovariateEncoder`. ``chromosomes`` / ``positions``
    give the marker map when one was read (aligned with the marker columns).
    """

    genotypes: np.ndarray
    target: np.ndarray
    task: str
    trait: str
    line_ids: list[str]
    marker_ids: list[str]
    classes: list[Any] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    #: For each row, its row number in the genotype file (fold files are in that order).
    file_rows: np.ndarray | None = None
    #: int8 genotypes: the code of a missing call; None for float genotypes (NaN).
    missing_code: int | None = None
    covariates: np.ndarray | None = None
    covariate_names: list[str] | None = None
    #: "numeric" or "categorical" per covariate (decided from the values' form, not their stats).
    covariate_kinds: list[str] | None = None
    chromosomes: np.ndarray | None = None
    positions: np.ndarray | None = None

    @property
    def n_lines(self) -> int:
        return int(self.genotypes.shape[0])

    @property
    def n_markers(self) -> int:
        return int(self.genotypes.shape[1])

    @property
    def n_outputs(self) -> int:
        """Units of the network's last layer: 1 for regression and binary, k for multiclass."""
        return len(self.classes) if self.task == "multiclass" and self.classes else 1

    def summary(self) -> dict[str, Any]:
        """Small, JSON-friendly description (for logs, MLflow params and ``hpsearch show``)."""
        from hpsearch.data.preprocess import count_missing

        return {
            "n_lines": self.n_lines,
            "n_markers": self.n_markers,
            "task": self.task,
            "trait": self.trait,
            "n_classes": len(self.classes) if self.classes else None,
            "missing_genotypes": count_missing(self.genotypes),
            "genotype_dtype": str(self.genotypes.dtype),
            "genotype_bytes": int(self.genotypes.nbytes),
            "covariates": list(self.covariate_names) if self.covariate_names else None,
            **{f"source_{k}": str(v) for k, v in self.source.items()},
        }


@dataclass(frozen=True)
class Split:
    """Row indices into a :class:`GenomicData`: a training part and a held-out part."""

    train: np.ndarray
    valid: np.ndarray
    name: str = ""

    def __post_init__(self) -> None:
        if np.intersect1d(self.train, self.valid).size:
            raise ValueError(f"split {self.name!r}: training and held-out rows overlap")


@dataclass(frozen=True)
class FoldPlan:
    """One outer fold: its training rows, its test rows, and the inner splits of the training rows.

    The search sees only ``inner`` (all indices inside ``outer.train``); ``outer.valid`` is the
    test part, scored once after the search.
    """

    outer: Split
    inner: tuple[Split, ...]

    def __post_init__(self) -> None:
        allowed = set(self.outer.train.tolist())
        for split in self.inner:
            if not (set(split.train.tolist()) | set(split.valid.tolist())) <= allowed:
                raise ValueError(
                    f"inner split {split.name!r} uses rows outside the outer training part"
                )

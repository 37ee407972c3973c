"""The in-memory data set a search runs on, and the index splits over it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class GenomicData:
    """Genotypes and one trait for the same lines, aligned row by row.

    ``genotypes`` is (lines × markers), float32 with NaN for a missing call (imputed later,
    inside training parts only). ``target`` is float64 for regression and int64 class codes
    (0..n_classes-1) for binary / multiclass; ``classes`` holds the original labels then.
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
        return {
            "n_lines": self.n_lines,
            "n_markers": self.n_markers,
            "task": self.task,
            "trait": self.trait,
            "n_classes": len(self.classes) if self.classes else None,
            "missing_genotypes": int(np.isnan(self.genotypes).sum()),
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

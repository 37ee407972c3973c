"""Baselines on the experiment's own outer folds, and the paired comparison with a network.

``methods`` holds the estimators (ridge, GBLUP, RKHS, random forest; logistic / classifier
versions for class traits) and the ``BASELINES`` registry; ``run`` evaluates them on
``prepared.plans`` and provides ``hpsearch baseline``; ``compare`` pairs them with a network
run fold by fold. Importing this package imports neither sklearn nor MLflow.
"""

from __future__ import annotations

from hpsearch.baselines.compare import PairedDifference, compare_run_dirs, paired_comparison
from hpsearch.baselines.methods import (
    BASELINES,
    DEFAULT_METHODS,
    BaselineMethod,
    GBLUPBaseline,
    LogisticBaseline,
    RandomForestBaseline,
    RandomForestClassifierBaseline,
    RidgeBaseline,
    RKHSBaseline,
)
from hpsearch.baselines.run import BaselineReport, FoldResult, run_baselines

__all__ = [
    "BASELINES",
    "DEFAULT_METHODS",
    "BaselineMethod",
    "BaselineReport",
    "FoldResult",
    "GBLUPBaseline",
    "LogisticBaseline",
    "PairedDifference",
    "RKHSBaseline",
    "RandomForestBaseline",
    "RandomForestClassifierBaseline",
    "RidgeBaseline",
    "compare_run_dirs",
    "paired_comparison",
    "run_baselines",
]

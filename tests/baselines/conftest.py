"""Baseline tests run their linear algebra on one BLAS thread: on a shared 2-core machine
two spinning OpenBLAS threads make small eigendecompositions several times slower."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def write_experiment(
    folder: Path,
    *,
    binary: bool = False,
    preprocess: str = "{preselect_top_k: 100}",
    seed: int = 3,
) -> Path:
    """A small simulated experiment (150 lines × 200 markers, 3 outer folds from a fold file,
    tracking in ``folder/mlflow.db``); returns the config path."""
    import numpy as np

    from hpsearch.data.simulate import simulate, write_simulated

    sim = simulate(n_lines=150, n_markers=200, n_traits=1, n_qtl=20, h2=0.6, n_folds=3, seed=2)
    paths = write_simulated(sim, folder, prefix="sim")
    if binary:
        y = sim.phenotypes[:, 0]
        np.savetxt(paths["phenotypes"], (y > np.median(y)).astype(int), fmt="%d")
    config = folder / "exp.yaml"
    config.write_text(
        "name: sim\n"
        "data: {genotypes: sim.X, phenotypes: sim.Y, trait: 0}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: all}, inner: {kfold: 3}}\n"
        f"preprocess: {preprocess}\n"
        f"tracking: {{uri: 'sqlite:///{folder / 'mlflow.db'}', experiment: sim-baselines}}\n"
        f"output: {folder / 'runs'}\n"
        f"seed: {seed}\n"
    )
    return config


@pytest.fixture
def experiment(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``experiment(binary=False, ...)`` writes a small experiment under tmp_path."""

    def make(**kwargs: Any) -> Path:
        folder = tmp_path / ("binary" if kwargs.get("binary") else "regression")
        folder.mkdir(exist_ok=True)
        return write_experiment(folder, **kwargs)

    return make

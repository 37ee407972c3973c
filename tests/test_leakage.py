"""Leakage guards: the outer test lines never reach the search, and preselection stays inside.

These run the real pipeline (Keras, in-process executor) on small data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.config import load_config
from hpsearch.data.simulate import simulate, write_simulated
from hpsearch.runner.executors import InProcessExecutor
from hpsearch.runner.experiment import ExperimentOutcome, Prepared, prepare, run_experiment

pytestmark = pytest.mark.integration

SPACE = """parameters:
  units: {type: int, low: 4, high: 32, log: true}
  learning_rate: {type: float, low: 1.0e-3, high: 3.0e-2, log: true}
  preselect_top_k: {type: ordinal, values: [0, 60]}
  optimizer: adam
  batch_size: 32
  epochs: 8
  patience: 3
"""


def experiment(folder: Path, genotypes: Path, phenotypes: Path, folds: Path, **extra: str) -> Path:
    (folder / "space.yaml").write_text(SPACE)
    outer = extra.get("outer", f"{{fold_file: {folds}, folds: [1]}}")
    trials = extra.get("trials", "3")
    config = folder / "exp.yaml"
    config.write_text(
        f"name: leak\n"
        f"data: {{genotypes: {genotypes}, phenotypes: {phenotypes}, trait: 0}}\n"
        f"evaluation: {{outer: {outer}, inner: {{kfold: 2, seed: 1}}}}\n"
        f"space: space.yaml\n"
        f"stages: [{{strategy: random, trials: {trials}}}]\n"
        f"execution: {{threads_per_trial: 1}}\n"
        f"output: {folder / 'runs'}\n"
        f"seed: 11\n"
    )
    return config


def run(config: Path) -> tuple[Prepared, ExperimentOutcome]:
    prepared = prepare(load_config(config))
    return prepared, run_experiment(prepared, executor=InProcessExecutor())


def test_scrambling_outer_test_phenotypes_leaves_every_trial_score_unchanged(
    tmp_path: Path,
) -> None:
    sim = simulate(n_lines=160, n_markers=240, n_traits=1, n_qtl=20, h2=0.6, n_folds=4, seed=5)
    paths = write_simulated(sim, tmp_path / "data", prefix="sim")
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    config = experiment(first_dir, paths["genotypes"], paths["phenotypes"], paths["folds"])
    _, first = run(config)

    # Scramble the phenotypes (and genotypes) of the outer-test lines of fold 1 only.
    folds = np.loadtxt(paths["folds"], dtype=int)
    test_rows = np.flatnonzero(folds == 1)
    y = np.loadtxt(paths["phenotypes"]).reshape(len(folds), -1)
    x = np.loadtxt(paths["genotypes"], dtype=int)
    rng = np.random.default_rng(0)
    y[test_rows] = rng.normal(size=y[test_rows].shape) * 5
    x[test_rows] = rng.integers(0, 2, size=x[test_rows].shape)
    scrambled_y, scrambled_x = tmp_path / "scrambled.Y", tmp_path / "scrambled.X"
    np.savetxt(scrambled_y, y, fmt="%.6f")
    np.savetxt(scrambled_x, x, fmt="%d")
    config2 = experiment(second_dir, scrambled_x, scrambled_y, paths["folds"])
    _, second = run(config2)

    a = first.run_dir.fold("fold1").journal.read()
    b = second.run_dir.fold("fold1").journal.read()
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b, strict=True):
        assert ra.result.params == rb.result.params
        assert ra.result.score is not None
        assert ra.result.score == rb.result.score  # bit-identical: the test rows were never used
        assert ra.result.fold_metrics == rb.result.fold_metrics
    outer_a = first.folds[0].outer_metrics["pearson_r"]
    outer_b = second.folds[0].outer_metrics["pearson_r"]
    assert outer_a != outer_b  # the outer test did see the scrambled rows: the check is not vacuous


@pytest.mark.wheat
def test_permuted_phenotype_with_preselection_gives_outer_r_near_zero(
    tmp_path: Path, wheat_dir: Path
) -> None:
    y = np.loadtxt(wheat_dir / "wheat.Y")[:, 0]
    permuted = np.random.default_rng(2024).permutation(y)
    pheno = tmp_path / "permuted.Y"
    np.savetxt(pheno, permuted, fmt="%.6f")
    config = experiment(
        tmp_path, wheat_dir / "wheat.X", pheno, wheat_dir / "wheat.sets",
        outer="{kfold: 5, seed: 3, folds: all}", trials="2",
    )  # fmt: skip
    (tmp_path / "space.yaml").write_text(SPACE.replace("values: [0, 60]", "values: [100]"))
    _, outcome = run(config)
    outer_r = [fold.outer_metrics["pearson_r"] for fold in outcome.folds]
    assert len(outer_r) == 5
    assert abs(float(np.mean(outer_r))) < 0.15, outer_r

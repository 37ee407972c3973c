"""The outer test part's predictions file (hpsearch.runner.predictions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.data.dataset import GenomicData
from hpsearch.runner.predictions import read_predictions, write_predictions


def data(task: str, target: np.ndarray, classes: list | None = None) -> GenomicData:
    n = target.size
    return GenomicData(
        genotypes=np.zeros((n, 3), dtype=np.int8),
        target=target,
        task=task,
        trait="t",
        line_ids=[f"L{i:02d}" for i in range(n)],
        marker_ids=["a", "b", "c"],
        classes=classes,
    )


def test_regression_lines_round_trip_by_id(tmp_path: Path) -> None:
    d = data("regression", np.array([1.5, -2.0, 0.25, 3.0, np.nan]))
    rows = np.array([3, 0, 4])
    path = tmp_path / "predictions.tsv"
    write_predictions(path, d, rows, np.array([2.9, 1.25, 0.5]))
    assert path.read_text().splitlines()[0] == "line_id\tobserved\tpredicted"
    ids, observed, predicted = read_predictions(path)
    assert ids == ["L03", "L00", "L04"]
    assert observed[:2].tolist() == [3.0, 1.5] and np.isnan(observed[2])
    assert predicted.tolist() == [2.9, 1.25, 0.5]
    assert not (tmp_path / "predictions.tsv.tmp").exists()


def test_classes_are_written_as_labels_with_probabilities(tmp_path: Path) -> None:
    binary = data("binary", np.array([0, 1, 1]), classes=["healthy", "sick"])
    write_predictions(tmp_path / "b.tsv", binary, np.array([2, 0]), np.array([0.8, 0.1]))
    assert (tmp_path / "b.tsv").read_text().splitlines() == [
        "line_id\tobserved\tp_1",
        "L02\tsick\t0.8",
        "L00\thealthy\t0.1",
    ]
    multi = data("multiclass", np.array([2, 0]), classes=["low", "mid", "high"])
    write_predictions(tmp_path / "m.tsv", multi, np.array([0, 1]), np.eye(3)[[2, 0]])
    assert (tmp_path / "m.tsv").read_text().splitlines() == [
        "line_id\tobserved\tp_low\tp_mid\tp_high",
        "L00\thigh\t0\t0\t1",
        "L01\tlow\t1\t0\t0",
    ]

"""The outer test part's predictions, one line per genotyped line: what a breeder ranks by.

``predictions.tsv`` in each fold folder holds, for every line of that fold's outer test part,
its ID, the observed value and the refitted best configuration's prediction (the trait's
scale; for binary traits P(class 1); for multiclass one column of probabilities per class).
Concatenated over ``outer: all`` folds they give the pooled accuracy, the number many papers
report instead of the fold mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hpsearch.data.dataset import GenomicData
from hpsearch.tracking.journal import write_text_atomic

PREDICTIONS_FILE = "predictions.tsv"


def _number(value: float) -> str:
    return "NA" if not np.isfinite(value) else f"{float(value):.6g}"


def write_predictions(path: Path, data: GenomicData, rows: Sequence[int], pred: np.ndarray) -> None:
    """Write ``path`` atomically: line_id, observed, then the prediction column(s)."""
    rows = np.asarray(rows)
    pred = np.asarray(pred, dtype=np.float64)
    observed = np.asarray(data.target)[rows]
    if data.task == "multiclass" and pred.ndim == 2:
        labels = list(data.classes or range(pred.shape[1]))
        columns = [f"p_{label}" for label in labels]
        observed_text = [str(labels[int(c)]) for c in observed]
    else:
        columns = ["predicted" if data.task == "regression" else "p_1"]
        pred = pred.reshape(len(rows), 1)
        observed_text = (
            [_number(v) for v in observed]
            if data.task == "regression"
            else [str((data.classes or [0, 1])[int(c)]) for c in observed]
        )
    lines = ["\t".join(["line_id", "observed", *columns])]
    for i, row in enumerate(rows):
        cells = [str(data.line_ids[int(row)]), observed_text[i], *map(_number, pred[i])]
        lines.append("\t".join(cells))
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_predictions(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(line IDs, observed, first prediction column) of a regression ``predictions.tsv``."""
    ids: list[str] = []
    observed: list[float] = []
    predicted: list[float] = []
    for line in path.read_text().splitlines()[1:]:
        cells = line.split("\t")
        ids.append(cells[0])
        observed.append(float("nan") if cells[1] == "NA" else float(cells[1]))
        predicted.append(float("nan") if cells[2] == "NA" else float(cells[2]))
    return ids, np.asarray(observed), np.asarray(predicted)

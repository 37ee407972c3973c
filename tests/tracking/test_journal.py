"""The journal survives torn writes and the atomic writer never leaves half files."""

from __future__ import annotations

import json

import pytest

from hpsearch.errors import StateError
from hpsearch.tracking.journal import Journal, read_json, write_json_atomic
from hpsearch.trial import TrialRecord, TrialResult, TrialStatus


def record(i: int, score: float | None = 0.5) -> TrialRecord:
    status = TrialStatus.COMPLETED if score is not None else TrialStatus.FAILED
    return TrialRecord(
        TrialResult(i, {"units": i}, status, score, curves={"fold0/loss": [1.0, 0.5]}),
        stage=0,
        strategy="random",
        tags={"g": 1},
        seed=i,
    )


def test_round_trip_and_torn_last_line(tmp_path) -> None:
    journal = Journal(tmp_path / "trials.jsonl")
    for i in range(3):
        journal.append(record(i))
    with journal.path.open("a") as handle:
        handle.write('{"trial_id": 3, "par')  # a kill in the middle of a write
    records = journal.read()
    assert [r.trial_id for r in records] == [0, 1, 2]
    assert records[1].result.curves == {"fold0/loss": [1.0, 0.5]}
    journal.repair()
    journal.append(record(3))
    assert [r.trial_id for r in journal.read()] == [0, 1, 2, 3]


def test_damage_in_the_middle_is_an_error_naming_the_line(tmp_path) -> None:
    journal = Journal(tmp_path / "trials.jsonl")
    journal.append(record(0))
    with journal.path.open("a") as handle:
        handle.write("garbage\n")
    journal.append(record(1))
    with pytest.raises(StateError, match="line 2"):
        journal.read()


def test_nan_scores_are_stored_as_null(tmp_path) -> None:
    journal = Journal(tmp_path / "trials.jsonl")
    bad = record(0)
    bad.result.metrics = {"pearson_r": float("nan")}
    journal.append(bad)
    line = json.loads(journal.path.read_text())
    assert line["metrics"]["pearson_r"] is None


def test_atomic_json(tmp_path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert read_json(path) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    with pytest.raises(ValueError):
        write_json_atomic(path, {"a": float("nan")})
    assert read_json(path) == {"a": 2}  # the old file survives a failed write

"""The command line end to end, as a user runs it: simulate, validate, run, show, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hpsearch.cli import main

pytestmark = pytest.mark.integration


def write_experiment(folder: Path) -> Path:
    assert main(["simulate", "--out", str(folder), "--lines", "120", "--markers", "150",
                 "--traits", "1", "--folds", "3", "--seed", "1"]) == 0  # fmt: skip
    (folder / "space.yaml").write_text(
        "parameters:\n"
        "  units: {type: int, low: 4, high: 16}\n"
        "  activation: {type: categorical, choices: [relu, tanh]}\n"
        "  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"
        "  epochs: 6\n"
        "  patience: 2\n"
    )
    config = folder / "exp.yaml"
    config.write_text(
        "name: cli\n"
        "data: {genotypes: sim.X, phenotypes: sim.Y, trait: 0}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: [2]}, inner: {kfold: 2}}\n"
        "space: space.yaml\n"
        "stages: [{strategy: random, trials: 2}, {strategy: grid, trials: 2}]\n"
        "seed: 4\n"
        f"tracking: {{uri: 'sqlite:///{folder / 'mlflow.db'}', experiment: cli-test}}\n"
    )
    return config


def test_run_show_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_experiment(tmp_path)
    capsys.readouterr()
    assert main(["validate", str(config)]) == 0
    assert "120 lines × 150 markers" in capsys.readouterr().out

    assert main(["run", str(config), "--output", str(tmp_path / "runs"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best trial #" in out and "outer test: pearson_r" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    for name in (
        "config.yaml",
        "space.yaml",
        "data.json",
        "summary.json",
        "fold2/trials.jsonl",
        "fold2/state.json",
        "fold2/outer.json",
    ):
        assert (run_dir / name).is_file(), name
    lines = (run_dir / "fold2" / "trials.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["stage"] for r in records] == [0, 0, 1, 1]
    assert all(r["status"] == "completed" for r in records)
    assert all(len(r["curves"]["fold0/loss"]) >= 1 for r in records)
    summary = json.loads((run_dir / "summary.json").read_text())
    outer_r = summary["folds"][0]["outer_metrics"]["pearson_r"]
    assert -1.0 <= outer_r <= 1.0
    from hpsearch.runner.predictions import read_predictions

    ids, observed, predicted = read_predictions(run_dir / "fold2" / "predictions.tsv")
    assert len(ids) == len(set(ids)) > 0 and np.isfinite(predicted).all()
    assert float(np.corrcoef(observed, predicted)[0, 1]) == pytest.approx(outer_r, abs=1e-4)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cli-test")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    by_id = {r["trial_id"]: r for r in records}
    for child in children:
        record = by_id[int(child.data.tags["hpsearch.trial_id"])]
        history = client.get_metric_history(child.info.run_id, "fold0/loss")
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
            record["curves"]["fold0/loss"]
        )
    assert "outer_pearson_r" in parents[0].data.metrics

    assert main(["show", str(run_dir)]) == 0
    assert "fold2: 4 trials" in capsys.readouterr().out

    assert main(["resume", str(run_dir), "--quiet"]) == 0  # finished: nothing new is run
    assert len((run_dir / "fold2" / "trials.jsonl").read_text().splitlines()) == 4

    # Export the near-optimal configurations, then evaluate exactly those with --params.
    exported = tmp_path / "best.yaml"
    assert main(["export", str(run_dir), "--top", "2", "-o", str(exported)]) == 0
    assert main(["run", str(config), "--params", str(exported), "--no-mlflow", "--quiet",
                 "--executor", "inprocess", "--output", str(tmp_path / "again")]) == 0  # fmt: skip
    (again,) = (tmp_path / "again").iterdir()
    rerun = [
        json.loads(line) for line in (again / "fold2" / "trials.jsonl").read_text().splitlines()
    ]
    exported_params = [c["params"] for c in yaml.safe_load(exported.read_text())["configurations"]]
    assert [r["params"] for r in rerun] == exported_params  # exactly those, in the file's order
    assert len(rerun) == 2
    searched = {json.dumps(r["params"], sort_keys=True) for r in records}
    assert all(json.dumps(p, sort_keys=True) in searched for p in exported_params)
    assert {r["strategy"] for r in rerun} == {"given"}


def test_list_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "strategies"]) == 0
    out = capsys.readouterr().out
    assert "grid" in out and "random" in out
    assert main(["list", "models"]) == 0
    assert {"mlp", "cnn", "lstm"} <= {
        line.split()[0] for line in capsys.readouterr().out.splitlines()
    }
    assert main(["list", "spaces"]) == 0
    assert "mlp" in capsys.readouterr().out

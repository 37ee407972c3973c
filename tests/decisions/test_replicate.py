"""``hpsearch replicate``: finalists refitted with several seeds on a tiny real search."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hpsearch.decisions.replicate import (
    add_replicate_parser,
    cmd_replicate,
    finalists,
    replicate_seeds,
    spread,
)


def test_seeds_are_reproducible_and_unlike_trial_seeds() -> None:
    from hpsearch.runner.context import trial_seed

    seeds = replicate_seeds(42, 5)
    assert seeds == replicate_seeds(42, 5) and len(set(seeds)) == 5
    assert not set(seeds) & {trial_seed(42, t) for t in range(-1, 10_000)}
    assert replicate_seeds(43, 5) != seeds


def test_spread_uses_finite_values_only() -> None:
    out = spread([1.0, 3.0, None, math.nan])
    assert out == {"n": 2, "mean": 2.0, "sd": pytest.approx(math.sqrt(2)), "min": 1.0, "max": 3.0}
    assert spread([0.5])["sd"] is None


def test_finalists_are_distinct_configurations_best_first(make_run, params_of) -> None:
    from hpsearch.decisions.export import open_run

    a, b, c = params_of(8), params_of(64), params_of(128)
    run = open_run(make_run("r", {"fold1": [(a, 0.2), (b, 0.5), (a, 0.6), (c, None), (c, 0.1)]}))
    picked = finalists(run, run.fold_records()["fold1"], 5)
    assert [r.trial_id for r in picked] == [2, 1, 4]  # a's better trial, then b, then c


def test_cli_errors_are_one_line(
    make_run, params_of, cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run("r", {"fold1": [(params_of(8), 0.3)]})
    cases = {
        "missing run dir": ["replicate", str(tmp_path / "nowhere")],
        "K < 1": ["replicate", str(run), "--top", "0"],
        "one seed": ["replicate", str(run), "--seeds", "1"],
        "data gone": ["replicate", str(run)],  # the synthetic config names no real files
    }
    for why, argv in cases.items():
        assert cli(argv, add_replicate_parser, cmd_replicate) == 2, why
        err = capsys.readouterr().err
        assert err.startswith("hpsearch: error: ") and err.count("\n") == 1, (why, err)


def write_experiment(folder: Path, tracking: str = "{mlflow: false}") -> Path:
    from hpsearch.data.simulate import simulate, write_simulated

    write_simulated(
        simulate(n_lines=72, n_markers=40, n_traits=1, n_qtl=8, n_folds=3, seed=2), folder
    )
    (folder / "space.yaml").write_text(
        "parameters:\n"
        "  units: {type: int, low: 4, high: 12}\n"
        "  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"
        "  epochs: 5\n"
        "  patience: 2\n"
    )
    config = folder / "exp.yaml"
    config.write_text(
        "name: rep\n"
        "data: {genotypes: sim.X, phenotypes: sim.Y, trait: 0}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: [1]}, inner: {kfold: 2}}\n"
        "space: space.yaml\nmodel: mlp\n"
        "stages: [{strategy: random, trials: 2}]\n"
        f"execution: {{executor: inprocess}}\noutput: {folder / 'runs'}\nseed: 5\n"
        f"tracking: {tracking}\n"
    )
    return config


@pytest.mark.integration
def test_replicate_a_tiny_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 2-trial search (in-process), replicated with 2 seeds through the command."""
    from hpsearch.config import load_config
    from hpsearch.runner.executors import InProcessExecutor
    from hpsearch.runner.experiment import prepare, run_experiment

    prepared = prepare(load_config(write_experiment(tmp_path)))
    outcome = run_experiment(prepared, executor=InProcessExecutor())
    run_dir = outcome.run_dir.path
    records = {r.trial_id: r for r in outcome.run_dir.fold("fold1").journal.read()}
    assert len(records) == 2 and all(r.result.ok for r in records.values())

    import argparse

    parser = argparse.ArgumentParser()
    add_replicate_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["replicate", str(run_dir), "--top", "2", "--seeds", "2"])
    assert cmd_replicate(args) == 0
    captured = capsys.readouterr()
    assert captured.err.count("seed ") == 4  # progress: 2 configurations × 2 seeds
    assert "fold1 rank 1 trial #" in captured.out

    doc = json.loads((run_dir / "replicates.json").read_text())
    assert doc["complete"] and doc["seeds"] == replicate_seeds(5, 2)
    (fold,) = doc["folds"]
    assert [c["rank"] for c in fold["configurations"]] == [1, 2]
    by_score = sorted(records.values(), key=lambda r: -r.result.score)
    assert [c["trial_id"] for c in fold["configurations"]] == [r.trial_id for r in by_score]
    for config in fold["configurations"]:
        record = records[config["trial_id"]]
        assert config["refit_epochs"] == record.result.info["refit_epochs"]
        assert config["inner_score"] == record.result.score
        scores = [r["metrics"]["pearson_r"] for r in config["runs"]]
        assert len(scores) == 2 and all(-1 <= s <= 1 for s in scores)
        if scores[0] != scores[1]:  # different initial values: a spread (unless identical)
            assert config["outer"]["sd"] > 0
        assert config["outer"]["mean"] == pytest.approx(sum(scores) / 2)
    assert len(doc["configurations"]) == 2
    assert "outer mean ± sd" in (run_dir / "replicates.md").read_text()
    assert not (run_dir / "mlflow.json").exists()  # untracked run: nothing logged


@pytest.mark.integration
def test_replicates_report_and_inspection_reach_mlflow(make_run, params_of, tmp_path: Path) -> None:
    """Replicate runs nest under their trial's run (so 'hpsearch sync', which tidies the fold
    parent's direct children, leaves them alone); the report lands on the fold parent; an
    inspection is a run of its own. One sqlite store for all three (it takes seconds to make)."""
    from mlflow import MlflowClient

    from hpsearch.decisions.export import open_run
    from hpsearch.decisions.replicate import log_replicates
    from hpsearch.reporting.search_report import write_search_report
    from hpsearch.tracking.mlflow_tracker import sync

    a, b = params_of(8), params_of(64)
    path = make_run("r", {"fold1": [(a, 0.3), (b, 0.5), (params_of(16), 0.4)]})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sync(path, uri=uri, experiment="rep-test")  # parent + one child per trial, mlflow.json
    seeds = replicate_seeds(0, 2)
    configs = []
    for rank, (trial, params, values) in enumerate([(1, b, [0.41, 0.45]), (0, a, [0.2, 0.3])]):
        runs = [{"seed": s, "metrics": {"pearson_r": v, "mse": 1 - v}} for s, v in zip(
            seeds, values, strict=True)]  # fmt: skip
        configs.append({
            "rank": rank + 1, "trial_id": trial, "params": params, "inner_score": 0.5,
            "refit_epochs": 7, "runs": runs, "n_failed": 0,
            "outer": spread(values),
            "metrics": {"pearson_r": spread(values), "mse": spread([1 - v for v in values])},
        })  # fmt: skip
    document = {"metric": "pearson_r", "seeds": seeds, "folds": [
        {"fold": "fold1", "configurations": configs}]}  # fmt: skip
    run = open_run(path)
    log_replicates(run, document)
    log_replicates(run, document)  # logged again: replaced, not duplicated

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("rep-test")
    query = "tags.`hpsearch.role` = 'replicate'"
    found = client.search_runs([experiment.experiment_id], query, max_results=100)
    assert sorted(int(r.data.tags["hpsearch.source_trial"]) for r in found) == [0, 1]
    for logged in found:
        trial = int(logged.data.tags["hpsearch.source_trial"])
        parent = client.get_run(logged.data.tags["mlflow.parentRunId"])
        assert parent.data.tags["hpsearch.trial_id"] == str(trial)  # nested under the trial
        config = next(c for c in configs if c["trial_id"] == trial)
        history = client.get_metric_history(logged.info.run_id, "outer_pearson_r")
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
            [r["metrics"]["pearson_r"] for r in config["runs"]]
        )
        assert logged.data.metrics["outer_pearson_r_sd"] == pytest.approx(config["outer"]["sd"])
        assert logged.data.params["refit_epochs"] == "7"

    write_search_report(path)  # tracked (mlflow.json): attached to the fold's parent run
    parent_id = json.loads((path / "mlflow.json").read_text())["parents"]["fold1"]
    names = {Path(a.path).name for a in client.list_artifacts(parent_id, "report")}
    assert {"fold1_best_so_far.png", "fold1_parallel_coordinates.png", "report.md"} <= names

    sync(path)  # tidies the parent's direct children: the replicates must survive
    again = client.search_runs([experiment.experiment_id], query, max_results=100)
    assert {r.info.run_id for r in again} == {r.info.run_id for r in found}

    from hpsearch.inspection.report import Inspection, log_inspection

    folder = tmp_path / "inspection"
    folder.mkdir()
    (folder / "report.md").write_text("# inspection\n")
    facts = {
        "genotypes": "g.X",
        "phenotypes": "g.Y",
        "trait": "0",
        "genotype": {"n_lines": 60, "maf_below_0.05": 3, "pcs_for_50_80_95pct": {"50%": 9}},
    }
    where, run_id = log_inspection(
        Inspection(folder, facts, []), uri=uri, experiment="inspect-test", name="inspection: g"
    )  # fmt: skip
    assert where == uri
    logged = client.get_run(run_id)
    assert logged.data.tags["hpsearch.role"] == "inspection"
    assert logged.data.metrics["maf_below_0.05"] == 3.0
    assert logged.data.params["pcs_for_50pct"] == "9"
    artifacts = {Path(a.path).name for a in client.list_artifacts(run_id, "inspection")}
    assert artifacts == {"report.md"}


def test_undefined_scores_and_failed_refits_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Keras: the refit is replaced by a stub that returns NaN for one seed and diverges
    for the other; the files stay strict JSON and say what happened."""
    from hpsearch.config import load_config
    from hpsearch.decisions.replicate import replicate_run
    from hpsearch.errors import TrialFailed
    from hpsearch.runner.context import TrialContext
    from hpsearch.runner.experiment import prepare, start_run_dir
    from hpsearch.trial import TrialRecord, TrialResult, TrialStatus

    prepared = prepare(load_config(write_experiment(tmp_path)))
    run_dir = start_run_dir(prepared)
    journal = run_dir.fold("fold1").journal
    params = {"units": 8, "learning_rate": 0.005, "epochs": 5, "patience": 2}
    journal.append(TrialRecord(TrialResult(0, params, TrialStatus.COMPLETED, 0.3,
                                           info={"refit_epochs": 3})))  # fmt: skip
    seeds = replicate_seeds(5, 2)
    calls = []

    def stub(self, params, *, epochs, seed):
        calls.append((epochs, seed))
        if seed == seeds[1]:
            raise TrialFailed("diverged: loss became nan at epoch 2 of the refit")
        return {"pearson_r": math.nan, "mse": 1.5}

    monkeypatch.setattr(TrialContext, "evaluate_outer", stub)
    doc = replicate_run(run_dir.path, top=3, seeds=2, mlflow=False, progress=lambda s: None)
    assert calls == [(3, seeds[0]), (3, seeds[1])]  # the trial's refit epochs, both seeds
    (config,) = doc["folds"][0]["configurations"]
    assert config["runs"][0]["metrics"] == {"pearson_r": None, "mse": 1.5}
    assert "diverged" in config["runs"][1]["error"] and config["n_failed"] == 1
    assert config["outer"] == {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    assert config["metrics"]["mse"]["mean"] == 1.5
    json.loads((run_dir.path / "replicates.json").read_text())  # strict JSON: no NaN
    assert "| undefined, failed |" in (run_dir.path / "replicates.md").read_text()

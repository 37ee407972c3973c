"""Baselines on an experiment's outer folds: honesty, the table, MLflow, the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from hpsearch.baselines.methods import BASELINES
from hpsearch.baselines.run import (
    add_parser,
    cmd_baseline,
    evaluate_split,
    parse_methods,
    preprocess_options,
    run_baselines,
)
from hpsearch.config import load_config
from hpsearch.errors import ConfigError, UnknownNameError
from hpsearch.runner.experiment import prepare

FAST = {"rf": {"n_estimators": 60}}


def test_chosen_hyperparameters_do_not_depend_on_the_test_rows(experiment) -> None:
    prepared = prepare(load_config(experiment()))
    data, plan = prepared.data, prepared.plans[0]
    test = plan.outer.valid
    options = preprocess_options(prepared.config.preprocess)
    assert options.preselect_top_k == 100
    changed = dataclasses.replace(data, genotypes=data.genotypes.copy(), target=data.target.copy())
    rng = np.random.default_rng(0)
    changed.genotypes[test] = rng.integers(0, 2, changed.genotypes[test].shape)
    changed.target[test] = rng.normal(5.0, 3.0, test.size)
    for name in ("ridge", "gblup", "rkhs", "rf"):
        method = BASELINES.get(name)
        kwargs = {"preprocess": options, "seed": 1, "options": FAST.get(name)}
        first = evaluate_split(data, plan.outer, method, **kwargs)
        second = evaluate_split(changed, plan.outer, method, **kwargs)
        assert first.chosen == second.chosen, name  # bit-identical choices
        assert first.n_markers == 100
        assert first.metrics["mse"] != second.metrics["mse"], name  # the test rows did change


def test_every_outer_fold_is_scored_and_the_table_is_written(experiment, tmp_path: Path) -> None:
    prepared = prepare(load_config(experiment()))
    out = tmp_path / "table"
    report = run_baselines(prepared, methods="ridge,gblup", mlflow=False, run_dir=out, options=FAST)
    plans = prepared.plans
    assert [f["fold"] for f in report.folds] == [p.outer.name for p in plans] == [
        "fold1", "fold2", "fold3",
    ]  # fmt: skip
    assert [f["n_test"] for f in report.folds] == [p.outer.valid.size for p in plans]
    assert len(report.results) == 2 * len(plans)
    saved = json.loads((out / "baselines.json").read_text())
    assert saved["methods"] == ["ridge", "gblup"] and saved["metric"] == "pearson_r"
    for method in ("ridge", "gblup"):
        values = [r["metrics"]["pearson_r"] for r in saved["results"] if r["method"] == method]
        assert len(values) == 3 and all(v > 0.2 for v in values)
        assert saved["summary"][method]["pearson_r"]["mean"] == pytest.approx(
            statistics.fmean(values)
        )
        assert saved["summary"][method]["pearson_r"]["sd"] == pytest.approx(
            statistics.stdev(values)
        )
    first = saved["results"][0]
    assert set(first["metrics"]) == {"pearson_r", "spearman_r", "mse", "rmse", "slope"}
    assert first["fit_seconds"] > 0 and first["n_markers"] == 100
    markdown = (out / "baselines.md").read_text()
    assert "| ridge |" in markdown and "| fold3 | gblup |" in markdown
    assert (out / "config.yaml").is_file()  # a run directory 'hpsearch show' can open
    # pooled r: every test line once, over all folds, against the same lines' observations
    for method in ("ridge", "gblup"):
        rows = [r for r in report.results if r.method == method]
        assert sum(len(r.predicted) for r in rows) == prepared.data.n_lines
        observed = np.concatenate([r.observed for r in rows])
        predicted = np.concatenate([r.predicted for r in rows])
        outer_rows = np.concatenate([p.outer.valid for p in plans])
        assert np.array_equal(observed, prepared.data.target[outer_rows])
        pooled = report.pooled()[method]
        assert pooled == pytest.approx(float(np.corrcoef(observed, predicted)[0, 1]))
    assert "Pooled pearson_r over all folds' test lines" in markdown


def test_binary_trait_skips_kernel_methods_with_a_note(experiment) -> None:
    prepared = prepare(load_config(experiment(binary=True)))
    assert prepared.data.task == "binary"
    report = run_baselines(prepared, mlflow=False, options=FAST)
    assert report.methods == ["ridge", "rf"]
    assert set(report.skipped) == {"gblup", "rkhs"} and "binary" in report.skipped["gblup"]
    assert "- gblup: skipped (not for binary traits" in report.to_markdown()
    assert report.metric == "roc_auc"
    summary = report.summary()
    assert summary["ridge"]["roc_auc"]["mean"] > 0.6
    assert report.run_dir is not None and report.run_dir.name.startswith("sim-baselines-")
    with pytest.raises(ConfigError, match="methods: must include a method for a binary trait"):
        run_baselines(prepared, methods=["gblup", "rkhs"], mlflow=False)


def test_mlflow_failure_warns_once_and_keeps_the_table(experiment, tmp_path: Path) -> None:
    prepared = prepare(load_config(experiment()))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    notes: list[str] = []
    report = run_baselines(
        prepared,
        methods="ridge",
        mlflow=True,
        uri=f"sqlite:///{blocker / 'm.db'}",  # a file where a folder should be
        run_dir=tmp_path / "kept",
        warn=notes.append,
    )
    assert len(notes) == 1 and "MLflow logging failed" in notes[0]
    assert report.mlflow == {}
    assert json.loads((tmp_path / "kept" / "baselines.json").read_text())["results"]


def test_method_names_are_checked() -> None:
    assert parse_methods(" ridge, rf ,ridge") == ["ridge", "rf"]
    assert parse_methods(None) == ["ridge", "gblup", "rkhs", "rf"]
    with pytest.raises(UnknownNameError, match="did you mean 'rkhs'"):
        parse_methods("ridge,rhks", source="command line")
    with pytest.raises(ConfigError, match="methods: must name one or more"):
        parse_methods(" , ")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpsearch")
    add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_command_writes_the_table_and_one_mlflow_run_per_method(
    experiment, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient

    config = experiment(preprocess="{}")
    args = _parser().parse_args(["baseline", str(config), "--quiet"])
    assert args.handler is cmd_baseline
    assert cmd_baseline(args) == 0
    out = capsys.readouterr().out
    assert "pearson_r (mean ± sd)" in out
    for method in ("ridge", "gblup", "rkhs", "rf"):
        assert f"\n{method} " in out
    (run_dir,) = (config.parent / "runs").iterdir()
    assert {"baselines.json", "baselines.md", "config.yaml"} <= {p.name for p in run_dir.iterdir()}
    saved = json.loads((run_dir / "baselines.json").read_text())
    assert saved["covariates"] == {}  # no data.covariates: every method on the markers only
    assert all(r["covariates"] == [] and r["fixed_effects"] == {} for r in saved["results"])
    client = MlflowClient(tracking_uri=f"sqlite:///{config.parent / 'mlflow.db'}")
    found = client.get_experiment_by_name("sim-baselines")
    runs = client.search_runs([found.experiment_id])
    methods = sorted(r.data.tags["hpsearch.baseline"] for r in runs)
    assert methods == ["gblup", "rf", "ridge", "rkhs"]
    for run in runs:
        method = run.data.tags["hpsearch.baseline"]
        assert run.info.status == "FINISHED"
        assert run.info.run_id == saved["mlflow"]["runs"][method]
        assert run.data.params["covariates"] == "none"
        mean = saved["summary"][method]["pearson_r"]["mean"]
        assert run.data.metrics["mean_outer_pearson_r"] == pytest.approx(mean)
        assert "fold2_outer_pearson_r" in run.data.metrics
    gblup = next(r for r in runs if r.data.tags["hpsearch.baseline"] == "gblup")
    assert float(gblup.data.params["fold1.variance_ratio"]) > 0
    rkhs = next(r for r in runs if r.data.tags["hpsearch.baseline"] == "rkhs")
    assert float(rkhs.data.params["fold3.bandwidth"]) in (0.1, 0.25, 0.5, 1.0, 2.0)


def test_command_through_the_main_cli_when_wired(experiment) -> None:
    from hpsearch.cli import build_parser, main

    try:
        build_parser().parse_args(["baseline", "x.yaml"])
    except SystemExit:
        pytest.skip("'hpsearch baseline' is not wired into hpsearch/cli.py yet")
    config = experiment()
    assert main(["baseline", str(config), "--methods", "ridge", "--no-mlflow", "--quiet"]) == 0
    assert main(["baseline", str(config), "--methods", "ridge,gblpu"]) == 2


def test_bad_preprocess_values_name_the_config_section(experiment) -> None:
    prepared = prepare(load_config(experiment(preprocess="{preselect_top_k: -5}")))
    with pytest.raises(ConfigError, match=r"exp\.yaml: preprocess\.preselect_top_k: must be"):
        run_baselines(prepared, methods="ridge", mlflow=False)

"""``hpsearch report``: figures, importance from the journal, the Markdown report, MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.image import imread

from hpsearch.reporting.search_report import (
    add_report_parser,
    cmd_report,
    param_importances,
    report_after_search,
    write_search_report,
)
from hpsearch.trial import Objective


def load_records(run: Path) -> list:
    from hpsearch.tracking.journal import Journal

    return Journal(run / "fold1" / "trials.jsonl").read()


def test_importance_finds_the_parameter_that_matters(make_search) -> None:
    from hpsearch.space import load_space

    run = make_search(30, seed=1)
    importance = param_importances(load_space(run / "space.yaml"), load_records(run), Objective())
    assert set(importance.by_method) == {"fANOVA", "PED-ANOVA"}
    for method, scores in importance.by_method.items():
        assert max(scores, key=scores.get) == "learning_rate", method
        assert sum(scores.values()) == pytest.approx(1.0)
    assert "momentum" in importance.by_method["PED-ANOVA"]  # PED-ANOVA rates conditionals
    assert "momentum" not in importance.by_method["fANOVA"]  # fANOVA only common ones
    assert "conditional" in importance.not_rated["momentum"]
    assert "epochs" not in importance.by_method["fANOVA"]  # fixed: never searched


def test_report_files_and_facts(make_search) -> None:
    run = make_search(16, fail_every=5)
    folder = write_search_report(run, mlflow=False)
    assert folder == run / "report"
    pngs = ["best_so_far", "importance", "score_by_parameter", "parallel_coordinates"]
    for name in pngs:
        image = imread(folder / f"fold1_{name}.png")
        assert image.shape[0] > 200 and image.shape[1] > 400, name
    records = load_records(run)
    done = [r for r in records if r.result.ok]
    best = max(done, key=lambda r: r.result.score)
    facts = json.loads((folder / "report.json").read_text())["folds"]["fold1"]
    assert facts["best_trial"] == best.trial_id
    assert facts["n_trials"] == 16 and facts["n_completed"] == 13
    text = (folder / "report.md").read_text()
    assert f"Best: trial {best.trial_id}" in text and "3 failed" in text
    for name in pngs:
        assert f"(fold1_{name}.png)" in text
    html = (folder / "report.html").read_text()
    assert "<img src='fold1_parallel_coordinates.png'" in html and "<table>" in html


def test_few_trials_skip_importance_but_still_plot(make_search) -> None:
    run = make_search(3)
    folder = write_search_report(run, mlflow=False)
    assert not (folder / "fold1_importance.png").exists()
    assert (folder / "fold1_parallel_coordinates.png").is_file()
    assert (
        "importance needs at least 5 completed trials (3 here)"
        in (folder / "report.md").read_text()
    )


def test_all_failed_fold_is_reported_not_crashed(make_search) -> None:
    run = make_search(2, fail_every=1)
    text = (write_search_report(run, mlflow=False) / "report.md").read_text()
    assert "2 trials, none completed." in text


def test_cli_and_end_of_search_hook(
    make_search, cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_search(6)
    assert cli(["report", str(run), "--no-mlflow"], add_report_parser, cmd_report) == 0
    assert "report.md" in capsys.readouterr().out
    assert cli(["report", str(tmp_path / "nowhere")], add_report_parser, cmd_report) == 2
    err = capsys.readouterr().err
    assert err.startswith("hpsearch: error: ") and err.count("\n") == 1
    warnings: list[str] = []
    assert report_after_search(tmp_path / "nowhere", warn=warnings.append) is None
    assert len(warnings) == 1 and "hpsearch report" in warnings[0]

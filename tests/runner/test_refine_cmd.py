"""``hpsearch refine``: a new run around an earlier run's per-fold best, with a toy objective.

No Keras: trials are scored by ``toy_score`` through ``InProcessExecutor(evaluate=...)``, and the
outer-test refit (``TrialContext.evaluate_outer``) is replaced by a toy as well.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpsearch.config import load_config
from hpsearch.data.simulate import simulate, write_simulated
from hpsearch.errors import ConfigError, StateError
from hpsearch.runner import experiment
from hpsearch.runner.context import TrialContext
from hpsearch.runner.executors import InProcessExecutor
from hpsearch.runner.experiment import load_run_config, prepare, run_experiment
from hpsearch.runner.refine_cmd import (
    add_refine_parser,
    cmd_refine,
    is_refine_run,
    previous_records,
    read_previous,
    refine_config,
    refine_run,
    resume_refine,
)
from hpsearch.runner.rundir import RunDir
from hpsearch.strategies.testing import toy_score
from hpsearch.trial import Suggestion, TrialResult, TrialStatus

FOLDS = ("fold1", "fold2")


def fold_score(context: TrialContext, params: dict[str, Any]) -> float:
    """The toy score, reversed in fold2 so that the two folds have different best trials."""
    score = toy_score(params)
    return score if context.plan.outer.name == "fold1" else -score


def toy_evaluate(context: TrialContext, s: Suggestion) -> TrialResult:
    return TrialResult(
        s.trial_id, s.params, TrialStatus.COMPLETED, fold_score(context, s.params),
        info={"refit_epochs": 2},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def toy_outer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outer-test refit would train Keras: score the best configuration with the toy."""

    def evaluate_outer(
        self: TrialContext, params: dict, *, epochs: int, seed: int, **_: object
    ) -> dict:
        return {"pearson_r": fold_score(self, dict(params)) / 100}

    monkeypatch.setattr(TrialContext, "evaluate_outer", evaluate_outer)


def write_experiment(folder: Path, *, trials: int = 12) -> Path:
    sim = simulate(n_lines=60, n_markers=30, n_traits=1, n_qtl=5, n_folds=3, seed=1)
    write_simulated(sim, folder, prefix="sim")
    (folder / "space.yaml").write_text(
        "parameters:\n"
        "  activation: {type: categorical, choices: [relu, tanh]}\n"
        "  units: {type: ordinal, values: [8, 16, 32, 64, 128]}\n"
        "  n_layers: {type: int, low: 1, high: 4}\n"
        "  learning_rate: {type: ordinal, values: [1.0e-4, 1.0e-3, 1.0e-2, 1.0e-1]}\n"
        "  epochs: 5\n"
    )
    config = folder / "exp.yaml"
    config.write_text(
        "name: toy\n"
        "data: {genotypes: sim.X, phenotypes: sim.Y, trait: 0}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: [1, 2]}, inner: {kfold: 2}}\n"
        "space: space.yaml\n"
        f"stages: [{{strategy: random, trials: {trials}}}]\n"
        "execution: {executor: inprocess}\n"
        "tracking: {mlflow: false}\n"
        "seed: 5\n"
        f"output: {folder / 'runs'}\n"
    )
    return config


def first_run(folder: Path, evaluate: Any = toy_evaluate, trials: int = 12) -> RunDir:
    prepared = prepare(load_config(write_experiment(folder, trials=trials)))
    outcome = run_experiment(prepared, executor=InProcessExecutor(evaluate=evaluate))
    return outcome.run_dir


def top_ids(run_dir: RunDir, fold: str, k: int) -> list[int]:
    """The k best completed trial ids of a fold, computed from the journal directly."""
    records = [r for r in run_dir.fold(fold).journal.read() if r.result.ok]
    records.sort(key=lambda r: (-r.result.score, r.trial_id))
    return [r.trial_id for r in records[:k]]


def test_refine_searches_around_each_folds_own_best_without_repeats(tmp_path: Path) -> None:
    source = first_run(tmp_path)
    config, space = load_run_config(source)
    config = refine_config(config, top_k=2, trials=6, radius=1, method="grid")
    prepared = prepare(config, space=space)
    seen: list[tuple[str, dict]] = []

    def recording(context: TrialContext, s: Suggestion) -> TrialResult:
        seen.append((context.plan.outer.name, dict(s.params)))
        return toy_evaluate(context, s)

    outcome = refine_run(
        prepared,
        previous_records(source),
        source=source,
        executor=InProcessExecutor(evaluate=recording),
    )
    new = outcome.run_dir
    assert new.path != source.path and new.path.name.startswith("toy-refine-")
    written = yaml.safe_load((new.path / "config.yaml").read_text())
    assert written["stages"] == [
        {"strategy": "refine", "trials": 6, "options": {"top_k": 2, "radius": 1, "method": "grid"}}
    ]
    assert [f["fold"] for f in outcome.summary["folds"]] == list(FOLDS)
    assert top_ids(source, "fold1", 2) != top_ids(source, "fold2", 2)  # the folds differ
    for fold in FOLDS:
        old = {r.trial_id: r for r in source.fold(fold).journal.read()}
        old_keys = {space.key(r.result.params) for r in old.values()}
        records = new.fold(fold).journal.read()
        assert len(records) == 6
        assert all(r.strategy == "refine" and r.stage == 0 for r in records)
        keys = [space.key(r.result.params) for r in records]
        assert len(set(keys)) == len(keys) and not set(keys) & old_keys  # nothing repeated
        centres = {r.tags["centre"] for r in records}
        assert centres <= set(top_ids(source, fold, 2)) and len(centres) == 2
        for r in records:  # a neighbour of its centre: categoricals kept, units one step away
            centre = old[r.tags["centre"]].result.params
            assert r.result.params["activation"] == centre["activation"]
            units = [8, 16, 32, 64, 128]
            assert abs(units.index(r.result.params["units"]) - units.index(centre["units"])) <= 1
        previous = (new.fold(fold).path / "previous.jsonl").read_text().splitlines()
        assert [json.loads(line)["trial_id"] for line in previous] == sorted(old)
    assert [name for name, _ in seen] == ["fold1"] * 6 + ["fold2"] * 6
    provenance = json.loads((new.path / "refine.json").read_text())
    assert provenance["source_run"] == str(source.path)
    assert json.loads((new.path / "summary.json").read_text())["refined_from"] == str(source.path)


def test_folds_without_a_completed_trial_are_left_out(tmp_path: Path) -> None:
    def fold2_fails(context: TrialContext, s: Suggestion) -> TrialResult:
        if context.plan.outer.name == "fold2":
            return TrialResult.failed(s.trial_id, s.params, "diverged")
        return toy_evaluate(context, s)

    source = first_run(tmp_path, fold2_fails, trials=4)
    previous = previous_records(source)
    assert sorted(previous) == ["fold1"]
    config, space = load_run_config(source)
    prepared = prepare(
        refine_config(config, top_k=1, trials=3, radius=1, method="random"), space=space
    )
    outcome = refine_run(prepared, previous, executor=InProcessExecutor(evaluate=toy_evaluate))
    assert [f["fold"] for f in outcome.summary["folds"]] == ["fold1"]
    assert len(outcome.run_dir.fold("fold1").journal.read()) == 3


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hpsearch")
    add_refine_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cmd_refine_runs_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = first_run(tmp_path)
    monkeypatch.setattr(
        experiment,
        "make_executor",
        lambda config, run_dir: InProcessExecutor(evaluate=toy_evaluate),
    )
    out = tmp_path / "refined"
    args = parse(
        ["refine", str(source.path), "--top-k", "3", "--trials", "4", "--method", "random",
         "--output", str(out), "--quiet", "--no-mlflow"]
    )  # fmt: skip
    assert cmd_refine(args) == 0
    (new,) = out.iterdir()
    assert "best trial #" in capsys.readouterr().out
    for fold in FOLDS:
        records = RunDir(new).fold(fold).journal.read()
        assert len(records) == 4
        assert {r.tags["centre"] for r in records} <= set(top_ids(source, fold, 3))


class Crash(BaseException):
    """Stands for the process being killed."""


def test_a_stopped_refine_run_resumes_from_its_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = first_run(tmp_path)
    config, space = load_run_config(source)
    prepared = prepare(
        refine_config(config, top_k=2, trials=5, radius=1, method="grid"), space=space
    )
    calls: list[int] = []

    def crashing(context: TrialContext, s: Suggestion) -> TrialResult:
        calls.append(s.trial_id)
        if len(calls) == 8:  # fold1 done, fold2 in its third trial
            raise Crash
        return toy_evaluate(context, s)

    with pytest.raises(Crash):
        refine_run(
            prepared,
            previous_records(source),
            source=source,
            executor=InProcessExecutor(evaluate=crashing),
        )
    (new,) = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("toy-refine-")]
    new_dir = RunDir(new)
    assert is_refine_run(new_dir) and not is_refine_run(source)
    assert read_previous(new_dir) == previous_records(source)
    assert len(new_dir.fold("fold2").journal.read()) == 2
    monkeypatch.setattr(
        experiment,
        "make_executor",
        lambda config, run_dir: InProcessExecutor(evaluate=toy_evaluate),
    )
    assert resume_refine(new_dir, quiet=True) == 0
    assert f"resuming, refining {source.path}" in capsys.readouterr().err
    for fold in FOLDS:
        old_keys = {space.key(r.result.params) for r in source.fold(fold).journal.read()}
        records = new_dir.fold(fold).journal.read()
        keys = [space.key(r.result.params) for r in records]
        assert len(records) == 5 and len(set(keys)) == 5 and not set(keys) & old_keys
        assert {r.tags["centre"] for r in records} <= set(top_ids(source, fold, 2))
    summary = json.loads((new / "summary.json").read_text())
    assert summary["refined_from"] == str(source.path) and len(summary["folds"]) == 2


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    with pytest.raises(StateError) as info:
        cmd_refine(parse(["refine", str(missing), "--top-k", "2"]))
    assert str(missing) in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2

    (tmp_path / "not-a-run").mkdir()
    with pytest.raises(StateError, match=r"no config\.yaml"):
        cmd_refine(parse(["refine", str(tmp_path / "not-a-run"), "--top-k", "2"]))

    source = first_run(tmp_path / "ok")
    for flag, value in (("--top-k", "0"), ("--trials", "0"), ("--radius", "-1")):
        argv = ["refine", str(source.path), "--top-k", "2", flag, value]
        with pytest.raises(ConfigError, match=rf"command line: {flag}: must be an integer >="):
            cmd_refine(parse(argv))

    def failing(context: TrialContext, s: Suggestion) -> TrialResult:
        return TrialResult.failed(s.trial_id, s.params, "diverged")

    failed = first_run(tmp_path / "failed", failing, trials=3)
    with pytest.raises(StateError, match="must hold at least one completed trial") as info:
        cmd_refine(parse(["refine", str(failed.path), "--top-k", "1"]))
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


def test_through_the_hpsearch_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hpsearch.cli import main

    try:
        main(["refine", "--help"])
    except SystemExit as exc:
        if exc.code != 0:
            pytest.skip("'hpsearch refine' is not wired into hpsearch/cli.py yet")
    capsys.readouterr()
    assert main(["refine", str(tmp_path / "missing"), "--top-k", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hpsearch: error: ") and "\n" not in err
    assert main(["refine", str(tmp_path), "--top-k", "0"]) == 2
    assert "--top-k: must be an integer >= 1" in capsys.readouterr().err

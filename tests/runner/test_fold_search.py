"""The per-fold search loop with a toy objective: stages, journal, resume, breaker, deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hpsearch.config import DataConfig, ExecutionConfig, ExperimentConfig, StageConfig
from hpsearch.errors import FatalError
from hpsearch.runner.executors import InProcessExecutor
from hpsearch.runner.rundir import FoldDir, RunDir
from hpsearch.runner.search import FoldSearch
from hpsearch.strategies.testing import contract_space, toy_score
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus


@dataclass
class ToyContext:
    objective: Objective = field(default_factory=Objective)
    search_seed: int = 0

    def evaluate_outer(self, params, *, epochs, seed, save_predictions=None):
        return {"pearson_r": toy_score(params) / 10}


def toy_evaluate(context: ToyContext, s: Suggestion) -> TrialResult:
    return TrialResult(
        s.trial_id, s.params, TrialStatus.COMPLETED, toy_score(s.params), info={"refit_epochs": 3}
    )


def make_config(stages: list[StageConfig], **execution) -> ExperimentConfig:
    return ExperimentConfig(
        name="toy",
        data=DataConfig(Path("x"), Path("y")),
        space=Path("s"),
        stages=stages,
        execution=ExecutionConfig(**execution),
        seed=3,
    )


def search(tmp_path: Path, config: ExperimentConfig, evaluate=toy_evaluate) -> FoldSearch:
    run_dir = RunDir(tmp_path)
    return FoldSearch(
        config,
        contract_space(),
        ToyContext(),
        run_dir.fold("fold1"),
        InProcessExecutor(evaluate=evaluate),
    )


def test_stages_run_in_order_and_are_journaled(tmp_path: Path) -> None:
    config = make_config([StageConfig("random", 5), StageConfig("grid", 4, {"points": 2})])
    outcome = search(tmp_path, config).run()
    records = RunDir(tmp_path).fold("fold1").journal.read()
    assert [r.stage for r in records] == [0] * 5 + [1] * 4
    assert [r.strategy for r in records] == ["random"] * 5 + ["grid"] * 4
    assert [r.trial_id for r in records] == list(range(9))
    assert outcome.n_trials == 9
    assert outcome.best is not None
    assert outcome.best.result.score == max(r.result.score for r in records)
    assert outcome.outer_metrics == {"pearson_r": toy_score(outcome.best.result.params) / 10}
    assert (tmp_path / "fold1" / "outer.json").is_file()


class Crash(BaseException):
    """Stands for the driver being killed."""


def test_resume_after_a_crash_mid_trial_finishes_the_budget_without_duplicates(
    tmp_path: Path,
) -> None:
    config = make_config([StageConfig("random", 6), StageConfig("random", 3)])
    calls: list[int] = []

    def crashing(context: ToyContext, s: Suggestion) -> TrialResult:
        calls.append(s.trial_id)
        if len(calls) == 4:
            raise Crash
        return toy_evaluate(context, s)

    with pytest.raises(Crash):
        search(tmp_path, config, crashing).run()
    assert len(RunDir(tmp_path).fold("fold1").journal.read()) == 3
    search(tmp_path, config).run()
    records = RunDir(tmp_path).fold("fold1").journal.read()
    ids = [r.trial_id for r in records]
    assert len(ids) == len(set(ids)) == 9
    assert ids[3] == calls[3]  # the in-flight trial was re-run under its own id
    assert [r.stage for r in records] == [0] * 6 + [1] * 3


def test_kill_between_journal_and_state_is_replayed_not_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config([StageConfig("random", 5)])
    real_write = FoldDir.write_state

    def dying_write(self: FoldDir, state: dict) -> None:
        if len(state["strategy_state"]["history"]) == 3:
            raise Crash  # the journal already holds trial 2; the saved state has it pending
        real_write(self, state)

    monkeypatch.setattr(FoldDir, "write_state", dying_write)
    with pytest.raises(Crash):
        search(tmp_path, config).run()
    monkeypatch.setattr(FoldDir, "write_state", real_write)
    assert len(RunDir(tmp_path).fold("fold1").journal.read()) == 3
    seen: list[int] = []

    def counting(context: ToyContext, s: Suggestion) -> TrialResult:
        seen.append(s.trial_id)
        return toy_evaluate(context, s)

    search(tmp_path, config, counting).run()
    ids = [r.trial_id for r in RunDir(tmp_path).fold("fold1").journal.read()]
    assert ids == [0, 1, 2, 3, 4]
    assert 2 not in seen  # trial 2 finished before the kill: told from the journal, not re-run


def test_consecutive_failures_stop_the_search_and_keep_what_was_done(tmp_path: Path) -> None:
    config = make_config([StageConfig("random", 20)], max_consecutive_failures=3)

    def failing(context: ToyContext, s: Suggestion) -> TrialResult:
        if s.trial_id < 2:
            return toy_evaluate(context, s)
        return TrialResult.failed(s.trial_id, s.params, "diverged: loss became nan")

    with pytest.raises(FatalError, match=r"3 trials in a row failed.*diverged"):
        search(tmp_path, config, failing).run()
    records = RunDir(tmp_path).fold("fold1").journal.read()
    assert [r.result.ok for r in records] == [True, True, False, False, False]


def test_an_exception_in_a_trial_is_a_failed_trial_not_a_crash(tmp_path: Path) -> None:
    config = make_config([StageConfig("random", 4)])

    def buggy(context: ToyContext, s: Suggestion) -> TrialResult:
        if s.trial_id == 1:
            raise ValueError("user builder bug")
        return toy_evaluate(context, s)

    outcome = search(tmp_path, config, buggy).run()
    assert outcome.n_trials == 4 and outcome.n_failed == 1
    failed = [r for r in RunDir(tmp_path).fold("fold1").journal.read() if not r.result.ok]
    assert failed[0].result.error == "ValueError: user builder bug"


def test_deadline_stops_between_trials(tmp_path: Path) -> None:
    config = make_config([StageConfig("random", 50)])
    fold_search = search(tmp_path, config)
    fold_search.deadline = time.time() - 1
    outcome = fold_search.run()
    assert outcome.n_trials == 0
    assert outcome.stopped_early == "time limit reached"

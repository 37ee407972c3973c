"""The search of one outer fold: stages of strategies, journal, state, breaker, outer test.

For every stage in order: build the strategy (or restore it from ``state.json``), tell it any
journal results its saved state missed (a kill between the journal write and the state write),
let the executor run the remaining budget, and after each result append to the journal first,
then save the state. Finally the best configuration is refitted on the outer training part and
scored once on the outer test part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hpsearch.config import ExperimentConfig
from hpsearch.errors import FatalError, StateError
from hpsearch.runner.context import TrialContext, trial_seed
from hpsearch.runner.executors import Executor
from hpsearch.runner.predictions import PREDICTIONS_FILE
from hpsearch.runner.rundir import FoldDir
from hpsearch.space import Space
from hpsearch.strategies import Strategy, make_strategy
from hpsearch.tracking.journal import write_json_atomic
from hpsearch.trial import Suggestion, TrialRecord, TrialResult, TrialStatus


class SearchObserver(Protocol):
    """Receives the search's events: progress display, MLflow, tests.

    ``on_fold_start`` gets the fold's name and its folder (where the journal lives); every
    record passed to ``on_trial`` is already in the journal, so an observer that fails (a
    tracking server that went away) loses nothing: it can catch up from the journal later.
    """

    def on_fold_start(self, fold: str, fold_dir: FoldDir, records: list[TrialRecord]) -> None: ...

    def on_stage_start(
        self, fold: str, stage: int, strategy: str, budget: int, done: int
    ) -> None: ...

    def on_trial(self, fold: str, record: TrialRecord, best: TrialRecord | None) -> None: ...

    def on_fold_end(self, fold: str, outcome: FoldOutcome) -> None: ...


@dataclass
class FoldOutcome:
    """What one outer fold's search produced."""

    fold: str
    n_trials: int
    n_failed: int
    best: TrialRecord | None
    outer_metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "fold": self.fold,
            "n_trials": self.n_trials,
            "n_failed": self.n_failed,
            "best_trial": self.best.trial_id if self.best else None,
            "best_params": self.best.result.params if self.best else None,
            "inner_score": self.best.result.score if self.best else None,
            "inner_metrics": self.best.result.metrics if self.best else None,
            "outer_metrics": self.outer_metrics,
            "stopped_early": self.stopped_early,
        }


class FoldSearch:
    """Runs every stage of the experiment on one outer fold, resumable from its folder."""

    def __init__(
        self,
        config: ExperimentConfig,
        space: Space,
        context: TrialContext,
        fold_dir: FoldDir,
        executor: Executor,
        *,
        observers: Sequence[SearchObserver] = (),
        deadline: float | None = None,
        evaluate_outer: bool = True,
    ):
        self.config = config
        self.space = space
        self.context = context
        self.fold_dir = fold_dir
        self.executor = executor
        self.observers = list(observers)
        self.deadline = deadline
        self.evaluate_outer = evaluate_outer
        self.journal = fold_dir.journal
        self.records: list[TrialRecord] = []
        self._consecutive_failures = 0
        self._stop_reason: str | None = None

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> FoldOutcome:
        self.journal.repair()
        self.records = self.journal.read()
        for observer in self.observers:
            observer.on_fold_start(self.fold_dir.name, self.fold_dir, list(self.records))
        state = self.fold_dir.read_state() or {"stage": 0, "strategy_state": None}
        stage_index = int(state["stage"])
        for index in range(stage_index, len(self.config.stages)):
            saved = state["strategy_state"] if index == stage_index else None
            self._run_stage(index, saved)
            if self._stop_reason:
                break
            state = {"stage": index + 1, "strategy_state": None}
            self.fold_dir.write_state(state)
        outcome = self._outcome()
        if self.evaluate_outer and outcome.best is not None and not self._stop_reason:
            outcome.outer_metrics = self._outer_test(outcome.best)
            write_json_atomic(self.fold_dir.outer_path, outcome.to_dict())
        for observer in self.observers:
            observer.on_fold_end(self.fold_dir.name, outcome)
        return outcome

    def _run_stage(self, index: int, saved_state: dict[str, Any] | None) -> None:
        stage = self.config.stages[index]
        done_here = [r for r in self.records if r.stage == index]
        earlier = [r for r in self.records if r.stage < index]
        first_id = max((r.trial_id for r in self.records), default=-1) + 1
        strategy = make_strategy(
            stage.strategy,
            self.space,
            objective=self.context.objective,
            seed=self.config.seed * 101 + index,
            first_trial_id=first_id,
            options=stage.options,
            source=self.config.source,
            field=f"stages[{index}]",
            context={"previous": [r.to_dict() for r in earlier]},
        )
        if saved_state is not None:
            strategy.load_state_dict(saved_state)
            self._replay_missing(strategy, done_here)
        elif done_here:
            raise StateError(
                f"has {len(done_here)} trials of stage {index} but no saved strategy state",
                source=str(self.fold_dir.state_path),
            )
        budget = stage.trials - len(done_here)
        for observer in self.observers:
            observer.on_stage_start(
                self.fold_dir.name, index, stage.strategy, stage.trials, len(done_here)
            )
        if budget <= 0:
            return

        def on_result(suggestion: Suggestion, result: TrialResult, started: float) -> None:
            self._record(index, stage.strategy, strategy, suggestion, result, started)

        def on_asked(suggestions: list[Suggestion]) -> None:
            self.fold_dir.write_state({"stage": index, "strategy_state": strategy.state_dict()})

        self.executor.run_stage(
            strategy,
            self.context,
            budget=budget,
            on_asked=on_asked,
            on_result=on_result,
            should_stop=self._should_stop,
        )

    def _replay_missing(self, strategy: Strategy, done_here: list[TrialRecord]) -> None:
        """Tell the strategy the journal's results that its saved state had still pending."""
        pending = {s.trial_id for s in getattr(strategy, "pending", [])}
        for record in done_here:
            if record.trial_id in pending:
                strategy.tell(record.result)

    def _record(
        self,
        stage: int,
        strategy_name: str,
        strategy: Strategy,
        suggestion: Suggestion,
        result: TrialResult,
        started: float,
    ) -> None:
        record = TrialRecord(
            result=result,
            stage=stage,
            strategy=strategy_name,
            tags=dict(suggestion.tags),
            seed=trial_seed(self.context.search_seed, suggestion.trial_id),
            started_at=started,
            finished_at=time.time(),
        )
        self.journal.append(record)  # the journal first: it is the truth
        self.fold_dir.write_state({"stage": stage, "strategy_state": strategy.state_dict()})
        self.records.append(record)
        best = self.best()
        for observer in self.observers:
            observer.on_trial(self.fold_dir.name, record, best)
        if result.status != TrialStatus.FAILED:  # a trial pruned by ASHA is not a failure
            self._consecutive_failures = 0
        else:
            self._consecutive_failures += 1
            limit = self.config.execution.max_consecutive_failures
            if self._consecutive_failures >= limit:
                raise FatalError(
                    f"{limit} trials in a row failed; the last one: {result.error}. "
                    "Finished trials are kept; fix the cause and run 'hpsearch resume'",
                    source=str(self.fold_dir.path),
                )

    def _should_stop(self) -> bool:
        if self.deadline is not None and time.time() >= self.deadline:
            self._stop_reason = "time limit reached"
        return self._stop_reason is not None

    # -- results ---------------------------------------------------------------------------

    def best(self) -> TrialRecord | None:
        done = [r for r in self.records if r.result.ok and r.result.score is not None]
        if not done:
            return None
        loss = self.context.objective.loss
        return min(done, key=lambda r: (loss(r.result.score), r.trial_id))

    def _outcome(self) -> FoldOutcome:
        return FoldOutcome(
            fold=self.fold_dir.name,
            n_trials=len(self.records),
            n_failed=sum(not r.result.ok for r in self.records),
            best=self.best(),
            stopped_early=self._stop_reason,
        )

    def _outer_test(self, best: TrialRecord) -> dict[str, float]:
        epochs = int(best.result.info.get("refit_epochs") or best.result.params.get("epochs", 100))
        return self.context.evaluate_outer(
            best.result.params,
            epochs=max(1, epochs),
            seed=trial_seed(self.config.seed, -1),
            save_predictions=self.fold_dir.path / PREDICTIONS_FILE,
        )


def deadline_from(minutes: float | None, now: Callable[[], float] = time.time) -> float | None:
    return None if minutes is None else now() + minutes * 60.0

"""Executors run a strategy's suggestions and hand each result back as it finishes.

An executor owns the ask → evaluate → tell loop of one stage, because where trials run decides
how the loop must be driven: sequentially here, by Ray Tune's event loop in ``ray_tune.py``.
``on_asked`` is called right after each ``ask`` (so that the state on disk knows the trials in
flight) and ``on_result`` right after each ``tell``, on the driver, in finishing order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from hpsearch.runner.context import TrialContext
from hpsearch.strategies import Strategy
from hpsearch.trial import Suggestion, TrialResult

ResultHandler = Callable[[Suggestion, TrialResult, float], None]
AskHandler = Callable[[list[Suggestion]], None]


class Executor(Protocol):
    def run_stage(
        self,
        strategy: Strategy,
        context: TrialContext,
        *,
        budget: int,
        on_asked: AskHandler,
        on_result: ResultHandler,
        should_stop: Callable[[], bool],
    ) -> int:
        """Evaluate up to ``budget`` trials; return how many were told."""
        ...

    def close(self) -> None: ...


class InProcessExecutor:
    """One trial at a time in this process: for debugging, small searches and fast tests."""

    def __init__(
        self, *, evaluate: Callable[[TrialContext, Suggestion], TrialResult] | None = None
    ):
        self._evaluate = evaluate or (lambda context, suggestion: context.evaluate(suggestion))

    def run_stage(
        self,
        strategy: Strategy,
        context: TrialContext,
        *,
        budget: int,
        on_asked: AskHandler,
        on_result: ResultHandler,
        should_stop: Callable[[], bool],
    ) -> int:
        told = 0
        while told < budget and not should_stop():
            batch = strategy.ask(1)
            if not batch:
                break  # finished, or waiting on results that a sequential loop cannot get
            on_asked(batch)
            suggestion = batch[0]
            started = time.time()
            try:
                result = self._evaluate(context, suggestion)
            except Exception as exc:  # a bug in a user builder must not kill the search
                result = TrialResult.failed(
                    suggestion.trial_id,
                    suggestion.params,
                    f"{type(exc).__name__}: {exc}",
                    time.time() - started,
                )
            strategy.tell(result)
            told += 1
            on_result(suggestion, result, started)
        return told

    def close(self) -> None:
        """Nothing to release."""

"""Everything one trial needs, in one picklable object that travels to workers once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpsearch.data.dataset import FoldPlan, GenomicData
from hpsearch.trial import Objective, Suggestion, TrialResult

ReportFn = Callable[[int, dict[str, float]], None]


def trial_seed(search_seed: int, trial_id: int) -> int:
    """A per-trial seed that differs between trials and between searches, reproducibly."""
    return (search_seed * 1_000_003 + trial_id * 7919 + 17) % (2**31 - 1)


@dataclass
class TrialContext:
    """Data, fold plan, model and objective of one outer fold's search.

    The model is kept by name and resolved in the process that trains, so that the context
    pickles without Keras objects (Ray ships it to each worker once).
    """

    data: GenomicData
    plan: FoldPlan
    model: str
    objective: Objective
    preprocess: Mapping[str, Any] = field(default_factory=dict)
    search_seed: int = 0
    threads: int | None = None

    def evaluate(self, suggestion: Suggestion, report: ReportFn | None = None) -> TrialResult:
        """Train and score one suggestion on the inner folds (never on the outer test rows)."""
        from hpsearch.data.preprocess import PreprocessOptions
        from hpsearch.models import get_builder
        from hpsearch.training import configure_threads, fit_and_score

        configure_threads(self.threads)
        builder = get_builder(self.model)
        return fit_and_score(
            builder,
            suggestion.params,
            self.data,
            self.plan,
            self.objective,
            seed=trial_seed(self.search_seed, suggestion.trial_id),
            trial_id=suggestion.trial_id,
            report=report,
            preprocess=PreprocessOptions.from_params(self.preprocess),
        )

    def evaluate_outer(
        self,
        params: Mapping[str, Any],
        *,
        epochs: int,
        seed: int,
        save_predictions: Path | None = None,
    ) -> dict[str, float]:
        """Refit on the whole outer training part and score the outer test part once;
        with ``save_predictions``, also write each test line's prediction there."""
        from hpsearch.data.preprocess import PreprocessOptions
        from hpsearch.models import get_builder
        from hpsearch.training import configure_threads, fit_final

        configure_threads(self.threads)
        metrics, pred = fit_final(
            get_builder(self.model),
            params,
            self.data,
            self.plan.outer,
            seed=seed,
            epochs=epochs,
            preprocess=PreprocessOptions.from_params(self.preprocess),
        )
        if save_predictions is not None:
            from hpsearch.runner.predictions import write_predictions

            write_predictions(save_predictions, self.data, self.plan.outer.valid, pred)
        return metrics

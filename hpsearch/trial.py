"""The values that pass between strategies, executors and the journal.

A :class:`Suggestion` is what a strategy asks to be evaluated; a :class:`TrialResult` is what an
evaluation returns; a :class:`TrialRecord` is one line of ``trials.jsonl`` (the two together,
plus where and when). All three are plain data with a JSON round-trip.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from hpsearch.errors import ConfigError

#: Metric name → direction. The metric functions live in :mod:`hpsearch.metrics`.
METRIC_DIRECTIONS: dict[str, str] = {
    "pearson_r": "maximize",
    "spearman_r": "maximize",
    "mse": "minimize",
    "rmse": "minimize",
    "roc_auc": "maximize",
    "accuracy": "maximize",
    "log_loss": "minimize",
}


@dataclass(frozen=True)
class Objective:
    """What the search optimises: a metric name and its direction."""

    metric: str = "pearson_r"
    direction: str = "maximize"

    @classmethod
    def for_metric(cls, metric: str, *, source: str | None = None) -> Objective:
        if metric not in METRIC_DIRECTIONS:
            raise ConfigError.at(
                source, "evaluation.metric", f"be one of {sorted(METRIC_DIRECTIONS)}", metric
            )
        return cls(metric, METRIC_DIRECTIONS[metric])

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def loss(self, score: float | None) -> float:
        """The score as a quantity to minimise; ``None`` or NaN (a failure) is +inf."""
        if score is None or not math.isfinite(score):
            return math.inf
        return -score if self.maximize else score

    def is_better(self, a: float | None, b: float | None) -> bool:
        """True when score ``a`` beats score ``b`` (failures never beat anything)."""
        return self.loss(a) < self.loss(b)


class TrialStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    PRUNED = "pruned"


@dataclass
class Suggestion:
    """A configuration a strategy wants evaluated.

    ``tags`` carries what the strategy wants recorded with the trial (e.g. ``generation``,
    ``parents``, ``centre``); the runner adds ``stage`` and ``strategy``.
    """

    trial_id: int
    params: dict[str, Any]
    tags: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Suggestion:
        return cls(int(data["trial_id"]), dict(data["params"]), dict(data.get("tags") or {}))


@dataclass
class TrialResult:
    """The outcome of evaluating one suggestion.

    ``score`` is the objective's value (the inner-fold mean); ``None`` when the trial failed.
    ``curves`` maps a series name (e.g. ``fold0/val_loss``) to its per-epoch values.
    """

    trial_id: int
    params: dict[str, Any]
    status: TrialStatus = TrialStatus.COMPLETED
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    fold_metrics: list[dict[str, float]] = field(default_factory=list)
    curves: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == TrialStatus.COMPLETED

    @classmethod
    def failed(
        cls, trial_id: int, params: dict[str, Any], error: str, duration_s: float = 0.0
    ) -> TrialResult:
        return cls(
            trial_id, dict(params), TrialStatus.FAILED, None, error=error, duration_s=duration_s
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return _finite(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        return cls(
            trial_id=int(data["trial_id"]),
            params=dict(data["params"]),
            status=TrialStatus(data.get("status", "completed")),
            score=data.get("score"),
            metrics=dict(data.get("metrics") or {}),
            fold_metrics=list(data.get("fold_metrics") or []),
            curves=dict(data.get("curves") or {}),
            error=data.get("error"),
            duration_s=float(data.get("duration_s") or 0.0),
            info=dict(data.get("info") or {}),
        )


@dataclass
class TrialRecord:
    """One line of the journal: a result with its stage, strategy, tags, seed and times."""

    result: TrialResult
    stage: int = 0
    strategy: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def trial_id(self) -> int:
        return self.result.trial_id

    def to_dict(self) -> dict[str, Any]:
        data = self.result.to_dict()
        data.update(
            stage=self.stage,
            strategy=self.strategy,
            tags=_finite(self.tags),
            seed=self.seed,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        return cls(
            result=TrialResult.from_dict(data),
            stage=int(data.get("stage", 0)),
            strategy=str(data.get("strategy", "")),
            tags=dict(data.get("tags") or {}),
            seed=int(data.get("seed", 0)),
            started_at=float(data.get("started_at") or 0.0),
            finished_at=float(data.get("finished_at") or 0.0),
        )


def _finite(value: Any) -> Any:
    """Replace NaN/inf by None recursively so that the JSON stays standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _finite(value.item())
    return value

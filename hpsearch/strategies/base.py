"""The Strategy protocol and the bookkeeping every strategy shares.

A strategy proposes configurations (``ask``) and learns from their results (``tell``). The
public methods here do the bookkeeping — trial ids, pending trials, duplicate detection,
history, best and top-k, JSON state with the RNG — around three private hooks that a
subclass implements:

- ``_propose(n) -> list[Proposal]``: up to ``n`` new configurations (may return fewer, or none
  to mean "wait for results");
- ``_observe(result, suggestion)``: learn from one result (optional);
- ``_exhausted() -> bool``: nothing new can ever be proposed (optional);

plus ``_extra_state()`` / ``_load_extra_state()`` for their own JSON state. Constructors take
keyword-only options, store and check them, and do no I/O (the scikit-learn convention).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from hpsearch.errors import ConfigError, StateError
from hpsearch.space import Space
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus

STATE_VERSION = 1


@dataclass
class Proposal:
    """A configuration a subclass proposes, with the tags to record beside it."""

    params: dict[str, Any]
    tags: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Strategy(Protocol):
    """What the runner and the executors rely on."""

    name: str

    def ask(self, n: int = 1) -> list[Suggestion]: ...

    def tell(self, result: TrialResult) -> None: ...

    @property
    def finished(self) -> bool: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class BaseStrategy:
    """Shared bookkeeping; see the module docstring for the hooks a subclass implements."""

    name: ClassVar[str] = "base"
    #: How many times ``ask`` re-asks ``_propose`` when it returns only already-seen configs.
    duplicate_retries: ClassVar[int] = 20

    def __init__(
        self,
        space: Space,
        *,
        objective: Objective | None = None,
        seed: int = 0,
        first_trial_id: int = 0,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError.at(None, "seed", "be an integer", seed)
        self.space = space
        self.objective = objective or Objective()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._next_id = int(first_trial_id)
        self._pending: dict[int, Suggestion] = {}
        self._reissue: list[int] = []
        self._history: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._finished = False
        self._stalled = False

    # -- public API ------------------------------------------------------------------------

    def ask(self, n: int = 1) -> list[Suggestion]:
        """Up to ``n`` suggestions; an empty list means "wait for results" (or finished)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        out: list[Suggestion] = []
        while self._reissue and len(out) < n:  # trials pending at a crash come back first
            out.append(self._pending[self._reissue.pop(0)])
        tries = 0
        while len(out) < n and not self.finished and tries <= self.duplicate_retries:
            proposals = self._propose(n - len(out))
            if not proposals:
                break
            fresh = 0
            for proposal in proposals:
                params = self.space.validate(proposal.params)
                key = self.space.key(params)
                if key in self._seen:
                    continue
                self._seen.add(key)
                suggestion = Suggestion(self._next_id, params, dict(proposal.tags))
                self._next_id += 1
                self._pending[suggestion.trial_id] = suggestion
                out.append(suggestion)
                fresh += 1
                if len(out) >= n:
                    break
            tries = 0 if fresh else tries + 1
        if tries > self.duplicate_retries:
            self._stalled = True  # only configurations already tried come back: nothing is new
        self._update_finished()
        return out

    def tell(self, result: TrialResult) -> None:
        """Record one result. Telling a trial twice, or one never asked, is a StateError."""
        tid = result.trial_id
        if tid not in self._pending:
            told = any(h["trial_id"] == tid for h in self._history)
            what = "was already told" if told else "was never asked"
            raise StateError(f"trial {tid} {what}", source=f"strategy {self.name}")
        suggestion = self._pending.pop(tid)
        if tid in self._reissue:
            self._reissue.remove(tid)
        score = result.score if result.status == TrialStatus.COMPLETED else None
        if score is not None and not math.isfinite(score):
            score = None
        self._history.append(
            {
                "trial_id": tid,
                "params": suggestion.params,
                "score": score,
                "status": result.status.value,
                "tags": suggestion.tags,
            }
        )
        self._observe(result, suggestion)
        self._update_finished()

    @property
    def finished(self) -> bool:
        """True once nothing new will be proposed and nothing is left to re-issue (monotonic)."""
        return self._finished

    @property
    def pending(self) -> list[Suggestion]:
        return list(self._pending.values())

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self._history)

    @property
    def n_told(self) -> int:
        return len(self._history)

    def best(self) -> dict[str, Any] | None:
        """The best told trial (failures never win), or None."""
        top = self.top_k(1)
        return top[0] if top else None

    def top_k(self, k: int) -> list[dict[str, Any]]:
        """The ``k`` best completed trials, best first (ties: earlier trial first)."""
        done = [h for h in self._history if h["score"] is not None]
        done.sort(key=lambda h: (self.objective.loss(h["score"]), h["trial_id"]))
        return done[:k]

    def loss_of(self, entry: Mapping[str, Any]) -> float:
        """A history entry's score as a loss (lower is better; failures are +inf)."""
        return self.objective.loss(entry.get("score"))

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this strategy is, as plain JSON."""
        return {
            "version": STATE_VERSION,
            "strategy": self.name,
            "space_fingerprint": self.space.fingerprint(),
            "seed": self.seed,
            "rng": _jsonable_rng_state(self.rng),
            "next_trial_id": self._next_id,
            "pending": [s.to_dict() for s in self._pending.values()],
            "history": self._history,
            "seen": sorted(self._seen),
            "finished": self._finished,
            "stalled": self._stalled,
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state``; its pending trials will be handed out again by ``ask``."""
        if state.get("strategy") != self.name:
            raise StateError(
                f"must be a state of strategy {self.name!r}, got {state.get('strategy')!r}",
                source="strategy_state.json",
                field="strategy",
            )
        if state.get("space_fingerprint") != self.space.fingerprint():
            raise StateError(
                "must match the search space it was saved with (the space file changed)",
                source="strategy_state.json",
                field="space_fingerprint",
            )
        if state.get("version") != STATE_VERSION:
            raise StateError(
                f"must be state version {STATE_VERSION}, got {state.get('version')!r}",
                source="strategy_state.json",
                field="version",
            )
        self.seed = int(state["seed"])
        self.rng.bit_generator.state = state["rng"]
        self._next_id = int(state["next_trial_id"])
        self._pending = {}
        for raw in state["pending"]:
            suggestion = Suggestion.from_dict(raw)
            self._pending[suggestion.trial_id] = suggestion
        self._reissue = sorted(self._pending)
        self._history = [dict(h) for h in state["history"]]
        self._seen = set(state["seen"])
        self._finished = bool(state["finished"])
        self._stalled = bool(state.get("stalled", False))
        self._load_extra_state(state.get("extra") or {})

    # -- hooks -----------------------------------------------------------------------------

    def _propose(self, n: int) -> list[Proposal]:
        raise NotImplementedError

    def _observe(self, result: TrialResult, suggestion: Suggestion) -> None:
        """Learn from one result; the default keeps nothing beyond the shared history."""

    def _exhausted(self) -> bool:
        return False

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        """Restore what ``_extra_state`` saved."""

    # -- helpers ---------------------------------------------------------------------------

    def _update_finished(self) -> None:
        if not self._finished and not self._reissue and (self._stalled or self._exhausted()):
            self._finished = True

    def is_seen(self, params: Mapping[str, Any]) -> bool:
        """True when this configuration was already suggested in this strategy."""
        return self.space.key(self.space.validate(params)) in self._seen

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(seed={self.seed}, told={self.n_told}, pending={len(self._pending)})"


def _jsonable_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's state as JSON-safe values (numpy keeps it as Python ints and dicts)."""
    state = rng.bit_generator.state

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.integer):
            return int(value)
        return value

    return convert(state)


def check_positive_int(value: Any, field_name: str, *, minimum: int = 1) -> int:
    """Option check shared by strategies: an int >= minimum (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError.at(None, field_name, f"be an integer >= {minimum}", value)
    return value


def check_fraction(value: Any, field_name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    """Option check shared by strategies: a float in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError.at(None, field_name, f"be a number in [{low}, {high}]", value)
    return float(value)


def check_choice(value: Any, field_name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError.at(None, field_name, f"be one of {list(choices)}", value)
    return str(value)

"""The contract every strategy must pass, shipped so that a user's own strategy can run it too.

Use it from a pytest module::

    from hpsearch.strategies.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        strategy = "mypackage.search:MyStrategy"   # or a registered name
        options = {"population_size": 6}

The checks use a toy objective (no Keras): valid suggestions, seed reproducibility within and
across processes, a JSON state round-trip that gives identical next suggestions, failures
accepted, double tells rejected, ``finished`` monotonic, no configuration suggested twice and
unknown options rejected.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from hpsearch.errors import ConfigError, StateError
from hpsearch.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Space,
)
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus


def contract_space() -> Space:
    """A small space with every parameter kind and one condition."""
    return Space(
        [
            CategoricalParam("optimizer", ("sgd", "adam", "rmsprop")),
            FloatParam("momentum", 0.0, 0.9, when={"optimizer": ["sgd"]}),
            FloatParam("learning_rate", 1e-4, 1e-1, log=True),
            IntParam("units", 8, 128, log=True),
            IntParam("n_layers", 1, 4),
            FloatParam("dropout", 0.0, 0.5, step=0.1),
            OrdinalParam("l2", (0.0, 1e-5, 1e-4, 1e-3)),
            FixedParam("epochs", 50),
        ],
        source="contract-space",
    )


def toy_score(params: Mapping[str, Any]) -> float:
    """A smooth deterministic objective to maximise, best near lr=1e-2, units=64, 2 layers.

    Parameters it does not know add a small deterministic term, so any space can use it.
    """
    score = -((math.log10(params.get("learning_rate", 1e-2)) + 2.0) ** 2)
    score -= (math.log2(params.get("units", 64)) - 6.0) ** 2 / 4.0
    score -= (params.get("n_layers", 2) - 2) ** 2 / 2.0
    score -= params.get("dropout", 0.0)
    score += {"sgd": 0.2, "adam": 0.5}.get(params.get("optimizer", ""), 0.0)
    score += params.get("momentum", 0.0) * 0.3
    for key, value in sorted(params.items()):
        if key not in _TOY_KNOWN:
            score += (len(str(value)) % 7) / 100.0 + (len(key) % 3) / 1000.0
    return float(score)


_TOY_KNOWN = {"learning_rate", "units", "n_layers", "dropout", "optimizer", "momentum"}


def result_for(suggestion: Suggestion, *, fail: bool = False) -> TrialResult:
    """The toy objective's result for a suggestion (or a failure)."""
    if fail:
        return TrialResult.failed(suggestion.trial_id, suggestion.params, "toy failure")
    return TrialResult(
        suggestion.trial_id,
        suggestion.params,
        TrialStatus.COMPLETED,
        toy_score(suggestion.params),
    )


def drive(strategy: Any, trials: int, *, batch: int = 2, fail_every: int = 0) -> list[Suggestion]:
    """Ask in batches and tell toy results until ``trials`` are told or nothing comes back."""
    asked: list[Suggestion] = []
    told = 0
    while told < trials and not strategy.finished:
        suggestions = strategy.ask(min(batch, trials - told))
        if not suggestions:
            break
        for s in suggestions:
            asked.append(s)
            told += 1
            strategy.tell(result_for(s, fail=bool(fail_every) and told % fail_every == 0))
    return asked


def _suggestions_json(
    strategy_name: str, options: Mapping[str, Any], seed: int, trials: int
) -> str:
    """Run the toy loop and return the suggested params as JSON (used across processes)."""
    from hpsearch.strategies import make_strategy

    strategy = make_strategy(strategy_name, contract_space(), seed=seed, options=options)
    return json.dumps([s.params for s in drive(strategy, trials)], sort_keys=True)


class StrategyContract:
    """Mix into a pytest class; set ``strategy`` (name or ``module:Class``) and ``options``."""

    strategy: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    #: Trials used by the checks; enough to go past a GA's first generation with small options.
    trials: ClassVar[int] = 24
    #: False for strategies whose order does not depend on the seed (e.g. an unshuffled grid).
    seed_sensitive: ClassVar[bool] = True

    def make(self, seed: int = 0, **overrides: Any) -> Any:
        from hpsearch.strategies import make_strategy

        options = {**self.options, **overrides}
        return make_strategy(
            self.strategy, contract_space(), objective=Objective(), seed=seed, options=options
        )

    def test_suggestions_are_valid_and_new(self) -> None:
        strategy = self.make(seed=1)
        asked = drive(strategy, self.trials)
        assert asked, "the strategy suggested nothing"
        space = contract_space()
        keys = set()
        for s in asked:
            assert space.validate(s.params) == s.params
            keys.add(space.key(s.params))
        assert len(keys) == len(asked), "a configuration was suggested twice"
        assert len({s.trial_id for s in asked}) == len(asked)

    def test_same_seed_same_suggestions(self) -> None:
        a = [s.params for s in drive(self.make(seed=3), self.trials)]
        b = [s.params for s in drive(self.make(seed=3), self.trials)]
        assert a == b
        if self.seed_sensitive:
            c = [s.params for s in drive(self.make(seed=4), self.trials)]
            assert a != c, "different seeds gave identical suggestions"

    def test_reproducible_across_processes(self) -> None:
        here = _suggestions_json(self.strategy, self.options, 5, self.trials)
        code = (
            "import sys, json; from hpsearch.strategies.testing import _suggestions_json as f; "
            f"sys.stdout.write(f({self.strategy!r}, json.loads({json.dumps(self.options)!r}), 5, "
            f"{self.trials}))"
        )
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout == here

    def test_state_round_trip_gives_identical_next_suggestions(self) -> None:
        original = self.make(seed=7)
        drive(original, self.trials // 2)
        in_flight = original.ask(2)
        state = json.loads(json.dumps(original.state_dict()))
        restored = self.make(seed=999)  # the seed must come from the state, not the constructor
        restored.load_state_dict(state)
        reissued = restored.ask(len(in_flight))
        assert [(s.trial_id, s.params) for s in reissued] == [
            (s.trial_id, s.params) for s in in_flight
        ]
        for s in in_flight:
            original.tell(result_for(s))
            restored.tell(result_for(s))
        nxt_a = [(s.trial_id, s.params) for s in drive(original, 6)]
        nxt_b = [(s.trial_id, s.params) for s in drive(restored, 6)]
        assert nxt_a == nxt_b
        assert original.finished == restored.finished

    def test_failures_are_accepted(self) -> None:
        strategy = self.make(seed=2)
        asked = drive(strategy, self.trials, fail_every=3)
        assert len(asked) >= min(self.trials, 6)
        best = strategy.best()
        if best is not None:
            assert best["score"] is not None and math.isfinite(best["score"])

    def test_double_tell_and_unknown_tell_are_errors(self) -> None:
        strategy = self.make(seed=0)
        (s,) = strategy.ask(1)
        strategy.tell(result_for(s))
        try:
            strategy.tell(result_for(s))
        except StateError:
            pass
        else:
            raise AssertionError("telling a trial twice must raise StateError")
        ghost = Suggestion(10_000, s.params)
        try:
            strategy.tell(result_for(ghost))
        except StateError:
            pass
        else:
            raise AssertionError("telling a trial never asked must raise StateError")

    def test_finished_is_monotonic(self) -> None:
        strategy = self.make(seed=0)
        seen_finished = False
        for _ in range(self.trials * 3):
            batch = strategy.ask(2)
            for s in batch:
                strategy.tell(result_for(s))
            if seen_finished:
                assert strategy.finished, "finished went back to False"
                assert strategy.ask(1) == []
            seen_finished = seen_finished or strategy.finished
            if not batch and not strategy.finished:
                break

    def test_unknown_option_is_rejected(self) -> None:
        try:
            self.make(seed=0, no_such_option=1)
        except ConfigError as exc:
            assert "no_such_option" in str(exc)
        else:
            raise AssertionError("an unknown option must raise ConfigError")

"""Property: a strategy's state survives JSON at any point of any ask/tell history.

For random seeds and random scripts of asks and tells (results told out of order, failures,
pruned trials, non-finite scores, trials still in flight at the save), saving the state as
JSON (as the runner does: no NaN allowed) and loading it into a fresh instance built with a
different seed gives a strategy that re-issues exactly the trials in flight and then makes
exactly the same suggestions (ids, params, tags) as the original, under the same tells.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.strategies import make_strategy
from hpsearch.strategies.testing import contract_space, toy_score
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Centres for refine: two configurations of ``contract_space()``.
CENTRES = [
    {"optimizer": "sgd", "momentum": 0.45, "learning_rate": 1e-2, "units": 64, "n_layers": 2,
     "dropout": 0.2, "l2": 1e-4, "epochs": 50},
    {"optimizer": "adam", "learning_rate": 1e-3, "units": 16, "n_layers": 3, "dropout": 0.0,
     "l2": 0.0, "epochs": 50},
]  # fmt: skip

OUTCOMES = ("ok", "ok", "ok", "fail", "pruned", "nan")


@dataclass(frozen=True)
class Ask:
    n: int


@dataclass(frozen=True)
class Tell:
    pick: int  # which pending trial (modulo how many are pending)
    outcome: str


steps = st.one_of(
    st.builds(Ask, st.integers(1, 3)),
    st.builds(Tell, st.integers(0, 50), st.sampled_from(OUTCOMES)),
)


def result_for(s: Suggestion, outcome: str) -> TrialResult:
    if outcome == "fail":
        return TrialResult.failed(s.trial_id, s.params, "toy failure")
    if outcome == "pruned":
        return TrialResult(s.trial_id, s.params, TrialStatus.PRUNED, None, metrics={"loss": 1.0})
    score = math.nan if outcome == "nan" else toy_score(s.params)
    return TrialResult(s.trial_id, s.params, TrialStatus.COMPLETED, score)


def seen(suggestions: list[Suggestion]) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    return [(s.trial_id, s.params, s.tags) for s in suggestions]


def play(strategy: Any, script: list[Ask | Tell], pending: list[Suggestion]) -> list[Any]:
    """Run ``script``; return what the strategy did (suggestions and ``finished``) in order."""
    log: list[Any] = []
    for step in script:
        if isinstance(step, Ask):
            got = strategy.ask(step.n)
            pending.extend(got)
            log.append(("asked", seen(got)))
        elif pending:
            chosen = pending.pop(step.pick % len(pending))
            strategy.tell(result_for(chosen, step.outcome))
            log.append(("told", chosen.trial_id))
        log.append(("finished", strategy.finished))
    return log


def build(name: str, seed: int, options: dict[str, Any]) -> Any:
    return make_strategy(name, contract_space(), objective=Objective(), seed=seed, options=options)


def check_round_trip(
    name: str, options: dict[str, Any], seed: int, before: list[Ask | Tell], after: list[Ask | Tell]
) -> None:
    original = build(name, seed, options)
    pending: list[Suggestion] = []
    play(original, before, pending)
    text = json.dumps(original.state_dict(), allow_nan=False)  # as the runner writes it
    restored = build(name, seed + 7919, options)  # the seed must come from the state
    restored.load_state_dict(json.loads(text))
    assert restored.state_dict() == json.loads(text), "loading then saving changed the state"

    # the trials in flight at the save come back first, as after a crash
    reissued = restored.ask(len(pending)) if pending else []
    assert sorted(seen(reissued), key=lambda t: t[0]) == sorted(seen(pending), key=lambda t: t[0])
    assert restored.finished == original.finished

    log_a = play(original, after, list(pending))
    log_b = play(restored, after, list(pending))
    assert log_a == log_b
    assert original.state_dict() == restored.state_dict()


scripts = st.lists(steps, min_size=1, max_size=14)
seeds = st.integers(0, 2**31 - 1)


@SETTINGS
@given(seed=seeds, before=scripts, after=scripts, points=st.integers(2, 4), shuffle=st.booleans())
def test_grid_state_round_trip(
    seed: int, before: list[Any], after: list[Any], points: int, shuffle: bool
) -> None:
    check_round_trip("grid", {"points": points, "shuffle": shuffle}, seed, before, after)


@SETTINGS
@given(seed=seeds, before=scripts, after=scripts)
def test_random_state_round_trip(seed: int, before: list[Any], after: list[Any]) -> None:
    check_round_trip("random", {}, seed, before, after)


@SETTINGS
@given(
    seed=seeds,
    before=scripts,
    after=scripts,
    startup=st.integers(0, 4),
    sampler=st.sampled_from(["tpe", "random"]),
)
def test_bayesian_state_round_trip(
    seed: int, before: list[Any], after: list[Any], startup: int, sampler: str
) -> None:
    options = {"n_startup_trials": startup, "sampler": sampler}
    check_round_trip("bayesian", options, seed, before, after)


@SETTINGS
@given(
    seed=seeds,
    before=scripts,
    after=scripts,
    population=st.integers(2, 5),
    selection=st.sampled_from(["truncation", "tournament"]),
)
def test_genetic_state_round_trip(
    seed: int, before: list[Any], after: list[Any], population: int, selection: str
) -> None:
    options = {"population_size": population, "generations": 3, "selection": selection}
    check_round_trip("genetic", options, seed, before, after)


@SETTINGS
@given(
    seed=seeds,
    before=scripts,
    after=scripts,
    method=st.sampled_from(["grid", "random"]),
    radius=st.integers(0, 2),
)
def test_refine_state_round_trip(
    seed: int, before: list[Any], after: list[Any], method: str, radius: int
) -> None:
    options = {"centres": CENTRES, "method": method, "radius": radius}
    check_round_trip("refine", options, seed, before, after)

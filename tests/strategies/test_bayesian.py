"""Bayesian (Optuna) strategy specifics beyond the shared contract."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys

import pytest

from hpsearch.errors import ConfigError
from hpsearch.space import CategoricalParam, IntParam, OrdinalParam, Space
from hpsearch.strategies import make_strategy
from hpsearch.strategies.testing import contract_space, drive, result_for, toy_score
from hpsearch.trial import Objective, TrialResult, TrialStatus


def best_toy(name: str, seed: int, trials: int = 40) -> float:
    strategy = make_strategy(name, contract_space(), seed=seed)
    return max(toy_score(s.params) for s in drive(strategy, trials, batch=1))


def test_tpe_beats_random_search_on_the_toy_objective() -> None:
    tpe = statistics.median(best_toy("bayesian", seed) for seed in range(5))
    rnd = statistics.median(best_toy("random", seed) for seed in range(5))
    assert tpe > rnd


def test_conditional_parameter_is_only_suggested_when_active() -> None:
    strategy = make_strategy("bayesian", contract_space(), seed=0, options={"n_startup_trials": 5})
    asked = drive(strategy, 30)
    optimizers = {s.params["optimizer"] for s in asked}
    assert "sgd" in optimizers and len(optimizers) >= 2
    for s in asked:
        assert ("momentum" in s.params) == (s.params["optimizer"] == "sgd")
    # Optuna itself never saw momentum for the other optimisers (define-by-run)
    for trial in strategy.study.trials:
        assert ("momentum" in trial.params) == (trial.params["optimizer"] == "sgd")


def test_parameter_kinds_map_to_optuna_distributions() -> None:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    strategy = make_strategy("bayesian", contract_space(), seed=0)
    drive(strategy, 3)
    dists = strategy.study.trials[0].distributions
    assert dists["l2"] == IntDistribution(0, 3)  # ordinal: the index, so TPE sees the order
    assert dists["learning_rate"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["units"] == IntDistribution(8, 128, log=True)
    assert dists["dropout"] == FloatDistribution(0.0, 0.5, step=0.1)
    assert dists["optimizer"] == CategoricalDistribution(["sgd", "adam", "rmsprop"])
    assert "epochs" not in dists  # fixed: not suggested, added back
    for s in strategy.history:
        assert s["params"]["epochs"] == 50
        assert s["params"]["l2"] in (0.0, 1e-5, 1e-4, 1e-3)


@pytest.mark.parametrize("told_before", [0, 12])
def test_parallel_asks_give_distinct_configurations(told_before: int) -> None:
    strategy = make_strategy("bayesian", contract_space(), seed=3, options={"n_startup_trials": 5})
    drive(strategy, told_before)
    batch = strategy.ask(4)
    assert len(batch) == 4
    keys = {contract_space().key(s.params) for s in batch}
    assert len(keys) == 4
    running = [t for t in strategy.study.trials if t.state.name == "RUNNING"]
    assert len(running) == 4
    for s in reversed(batch):  # told out of order
        strategy.tell(result_for(s))
    assert not any(t.state.name == "RUNNING" for t in strategy.study.trials)


def test_small_discrete_space_is_exhausted_without_repeats_or_dangling_trials() -> None:
    space = Space([CategoricalParam("act", ("relu", "tanh")), IntParam("units", 1, 3)])
    strategy = make_strategy("bayesian", space, seed=0, options={"n_startup_trials": 2})
    asked = drive(strategy, 100)
    assert sorted((s.params["act"], s.params["units"]) for s in asked) == sorted(
        (a, u) for a in ("relu", "tanh") for u in (1, 2, 3)
    )
    assert strategy.finished
    trials = strategy.study.trials
    assert len(trials) > len(asked)  # Optuna did propose repeats ...
    assert not any(t.state.name == "RUNNING" for t in trials)  # ... and each one was closed
    scores = {(s.params["act"], s.params["units"]): toy_score(s.params) for s in asked}
    for t in trials:  # repeats were told the known score, not a made-up one
        if t.state.name == "COMPLETE":
            assert t.value == scores[(t.params["act"], t.params["units"])]


def test_failures_and_pruned_trials_reach_optuna_with_their_state() -> None:
    strategy = make_strategy("bayesian", contract_space(), seed=1, options={"n_startup_trials": 3})
    (a, b, c) = strategy.ask(3)
    strategy.tell(result_for(a, fail=True))
    strategy.tell(TrialResult(b.trial_id, b.params, TrialStatus.PRUNED, None))
    strategy.tell(TrialResult(c.trial_id, c.params, TrialStatus.COMPLETED, float("nan")))
    states = [t.state.name for t in strategy.study.trials]
    assert states == ["FAIL", "PRUNED", "FAIL"]
    assert strategy.best() is None


def test_direction_follows_the_objective() -> None:
    space = Space([IntParam("x", 0, 50)])
    objective = Objective("mse", "minimize")

    def run(objective: Objective) -> list[int]:
        strategy = make_strategy(
            "bayesian", space, seed=0, objective=objective, options={"n_startup_trials": 5}
        )
        xs = []
        for _ in range(30):
            (s,) = strategy.ask(1)
            xs.append(s.params["x"])
            strategy.tell(
                TrialResult(s.trial_id, s.params, TrialStatus.COMPLETED, float(s.params["x"]))
            )
        assert strategy.study.direction.name == objective.direction.upper()
        return xs

    low = run(objective)
    high = run(Objective("pearson_r", "maximize"))
    assert statistics.mean(low[10:]) < statistics.mean(high[10:])


def test_restored_study_keeps_pending_trials_running() -> None:
    original = make_strategy("bayesian", contract_space(), seed=4, options={"n_startup_trials": 4})
    drive(original, 8)
    in_flight = original.ask(3)
    state = json.loads(json.dumps(original.state_dict()))
    restored = make_strategy("bayesian", contract_space(), seed=0)
    restored.load_state_dict(state)
    before = [(t.number, t.state.name, t.params) for t in original.study.trials]
    assert [(t.number, t.state.name, t.params) for t in restored.study.trials] == before
    assert [s.params for s in restored.ask(3)] == [s.params for s in in_flight]
    for s in in_flight:
        restored.tell(result_for(s))
    assert not any(t.state.name == "RUNNING" for t in restored.study.trials)


def test_sampler_option_random_runs_and_bad_options_are_errors() -> None:
    strategy = make_strategy("bayesian", contract_space(), seed=0, options={"sampler": "random"})
    assert len(drive(strategy, 8)) == 8
    with pytest.raises(ConfigError, match="sampler"):
        make_strategy("bayesian", contract_space(), options={"sampler": "smac"})
    with pytest.raises(ConfigError, match="constant_liar"):
        make_strategy("bayesian", contract_space(), options={"constant_liar": "yes"})
    with pytest.raises(ConfigError, match="n_startup_trials"):
        make_strategy("bayesian", contract_space(), options={"n_startup_trials": -1})


@pytest.mark.parametrize(("sampler", "package"), [("gp", "torch"), ("cmaes", "cmaes")])
def test_sampler_needing_a_missing_package_is_a_config_error(sampler: str, package: str) -> None:
    if importlib.util.find_spec(package) is not None:
        strategy = make_strategy("bayesian", contract_space(), options={"sampler": sampler})
        assert len(drive(strategy, 4)) == 4
        return
    with pytest.raises(ConfigError, match=package):
        make_strategy("bayesian", contract_space(), options={"sampler": sampler})


def test_ordinal_values_keep_their_order_in_the_study() -> None:
    space = Space([OrdinalParam("l2", (0.0, 1e-5, 1e-4, 1e-3))])
    strategy = make_strategy("bayesian", space, seed=0)
    asked = drive(strategy, 10)
    assert sorted(s.params["l2"] for s in asked) == [0.0, 1e-5, 1e-4, 1e-3]
    for t in strategy.study.trials:
        assert t.params["l2"] in (0, 1, 2, 3)


def test_importing_and_building_does_not_import_optuna() -> None:
    code = (
        "import sys; from hpsearch.strategies import make_strategy; "
        "from hpsearch.strategies.testing import contract_space; "
        "make_strategy('bayesian', contract_space()); make_strategy('genetic', contract_space()); "
        "print('optuna' in sys.modules, 'deap' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

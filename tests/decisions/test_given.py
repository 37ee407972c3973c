"""The "given" strategy: exactly the listed configurations, once, in order; the shipped contract."""

from __future__ import annotations

import json

import pytest

from hpsearch.decisions.given import GivenConfigurations
from hpsearch.errors import ConfigError, SpaceError
from hpsearch.strategies import make_strategy
from hpsearch.strategies.testing import StrategyContract, contract_space, drive, result_for

SPEC = "hpsearch.decisions.given:GivenConfigurations"


def contract_configurations() -> list[dict]:
    """Eight distinct configurations of the contract space (one with the conditional child)."""
    out = []
    for i in range(8):
        params = {
            "optimizer": ["sgd", "adam", "rmsprop"][i % 3],
            "learning_rate": 10 ** (-1 - i / 3),
            "units": 8 * (i + 1),
            "n_layers": 1 + i % 4,
            "dropout": 0.1 * (i % 5),
            "l2": [0.0, 1e-5, 1e-4, 1e-3][i % 4],
            "epochs": 50,
        }
        if params["optimizer"] == "sgd":
            params["momentum"] = 0.5
        out.append(params)
    return out


class TestGivenContract(StrategyContract):
    strategy = SPEC
    options = {"configurations": contract_configurations()}
    seed_sensitive = False  # the order is the file's, whatever the seed


def test_hands_out_exactly_the_list_then_finishes() -> None:
    configs = contract_configurations()
    strategy = make_strategy(SPEC, contract_space(), options={"configurations": configs})
    asked = drive(strategy, 100, batch=3)
    space = contract_space()
    assert [s.params for s in asked] == [space.validate(c) for c in configs]
    assert strategy.finished and strategy.ask(5) == []


def test_state_round_trip_mid_list() -> None:
    configs = contract_configurations()
    first = GivenConfigurations(contract_space(), configurations=configs)
    asked = first.ask(3)
    for s in asked[:2]:
        first.tell(result_for(s))
    state = json.loads(json.dumps(first.state_dict()))
    again = GivenConfigurations(contract_space(), configurations=configs)
    again.load_state_dict(state)
    rest = drive(again, 100)
    assert [s.trial_id for s in rest] == list(range(2, 8))  # the pending one first, then the rest
    assert again.finished


def test_bad_lists_fail_when_built_naming_the_entry() -> None:
    good = contract_configurations()[:2]
    with pytest.raises(ConfigError, match="list at least one configuration"):
        make_strategy(SPEC, contract_space(), options={"configurations": []})
    bad = [good[0], {**good[1], "units": 10_000}]
    with pytest.raises(SpaceError) as info:
        make_strategy(
            SPEC, contract_space(), options={"configurations": bad}, source="exp.yaml",
            field="stages[0]",
        )  # fmt: skip
    assert str(info.value).startswith("exp.yaml: stages[0].options.configurations[1].units: must")
    with pytest.raises(ConfigError, match=r"configurations\[1\]: must be a configuration not"):
        GivenConfigurations(contract_space(), configurations=[good[0], dict(good[0])])
    with pytest.raises(ConfigError, match="must be a list"):
        GivenConfigurations(contract_space(), configurations="units: 8")  # type: ignore[arg-type]


def test_runs_as_a_stage_of_the_fold_search(tmp_path) -> None:
    """What ``hpsearch run CONFIG --params FILE`` does: one "given" stage (budget = the list)."""
    from pathlib import Path

    from hpsearch.config import DataConfig, ExperimentConfig, StageConfig
    from hpsearch.runner.executors import InProcessExecutor
    from hpsearch.runner.rundir import RunDir
    from hpsearch.runner.search import FoldSearch
    from hpsearch.strategies.testing import toy_score
    from hpsearch.trial import Objective, TrialResult, TrialStatus

    class Toy:
        objective = Objective()
        search_seed = 0

        def evaluate_outer(self, params, *, epochs, seed, save_predictions=None):
            return {"pearson_r": toy_score(params) / 10}

    def evaluate(context, s):
        return TrialResult(s.trial_id, s.params, TrialStatus.COMPLETED, toy_score(s.params))

    configs = contract_configurations()[:3]
    config = ExperimentConfig(
        name="given", data=DataConfig(Path("x"), Path("y")), space=Path("s"), seed=1,
        stages=[StageConfig(SPEC, len(configs) + 2, {"configurations": configs})],
    )  # fmt: skip
    fold = RunDir(tmp_path).fold("fold1")
    outcome = FoldSearch(
        config, contract_space(), Toy(), fold, InProcessExecutor(evaluate=evaluate)
    ).run()
    records = fold.journal.read()
    space = contract_space()
    assert [r.result.params for r in records] == [space.validate(c) for c in configs]
    assert [r.tags["given_index"] for r in records] == [0, 1, 2]
    assert outcome.best is not None and outcome.outer_metrics  # the outer test ran as usual

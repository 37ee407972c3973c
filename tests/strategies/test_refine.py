"""Refine strategy specifics beyond the shared contract."""

from __future__ import annotations

from typing import Any

import pytest

from hpsearch.errors import ConfigError, SpaceError, StateError
from hpsearch.space import CategoricalParam, FloatParam, IntParam, OrdinalParam, Space
from hpsearch.strategies import make_strategy
from hpsearch.strategies.testing import (
    StrategyContract,
    contract_space,
    drive,
    result_for,
    toy_score,
)
from hpsearch.trial import Objective, TrialRecord

CENTRES = [
    {
        "optimizer": "sgd",
        "momentum": 0.45,
        "learning_rate": 1e-2,
        "units": 64,
        "n_layers": 2,
        "dropout": 0.2,
        "l2": 1e-4,
        "epochs": 50,
    },
    {
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "units": 16,
        "n_layers": 3,
        "dropout": 0.0,
        "l2": 0.0,
        "epochs": 50,
    },
]


class TestRefineRandomContract(StrategyContract):
    strategy = "refine"
    options = {"centres": CENTRES, "method": "random"}


def small_space() -> Space:
    return Space(
        [
            CategoricalParam("act", ("relu", "tanh")),
            IntParam("units", 1, 9),
            OrdinalParam("l2", (0.0, 1e-4, 1e-3, 1e-2)),
            FloatParam("lr", 1e-4, 1e-1, log=True),
        ]
    )


def earlier_stage(space: Space, trials: int = 30, seed: int = 0) -> list[dict[str, Any]]:
    """Journal records (TrialRecord.to_dict) of a random stage scored with the toy objective."""
    strategy = make_strategy("random", space, seed=seed)
    records = []
    for i, s in enumerate(drive(strategy, trials)):
        result = result_for(s, fail=i % 7 == 6)
        records.append(TrialRecord(result, stage=0, strategy="random").to_dict())
    return records


def in_space(space: Space, params: dict) -> bool:
    try:
        return space.validate(params) == params
    except SpaceError:
        return False


@pytest.mark.parametrize("method", ["grid", "random"])
def test_suggestions_lie_in_the_neighbourhood_of_their_centre(method: str) -> None:
    space = contract_space()
    previous = earlier_stage(space)
    strategy = make_strategy(
        "refine", space, seed=1, options={"method": method, "top_k": 3, "previous": previous}
    )
    asked = drive(strategy, 60)
    assert len(asked) == 60
    ok = [r for r in previous if r["status"] == "completed"]
    ok.sort(key=lambda r: -r["score"])
    top = ok[:3]
    assert [c["trial_id"] for c in strategy.centres] == [r["trial_id"] for r in top]
    by_id = {r["trial_id"]: r["params"] for r in top}
    for s in asked:
        centre = by_id[s.tags["centre"]]
        assert s.tags["centre_rank"] == list(by_id).index(s.tags["centre"])
        narrow = space.neighborhood(centre, 1)
        assert in_space(narrow, s.params)
        # "narrow" is narrow: e.g. the learning rate stays within a factor 2 of the centre's
        assert (
            centre["learning_rate"] / 2 <= s.params["learning_rate"] <= centre["learning_rate"] * 2
        )
        assert s.params["optimizer"] == centre["optimizer"]  # keep_categorical


def test_grid_visits_centres_round_robin_best_first_and_exhausts() -> None:
    space = small_space()
    previous = earlier_stage(space, trials=12)
    strategy = make_strategy("refine", space, options={"previous": previous, "top_k": 2})
    asked = drive(strategy, 10_000)
    assert strategy.finished
    assert [s.tags["centre_rank"] for s in asked[:4]] == [0, 1, 0, 1]
    # everything in the neighbourhood grids was either evaluated before or suggested now
    union = set()
    for centre in strategy.centres:
        for params in space.neighborhood(centre["params"], 1).grid(points=3):
            union.add(space.key(params))
    done_before = {space.key(r["params"]) for r in previous}
    suggested = [space.key(s.params) for s in asked]
    assert len(set(suggested)) == len(suggested)
    assert set(suggested) == union - done_before


def test_configurations_of_the_earlier_stage_are_never_repeated() -> None:
    # an earlier grid over a small discrete space overlaps every neighbourhood heavily
    space = Space(
        [
            CategoricalParam("act", ("relu", "tanh")),
            IntParam("units", 1, 6),
            OrdinalParam("l2", (0.0, 1e-4, 1e-3)),
        ]
    )
    grid = make_strategy("grid", space)
    previous = [TrialRecord(result_for(s), strategy="grid").to_dict() for s in drive(grid, 20)]
    done_before = {space.key(r["params"]) for r in previous}
    for method in ("grid", "random"):
        strategy = make_strategy(
            "refine",
            space,
            seed=0,
            options={"previous": previous, "method": method, "top_k": 3, "keep_categorical": False},
        )
        asked = drive(strategy, 500)
        assert {s.params["act"] for s in asked} == {"tanh"}  # all relu neighbours were done
        assert not {space.key(s.params) for s in asked} & done_before
        assert strategy.finished  # random too: its neighbourhoods ran out of new configurations


def test_minimised_metric_takes_the_lowest_scores_as_centres() -> None:
    space = small_space()
    previous = earlier_stage(space, trials=15)
    strategy = make_strategy(
        "refine",
        space,
        objective=Objective("mse", "minimize"),
        options={"previous": previous, "top_k": 2},
    )
    ok = sorted((r for r in previous if r["status"] == "completed"), key=lambda r: r["score"])
    assert [c["trial_id"] for c in strategy.centres] == [r["trial_id"] for r in ok[:2]]


def test_explicit_centres_are_used_and_tagged_with_a_matching_trial() -> None:
    space = contract_space()
    previous = [TrialRecord(result_for(_suggestion(7, CENTRES[1]))).to_dict()]
    strategy = make_strategy("refine", space, options={"centres": CENTRES, "previous": previous})
    asked = drive(strategy, 4)
    assert [s.tags["centre"] for s in asked] == [None, 7, None, 7]
    assert all(space.key(s.params) != space.key(CENTRES[1]) for s in asked)


def test_context_previous_reaches_refine_through_make_strategy() -> None:
    space = small_space()
    previous = earlier_stage(space, trials=10)
    strategy = make_strategy("refine", space, context={"previous": previous}, options={"top_k": 1})
    (s,) = strategy.ask(1)
    best = max((r for r in previous if r["status"] == "completed"), key=lambda r: r["score"])
    assert s.tags["centre"] == best["trial_id"]
    assert abs(toy_score(s.params) - best["score"]) < 5


def test_no_centres_is_a_config_error_that_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="earlier stage"):
        make_strategy("refine", contract_space())
    failed_only = [TrialRecord(result_for(_suggestion(0, CENTRES[0]), fail=True)).to_dict()]
    with pytest.raises(ConfigError, match="earlier stage"):
        make_strategy("refine", contract_space(), options={"previous": failed_only})


def test_bad_centres_and_records_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"centres\[0\]"):
        make_strategy("refine", contract_space(), options={"centres": [{"units": 3000}]})
    with pytest.raises(ConfigError, match="centres"):
        make_strategy("refine", contract_space(), options={"centres": CENTRES[0]})
    with pytest.raises(ConfigError, match=r"previous\[0\]"):
        make_strategy("refine", contract_space(), options={"previous": [{"score": 1.0}]})
    with pytest.raises(ConfigError, match="method"):
        make_strategy("refine", contract_space(), options={"centres": CENTRES, "method": "bo"})


def test_state_of_other_centres_is_refused() -> None:
    strategy = make_strategy("refine", contract_space(), options={"centres": CENTRES})
    drive(strategy, 3)
    other = make_strategy("refine", contract_space(), options={"centres": CENTRES[:1]})
    with pytest.raises(StateError, match="centres"):
        other.load_state_dict(strategy.state_dict())


def _suggestion(trial_id: int, params: dict) -> Any:
    from hpsearch.trial import Suggestion

    return Suggestion(trial_id, dict(params))


def test_random_goes_on_around_other_centres_when_one_neighbourhood_is_used_up() -> None:
    space = Space([CategoricalParam("act", ("relu", "tanh")), IntParam("units", 1, 20)])
    previous = [
        TrialRecord(result_for(_suggestion(i, {"act": "relu", "units": u}))).to_dict()
        for i, u in enumerate((1, 2))
    ]
    centres = [{"act": "relu", "units": 1}, {"act": "tanh", "units": 10}]
    strategy = make_strategy(
        "refine",
        space,
        options={"centres": centres, "previous": previous, "method": "random"},
    )
    asked = drive(strategy, 100)
    assert sorted(s.params["units"] for s in asked) == [9, 10, 11]
    assert {s.params["act"] for s in asked} == {"tanh"}
    assert strategy.finished

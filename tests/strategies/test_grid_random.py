"""Grid and random search specifics beyond the contract."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.errors import ConfigError, StateError
from hpsearch.space import CategoricalParam, FloatParam, IntParam, Space
from hpsearch.strategies import make_strategy, strategy_options
from hpsearch.strategies.testing import contract_space, drive, result_for


def small_space() -> Space:
    return Space([CategoricalParam("act", ("relu", "tanh")), IntParam("units", 1, 3)])


def test_grid_visits_every_point_once_then_finishes() -> None:
    strategy = make_strategy("grid", small_space())
    asked = drive(strategy, 100)
    assert sorted((s.params["act"], s.params["units"]) for s in asked) == sorted(
        (a, u) for a in ("relu", "tanh") for u in (1, 2, 3)
    )
    assert strategy.finished
    assert strategy.ask(3) == []


def test_grid_shuffle_changes_order_not_content() -> None:
    plain = [
        s.params
        for s in drive(make_strategy("grid", contract_space(), options={"points": 2}), 5000)
    ]
    shuffled = [
        s.params
        for s in drive(
            make_strategy("grid", contract_space(), seed=1, options={"points": 2, "shuffle": True}),
            5000,
        )
    ]
    assert plain != shuffled
    key = lambda p: sorted(p.items())  # noqa: E731
    assert sorted(plain, key=key) == sorted(shuffled, key=key)


def test_random_on_a_finite_space_stops_when_everything_was_tried() -> None:
    strategy = make_strategy("random", small_space(), seed=0)
    asked = drive(strategy, 100)
    assert len(asked) == 6
    assert strategy.finished


def test_random_draws_log_parameters_across_decades() -> None:
    space = Space([FloatParam("lr", 1e-5, 1e-1, log=True)])
    strategy = make_strategy("random", space, seed=0)
    values = np.array([s.params["lr"] for s in drive(strategy, 200)])
    decades = np.floor(np.log10(values))
    assert set(decades.astype(int)) == {-5, -4, -3, -2}


def test_best_and_top_k_ignore_failures() -> None:
    strategy = make_strategy("random", contract_space(), seed=0)
    drive(strategy, 12, fail_every=2)
    top = strategy.top_k(3)
    assert all(t["score"] is not None for t in top)
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)


def test_strategy_option_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="points"):
        make_strategy("grid", small_space(), options={"points": 1})
    with pytest.raises(ConfigError, match="did you mean 'grid'"):
        make_strategy("gird", small_space())
    assert "points" in strategy_options(type(make_strategy("grid", small_space())))


def test_state_of_another_space_is_refused() -> None:
    strategy = make_strategy("random", small_space())
    drive(strategy, 2)
    other = make_strategy("random", Space([IntParam("units", 1, 4)]))
    with pytest.raises(StateError, match="space"):
        other.load_state_dict(strategy.state_dict())


def test_pending_trials_come_back_first_after_restore() -> None:
    strategy = make_strategy("random", contract_space(), seed=3)
    in_flight = strategy.ask(3)
    state = strategy.state_dict()
    restored = make_strategy("random", contract_space(), seed=3)
    restored.load_state_dict(state)
    again = restored.ask(5)
    assert [s.trial_id for s in again[:3]] == [s.trial_id for s in in_flight]
    assert len({s.trial_id for s in again}) == 5
    for s in again:
        restored.tell(result_for(s))

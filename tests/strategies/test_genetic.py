"""Genetic (DeepEvolve-style) strategy specifics beyond the shared contract."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from hpsearch.errors import ConfigError
from hpsearch.space import CategoricalParam, FloatParam, IntParam, OrdinalParam, Space
from hpsearch.strategies import make_strategy
from hpsearch.strategies.testing import contract_space, drive, result_for, toy_score
from hpsearch.trial import Suggestion


def small_space() -> Space:
    """36 configurations (plus a conditional child), so 8 generations run out of new ones."""
    return Space(
        [
            CategoricalParam("act", ("relu", "tanh", "elu")),
            IntParam("units", 1, 4),
            OrdinalParam("l2", (0.0, 1e-4, 1e-3)),
            FloatParam("momentum", 0.0, 0.5, step=0.5, when={"act": ["relu"]}),
        ]
    )


def ga(space: Space | None = None, seed: int = 0, **options: Any) -> Any:
    return make_strategy("genetic", space or contract_space(), seed=seed, options=options)


def test_no_configuration_is_trained_twice_across_eight_generations() -> None:
    space = small_space()
    strategy = ga(space, seed=2, population_size=10, generations=8)
    asked = drive(strategy, 1000, batch=3)
    assert strategy.finished
    counts = Counter(space.key(s.params) for s in asked)
    assert max(counts.values()) == 1
    assert len(asked) <= 48  # the space's size: 3*4*3 + 12 extra momentum values for relu
    assert max(s.tags["generation"] for s in asked) >= 3  # it did breed several generations


def test_children_equal_to_known_genomes_are_mutated_until_new() -> None:
    # retain keeps 1 (also the hall of fame), random_select keeps none: 9 children per generation,
    # and each must be trained, so every clone of a parent or of an earlier genome was mutated
    strategy = ga(seed=1, population_size=10, generations=5, random_select=0.0)
    asked = drive(strategy, 1000)
    per_generation = Counter(s.tags["generation"] for s in asked)
    assert per_generation == {0: 10, 1: 9, 2: 9, 3: 9, 4: 9}
    carried = [m for m in strategy.population if m["origin"] == "elite"]
    assert len(carried) == 1 and carried[0]["evaluated"]


def test_generations_and_tags() -> None:
    strategy = ga(seed=1, population_size=8, generations=3)
    asked = drive(strategy, 1000)
    assert strategy.finished
    assert [s.tags["generation"] for s in asked] == sorted(s.tags["generation"] for s in asked)
    assert {s.tags["generation"] for s in asked} == {0, 1, 2}
    first = [s for s in asked if s.tags["generation"] == 0]
    assert len(first) == 8
    assert all(s.tags["origin"] == "random" and s.tags["parents"] == [] for s in first)
    told_before: set[int] = set()
    for s in asked:
        if s.tags["generation"] > 0:
            assert s.tags["origin"] in {"child", "mutant"}
            assert s.tags["parents"] and set(s.tags["parents"]) <= told_before
        told_before.add(s.trial_id)


def test_a_generation_is_bred_only_when_all_of_it_is_told() -> None:
    strategy = ga(seed=0, population_size=6, generations=2)
    first = strategy.ask(10)
    assert len(first) == 6
    for s in first[:-1]:
        strategy.tell(result_for(s))
    assert strategy.ask(3) == []  # waiting for the last individual
    strategy.tell(result_for(first[-1]))
    nxt = strategy.ask(3)
    assert nxt and all(s.tags["generation"] == 1 for s in nxt)


def run_steps(strategy: Any, steps: list[tuple[str, int]]) -> list[tuple[int, dict]]:
    """Apply ("ask", n) / ("tell", k) steps; returns what was asked."""
    out = []
    open_: list[Suggestion] = []
    for op, n in steps:
        if op == "ask":
            batch = strategy.ask(n)
            open_ += batch
            out += [(s.trial_id, s.params) for s in batch]
        else:
            for s in open_[:n]:
                strategy.tell(result_for(s))
            open_ = open_[n:]
    return out


@pytest.mark.parametrize("told", [4, 11])  # half of generation 0, and inside generation 1
def test_mid_generation_round_trip_gives_identical_next_suggestions(told: int) -> None:
    original = ga(seed=5, population_size=8, generations=5)
    drive(original, told)
    pending = original.ask(2)
    state = json.loads(json.dumps(original.state_dict()))
    restored = ga(seed=123, population_size=8, generations=5)
    restored.load_state_dict(state)
    assert [(s.trial_id, s.params) for s in restored.ask(2)] == [
        (s.trial_id, s.params) for s in pending
    ]
    for s in pending:
        original.tell(result_for(s))
        restored.tell(result_for(s))
    a = [(s.trial_id, s.params, s.tags) for s in drive(original, 30)]
    b = [(s.trial_id, s.params, s.tags) for s in drive(restored, 30)]
    assert a == b and len(a) >= 6
    assert original.population == restored.population


def test_two_interleaved_gas_match_each_run_alone_and_leave_global_random_alone() -> None:
    def alone(seed: int) -> list:
        return [
            (s.trial_id, s.params)
            for s in drive(ga(seed=seed, population_size=6, generations=4), 1000)
        ]

    solo_a, solo_b = alone(1), alone(2)
    a, b = (
        ga(seed=1, population_size=6, generations=4),
        ga(seed=2, population_size=6, generations=4),
    )
    got_a: list = []
    got_b: list = []
    random.seed(99)
    expected_global = random.Random(99)
    while not (a.finished and b.finished):
        for strategy, got in ((a, got_a), (b, got_b)):
            for s in strategy.ask(1):
                got.append((s.trial_id, s.params))
                strategy.tell(result_for(s))
            # the global random stream is untouched by the GAs, and does not affect them
            assert random.random() == expected_global.random()
    assert got_a == solo_a and got_b == solo_b
    assert got_a != got_b


def test_failed_individuals_stay_in_the_population_with_worst_fitness() -> None:
    # random_select=1: every individual outside the retained best is kept as a breeding parent
    # (and a mutated copy of it joins the next generation), so failures must show up as parents
    strategy = ga(seed=3, population_size=8, generations=2, random_select=1.0, retain=0.25)
    first = strategy.ask(8)
    failed = {s.trial_id for s in first[::3]}
    for s in first:
        strategy.tell(result_for(s, fail=s.trial_id in failed))
    parents = {p for s in drive(strategy, 100) for p in s.tags["parents"]}
    assert failed <= parents
    # ... yet they rank last: the carried (retained) individuals are the two best completed ones
    completed = sorted(
        (toy_score(s.params) for s in first if s.trial_id not in failed), reverse=True
    )
    carried = [m for m in strategy.population if m["origin"] == "elite"]
    assert sorted((m["score"] for m in carried), reverse=True) == completed[:2]


def test_tournament_never_picks_a_failure_over_a_completed_individual() -> None:
    # DEAP draws tournament aspirants with replacement; with tournament_size == population size
    # a failure could only win a tournament made of nothing but itself ((1/6)**6 per tournament)
    strategy = ga(
        seed=4,
        population_size=6,
        generations=3,
        selection="tournament",
        tournament_size=6,
        elitism=0,
    )
    first = strategy.ask(6)
    failed = first[3].trial_id
    for s in first:
        strategy.tell(result_for(s, fail=s.trial_id == failed))
    nxt = drive(strategy, 100)
    assert nxt
    parents = {p for s in nxt for p in s.tags["parents"]}
    assert parents and failed not in parents


def test_elitism_keeps_the_best_configuration_in_every_generation() -> None:
    strategy = ga(
        seed=6,
        population_size=8,
        generations=6,
        selection="tournament",
        tournament_size=2,
        elitism=1,
    )
    generation = 0
    suggested: set[str] = set()
    space = contract_space()
    while not strategy.finished:
        batch = strategy.ask(1)
        if not batch:
            break
        (s,) = batch
        key = space.key(s.params)
        assert key not in suggested  # an elite is carried, never re-evaluated
        suggested.add(key)
        strategy.tell(result_for(s))
        if strategy.generation != generation and not strategy.finished:
            generation = strategy.generation
            best = strategy.best()
            elites = [m for m in strategy.population if m["origin"] == "elite"]
            assert [m["params"] for m in elites] == [best["params"]]
            assert strategy.hall_of_fame[0]["params"] == best["params"]
    assert generation == 5


def test_tiny_space_finishes_without_waiting_forever() -> None:
    space = Space([CategoricalParam("act", ("relu", "tanh"))])
    strategy = ga(space, population_size=6, generations=3)
    asked = drive(strategy, 100)
    assert sorted(s.params["act"] for s in asked) == ["relu", "tanh"]
    assert strategy.finished


@pytest.mark.parametrize("crossover", ["parents", "uniform"])
def test_children_take_each_gene_from_one_of_their_parents(crossover: str) -> None:
    space = contract_space()
    strategy = ga(
        seed=7, population_size=10, generations=4, crossover=crossover, mutation_probability=0.0
    )
    asked = drive(strategy, 1000, fail_every=4)
    assert strategy.finished
    genes = {s.trial_id: space.encode(s.params) for s in asked}
    children = [s for s in asked if s.tags["origin"] == "child"]
    assert children
    for child in children:
        mother, father = (child.tags["parents"] * 2)[:2]
        mine = space.encode(child.params)
        for i, param in enumerate(space):
            if param.name in child.params:
                assert mine[i] in (genes[mother][i], genes[father][i])


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"selection": "roulette"}, "selection"),
        ({"crossover": "two_point"}, "crossover"),
        ({"population_size": 1}, "population_size"),
        ({"elitism": 6, "population_size": 6}, "elitism"),
        ({"retain": 1.5}, "retain"),
        ({"mutation_probability": -0.1}, "mutation_probability"),
        ({"tournament_size": 1}, "tournament_size"),
    ],
)
def test_bad_options_are_config_errors(options: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ga(**options)

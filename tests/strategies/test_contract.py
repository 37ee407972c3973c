"""Every shipped strategy passes the shipped contract suite."""

from __future__ import annotations

from hpsearch.strategies.testing import StrategyContract


class TestGridContract(StrategyContract):
    strategy = "grid"
    options = {"points": 3}
    seed_sensitive = False


class TestShuffledGridContract(StrategyContract):
    strategy = "grid"
    options = {"points": 3, "shuffle": True}


class TestRandomContract(StrategyContract):
    strategy = "random"


class TestBayesianContract(StrategyContract):
    strategy = "bayesian"
    options = {"n_startup_trials": 5}


class TestGeneticContract(StrategyContract):
    strategy = "genetic"
    options = {"population_size": 6, "generations": 4}


#: Two configurations of ``contract_space()`` to refine around (one with a conditional child).
REFINE_CENTRES = [
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


class TestRefineContract(StrategyContract):
    strategy = "refine"
    options = {"centres": REFINE_CENTRES}
    seed_sensitive = False  # the default grid method walks the neighbourhoods in a fixed order

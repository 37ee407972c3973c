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

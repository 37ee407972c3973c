"""Search strategies behind one ask/tell protocol, looked up by name.

Strategies register lazily so that ``hpsearch list strategies`` and config validation import
neither Optuna nor DEAP.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.registry import Registry
from hpsearch.space import Space
from hpsearch.strategies.base import BaseStrategy, Proposal, Strategy
from hpsearch.trial import Objective

STRATEGIES: Registry[type[BaseStrategy]] = Registry("strategy")
STRATEGIES.register_lazy(
    "grid", "hpsearch.strategies.grid:GridSearch", "every grid point, in order or shuffled"
)
STRATEGIES.register_lazy(
    "random", "hpsearch.strategies.random_search:RandomSearch", "independent random draws"
)
STRATEGIES.register_lazy(
    "bayesian", "hpsearch.strategies.bayesian:BayesianSearch", "Optuna TPE/GP/CMA-ES via ask/tell"
)
STRATEGIES.register_lazy(
    "genetic", "hpsearch.strategies.genetic:GeneticSearch", "DeepEvolve-style GA (DEAP operators)"
)
STRATEGIES.register_lazy(
    "refine", "hpsearch.strategies.refine:RefineSearch", "local search around earlier top-k"
)
STRATEGIES.register_lazy(
    "given",
    "hpsearch.decisions.given:GivenConfigurations",
    "exactly the listed configurations (hpsearch run --params)",
)

#: Constructor arguments the runner supplies; everything else is a user option.
_RUNNER_ARGS = {"space", "objective", "seed", "first_trial_id"}


def strategy_options(cls: type) -> dict[str, Any]:
    """The user options a strategy class accepts, with their defaults."""
    params = inspect.signature(cls.__init__).parameters
    return {
        name: p.default
        for name, p in params.items()
        if name not in _RUNNER_ARGS | {"self"} and p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def make_strategy(
    name: str,
    space: Space,
    *,
    objective: Objective | None = None,
    seed: int = 0,
    first_trial_id: int = 0,
    options: Mapping[str, Any] | None = None,
    source: str | None = None,
    field: str = "strategy",
    context: Mapping[str, Any] | None = None,
) -> Strategy:
    """Build a registered (or ``module:Class``) strategy; unknown options are errors.

    ``context`` holds what the runner knows from earlier stages (e.g. ``previous``: records of
    earlier trials); it reaches only strategies whose constructor names those keys.
    """
    cls = STRATEGIES.get(name, source=source, field=field)
    allowed = strategy_options(cls)
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError.at(
            source,
            f"{field}.options.{unknown[0]}",
            f"be an option of strategy {name!r} ({', '.join(sorted(allowed)) or 'it takes none'})",
            unknown[0],
        )
    for key, value in (context or {}).items():
        if key in allowed and key not in options:
            options[key] = value
    try:
        return cls(space, objective=objective, seed=seed, first_trial_id=first_trial_id, **options)
    except ConfigError as exc:
        if exc.source is None:
            exc.source = source
            exc.field = f"{field}.options.{exc.field}" if exc.field else exc.field
            exc.args = (str(exc),)
        raise


__all__ = [
    "STRATEGIES",
    "BaseStrategy",
    "Proposal",
    "Strategy",
    "make_strategy",
    "strategy_options",
]

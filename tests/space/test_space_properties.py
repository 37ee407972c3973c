"""Hypothesis properties over randomly built spaces (conditions included)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Parameter,
    Space,
)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
scalar = st.one_of(st.text(max_size=4), st.integers(-50, 50), st.booleans(), st.none(),
                   st.floats(-10, 10, allow_nan=False, allow_infinity=False))


def _identity(value: object) -> tuple:
    """How a test tells choices apart without asking the code under test."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return (type(value).__name__, value)


choice_lists = st.lists(scalar, min_size=1, max_size=5, unique_by=_identity)


@st.composite
def parameters(draw: st.DrawFn, name: str) -> Parameter:
    kind = draw(st.sampled_from(["float", "float_log", "float_step", "int", "int_log",
                                 "int_step", "categorical", "ordinal", "fixed"]))
    if kind == "float":
        low = draw(finite)
        return FloatParam(name, low, low + draw(st.floats(0, 1e6)),
                          resolution=draw(st.integers(2, 40)))
    if kind == "float_log":
        low = draw(st.floats(1e-8, 1e3))
        return FloatParam(name, low, low * draw(st.floats(1, 1e6)), log=True)
    if kind == "float_step":
        # bounds written as a user would (0.3, not 0.1 * 3 = 0.30000000000000004)
        step = draw(st.sampled_from([0.1, 0.25, 0.05, 1e-3, 2.0]))
        low = round(draw(st.integers(-100, 100)) * step, 10)
        high = round(low + draw(st.integers(0, 400)) * step, 10)
        return FloatParam(name, low, high, step=step)
    if kind == "int":
        low = draw(st.integers(-10**6, 10**6))
        return IntParam(name, low, low + draw(st.integers(0, 10**6)))
    if kind == "int_log":
        low = draw(st.integers(1, 1000))
        return IntParam(name, low, low + draw(st.integers(0, 10**5)), log=True)
    if kind == "int_step":
        step = draw(st.integers(1, 7))
        low = draw(st.integers(-100, 100))
        return IntParam(name, low, low + step * draw(st.integers(0, 300)), step=step)
    if kind == "categorical":
        return CategoricalParam(name, tuple(draw(choice_lists)))
    if kind == "ordinal":
        return OrdinalParam(name, tuple(draw(choice_lists)))
    return FixedParam(name, draw(scalar))


@st.composite
def spaces(draw: st.DrawFn) -> Space:
    count = draw(st.integers(1, 4))
    params: list[Parameter] = []
    for i in range(count):
        param = draw(parameters(f"p{i}"))
        discrete = [p for p in params if isinstance(p, CategoricalParam | OrdinalParam
                                                      | FixedParam)]
        if discrete and draw(st.booleans()):
            parent = draw(st.sampled_from(discrete))
            options = parent.grid_values(1)
            allowed = draw(st.lists(st.sampled_from(options), min_size=1, max_size=3))
            param = _with_when(param, {parent.name: allowed})
        params.append(param)
    return Space(params)


def _with_when(param: Parameter, when: dict) -> Parameter:
    import dataclasses

    return dataclasses.replace(param, when=when)


@SETTINGS
@given(space=spaces(), seed=st.integers(0, 2**32 - 1))
def test_sample_validates(space: Space, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(10):
        config = space.sample(rng)
        assert space.validate(config) == config
        assert list(config) == [n for n in space.names if n in config]


@SETTINGS
@given(space=spaces(), points=st.integers(1, 4))
def test_grid_members_validate_and_are_unique(space: Space, points: int) -> None:
    grid = space.grid(points)
    n = len(grid)
    picks = range(n) if n <= 300 else sorted({*range(100), *range(n - 100, n),
                                              *np.linspace(0, n - 1, 100).astype(int)})
    keys = set()
    for i in picks:
        config = grid[i]
        assert space.validate(config) == config
        keys.add(space.key(config))
    assert len(keys) == len(picks)


@SETTINGS
@given(space=spaces(), seed=st.integers(0, 2**32 - 1), radius=st.integers(0, 3),
       keep=st.booleans())
def test_neighbourhood_is_inside_space_and_holds_centre(space: Space, seed: int, radius: int,
                                                        keep: bool) -> None:
    rng = np.random.default_rng(seed)
    centre = space.sample(rng)
    child = space.neighborhood(centre, radius, keep_categorical=keep)
    assert child.validate(centre) == centre
    for _ in range(10):
        config = child.sample(rng)
        assert space.validate(config) == config
    grid = child.grid(3)
    for i in range(min(len(grid), 50)):
        assert space.validate(grid[i]) == grid[i]


@SETTINGS
@given(space=spaces(), seed=st.integers(0, 2**32 - 1))
def test_genes_round_trip(space: Space, seed: int) -> None:
    for param in space:
        levels = [param.decode(g) for g in range(param.n_genes())]
        assert [param.encode(v) for v in levels] == list(range(len(levels)))
        if isinstance(param, FloatParam) and param.step is None:
            grid = param.grid_values(param.resolution)  # the levels by definition
        elif isinstance(param, IntParam | FloatParam):
            lattice = round((param.high - param.low) / param.step) + 1
            grid = param.grid_values(3) if lattice <= 256 else []  # levels = whole lattice
        else:
            grid = param.grid_values(3)
        for value in grid:
            assert param.decode(param.encode(value)) == value
    rng = np.random.default_rng(seed)
    sizes = space.gene_sizes()
    for _ in range(10):
        genes = [int(rng.integers(0, s)) for s in sizes]
        config = space.decode(genes)
        assert space.validate(config) == config
        assert space.decode(space.encode(config)) == config

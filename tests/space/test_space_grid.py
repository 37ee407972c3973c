"""The lazy grid: order, length, no duplicates under conditions, indexing, large grids."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from hpsearch.space import CategoricalParam, FixedParam, FloatParam, IntParam, Space


def conditional_space() -> Space:
    return Space([
        CategoricalParam("model", ("mlp", "cnn", "lstm")),
        IntParam("kernel", 3, 7, step=2, when={"model": ["cnn"]}),
        IntParam("dilation", 1, 2, when={"kernel": [5, 7]}),
        IntParam("units", 4, 6, when={"model": ["mlp", "lstm"]}),
        FloatParam("lr", 0.001, 0.1, log=True),
        FixedParam("epochs", 10),
    ])


def expected_conditional(points: int) -> list[dict]:
    """The same grid written out by hand with nested loops."""
    lrs = FloatParam("lr", 0.001, 0.1, log=True).grid_values(points)
    out = []
    for model in ("mlp", "cnn", "lstm"):
        branches: list[dict] = []
        if model == "cnn":
            for kernel in (3, 5, 7):
                if kernel in (5, 7):
                    branches += [{"kernel": kernel, "dilation": d} for d in (1, 2)]
                else:
                    branches.append({"kernel": kernel})
        else:
            branches = [{"units": u} for u in (4, 5, 6)]
        for branch in branches:
            for lr in lrs:
                out.append({"model": model, **branch, "lr": lr, "epochs": 10})
    return out


def test_grid_equals_hand_enumeration() -> None:
    grid = conditional_space().grid(3)
    expected = expected_conditional(3)
    assert len(grid) == len(expected) == (3 + 5 + 3) * 3
    assert list(grid) == expected
    assert [grid[i] for i in range(len(grid))] == expected


def test_grid_has_no_duplicates_and_members_validate() -> None:
    space = conditional_space()
    grid = space.grid(4)
    keys = [space.key(config) for config in grid]
    assert len(set(keys)) == len(keys) == len(grid)
    for config in grid:
        assert space.validate(config) == config


def test_grid_order_first_parameter_slowest() -> None:
    space = Space([IntParam("a", 0, 2), CategoricalParam("b", ("x", "y")), IntParam("c", 5, 6)])
    expected = [{"a": a, "b": b, "c": c}
                for a, b, c in itertools.product((0, 1, 2), ("x", "y"), (5, 6))]
    assert list(space.grid()) == expected


def test_grid_indexing() -> None:
    grid = conditional_space().grid(3)
    items = list(grid)
    assert grid[-1] == items[-1] and grid[-len(grid)] == items[0]
    assert grid[2:7] == items[2:7] and grid[::-5] == items[::-5]
    for bad in (len(grid), -len(grid) - 1):
        with pytest.raises(IndexError):
            grid[bad]
    with pytest.raises(TypeError):
        grid["0"]  # type: ignore[call-overload]
    first = grid[0]
    first["model"] = "changed"
    assert grid[0]["model"] == "mlp"  # fresh dicts


def test_grid_is_deterministic() -> None:
    a = json.dumps(list(conditional_space().grid(5)))
    b = json.dumps(list(conditional_space().grid(5)))
    assert a == b


def test_large_grid_is_cheap_to_size_and_index() -> None:
    space = Space([IntParam(f"p{i}", 0, 9) for i in range(7)]
                  + [FloatParam("x", 0.0, 1.0, when={"p0": [0, 1, 2, 3, 4]})])
    start = time.perf_counter()
    grid = space.grid(4)
    # p0 in 0..4: 10**6 * 4 configs; p0 in 5..9: 10**6 configs (x inactive)
    assert len(grid) == 5 * 10**6 * 4 + 5 * 10**6
    index = 1_234_567
    config = grid[index]
    # independent decoding of the mixed radix: first block has radix 4 for x
    p0, rest = divmod(index, 10**6 * 4)
    digits = []
    rest, x_index = divmod(rest, 4)
    for _ in range(6):
        rest, digit = divmod(rest, 10)
        digits.append(digit)
    assert config == {"p0": p0, **{f"p{i + 1}": d for i, d in enumerate(reversed(digits))},
                      "x": [0.0, 1 / 3, 2 / 3, 1.0][x_index]}
    last = grid[-1]
    assert last == {**{f"p{i}": 9 for i in range(7)}}
    assert time.perf_counter() - start < 1.0


def test_single_point_space() -> None:
    grid = Space([FixedParam("a", 1)]).grid()
    assert len(grid) == 1 and grid[0] == {"a": 1}

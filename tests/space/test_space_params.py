"""Parameter kinds: validation, sampling, grid values, genes, neighbours, construction errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpsearch.errors import SpaceError
from hpsearch.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# --------------------------------------------------------------------------- validate_value


def test_float_validate_bounds_inclusive_and_types() -> None:
    p = FloatParam("x", 0.0, 1.0)
    assert p.validate_value(0.0) == 0.0
    assert p.validate_value(1.0) == 1.0
    out = p.validate_value(1)  # ints accepted, returned as float
    assert out == 1.0 and isinstance(out, float)
    assert isinstance(p.validate_value(np.float32(0.5)), float)
    assert p.validate_value("5e-1") == 0.5  # PyYAML leaves 5e-1 as a string
    for bad in (1.0001, -0.1, True, None, "abc", float("nan"), [0.5]):
        with pytest.raises(SpaceError, match="x"):
            p.validate_value(bad)


def test_float_validate_error_names_source_and_param() -> None:
    p = FloatParam("learning_rate", 1e-4, 1e-1, log=True)
    with pytest.raises(SpaceError) as info:
        p.validate_value(0.5, source="best.yaml")
    text = str(info.value)
    assert text.startswith("best.yaml: learning_rate: must be in [0.0001, 0.1]")
    assert "0.5" in text


def test_int_validate_accepts_integral_floats_only() -> None:
    p = IntParam("units", 8, 256)
    out = p.validate_value(64.0)
    assert out == 64 and type(out) is int
    assert type(p.validate_value(np.int64(64))) is int
    for bad in (64.5, True, False, 7, 257, "abc", None):
        with pytest.raises(SpaceError, match="units"):
            p.validate_value(bad)


def test_int_step_lattice() -> None:
    p = IntParam("k", 2, 14, step=3)
    assert [p.validate_value(v) for v in (2, 5, 14)] == [2, 5, 14]
    for bad in (3, 6, 13):
        with pytest.raises(SpaceError, match="lattice"):
            p.validate_value(bad)


def test_float_step_lattice_with_tolerance() -> None:
    p = FloatParam("dropout", 0.0, 0.5, step=0.1)
    assert p.validate_value(0.1 * 3) == 0.3  # 0.30000000000000004 snaps onto the lattice
    assert p.validate_value(0.5) == 0.5
    for bad in (0.35, 0.3 + 1e-6, 0.55):
        with pytest.raises(SpaceError, match="dropout"):
            p.validate_value(bad)


def test_categorical_returns_exact_choice_object() -> None:
    p = CategoricalParam("c", (1, "1", True, None, 2.5))
    out = p.validate_value(1.0)
    assert out == 1 and type(out) is int
    assert p.validate_value(True) is True  # bool is not the int 1
    assert p.validate_value("1") == "1"
    assert p.validate_value(None) is None
    assert p.validate_value(np.float64(2.5)) == 2.5
    with pytest.raises(SpaceError, match="be one of"):
        p.validate_value("2.5")
    with pytest.raises(SpaceError):
        CategoricalParam("c", ("a", "b")).validate_value(False)


def test_ordinal_and_fixed_validate() -> None:
    o = OrdinalParam("l2", (0, 1e-5, 1e-4))
    assert o.validate_value(0.0) == 0 and type(o.validate_value(0.0)) is int
    with pytest.raises(SpaceError, match="l2"):
        o.validate_value(1e-3)
    f = FixedParam("epochs", 200)
    assert f.validate_value(200.0) == 200
    with pytest.raises(SpaceError, match="fixed value 200"):
        f.validate_value(100)
    assert FixedParam("layers", [64, 32]).validate_value((64, 32)) == [64, 32]


# --------------------------------------------------------------------------- sampling


def test_samples_stay_in_bounds(rng: np.random.Generator) -> None:
    params = [
        FloatParam("a", -3.0, 2.0),
        FloatParam("b", 1e-6, 1e2, log=True),
        FloatParam("c", 0.1, 0.9, step=0.2),
        IntParam("d", -5, 5),
        IntParam("e", 1, 1000, log=True),
        IntParam("f", 10, 100, step=15),
        CategoricalParam("g", ("x", "y", 3)),
        OrdinalParam("h", (1, 10, 100)),
        FixedParam("i", "z"),
    ]
    for p in params:
        for _ in range(500):
            value = p.sample(rng)
            assert p.validate_value(value) == value, (p.name, value)
            if isinstance(p, FloatParam | IntParam):
                assert p.low <= value <= p.high


def test_float_log_sampling_spreads_over_decades(rng: np.random.Generator) -> None:
    p = FloatParam("lr", 1e-5, 1e-1, log=True)
    samples = np.array([p.sample(rng) for _ in range(4000)])
    decades = np.floor(np.log10(samples)).clip(-5, -2)
    shares = [np.mean(decades == d) for d in (-5, -4, -3, -2)]
    # log-uniform: 25 % per decade; a linear sampler would put ~90 % in the top decade
    assert all(0.2 < s < 0.3 for s in shares), shares


def test_int_log_sampling_spreads(rng: np.random.Generator) -> None:
    p = IntParam("units", 1, 1000, log=True)
    samples = np.array([p.sample(rng) for _ in range(3000)])
    assert 0.25 < np.mean(samples < 32) < 0.6  # uniform would give ~3 %
    assert samples.min() == 1 and samples.max() >= 900


def test_stepped_sampling_covers_lattice(rng: np.random.Generator) -> None:
    p = FloatParam("dropout", 0.0, 0.5, step=0.1)
    seen = {p.sample(rng) for _ in range(600)}
    assert seen == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    q = IntParam("k", 3, 15, step=4)
    assert {q.sample(rng) for _ in range(400)} == {3, 7, 11, 15}


# --------------------------------------------------------------------------- grid values


def test_grid_values_continuous() -> None:
    assert FloatParam("x", 0.0, 1.0).grid_values(5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    log = FloatParam("lr", 1e-4, 1.0, log=True).grid_values(5)
    assert log[0] == 1e-4 and log[-1] == 1.0
    assert np.allclose(log, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-9)
    assert FloatParam("x", 2.0, 2.0).grid_values(5) == [2.0]
    assert FloatParam("x", 0.0, 4.0).grid_values(1) == [2.0]


def test_grid_values_lattices() -> None:
    assert IntParam("n", 1, 5).grid_values(3) == [1, 2, 3, 4, 5]  # small: all values
    assert IntParam("n", 0, 1000).grid_values(5) == [0, 250, 500, 750, 1000]
    assert IntParam("n", 0, 1000, step=10).grid_values(3) == [0, 500, 1000]
    assert IntParam("u", 1, 10000, log=True).grid_values(5) == [1, 10, 100, 1000, 10000]
    assert FloatParam("d", 0.0, 0.5, step=0.1).grid_values(2) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert FloatParam("d", 0.0, 10.0, step=0.01).grid_values(3) == [0.0, 5.0, 10.0]
    assert CategoricalParam("c", ("b", "a")).grid_values(1) == ["b", "a"]
    assert OrdinalParam("o", (3, 1, 2)).grid_values(2) == [3, 1, 2]
    assert FixedParam("f", 7).grid_values(9) == [7]
    with pytest.raises(SpaceError, match="points"):
        IntParam("n", 0, 10).grid_values(0)


# --------------------------------------------------------------------------- genes


@pytest.mark.parametrize(
    ("param", "size"),
    [
        (CategoricalParam("c", ("a", "b", "c")), 3),
        (OrdinalParam("o", (1, 2, 4, 8)), 4),
        (FixedParam("f", 1), 1),
        (IntParam("n", 1, 5), 5),
        (IntParam("n", 0, 100, step=5), 21),
        (IntParam("n", 0, 10_000), 256),
        (FloatParam("d", 0.0, 0.5, step=0.1), 6),
        (FloatParam("x", 0.0, 1.0), 32),
        (FloatParam("x", 1e-4, 1.0, log=True, resolution=9), 9),
    ],
)
def test_gene_levels_round_trip(param, size: int) -> None:
    assert param.n_genes() == size
    for gene in range(size):
        value = param.decode(gene)
        assert param.validate_value(value) == value
        assert param.encode(value) == gene
        assert param.decode(param.encode(value)) == value
    with pytest.raises(SpaceError):
        param.decode(size)


def test_encode_picks_nearest_level() -> None:
    p = FloatParam("x", 0.0, 1.0, resolution=5)  # levels 0, .25, .5, .75, 1
    assert p.encode(0.3) == 1
    assert p.encode(0.9) == 4
    lr = FloatParam("lr", 1e-4, 1.0, log=True, resolution=5)  # decades
    assert lr.encode(2e-3) == 1  # nearer 1e-3 than 1e-2 on a log scale (not on a linear one)
    big = IntParam("n", 0, 10_000)  # 10001 values -> 256 evenly spread levels
    levels = [round(i * 10_000 / 255) for i in range(256)]
    assert [big.decode(g) for g in range(256)] == levels
    assert big.decode(big.encode(5001)) == min(levels, key=lambda v: abs(v - 5001))


# --------------------------------------------------------------------------- neighbours


def test_neighbours_numeric() -> None:
    n = IntParam("n", 1, 10).neighbours(5, 2)
    assert (n.low, n.high, n.step) == (3, 7, 1)
    edge = IntParam("n", 1, 10).neighbours(1, 2)
    assert (edge.low, edge.high) == (1, 3)
    stepped = IntParam("n", 0, 100, step=10).neighbours(50)
    assert (stepped.low, stepped.high, stepped.step) == (40, 60, 10)
    logint = IntParam("u", 8, 256, log=True).neighbours(64)
    assert (logint.low, logint.high, logint.log) == (32, 128, True)
    lr = FloatParam("lr", 1e-4, 1e-1, log=True).neighbours(1e-2, 1)
    assert (lr.low, lr.high, lr.log) == (5e-3, 2e-2, True)
    clipped = FloatParam("lr", 1e-4, 1e-1, log=True).neighbours(1e-1, 2)
    assert (clipped.low, clipped.high) == (0.025, 1e-1)
    lin = FloatParam("m", 0.0, 1.0).neighbours(0.5, 2)
    assert math.isclose(lin.low, 0.3) and math.isclose(lin.high, 0.7)
    d = FloatParam("d", 0.0, 0.5, step=0.1).neighbours(0.1, 2)
    assert (d.low, d.high, d.step) == (0.0, 0.3, 0.1)
    assert d.grid_values(5) == [0.0, 0.1, 0.2, 0.3]


def test_neighbours_discrete_and_when_kept() -> None:
    when = {"opt": ["sgd"]}
    o = OrdinalParam("l2", (0, 1e-5, 1e-4, 1e-3), when=when).neighbours(1e-4)
    assert o.values == (1e-5, 1e-4, 1e-3) and o.when == when and o.name == "l2"
    c = CategoricalParam("act", ("relu", "elu"), when=when)
    fixed = c.neighbours("elu")
    assert isinstance(fixed, FixedParam) and fixed.value == "elu" and fixed.when == when
    assert c.neighbours("elu", keep_categorical=False) == c
    f = FixedParam("e", 3)
    assert f.neighbours(3) is f
    with pytest.raises(SpaceError):
        c.neighbours("tanh")
    with pytest.raises(SpaceError, match="radius"):
        IntParam("n", 1, 10).neighbours(5, -1)


# --------------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: FloatParam("x", 5, 1), "x: must have low <= high, got low=5, high=1"),
        (lambda: IntParam("n", 5, 1), "n: must have low <= high, got low=5, high=1"),
        (lambda: FloatParam("lr", 0.0, 1.0, log=True), "lr: must have low > 0"),
        (lambda: IntParam("u", 0, 8, log=True), "u: must have low > 0"),
        (lambda: FloatParam("x", 0.0, 1.0, step=0.0), "x: must have step > 0"),
        (lambda: IntParam("n", 0, 8, step=-2), "n: must have step > 0"),
        (lambda: FloatParam("x", 0.1, 1.0, step=0.1, log=True), "not combine step with log"),
        (lambda: IntParam("n", 1, 8, step=2, log=True), "not combine step with log"),
        (lambda: FloatParam("x", 0.0, 1.0, step=0.3), "multiple of step"),
        (lambda: IntParam("n", 0, 10, step=3), "e.g. high=9"),
        (lambda: FloatParam("x", 0.0, 1.0, resolution=1), "resolution"),
        (lambda: IntParam("n", 1.5, 8), "n: must have an integer as low"),
        (lambda: FloatParam("x", "abc", 1.0), "x: must have a number as low, got 'abc'"),
        (lambda: CategoricalParam("c", ()), "c: must have at least one entry"),
        (lambda: CategoricalParam("c", ("a", "a")), "unique"),
        (lambda: CategoricalParam("c", (1, 1.0)), "unique"),
        (lambda: CategoricalParam("c", ([1],)), "JSON scalars"),
        (lambda: CategoricalParam("c", "abc"), "as a list"),
        (lambda: OrdinalParam("o", ()), "o: must have at least one entry"),
        (lambda: FixedParam("f", object()), "JSON value"),
        (lambda: FloatParam("x", 0, 1, when={"x": [1]}), "not depend on itself"),
        (lambda: FloatParam("x", 0, 1, when={"p": []}), "at least one value"),
        (lambda: FloatParam("", 0, 1), "non-empty string"),
    ],
)
def test_construction_errors(build, message: str) -> None:
    with pytest.raises(SpaceError) as info:
        build()
    assert message in str(info.value)


def test_true_false_are_not_ints_for_choices() -> None:
    p = CategoricalParam("c", (True, 1))  # distinct choices
    assert p.grid_values(2) == [True, 1]


def test_to_dict_forms() -> None:
    assert FloatParam("lr", 1e-4, 1e-1, log=True).to_dict() == {
        "type": "float", "low": 1e-4, "high": 1e-1, "log": True}
    assert IntParam("n", 0, 10, step=2, when={"a": "b"}).to_dict() == {
        "type": "int", "low": 0, "high": 10, "step": 2, "when": {"a": ["b"]}}
    assert OrdinalParam("o", (1, 2)).to_dict() == {"type": "ordinal", "values": [1, 2]}
    assert CategoricalParam("c", ["x"]).to_dict() == {"type": "categorical", "choices": ["x"]}
    assert FixedParam("f", 3).to_dict() == {"type": "fixed", "value": 3}

"""Space: construction checks, validation, conditions, neighbourhoods, genes, identity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpsearch.errors import SpaceError
from hpsearch.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Space,
    UnknownParameterError,
)

REPO = Path(__file__).resolve().parents[2]


def mlp_space() -> Space:
    return Space([
        CategoricalParam("optimizer", ("sgd", "adam", "rmsprop")),
        FloatParam("momentum", 0.0, 0.95, when={"optimizer": ["sgd"]}),
        FloatParam("learning_rate", 1e-4, 1e-1, log=True),
        IntParam("n_layers", 1, 5),
        IntParam("units", 8, 256, log=True),
        FloatParam("dropout", 0.0, 0.5, step=0.1),
        OrdinalParam("l2", (0, 1e-5, 1e-4, 1e-3)),
        FixedParam("epochs", 200),
    ], source="mlp.yaml")


CONFIG = {"optimizer": "adam", "learning_rate": 1e-3, "n_layers": 2, "units": 64,
          "dropout": 0.2, "l2": 1e-4, "epochs": 200}


# --------------------------------------------------------------------------- construction


def test_container_protocol() -> None:
    s = mlp_space()
    assert s.names[:3] == ["optimizer", "momentum", "learning_rate"]
    assert len(s) == 8 and [p.name for p in s] == s.names
    assert "units" in s and "nope" not in s
    assert s["units"].kind == "int"
    with pytest.raises(UnknownParameterError, match="did you mean 'units'"):
        s["unit"]
    with pytest.raises(KeyError):  # also a KeyError for mapping-style callers
        s["unit"]


def test_duplicate_names() -> None:
    with pytest.raises(SpaceError, match="a: must be declared once"):
        Space([IntParam("a", 0, 1), IntParam("a", 0, 2)])


def test_condition_on_unknown_parent() -> None:
    with pytest.raises(SpaceError) as info:
        Space([CategoricalParam("optimizer", ("sgd",)),
               FloatParam("momentum", 0, 1, when={"optimiser": ["sgd"]})], source="s.yaml")
    text = str(info.value)
    assert text.startswith("s.yaml: momentum.when.optimiser: must name an existing parameter")
    assert "did you mean 'optimizer'" in text


def test_condition_on_later_parent() -> None:
    with pytest.raises(SpaceError) as info:
        Space([FloatParam("momentum", 0, 1, when={"optimizer": ["sgd"]}),
               CategoricalParam("optimizer", ("sgd",))], source="s.yaml")
    text = str(info.value)
    assert "momentum" in text and "declared before" in text and "optimizer" in text


def test_condition_value_must_belong_to_parent() -> None:
    with pytest.raises(SpaceError, match=r"momentum\.when\.optimizer: must list values"):
        Space([CategoricalParam("optimizer", ("sgd", "adam")),
               FloatParam("momentum", 0, 1, when={"optimizer": ["sdg"]})])


def test_empty_space_and_non_params() -> None:
    with pytest.raises(SpaceError, match="at least one"):
        Space([])
    with pytest.raises(SpaceError, match="Parameter"):
        Space([{"type": "int"}])  # type: ignore[list-item]


# --------------------------------------------------------------------------- validate


def test_validate_normalises_and_orders() -> None:
    s = mlp_space()
    given = dict(reversed(list(CONFIG.items())))
    given["units"] = 64.0
    given["dropout"] = 0.1 * 2
    out = s.validate(given)
    assert list(out) == [n for n in s.names if n != "momentum"]
    assert type(out["units"]) is int and out["dropout"] == 0.2


def test_validate_drops_inactive_and_requires_active() -> None:
    s = mlp_space()
    out = s.validate({**CONFIG, "momentum": 0.9})  # momentum inactive for adam: dropped
    assert "momentum" not in out
    out = s.validate({**CONFIG, "momentum": 7.0})  # even when out of range
    assert "momentum" not in out
    with pytest.raises(SpaceError) as info:
        s.validate({**CONFIG, "optimizer": "sgd"}, source="best.yaml")
    assert str(info.value).startswith("best.yaml: momentum: must be given")
    assert s.validate({**CONFIG, "optimizer": "sgd", "momentum": 0.9})["momentum"] == 0.9


def test_validate_errors() -> None:
    s = mlp_space()
    with pytest.raises(SpaceError) as info:
        s.validate({**CONFIG, "learning_rat": 0.01}, source="cfg.yaml")
    assert "cfg.yaml: learning_rat" in str(info.value)
    assert "did you mean 'learning_rate'" in str(info.value)
    missing = dict(CONFIG)
    del missing["units"]
    with pytest.raises(SpaceError, match="units: must be given"):
        s.validate(missing)
    with pytest.raises(SpaceError, match="units"):
        s.validate({**CONFIG, "units": 300})
    with pytest.raises(SpaceError, match="mapping"):
        s.validate([("units", 3)])  # type: ignore[arg-type]


def test_is_active_chain() -> None:
    s = Space([
        CategoricalParam("model", ("mlp", "cnn")),
        IntParam("kernel", 3, 7, step=2, when={"model": ["cnn"]}),
        IntParam("dilation", 1, 4, when={"kernel": [7]}),
    ])
    assert s.is_active("model", {})
    assert not s.is_active("kernel", {})
    assert s.is_active("kernel", {"model": "cnn"})
    assert not s.is_active("kernel", {"model": "mlp"})
    assert s.is_active("dilation", {"model": "cnn", "kernel": 7.0})
    assert not s.is_active("dilation", {"model": "mlp", "kernel": 7})  # parent inactive
    assert not s.is_active("dilation", {"model": "cnn", "kernel": 5})


def test_sample_respects_conditions() -> None:
    s = mlp_space()
    rng = np.random.default_rng(1)
    with_momentum = 0
    for _ in range(300):
        config = s.sample(rng)
        assert s.validate(config) == config
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        with_momentum += "momentum" in config
    assert 60 < with_momentum < 140  # about a third


def test_sample_is_reproducible() -> None:
    s = mlp_space()
    a = [s.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [s.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


# --------------------------------------------------------------------------- neighbourhood


def test_neighborhood_contains_centre_and_stays_inside() -> None:
    s = mlp_space()
    centre = {**CONFIG, "optimizer": "sgd", "momentum": 0.9}
    child = s.neighborhood(centre, radius=1)
    assert child.validate(centre) == s.validate(centre)
    assert child["optimizer"] == FixedParam("optimizer", "sgd")
    assert (child["n_layers"].low, child["n_layers"].high) == (1, 3)
    rng = np.random.default_rng(3)
    for _ in range(200):
        config = child.sample(rng)
        assert s.validate(config) == config
        assert abs(config["n_layers"] - 2) <= 1 and 32 <= config["units"] <= 128


def test_neighborhood_keeps_conditions_of_inactive_params() -> None:
    s = mlp_space()
    child = s.neighborhood(CONFIG, keep_categorical=False)
    assert child["momentum"] == s["momentum"]  # inactive in the centre: untouched
    assert child["optimizer"] == s["optimizer"]
    # a condition that can no longer hold (optimizer pinned to adam) drops the child param
    pinned = s.neighborhood(CONFIG)
    assert "momentum" not in pinned and pinned.validate(CONFIG) == s.validate(CONFIG)


def test_neighborhood_narrows_condition_values() -> None:
    s = Space([
        IntParam("n_layers", 1, 5),
        IntParam("units_3", 8, 64, when={"n_layers": [3, 4, 5]}),
    ])
    child = s.neighborhood({"n_layers": 2, "units_3": 8})
    assert child["units_3"].when == {"n_layers": [3]}
    grid = list(child.grid())
    assert {c["n_layers"] for c in grid} == {1, 2, 3}
    assert all(("units_3" in c) == (c["n_layers"] == 3) for c in grid)


# --------------------------------------------------------------------------- genes


def test_gene_sizes_and_round_trip() -> None:
    s = mlp_space()
    assert s.gene_sizes() == [3, 32, 32, 5, 249, 6, 4, 1]
    genes = s.encode(CONFIG)
    assert genes[1] == 0  # momentum inactive
    decoded = s.decode(genes)
    assert set(decoded) == set(CONFIG)
    # learning_rate 1e-3 is level 16 of 32 log-spaced levels only approximately
    assert decoded["units"] == 64 and decoded["l2"] == 1e-4 and decoded["dropout"] == 0.2
    assert s.encode(decoded) == genes


def test_decode_takes_genes_modulo_size() -> None:
    s = mlp_space()
    sizes = s.gene_sizes()
    genes = [3 * size + 1 for size in sizes]
    assert s.decode(genes) == s.decode([1] * len(sizes))
    rng = np.random.default_rng(0)
    for _ in range(100):
        genes = rng.integers(-1000, 1000, size=len(sizes)).tolist()
        config = s.decode(genes)
        assert s.validate(config) == config
    with pytest.raises(SpaceError, match="8 genes"):
        s.decode([0, 0])
    with pytest.raises(SpaceError, match="integer gene"):
        s.decode([0.5] * 8)


# --------------------------------------------------------------------------- identity


def test_key_equal_for_equal_configs() -> None:
    s = mlp_space()
    a = s.key(CONFIG)
    b = s.key({**dict(reversed(list(CONFIG.items()))), "units": 64.0, "momentum": 0.3})
    assert a == b
    assert s.key({**CONFIG, "units": 65}) != a
    assert '"learning_rate":0.001' in a


def test_fingerprint_changes_with_bounds_and_order() -> None:
    s = mlp_space()
    assert s.fingerprint() == mlp_space().fingerprint()
    params = s.params
    params[3] = IntParam("n_layers", 1, 6)
    assert Space(params).fingerprint() != s.fingerprint()
    params = s.params
    params[2], params[3] = params[3], params[2]
    assert Space(params).fingerprint() != s.fingerprint()


def test_fingerprint_stable_across_processes() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from test_space_core import mlp_space; print(mlp_space().fingerprint())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO), str(Path(__file__).parent)],
        capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"},
    )
    assert out.stdout.strip() == mlp_space().fingerprint()
    assert len(out.stdout.strip()) == 64


def test_dict_and_yaml_round_trip() -> None:
    from hpsearch.space import space_from_mapping

    s = mlp_space()
    assert Space.from_dict(s.to_dict()) == s
    import yaml

    again = space_from_mapping(yaml.safe_load(s.to_yaml()), source="x.yaml")
    assert again == s and again.fingerprint() == s.fingerprint()
    assert s.to_dict()["parameters"]["momentum"]["when"] == {"optimizer": ["sgd"]}


def test_size_matches_grid() -> None:
    s = mlp_space()
    # optimizer x momentum: sgd x 5 + adam + rmsprop = 7; lr 5; n_layers 5; units 5;
    # dropout 6; l2 4; epochs 1
    assert s.size() == 7 * 5 * 5 * 5 * 6 * 4
    assert s.size(3) == (3 + 2) * 3 * 5 * 3 * 6 * 4


def test_space_pickles_for_workers() -> None:
    import pickle

    s = mlp_space()
    s.gene_sizes()  # fills cached levels; they must travel too
    again = pickle.loads(pickle.dumps(s))
    assert again == s and again.fingerprint() == s.fingerprint()
    assert again.grid()[17] == s.grid()[17]

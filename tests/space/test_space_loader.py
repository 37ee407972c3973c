"""YAML loader: the documented format, shorthands, the 1e-4 quirk, and every malformed case."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpsearch.errors import SpaceError
from hpsearch.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Space,
    load_space,
    space_from_mapping,
)

MLP_YAML = """\
# search_spaces/mlp.yaml
parameters:
  optimizer: {type: categorical, choices: [sgd, adam, rmsprop]}
  momentum: {type: float, low: 0.0, high: 0.95, when: {optimizer: [sgd]}}
  learning_rate: {type: float, low: 1e-4, high: 1e-1, log: true}
  n_layers: {type: int, low: 1, high: 5}
  units: {type: int, low: 8, high: 256, log: true}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.1}
  l2: {type: ordinal, values: [0, 1.0e-5, 1.0e-4, 1.0e-3]}
  epochs: {type: fixed, value: 200}
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_documented_example(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, MLP_YAML))
    assert space == Space([
        CategoricalParam("optimizer", ("sgd", "adam", "rmsprop")),
        FloatParam("momentum", 0.0, 0.95, when={"optimizer": ["sgd"]}),
        FloatParam("learning_rate", 1e-4, 1e-1, log=True),
        IntParam("n_layers", 1, 5),
        IntParam("units", 8, 256, log=True),
        FloatParam("dropout", 0.0, 0.5, step=0.1),
        OrdinalParam("l2", (0, 1e-5, 1e-4, 1e-3)),
        FixedParam("epochs", 200),
    ])
    assert space.source == str(tmp_path / "space.yaml")


def test_exponent_strings_become_numbers(tmp_path: Path) -> None:
    import yaml

    assert yaml.safe_load("x: 1e-4")["x"] == "1e-4"  # the quirk this guards against
    space = load_space(write(tmp_path, """\
parameters:
  lr: {type: float, low: 1e-5, high: 1E-1, log: true}
  l2: {type: ordinal, values: [0, 1e-5, 1e-4]}
  wd: [0, 1e-4]
  eps: 1e-7
  n: {low: 1e1, high: 1e2}
"""))
    assert (space["lr"].low, space["lr"].high) == (1e-5, 1e-1)
    assert space["l2"].values == (0, 1e-5, 1e-4)
    assert space["wd"].choices == (0, 1e-4)
    assert space["eps"] == FixedParam("eps", 1e-7)
    assert space["n"] == FloatParam("n", 10.0, 100.0)


def test_shorthands_and_type_inference() -> None:
    space = space_from_mapping({"parameters": {
        "epochs": 50,
        "activation": ["relu", "elu"],
        "units": {"low": 8, "high": 64},
        "rate": {"low": 0, "high": 0.5},
        "l2": {"values": [0, 0.1]},
        "opt": {"choices": ["adam"]},
        "seed": {"value": 3},
        "note": None,
    }}, source="inline")
    assert [p.kind for p in space] == ["fixed", "categorical", "int", "float", "ordinal",
                                       "categorical", "fixed", "fixed"]
    assert space["units"] == IntParam("units", 8, 64)
    assert space["rate"] == FloatParam("rate", 0.0, 0.5)


def test_quoted_numbers_stay_strings_in_categorical(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, 'parameters:\n  arch: ["64", "128"]\n'))
    assert space["arch"].choices == ("64", "128")


def test_round_trip_through_yaml_text(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, MLP_YAML))
    again = load_space(write(tmp_path, space.to_yaml(), "again.yaml"))
    assert again == space and again.fingerprint() == space.fingerprint()


MALFORMED = [
    # (yaml text, the parameter/key the message must name, a phrase it must contain)
    ("parameters:\n  units: {type: int, low: 5, high: 1}\n", "units",
     "must have low <= high, got low=5, high=1"),
    ("parameters:\n  lr: {type: float, low: 0, high: 1, log: true}\n", "lr", "low > 0"),
    ("parameters:\n  units: {type: int, low: -1, high: 8, log: true}\n", "units", "low > 0"),
    ("parameters:\n  act: {type: categorical, choices: []}\n", "act", "at least one"),
    ("parameters:\n  act: []\n", "act", "at least one"),
    ("parameters:\n  l2: {type: ordinal, values: []}\n", "l2", "at least one"),
    ("parameters:\n  momentum: {type: float, low: 0, high: 1, when: {optimizer: [sgd]}}\n",
     "momentum", "must name an existing parameter"),
    ("parameters:\n  momentum: {low: 0.0, high: 1.0, when: {optimizer: [sgd]}}\n"
     "  optimizer: [sgd, adam]\n", "momentum", "declared before"),
    ("parameters:\n  units: {type: int, low: 1, high: 8, stepp: 2}\n", "units.stepp",
     "did you mean 'step'"),
    ("parameters:\n  units: {type: integer, low: 1, high: 8}\n", "units.type",
     "must be one of float, int, categorical, ordinal, fixed"),
    ("parameters:\n  lr: {type: float, low: abc, high: 1}\n", "lr.low",
     "must be a number, got 'abc'"),
    ("parameters:\n  lr: {type: float, low: 0.1, high: 1, step: x}\n", "lr.step",
     "must be a number"),
    ("parameters:\n  lr: {type: float, low: 0.1}\n", "lr", "have 'high'"),
    ("parameters:\n  lr: {log: true}\n", "lr", "have a 'type'"),
    ("parameters:\n  lr: {type: float, low: 0.1, high: 1, log: yes-please}\n", "lr.log",
     "true or false"),
    ("parameters:\n  d: {type: float, low: 0.0, high: 1.0, step: 0.3}\n", "d",
     "multiple of step"),
    ("parameters:\n  c: [a, a]\n", "c", "unique"),
    ("parameters:\n  c: [[1, 2], 3]\n", "c", "JSON scalars"),
    ("parameters:\n  n: {type: int, low: 1, high: 8, step: 2, log: true}\n", "n",
     "not combine step with log"),
    ("parameters:\n  m: {type: float, low: 0, high: 1, when: {p: [z]}}\n  p: [a]\n", "m",
     "p"),
]


@pytest.mark.parametrize(("text", "field", "phrase"), MALFORMED)
def test_malformed_space_names_file_and_parameter(tmp_path: Path, text: str, field: str,
                                                   phrase: str) -> None:
    path = write(tmp_path, text, "bad_space.yaml")
    with pytest.raises(SpaceError) as info:
        load_space(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert field in message and phrase in message, message
    assert "\n" not in message


def test_condition_value_not_a_parent_value(tmp_path: Path) -> None:
    path = write(tmp_path, "parameters:\n  opt: [sgd, adam]\n"
                 "  momentum: {low: 0.0, high: 1.0, when: {opt: [sdg]}}\n")
    with pytest.raises(SpaceError, match=r"momentum\.when\.opt: must list values of 'opt'"):
        load_space(path)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "must contain a 'parameters' mapping"),
        ("# only a comment\n", "must contain a 'parameters' mapping"),
        ("- a\n- b\n", "must be a mapping with a 'parameters' key"),
        ("parameters: {}\n", "parameters: must list at least one parameter"),
        ("parameters: [a, b]\n", "parameters: must be a mapping"),
        ("paramters:\n  a: 1\n", "did you mean 'parameters'"),
        ("parameters:\n  a: 1\nextra: 2\n", "extra: must be one of the keys"),
        ("parameters:\n  a: {type: int, low: [1\n", "must be valid YAML"),
        ("parameters:\n  1: {type: int, low: 1, high: 2}\n", "non-empty string names"),
        ("description: x\n", "parameters: must be present"),
    ],
)
def test_malformed_file(tmp_path: Path, text: str, phrase: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpaceError) as info:
        load_space(path)
    assert str(info.value).startswith(str(path)) and phrase in str(info.value), str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpaceError) as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}: must be an existing file")
    with pytest.raises(SpaceError, match="existing file"):
        load_space(tmp_path)  # a directory


def test_from_dict_errors_carry_given_source() -> None:
    with pytest.raises(SpaceError, match=r"^state\.json: units: must have low <= high"):
        Space.from_dict({"parameters": {"units": {"type": "int", "low": 9, "high": 1}}},
                        source="state.json")

"""Model registry and parameter checks that run without Keras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hpsearch.errors import ConfigError, UnknownNameError
from hpsearch.models import get_builder, input_rank
from hpsearch.models.cnn import conv_lengths
from hpsearch.models.common import (
    check_task,
    make_optimizer,
    param_bool,
    param_choice,
    param_float,
    param_int,
)

REPO = Path(__file__).resolve().parents[2]


def user_builder(params, *, input_shape, n_outputs, task):  # a user's own builder
    return None


def test_names_are_listed_without_importing_keras() -> None:
    code = (
        "import sys; from hpsearch.models import MODELS; "
        "print(MODELS.names(), len(MODELS.describe())); "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
    ).stdout.splitlines()
    assert out == ["['cnn', 'lstm', 'mlp'] 3", "False False"]


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_builder("mpl", source="exp.yaml")
    text = str(info.value)
    assert text.startswith("exp.yaml: model: ")
    assert "cnn, lstm, mlp" in text and "did you mean 'mlp'?" in text


def test_user_builder_by_import_path_defaults_to_rank_1() -> None:
    builder = get_builder(f"{__name__}:user_builder")
    assert builder is user_builder
    assert input_rank(builder) == 1


def test_bad_user_builder_and_rank() -> None:
    with pytest.raises(ConfigError, match="callable"):
        get_builder("hpsearch.models.common:SOURCE")

    def odd(params, *, input_shape, n_outputs, task):
        return None

    odd.input_rank = 3  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="input_rank"):
        input_rank(odd)


def test_unknown_optimizer_names_parameter_and_choices() -> None:
    with pytest.raises(ConfigError) as info:
        make_optimizer({"optimizer": "adamw2"})
    text = str(info.value)
    assert "optimizer" in text and "'adamw2'" in text
    for name in ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamax", "nadam"):
        assert name in text


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"optimizer": "sgd", "momentum": 1.0}, "momentum"),
        ({"optimizer": "sgd", "nesterov": "maybe"}, "nesterov"),
    ],
)
def test_bad_optimizer_values_name_the_parameter(params: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=f"model parameters: {name}: must"):
        make_optimizer(params)


def test_parameter_readers() -> None:
    assert param_int({}, "units", 64, low=1) == 64
    assert param_int({"units": 12.0}, "units", 64) == 12
    assert param_int({"units": None}, "units", 64) == 64
    assert param_float({"l2": "1e-4"}, "l2", 0.0, low=0.0) == pytest.approx(1e-4)
    assert param_bool({"nesterov": "true"}, "nesterov", False) is True
    assert param_choice({"optimizer": "Adam"}, "optimizer", "sgd", ("sgd", "adam")) == "adam"
    with pytest.raises(ConfigError, match=r"units: must be a whole number, got 12\.5"):
        param_int({"units": 12.5}, "units", 64)
    with pytest.raises(ConfigError, match=r"units: must be an integer in \[1, inf\], got 0"):
        param_int({"units": 0}, "units", 64, low=1)
    with pytest.raises(ConfigError, match="dropout"):
        param_float({"dropout": 1.0}, "dropout", 0.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ConfigError, match="units: must be a number, got True"):
        param_int({"units": True}, "units", 64)
    with pytest.raises(ConfigError, match="l1: must be finite"):
        param_float({"l1": float("nan")}, "l1", 0.0)


def test_task_and_outputs_are_checked() -> None:
    check_task("multiclass", 3)
    with pytest.raises(ConfigError, match="task"):
        check_task("ordinal", 1)
    with pytest.raises(ConfigError, match="n_outputs"):
        check_task("binary", 2)
    with pytest.raises(ConfigError, match="n_outputs"):
        check_task("multiclass", 1)


def test_conv_lengths_follow_valid_padding() -> None:
    # 1279 markers, kernel 3, stride 3 → 426, pool 2 → 213 (the guide's CNN)
    assert conv_lengths(1279, conv_layers=1, kernel_size=3, strides=3, pool_size=2) == [213]
    assert conv_lengths(100, conv_layers=2, kernel_size=5, strides=1, pool_size=1) == [96, 92]


@pytest.mark.parametrize(
    ("length", "options", "name"),
    [
        (8, {"kernel_size": 9, "strides": 1, "pool_size": 1}, "kernel_size"),
        (8, {"kernel_size": 3, "strides": 9, "pool_size": 1}, "strides"),
        (8, {"kernel_size": 3, "strides": 1, "pool_size": 7}, "pool_size"),
    ],
)
def test_impossible_cnn_shapes_name_the_parameter(length: int, options: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}: must be <= the sequence length"):
        conv_lengths(length, conv_layers=1, **options)


def test_deep_conv_stack_runs_out_of_sequence() -> None:
    with pytest.raises(ConfigError, match=r"kernel_size.*conv block 3 of 3"):
        conv_lengths(40, conv_layers=3, kernel_size=3, strides=2, pool_size=2)

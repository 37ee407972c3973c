"""The Keras builders: heads and losses per task, parameters, errors naming the parameter."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hpsearch.errors import ConfigError
from hpsearch.models import get_builder, input_rank
from hpsearch.models.common import OPTIMIZERS, make_optimizer

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.integration

N_MARKERS = 24
SHAPES = {"mlp": (N_MARKERS,), "cnn": (N_MARKERS, 1), "lstm": (N_MARKERS, 1)}
SMALL = {"units": 8, "n_layers": 1, "filters": 4, "lstm_units": 4}
HEADS = {
    "regression": (1, "linear", "mean_squared_error"),
    "binary": (1, "sigmoid", "binary_crossentropy"),
    "multiclass": (3, "softmax", "categorical_crossentropy"),
}


def build(name: str, params: dict | None = None, task: str = "regression", n_outputs: int = 1):
    keras.backend.clear_session()
    return get_builder(name)(
        {**SMALL, **(params or {})}, input_shape=SHAPES[name], n_outputs=n_outputs, task=task
    )


def dense_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_head_and_loss_follow_the_task(name: str, task: str) -> None:
    units, last_activation, loss = HEADS[task]
    model = build(name, task=task, n_outputs=units)
    assert model.compiled
    assert tuple(model.input_shape[1:]) == SHAPES[name]
    head = model.layers[-1]
    assert isinstance(head, keras.layers.Dense)
    assert head.units == units
    assert head.activation.__name__ == last_activation
    assert model.loss == loss
    x = np.random.default_rng(0).integers(0, 2, size=(5, *SHAPES[name])).astype("float32")
    out = keras.ops.convert_to_numpy(model(x, training=False))
    assert out.shape == (5, units)
    if task == "multiclass":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_input_ranks() -> None:
    assert [input_rank(get_builder(n)) for n in ("mlp", "cnn", "lstm")] == [1, 2, 2]


def test_every_key_has_a_default() -> None:
    keras.backend.clear_session()
    model = get_builder("mlp")({}, input_shape=(10,), n_outputs=1, task="regression")
    assert [layer.units for layer in dense_layers(model)] == [64, 64, 1]
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_mlp_layers_units_dropout_and_penalties() -> None:
    params = {
        "n_layers": 3,
        "units": 40,
        "units_shrink": 0.5,
        "activation": "elu",
        "dropout": 0.2,
        "l2": 1e-3,
        "activity_l1": 1e-4,
    }
    model = build("mlp", params)
    hidden = dense_layers(model)[:-1]
    assert [layer.units for layer in hidden] == [40, 20, 10]
    assert {layer.activation.__name__ for layer in hidden} == {"elu"}
    assert all(layer.kernel_regularizer.l2 == pytest.approx(1e-3) for layer in hidden)
    assert all(layer.activity_regularizer.l1 == pytest.approx(1e-4) for layer in hidden)
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in drops] == pytest.approx([0.2] * 3)
    plain = build("mlp", {"n_layers": 2})
    assert dense_layers(plain)[0].kernel_regularizer is None
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)


def test_cnn_blocks_follow_parameters() -> None:
    params = {
        "conv_layers": 2,
        "filters": 6,
        "kernel_size": 3,
        "strides": 1,
        "pool_size": 2,
        "conv_activation": "tanh",
        "n_layers": 0,
    }
    model = build("cnn", params)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert [c.filters for c in convs] == [6, 6]
    assert {c.activation.__name__ for c in convs} == {"tanh"}
    # 24 → conv 22 → pool 11 → conv 9 → pool 4; × 6 filters, flattened straight into the head
    flat = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    assert flat.output.shape[-1] == 4 * 6
    assert len(dense_layers(model)) == 1
    no_pool = build("cnn", {"pool_size": 1})
    assert not any(isinstance(layer, keras.layers.MaxPooling1D) for layer in no_pool.layers)


def test_lstm_stack() -> None:
    model = build("lstm", {"lstm_layers": 2, "lstm_units": 5, "lstm_dropout": 0.1})
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [(layer.units, layer.return_sequences) for layer in lstms] == [(5, True), (5, False)]
    assert lstms[0].dropout == pytest.approx(0.1)


def test_rank_one_input_is_reshaped_for_sequence_models() -> None:
    keras.backend.clear_session()
    model = get_builder("cnn")(SMALL, input_shape=(N_MARKERS,), n_outputs=1, task="regression")
    out = model(np.zeros((2, N_MARKERS), dtype="float32"))
    assert tuple(out.shape) == (2, 1)


def test_all_seven_optimizers_construct() -> None:
    for name, class_name in OPTIMIZERS.items():
        optimizer = make_optimizer({"optimizer": name, "learning_rate": 0.02})
        assert type(optimizer).__name__ == class_name
        assert float(optimizer.learning_rate) == pytest.approx(0.02)
    sgd = make_optimizer({"optimizer": "sgd", "momentum": 0.9, "nesterov": True})
    assert sgd.momentum == pytest.approx(0.9) and sgd.nesterov is True
    model = build("mlp", {"optimizer": "nadam"})
    assert isinstance(model.optimizer, keras.optimizers.Nadam)


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_bad_values_raise_config_error_naming_the_parameter(name: str) -> None:
    with pytest.raises(ConfigError, match="optimizer: must be one of sgd, adagrad"):
        build(name, {"optimizer": "adamw2"})
    with pytest.raises(ConfigError, match="activation: must be a Keras activation"):
        build(name, {"activation": "relux"})
    with pytest.raises(ConfigError, match="dropout"):
        build(name, {"dropout": 1.5})
    with pytest.raises(ConfigError, match="task"):
        build(name, task="survival")


def test_sequence_specific_errors() -> None:
    with pytest.raises(ConfigError, match="conv_activation"):
        build("cnn", {"conv_activation": "nope"})
    with pytest.raises(ConfigError, match="kernel_size: must be <= the sequence length 24"):
        build("cnn", {"kernel_size": 25})
    with pytest.raises(ConfigError, match="pool_size"):
        build("cnn", {"kernel_size": 20, "pool_size": 6})
    with pytest.raises(ConfigError, match="lstm_units"):
        build("lstm", {"lstm_units": 0})
    with pytest.raises(ConfigError, match="n_layers"):
        build("mlp", {"n_layers": 0})
    assert len(dense_layers(build("lstm", {"n_layers": 0}))) == 1


# --------------------------------------------------------------------------- covariates

#: The layers of the SMALL models without covariates (as before covariates existed).
PLAIN_LAYERS = {
    "mlp": ["markers", "dense0", "output"],
    "cnn": ["markers", "conv0", "pool0", "flatten", "dense0", "output"],
    "lstm": ["markers", "lstm0", "dense0", "output"],
}


def build_with(name: str, n_covariates: int, task: str = "regression", n_outputs: int = 1):
    keras.backend.clear_session()
    return get_builder(name)(
        SMALL,
        input_shape=SHAPES[name],
        n_outputs=n_outputs,
        task=task,
        n_covariates=n_covariates,
    )


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_covariates_are_a_second_input_joined_before_the_head(name: str) -> None:
    model = build_with(name, 3, task="multiclass", n_outputs=3)
    assert [t.name for t in model.inputs] == ["markers", "covariates"]
    assert tuple(model.inputs[0].shape[1:]) == SHAPES[name]
    assert tuple(model.inputs[1].shape[1:]) == (3,)
    names = [layer.name for layer in model.layers]
    assert names[-2:] == ["with_covariates", "output"]
    assert isinstance(model.get_layer("with_covariates"), keras.layers.Concatenate)
    # the head sees the last hidden layer's 8 units plus the 3 covariate columns
    assert tuple(model.get_layer("output").kernel.shape) == (8 + 3, 3)
    assert model.loss == "categorical_crossentropy"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(4, *SHAPES[name])).astype("float32")
    c = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    out = keras.ops.convert_to_numpy(model([x, c], training=False))
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    # the same markers with another environment give another output
    other = keras.ops.convert_to_numpy(model([x, c[[1, 2, 0, 1]]], training=False))
    assert not np.allclose(out, other)


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_no_covariates_leaves_the_model_as_it_was(name: str) -> None:
    keras.utils.set_random_seed(0)
    default = build(name)
    keras.utils.set_random_seed(0)
    zero = build_with(name, 0)
    for model in (default, zero):
        assert [layer.name for layer in model.layers] == PLAIN_LAYERS[name]
        assert len(model.inputs) == 1 and model.inputs[0].name == "markers"
    assert default.count_params() == zero.count_params()
    for a, b in zip(default.get_weights(), zero.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_n_covariates_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="n_covariates: must be a non-negative integer"):
        build_with("mlp", bad)  # type: ignore[arg-type]

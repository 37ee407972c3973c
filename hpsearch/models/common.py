"""Pieces every Keras builder shares: parameter reading, optimiser, regularisers, head, compile.

Builders receive a trial's whole params dict. Every key has a default (so a partial dict
works) and every value is checked here, so that a bad value becomes one ``ConfigError`` line
that names the parameter instead of a Keras traceback. Keras is imported inside the functions
that need it: importing this module stays cheap.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError

if TYPE_CHECKING:
    import keras

#: Where builder errors say the bad value came from.
SOURCE = "model parameters"

TASKS: tuple[str, ...] = ("regression", "binary", "multiclass")

#: Optimizer name → Keras class name. ``momentum`` and ``nesterov`` apply to sgd only.
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamax": "Adamax",
    "nadam": "Nadam",
}

#: The activations the shipped spaces use; any other name Keras knows is accepted too.
ACTIVATIONS: tuple[str, ...] = ("relu", "elu", "selu", "tanh", "sigmoid", "softplus", "linear")

#: Parameter names the optimiser and the hidden dense layers read (every builder uses them).
OPTIMIZER_PARAMETERS: tuple[str, ...] = ("optimizer", "learning_rate", "momentum", "nesterov")
DENSE_PARAMETERS: tuple[str, ...] = (
    "n_layers",
    "units",
    "units_shrink",
    "activation",
    "l1",
    "l2",
    "activity_l1",
    "activity_l2",
    "dropout",
)

#: Task → (last-layer activation, loss), as in the guide's table.
HEADS: dict[str, tuple[str, str]] = {
    "regression": ("linear", "mean_squared_error"),
    "binary": ("sigmoid", "binary_crossentropy"),
    "multiclass": ("softmax", "categorical_crossentropy"),
}


# --------------------------------------------------------------------------- parameter reading


def _bad(
    name: str, must: str, got: Any, hint: str | None = None, *, source: str = SOURCE
) -> ConfigError:
    return ConfigError.at(source, name, must, got, hint)  # type: ignore[return-value]


def _number(params: Mapping[str, Any], name: str, default: float, source: str) -> float:
    """``params[name]`` as a finite float (numbers and numeric strings), else ConfigError."""
    value = params.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool):
        raise _bad(name, "be a number", value, source=source)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise _bad(name, "be a number", value, source=source) from None
    elif isinstance(value, numbers.Real):
        number = float(value)
    else:
        raise _bad(name, "be a number", value, source=source)
    if not math.isfinite(number):
        raise _bad(name, "be finite", value, source=source)
    return number


def param_float(
    params: Mapping[str, Any],
    name: str,
    default: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    source: str = SOURCE,
) -> float:
    """A float parameter within ``[low, high]`` (ends excluded where ``*_open``)."""
    number = _number(params, name, default, source)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise _bad(name, f"be in {left}{lo}, {hi}{right}", params.get(name, default), source=source)
    return number


def param_int(
    params: Mapping[str, Any],
    name: str,
    default: int,
    *,
    low: int | None = None,
    high: int | None = None,
    source: str = SOURCE,
) -> int:
    """An integer parameter within ``[low, high]`` (``3.0`` is accepted as 3, ``3.5`` is not)."""
    number = _number(params, name, default, source)
    if number != int(number):
        raise _bad(name, "be a whole number", params.get(name, default), source=source)
    value = int(number)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise _bad(name, f"be an integer in [{lo}, {hi}]", params.get(name, default), source=source)
    return value


def param_bool(params: Mapping[str, Any], name: str, default: bool) -> bool:
    """A boolean parameter (true/false, 1/0, or the strings 'true'/'false')."""
    value = params.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise _bad(name, "be true or false", value)


def param_choice(params: Mapping[str, Any], name: str, default: str, choices: Sequence[str]) -> str:
    """A string parameter that must be one of ``choices`` (case-insensitive)."""
    value = params.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise _bad(name, f"be one of {', '.join(choices)}", value)
    return value.strip().lower()


def check_task(task: str, n_outputs: int) -> None:
    """The task is known and the number of output units fits it."""
    if task not in TASKS:
        raise _bad("task", f"be one of {', '.join(TASKS)}", task)
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, numbers.Integral):
        raise _bad("n_outputs", "be an integer", n_outputs)
    if task == "binary" and n_outputs != 1:
        raise _bad("n_outputs", "be 1 for a binary task (one sigmoid unit)", n_outputs)
    if task == "multiclass" and n_outputs < 2:
        raise _bad("n_outputs", "be the number of classes (>= 2) for a multiclass task", n_outputs)
    if task == "regression" and n_outputs < 1:
        raise _bad("n_outputs", "be >= 1 for a regression task", n_outputs)


# --------------------------------------------------------------------------- Keras pieces


def activation(params: Mapping[str, Any], name: str = "activation", default: str = "relu") -> str:
    """A Keras activation name, checked now so that a typo names the parameter."""
    value = params.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, f"be an activation name ({', '.join(ACTIVATIONS)}, ...)", value)
    value = value.strip()
    import keras

    try:
        keras.activations.get(value)
    except (ValueError, TypeError, KeyError):
        raise _bad(name, f"be a Keras activation ({', '.join(ACTIVATIONS)}, ...)", value) from None
    return value


def make_optimizer(params: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """The Keras optimizer named by ``optimizer`` with ``learning_rate`` (and sgd's momentum)."""
    name = param_choice(params, "optimizer", "adam", tuple(OPTIMIZERS))
    learning_rate = param_float(params, "learning_rate", 1e-3, low=0.0, low_open=True)
    extra: dict[str, Any] = {}
    if name == "sgd":
        extra["momentum"] = param_float(params, "momentum", 0.0, low=0.0, high=1.0, high_open=True)
        extra["nesterov"] = param_bool(params, "nesterov", False)
    import keras

    cls = getattr(keras.optimizers, OPTIMIZERS[name])
    return cls(learning_rate=learning_rate, **extra)


def _l1l2(
    params: Mapping[str, Any], l1_name: str, l2_name: str
) -> keras.regularizers.Regularizer | None:
    l1 = param_float(params, l1_name, 0.0, low=0.0)
    l2 = param_float(params, l2_name, 0.0, low=0.0)
    if l1 == 0.0 and l2 == 0.0:
        return None
    import keras

    return keras.regularizers.L1L2(l1=l1, l2=l2)


def kernel_regularizer(params: Mapping[str, Any]) -> keras.regularizers.Regularizer | None:
    """L1/L2 weight penalty from ``l1`` and ``l2`` (None when both are 0)."""
    return _l1l2(params, "l1", "l2")


def activity_regularizer(params: Mapping[str, Any]) -> keras.regularizers.Regularizer | None:
    """L1/L2 penalty on layer outputs from ``activity_l1`` and ``activity_l2`` (None when 0)."""
    return _l1l2(params, "activity_l1", "activity_l2")


def output_layer_and_loss(task: str, n_outputs: int) -> tuple[keras.layers.Layer, str]:
    """The last layer and the loss for a task (regression: linear + MSE; binary: one sigmoid
    unit + binary cross-entropy; multiclass: k softmax units + categorical cross-entropy on
    one-hot targets)."""
    check_task(task, n_outputs)
    import keras

    last_activation, loss = HEADS[task]
    layer = keras.layers.Dense(n_outputs, activation=last_activation, name="output")
    return layer, loss


def compile_for_task(model: keras.Model, params: Mapping[str, Any], task: str) -> keras.Model:
    """Compile ``model`` with the params' optimizer and the task's loss; returns the model."""
    if task not in HEADS:
        raise _bad("task", f"be one of {', '.join(TASKS)}", task)
    model.compile(optimizer=make_optimizer(params), loss=HEADS[task][1])
    return model


def dense_stack(x: Any, params: Mapping[str, Any], *, min_layers: int) -> Any:
    """Hidden dense layers: ``n_layers`` of them, the i-th with
    ``max(1, round(units * units_shrink**i))`` units, each followed by ``dropout``."""
    n_layers = param_int(params, "n_layers", 2, low=min_layers)
    units = param_int(params, "units", 64, low=1)
    shrink = param_float(params, "units_shrink", 1.0, low=0.0, high=1.0, low_open=True)
    act = activation(params)
    rate = param_float(params, "dropout", 0.0, low=0.0, high=1.0, high_open=True)
    kernel_reg = kernel_regularizer(params)
    activity_reg = activity_regularizer(params)
    import keras

    for i in range(n_layers):
        width = max(1, round(units * shrink**i))
        x = keras.layers.Dense(
            width,
            activation=act,
            kernel_regularizer=kernel_reg,
            activity_regularizer=activity_reg,
            name=f"dense{i}",
        )(x)
        if rate > 0.0:
            x = keras.layers.Dropout(rate, name=f"dropout{i}")(x)
    return x


def check_n_covariates(n_covariates: Any) -> int:
    """``n_covariates`` as a non-negative int (the width of the encoded covariate input)."""
    if isinstance(n_covariates, bool) or not isinstance(n_covariates, numbers.Integral):
        raise _bad("n_covariates", "be a non-negative integer", n_covariates)
    if n_covariates < 0:
        raise _bad("n_covariates", "be a non-negative integer", n_covariates)
    return int(n_covariates)


def finish(
    inputs: Any,
    x: Any,
    params: Mapping[str, Any],
    *,
    task: str,
    n_outputs: int,
    name: str,
    n_covariates: int = 0,
) -> keras.Model:
    """Add the task's head to ``x``, make the functional model and compile it.

    With ``n_covariates`` > 0 the model gets a second input ``covariates`` (lines ×
    n_covariates), concatenated with ``x`` right before the head: the covariates enter the
    output linearly, as fixed effects next to the learnt marker representation, and the
    model's inputs become ``[markers, covariates]``. With 0 the model is the markers-only one.
    """
    n_covariates = check_n_covariates(n_covariates)
    import keras

    head, _ = output_layer_and_loss(task, n_outputs)
    if n_covariates:
        covariates = keras.Input(shape=(n_covariates,), name="covariates")
        x = keras.layers.Concatenate(name="with_covariates")([x, covariates])
        inputs = [inputs, covariates]
    model = keras.Model(inputs, head(x), name=name)
    return compile_for_task(model, params, task)


def check_input_shape(input_shape: Any, *, ranks: tuple[int, ...]) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints with one of the allowed ranks."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise _bad("input_shape", "be a tuple of positive integers", input_shape) from None
    if len(shape) not in ranks or any(d < 1 for d in shape):
        raise _bad(
            "input_shape",
            f"have rank {' or '.join(map(str, ranks))} with positive sizes",
            input_shape,
        )
    return shape

"""1-D convolutional network over the marker sequence, then dense layers (the guide's CNN).

A convolution treats neighbouring markers as related, which assumes the columns are in map
order; the kernel width the guide found best on human data is about three SNPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError
from hpsearch.models.common import (
    DENSE_PARAMETERS,
    OPTIMIZER_PARAMETERS,
    SOURCE,
    activation,
    check_input_shape,
    dense_stack,
    finish,
    kernel_regularizer,
    param_int,
)

if TYPE_CHECKING:
    import keras

#: The params keys this builder reads (others are ignored).
PARAMETERS: tuple[str, ...] = (
    *OPTIMIZER_PARAMETERS,
    *DENSE_PARAMETERS,
    "conv_layers",
    "filters",
    "kernel_size",
    "strides",
    "pool_size",
    "conv_activation",
)


def conv_lengths(
    length: int, *, conv_layers: int, kernel_size: int, strides: int, pool_size: int
) -> list[int]:
    """Sequence length after each conv (+ pooling) block, with 'valid' padding.

    Raises ConfigError naming the parameter when a kernel, stride or pooling window does not
    fit the sequence that reaches it (Keras would fail later with a shape traceback).
    """
    lengths = []
    for i in range(conv_layers):
        where = f"conv block {i + 1} of {conv_layers}"
        if kernel_size > length:
            raise ConfigError.at(
                SOURCE,
                "kernel_size",
                f"be <= the sequence length {length} at {where}",
                kernel_size,
                "use fewer conv_layers, a smaller kernel or less pooling",
            )
        if strides > length:
            raise ConfigError.at(
                SOURCE,
                "strides",
                f"be <= the sequence length {length} at {where}",
                strides,
            )
        length = (length - kernel_size) // strides + 1
        if pool_size > 1:
            if pool_size > length:
                raise ConfigError.at(
                    SOURCE,
                    "pool_size",
                    f"be <= the sequence length {length} after the convolution at {where}",
                    pool_size,
                    "use pool_size 1 (no pooling), fewer conv_layers or smaller strides",
                )
            length = (length - pool_size) // pool_size + 1
        lengths.append(length)
    return lengths


def build(
    params: Mapping[str, Any],
    *,
    input_shape: tuple[int, ...],
    n_outputs: int,
    task: str,
    n_covariates: int = 0,
) -> keras.Model:
    """A compiled CNN: ``conv_layers`` × [Conv1D(filters, kernel_size, strides) → MaxPool1D
    (pool_size; 1 = none)] → Flatten → ``n_layers`` (>= 0) dense layers → task head.

    ``input_shape`` is (markers, 1); (markers,) is accepted and reshaped inside the model.
    ``conv_activation`` defaults to ``activation``; weight penalties (l1, l2) apply to the
    convolution kernels too. ``n_covariates`` > 0 adds a second input ``covariates`` that
    joins right before the head.
    """
    shape = check_input_shape(input_shape, ranks=(1, 2))
    conv_layers = param_int(params, "conv_layers", 1, low=1)
    filters = param_int(params, "filters", 32, low=1)
    kernel_size = param_int(params, "kernel_size", 3, low=1)
    strides = param_int(params, "strides", 1, low=1)
    pool_size = param_int(params, "pool_size", 2, low=1)
    conv_act = activation(params, "conv_activation", default=activation(params))
    conv_lengths(
        shape[0],
        conv_layers=conv_layers,
        kernel_size=kernel_size,
        strides=strides,
        pool_size=pool_size,
    )
    import keras

    inputs = keras.Input(shape=shape, name="markers")
    x = keras.layers.Reshape((shape[0], 1), name="channel")(inputs) if len(shape) == 1 else inputs
    for i in range(conv_layers):
        x = keras.layers.Conv1D(
            filters,
            kernel_size,
            strides=strides,
            padding="valid",
            activation=conv_act,
            kernel_regularizer=kernel_regularizer(params),
            name=f"conv{i}",
        )(x)
        if pool_size > 1:
            x = keras.layers.MaxPooling1D(pool_size, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_stack(x, params, min_layers=0)
    return finish(
        inputs, x, params, task=task, n_outputs=n_outputs, name="cnn", n_covariates=n_covariates
    )


#: The trainer feeds (lines, markers, 1): one channel per marker.
build.input_rank = 2  # type: ignore[attr-defined]
build.parameters = PARAMETERS  # type: ignore[attr-defined]

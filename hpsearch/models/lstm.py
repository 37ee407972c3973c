"""LSTM over the marker sequence, then dense layers (the guide's recurrent model).

Costly: one recurrent step per marker (~3 s per epoch over 1279 markers on 2 CPU cores), so
its search space preselects a few hundred markers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpsearch.models.common import (
    DENSE_PARAMETERS,
    OPTIMIZER_PARAMETERS,
    check_input_shape,
    dense_stack,
    finish,
    kernel_regularizer,
    param_float,
    param_int,
)

if TYPE_CHECKING:
    import keras

#: The params keys this builder reads (others are ignored).
PARAMETERS: tuple[str, ...] = (
    *OPTIMIZER_PARAMETERS,
    *DENSE_PARAMETERS,
    "lstm_layers",
    "lstm_units",
    "lstm_dropout",
)


def build(
    params: Mapping[str, Any],
    *,
    input_shape: tuple[int, ...],
    n_outputs: int,
    task: str,
    n_covariates: int = 0,
) -> keras.Model:
    """A compiled LSTM net: ``lstm_layers`` stacked LSTM(``lstm_units``, dropout
    ``lstm_dropout``) → ``n_layers`` (>= 0) dense layers → task head.

    ``input_shape`` is (markers, 1); (markers,) is accepted and reshaped inside the model.
    Weight penalties (l1, l2) apply to the LSTM input kernels too. ``n_covariates`` > 0 adds
    a second input ``covariates`` that joins right before the head.
    """
    shape = check_input_shape(input_shape, ranks=(1, 2))
    lstm_layers = param_int(params, "lstm_layers", 1, low=1)
    lstm_units = param_int(params, "lstm_units", 32, low=1)
    lstm_dropout = param_float(params, "lstm_dropout", 0.0, low=0.0, high=1.0, high_open=True)
    import keras

    inputs = keras.Input(shape=shape, name="markers")
    x = keras.layers.Reshape((shape[0], 1), name="channel")(inputs) if len(shape) == 1 else inputs
    for i in range(lstm_layers):
        x = keras.layers.LSTM(
            lstm_units,
            dropout=lstm_dropout,
            kernel_regularizer=kernel_regularizer(params),
            return_sequences=i < lstm_layers - 1,
            name=f"lstm{i}",
        )(x)
    x = dense_stack(x, params, min_layers=0)
    return finish(
        inputs, x, params, task=task, n_outputs=n_outputs, name="lstm", n_covariates=n_covariates
    )


#: The trainer feeds (lines, markers, 1): one time step per marker.
build.input_rank = 2  # type: ignore[attr-defined]
build.parameters = PARAMETERS  # type: ignore[attr-defined]

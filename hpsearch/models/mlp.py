"""Multilayer perceptron on the marker vector (the guide's MLP, with searchable depth/width)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpsearch.models.common import (
    DENSE_PARAMETERS,
    OPTIMIZER_PARAMETERS,
    check_input_shape,
    dense_stack,
    finish,
)

if TYPE_CHECKING:
    import keras

#: The params keys this builder reads (others are ignored).
PARAMETERS: tuple[str, ...] = (*OPTIMIZER_PARAMETERS, *DENSE_PARAMETERS)


def build(
    params: Mapping[str, Any],
    *,
    input_shape: tuple[int, ...],
    n_outputs: int,
    task: str,
    n_covariates: int = 0,
) -> keras.Model:
    """A compiled MLP: ``n_layers`` (>= 1) dense layers, then the task's output layer.

    Uses optimizer, learning_rate, momentum, nesterov, n_layers, units, units_shrink,
    activation, l1, l2, activity_l1, activity_l2, dropout; ignores every other key. With
    ``n_covariates`` > 0, a second input ``covariates`` joins the last hidden layer's output
    right before the head (see :func:`hpsearch.models.common.finish`).
    """
    shape = check_input_shape(input_shape, ranks=(1, 2))
    import keras

    inputs = keras.Input(shape=shape, name="markers")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(shape) > 1 else inputs
    x = dense_stack(x, params, min_layers=1)
    return finish(
        inputs, x, params, task=task, n_outputs=n_outputs, name="mlp", n_covariates=n_covariates
    )


#: The trainer feeds (lines, markers): no channel axis.
build.input_rank = 1  # type: ignore[attr-defined]
build.parameters = PARAMETERS  # type: ignore[attr-defined]

"""Model builders by name: ``mlp``, ``cnn``, ``lstm`` (Keras 3), or a user's own function.

A builder is ``build(params, *, input_shape, n_outputs, task) -> keras.Model`` returning a
compiled model. It may carry ``build.input_rank``: 1 when it takes (lines, markers), 2 when
it takes (lines, markers, 1); the trainer adds the channel axis accordingly (default 1).
The registry entries are lazy: listing names does not import Keras.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from hpsearch.errors import ConfigError
from hpsearch.registry import Registry

if TYPE_CHECKING:
    import keras


class Builder(Protocol):
    """What a model builder looks like (``input_rank`` is optional, default 1)."""

    def __call__(
        self, params: Mapping[str, Any], *, input_shape: tuple[int, ...], n_outputs: int, task: str
    ) -> keras.Model: ...


MODELS: Registry[Builder] = Registry("model")
MODELS.register_lazy("mlp", "hpsearch.models.mlp:build", "multilayer perceptron on the markers")
MODELS.register_lazy(
    "cnn", "hpsearch.models.cnn:build", "1-D convolutions over the markers, then dense"
)
MODELS.register_lazy(
    "lstm", "hpsearch.models.lstm:build", "LSTM over the marker sequence, then dense"
)


def get_builder(name: str, *, source: str | None = None) -> Builder:
    """The builder registered as ``name``, or a user's ``"package.module:function"``."""
    builder = MODELS.get(name, source=source, field="model")
    if not callable(builder):
        raise ConfigError.at(source, "model", "name a callable builder function", name)
    return builder


def input_rank(builder: Any) -> int:
    """1 (lines, markers) or 2 (lines, markers, 1): what ``builder`` wants as input."""
    rank = getattr(builder, "input_rank", 1)
    if rank not in (1, 2):
        name = getattr(builder, "__qualname__", repr(builder))
        raise ConfigError.at(name, "input_rank", "be 1 or 2", rank)
    return int(rank)


__all__ = ["MODELS", "Builder", "get_builder", "input_rank"]

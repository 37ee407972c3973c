"""Model builders by name: ``mlp``, ``cnn``, ``lstm`` (Keras 3), or a user's own function.

A builder is ``build(params, *, input_shape, n_outputs, task, n_covariates=0) -> keras.Model``
returning a compiled model. It may carry ``build.input_rank``: 1 when it takes (lines,
markers), 2 when it takes (lines, markers, 1); the trainer adds the channel axis accordingly
(default 1). When the data set has covariates (``data.covariates``), the trainer passes
``n_covariates=k`` (k > 0 encoded covariate columns) and feeds ``[markers, covariates]``: the
model must then have two inputs in that order. ``n_covariates`` is passed only when k > 0,
so a builder without the keyword still works on data without covariates.
The registry entries are lazy: listing names does not import Keras.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hpsearch.errors import ConfigError
from hpsearch.registry import Registry

if TYPE_CHECKING:
    import keras


class Builder(Protocol):
    """What a model builder looks like (``input_rank`` is optional, default 1;
    ``n_covariates`` is needed only for data with covariates)."""

    def __call__(
        self,
        params: Mapping[str, Any],
        *,
        input_shape: tuple[int, ...],
        n_outputs: int,
        task: str,
        n_covariates: int = 0,
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


def accepts_covariates(builder: Any) -> bool:
    """Whether ``builder`` can be called with the keyword ``n_covariates`` (named, or
    ``**kwargs``); True when its signature cannot be read (the call itself will tell)."""
    try:
        parameters = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        or (
            p.name == "n_covariates"
            and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )
        for p in parameters
    )


def covariates_error(
    builder: Any, covariates: Sequence[str], *, source: str | None = None
) -> ConfigError:
    """The one-line error for a builder without ``n_covariates`` on data with covariates."""
    module, name = getattr(builder, "__module__", None), getattr(builder, "__qualname__", None)
    where = f"{module}:{name}" if module and name else type(builder).__name__
    return ConfigError.at(  # type: ignore[return-value]
        source,
        "model",
        f"take the keyword n_covariates, since the data has covariates "
        f"({', '.join(covariates)}) for a second network input",
        f"<{where}, which does not>",
        "add `n_covariates: int = 0` and a second keras.Input of that width, "
        "or drop data.covariates",
    )


__all__ = [
    "MODELS",
    "Builder",
    "accepts_covariates",
    "covariates_error",
    "get_builder",
    "input_rank",
]

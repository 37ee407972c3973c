"""Search spaces: parameter kinds, the Space, its grid view and the YAML loader."""

from __future__ import annotations

from hpsearch.space.grid import Grid
from hpsearch.space.loader import load_space, parameter_from_mapping, space_from_mapping
from hpsearch.space.params import (
    KINDS,
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Parameter,
    same_value,
)
from hpsearch.space.space import Space, UnknownParameterError, canonical_json

__all__ = [
    "KINDS",
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "Grid",
    "IntParam",
    "OrdinalParam",
    "Parameter",
    "Space",
    "UnknownParameterError",
    "canonical_json",
    "load_space",
    "parameter_from_mapping",
    "same_value",
    "space_from_mapping",
]

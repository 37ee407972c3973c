"""Parameter kinds of a search space: float, int, categorical, ordinal, fixed.

Each kind is a frozen dataclass that knows how to validate a value, sample one, list grid
values, map values to integer genes (for the genetic algorithm) and give a narrower copy of
itself around a value (for local refinement). Everything here is pure Python + numpy so the
CLI can validate a space without loading any heavy framework.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from hpsearch.errors import SpaceError

__all__ = [
    "KINDS",
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "OrdinalParam",
    "Parameter",
    "same_value",
]

#: Lattices of at most this many values are listed whole by ``grid_values``.
FULL_GRID_LIMIT = 64
#: Most genes an int or stepped float parameter gets (larger lattices are subsampled).
MAX_GENES = 256
#: Relative tolerance for "is on the step lattice".
_LATTICE_TOL = 1e-9
#: Relative tolerance for float bounds (values this close outside are clipped, not rejected).
_BOUND_TOL = 1e-12


# --------------------------------------------------------------------------- value helpers


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    """A real number that is not a bool (numpy scalars included)."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _is_json_scalar(value: Any) -> bool:
    value = _plain(value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _is_json_value(value: Any) -> bool:
    """A JSON scalar, or a list / string-keyed dict made of JSON values (for fixed values)."""
    value = _plain(value)
    if isinstance(value, list | tuple):
        return all(_is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in value.items())
    return _is_json_scalar(value)


def _json_plain(value: Any) -> Any:
    """A JSON value with numpy scalars made plain and tuples made lists."""
    value = _plain(value)
    if isinstance(value, list | tuple):
        return [_json_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_plain(v) for k, v in value.items()}
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same choice.

    Numbers compare numerically (``1 == 1.0``), but a bool only matches a bool, so that
    ``True`` and ``1`` stay different choices. Lists and dicts compare element-wise.
    """
    a, b = _plain(a), _plain(b)
    if _is_bool(a) or _is_bool(b):
        return _is_bool(a) and _is_bool(b) and bool(a) == bool(b)
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def _to_number(value: Any, *, source: str | None, name: str, what: str = "be a number") -> float:
    """A finite float from a number or a numeric string (PyYAML reads ``1e-4`` as a string)."""
    value = _plain(value)
    if _is_number(value):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise SpaceError.at(source, name, what, value) from None
    else:
        raise SpaceError.at(source, name, what, value)
    if not math.isfinite(number):
        raise SpaceError.at(source, name, f"{what} (finite)", value)
    return number


def _fail(name: str, must: str, shown: str, hint: str | None = None) -> SpaceError:
    """A SpaceError whose ``got`` part is already rendered (several fields at once)."""
    text = f"must {must}, got {shown}" + (f" ({hint})" if hint else "")
    return SpaceError(text, field=name)


def _decimals(x: float) -> int:
    """Digits after the decimal point in the shortest repr of ``x`` (0 for integers)."""
    exponent = Decimal(repr(float(x))).as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


def _normalise_when(name: str, when: Any) -> dict[str, list] | None:
    """Check and copy a ``when`` condition into ``{parent: [values...]}``."""
    if when is None:
        return None
    if not isinstance(when, Mapping) or not when:
        raise SpaceError.at(None, name, "have 'when' as a non-empty mapping {parent: [values]}",
                            when)
    out: dict[str, list] = {}
    for parent, values in when.items():
        if not isinstance(parent, str) or not parent:
            raise SpaceError.at(None, name, "name parents in 'when' by string", parent)
        if parent == name:
            raise SpaceError.at(None, name, "not depend on itself in 'when'", parent)
        listed = list(values) if isinstance(values, list | tuple) else [values]
        if not listed:
            raise SpaceError.at(None, name, f"list at least one value of '{parent}' in 'when'",
                                values)
        for value in listed:
            if not _is_json_scalar(value):
                raise SpaceError.at(None, name, f"list JSON scalars for '{parent}' in 'when'",
                                    value)
        out[parent] = [_plain(v) for v in listed]
    return out


# --------------------------------------------------------------------------- base class


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter of a search space (abstract base of the five kinds).

    ``when`` makes the parameter conditional: it is active only when every named parent
    parameter currently has one of the listed values.
    """

    kind: ClassVar[str] = ""
    name: str
    _: KW_ONLY
    when: dict[str, list] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpaceError.at(None, "name", "be a non-empty string", self.name)
        object.__setattr__(self, "when", _normalise_when(self.name, self.when))

    # -- the interface every kind implements ------------------------------------------
    def validate_value(self, value: Any, *, source: str | None = None) -> Any:
        """The value normalised (int for int, float for float, the exact choice), or raise."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        """One random value (log-uniform when ``log``; on the lattice when ``step``)."""
        raise NotImplementedError

    def grid_values(self, points: int) -> list:
        """Deterministic grid values, ``points`` of them for continuous ranges."""
        raise NotImplementedError

    def neighbours(self, value: Any, radius: int = 1, *,
                   keep_categorical: bool = True) -> Parameter:
        """A new, narrower parameter of the same name and ``when`` around ``value``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The YAML form of this parameter (without its name)."""
        raise NotImplementedError

    # -- genes (shared) ---------------------------------------------------------------
    @cached_property
    def _levels(self) -> list:
        """The values a gene can take, in gene order."""
        raise NotImplementedError

    def n_genes(self) -> int:
        """Number of distinct gene values (encodable levels)."""
        return len(self._levels)

    def encode(self, value: Any) -> int:
        """The gene of the level nearest to ``value``."""
        value = self.validate_value(value)
        for index, level in enumerate(self._levels):
            if same_value(level, value):
                return index
        return self._nearest_level(value)

    def _nearest_level(self, value: Any) -> int:
        raise SpaceError.at(None, self.name, "be one of the encodable levels", value)

    def decode(self, gene: int) -> Any:
        """The level for ``gene`` (0 <= gene < n_genes())."""
        if _is_bool(gene) or not isinstance(_plain(gene), int):
            raise SpaceError.at(None, self.name, "have an integer gene", gene)
        gene = int(gene)
        if not 0 <= gene < len(self._levels):
            raise SpaceError.at(None, self.name, f"have a gene in [0, {len(self._levels) - 1}]",
                                gene)
        return self._levels[gene]

    # -- helpers ----------------------------------------------------------------------
    def _with_when(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.when:
            data["when"] = {k: list(v) for k, v in self.when.items()}
        return data

    def _check_radius(self, radius: int) -> int:
        if _is_bool(radius) or not isinstance(_plain(radius), int) or radius < 0:
            raise SpaceError.at(None, self.name, "have a neighbourhood radius that is an int >= 0",
                                radius)
        return int(radius)


def _check_points(name: str, points: int) -> int:
    if _is_bool(points) or not isinstance(_plain(points), int) or points < 1:
        raise SpaceError.at(None, name, "have grid points that are an int >= 1", points)
    return int(points)


def _spread_indices(n: int, points: int) -> list[int]:
    """``points`` evenly spaced indices into range(n), both ends included, no duplicates."""
    if points >= n:
        return list(range(n))
    if points == 1:
        return [(n - 1) // 2]
    return sorted({round(i * (n - 1) / (points - 1)) for i in range(points)})


def _nearest(levels: list, value: float, *, log: bool) -> int:
    """Index of the level nearest to ``value`` (in log space when ``log``)."""
    array = np.asarray(levels, dtype=float)
    if log:
        return int(np.argmin(np.abs(np.log(array) - math.log(value))))
    return int(np.argmin(np.abs(array - value)))


def _dedupe(values: list) -> list:
    out: list = []
    for v in values:
        if not out or v != out[-1]:
            out.append(v)
    return out


# --------------------------------------------------------------------------- numeric kinds


@dataclass(frozen=True)
class FloatParam(Parameter):
    """A real number in [low, high]; log-uniform when ``log``; on a lattice when ``step``.

    ``resolution`` is the number of gene levels (for the genetic algorithm) of an unstepped
    float; its levels are ``grid_values(resolution)``.
    """

    kind: ClassVar[str] = "float"
    low: float
    high: float
    _: KW_ONLY
    log: bool = False
    step: float | None = None
    resolution: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        name = self.name
        low = _to_number(self.low, source=None, name=name, what="have a number as low")
        high = _to_number(self.high, source=None, name=name, what="have a number as high")
        if low > high:
            raise _fail(name, "have low <= high", f"low={_plain(self.low)!r}, "
                        f"high={_plain(self.high)!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if not isinstance(self.log, bool | np.bool_):
            raise SpaceError.at(None, name, "have log as true or false", self.log)
        object.__setattr__(self, "log", bool(self.log))
        if self.log and low <= 0:
            raise SpaceError.at(None, name, "have low > 0 when log is true", low,
                                hint="a log scale cannot reach 0")
        if self.step is not None:
            step = _to_number(self.step, source=None, name=name, what="have a number as step")
            if step <= 0:
                raise SpaceError.at(None, name, "have step > 0", step)
            if self.log:
                raise SpaceError.at(None, name, "not combine step with log", step,
                                    hint="drop one of them")
            span = (high - low) / step
            if abs(span - round(span)) > _LATTICE_TOL * max(1.0, abs(span)):
                fitted = low + math.floor(span + _LATTICE_TOL) * step
                raise _fail(name, "have high - low a multiple of step",
                            f"low={low!r}, high={high!r}, step={step!r}",
                            hint=f"e.g. high={self._round(fitted, low, step)!r}")
            object.__setattr__(self, "step", step)
        res = _plain(self.resolution)
        if _is_bool(res) or not isinstance(res, int) or res < 2:
            raise SpaceError.at(None, name, "have resolution as an int >= 2", self.resolution)
        object.__setattr__(self, "resolution", res)

    # -- lattice ------------------------------------------------------------------------
    @staticmethod
    def _round(value: float, low: float, step: float) -> float:
        digits = min(17, max(_decimals(low), _decimals(step)))
        return float(round(value, digits))

    @cached_property
    def _n_lattice(self) -> int:
        assert self.step is not None  # internal: only called for stepped floats
        return round((self.high - self.low) / self.step) + 1

    def _lattice(self, index: int) -> float:
        assert self.step is not None
        if index == self._n_lattice - 1:
            return self.high
        return self._round(self.low + index * self.step, self.low, self.step)

    # -- interface ---------------------------------------------------------------------
    def validate_value(self, value: Any, *, source: str | None = None) -> float:
        number = _to_number(value, source=source, name=self.name)
        tol = _BOUND_TOL * max(abs(self.low), abs(self.high))
        if not self.low - tol <= number <= self.high + tol:
            raise SpaceError.at(source, self.name, f"be in [{self.low!r}, {self.high!r}]", value)
        number = min(max(number, self.low), self.high)
        if self.step is None:
            return number
        k = (number - self.low) / self.step
        if abs(k - round(k)) > _LATTICE_TOL * max(1.0, abs(k)):
            raise SpaceError.at(source, self.name,
                                f"be on the lattice {self.low!r} + k * {self.step!r}", value)
        return self._lattice(round(k))

    def sample(self, rng: np.random.Generator) -> float:
        if self.step is not None:
            return self._lattice(int(rng.integers(self._n_lattice)))
        if self.low == self.high:
            return self.low
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = float(rng.uniform(self.low, self.high))
        return min(max(value, self.low), self.high)

    def grid_values(self, points: int) -> list[float]:
        points = _check_points(self.name, points)
        if self.step is not None:
            n = self._n_lattice
            indices = range(n) if n <= FULL_GRID_LIMIT else _spread_indices(n, points)
            return [self._lattice(i) for i in indices]
        if self.low == self.high:
            return [self.low]
        if points == 1:
            centre = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
            return [min(max(centre, self.low), self.high)]
        if self.log:
            raw = np.geomspace(self.low, self.high, points)
        else:
            raw = np.linspace(self.low, self.high, points)
        values = [min(max(float(v), self.low), self.high) for v in raw]
        values[0], values[-1] = self.low, self.high
        return _dedupe(values)

    @cached_property
    def _levels(self) -> list[float]:
        if self.step is not None:
            n = self._n_lattice
            indices = range(n) if n <= MAX_GENES else _spread_indices(n, MAX_GENES)
            return [self._lattice(i) for i in indices]
        return self.grid_values(self.resolution)

    def _nearest_level(self, value: Any) -> int:
        return _nearest(self._levels, value, log=self.log)

    def neighbours(self, value: Any, radius: int = 1, *,
                   keep_categorical: bool = True) -> FloatParam:
        value = self.validate_value(value)
        radius = self._check_radius(radius)
        if self.step is not None:
            k = round((value - self.low) / self.step)
            low = self._lattice(max(0, k - radius))
            high = self._lattice(min(self._n_lattice - 1, k + radius))
            return FloatParam(self.name, low, high, step=self.step,
                              resolution=self.resolution, when=self.when)
        if self.log:
            low, high = value / 2.0**radius, value * 2.0**radius
        else:
            band = radius * 0.1 * (self.high - self.low)
            low, high = value - band, value + band
        return FloatParam(self.name, max(self.low, min(low, value)),
                          min(self.high, max(high, value)), log=self.log,
                          resolution=self.resolution, when=self.when)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            data["log"] = True
        if self.step is not None:
            data["step"] = self.step
        if self.resolution != 32:
            data["resolution"] = self.resolution
        return self._with_when(data)


def _to_int(value: Any, *, source: str | None, name: str, what: str) -> int:
    """An int from an int, an integral float (64.0) or a numeric string; bools refused."""
    value = _plain(value)
    if isinstance(value, int) and not _is_bool(value):
        return value
    if isinstance(value, float | str) and not _is_bool(value):
        number = _to_number(value, source=source, name=name, what=what)
        if number.is_integer():
            return int(number)
    raise SpaceError.at(source, name, what, value)


@dataclass(frozen=True)
class IntParam(Parameter):
    """An integer in [low, high] on the lattice ``low + k * step``; log-uniform when ``log``."""

    kind: ClassVar[str] = "int"
    low: int
    high: int
    _: KW_ONLY
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        name = self.name
        low = _to_int(self.low, source=None, name=name, what="have an integer as low")
        high = _to_int(self.high, source=None, name=name, what="have an integer as high")
        step = _to_int(self.step, source=None, name=name, what="have an integer as step")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "step", step)
        if low > high:
            raise _fail(name, "have low <= high", f"low={low}, high={high}")
        if step <= 0:
            raise SpaceError.at(None, name, "have step > 0", step)
        if not isinstance(self.log, bool | np.bool_):
            raise SpaceError.at(None, name, "have log as true or false", self.log)
        object.__setattr__(self, "log", bool(self.log))
        if self.log and low <= 0:
            raise SpaceError.at(None, name, "have low > 0 when log is true", low,
                                hint="a log scale cannot reach 0")
        if self.log and step != 1:
            raise SpaceError.at(None, name, "not combine step with log", step,
                                hint="drop one of them")
        if (high - low) % step:
            raise _fail(name, "have high - low a multiple of step",
                        f"low={low}, high={high}, step={step}",
                        hint=f"e.g. high={low + (high - low) // step * step}")

    @property
    def _n_lattice(self) -> int:
        return (self.high - self.low) // self.step + 1

    def validate_value(self, value: Any, *, source: str | None = None) -> int:
        number = _to_int(value, source=source, name=self.name, what="be an integer")
        if not self.low <= number <= self.high:
            raise SpaceError.at(source, self.name, f"be in [{self.low}, {self.high}]", value)
        if (number - self.low) % self.step:
            raise SpaceError.at(source, self.name,
                                f"be on the lattice {self.low} + k * {self.step}", value)
        return number

    def sample(self, rng: np.random.Generator) -> int:
        if self.log and self.low != self.high:
            draw = math.exp(rng.uniform(math.log(self.low - 0.5), math.log(self.high + 0.5)))
            return min(max(round(draw), self.low), self.high)
        return self.low + self.step * int(rng.integers(self._n_lattice))

    def _spread(self, points: int) -> list[int]:
        """``points`` lattice values incl. both bounds, log-spaced when ``log``."""
        if self.log and points > 1:
            raw = np.geomspace(self.low, self.high, points)
            values = [min(max(round(float(v)), self.low), self.high) for v in raw]
            values[0], values[-1] = self.low, self.high
            return _dedupe(values)
        return [self.low + self.step * i for i in _spread_indices(self._n_lattice, points)]

    def grid_values(self, points: int) -> list[int]:
        points = _check_points(self.name, points)
        n = self._n_lattice
        if n <= FULL_GRID_LIMIT:
            return list(range(self.low, self.high + 1, self.step))
        return self._spread(points)

    @cached_property
    def _levels(self) -> list[int]:
        if self._n_lattice <= MAX_GENES:
            return list(range(self.low, self.high + 1, self.step))
        return self._spread(MAX_GENES)

    def _nearest_level(self, value: Any) -> int:
        return _nearest(self._levels, value, log=self.log)

    def neighbours(self, value: Any, radius: int = 1, *,
                   keep_categorical: bool = True) -> IntParam:
        value = self.validate_value(value)
        radius = self._check_radius(radius)
        if self.log:
            low = max(self.low, math.floor(value / 2**radius))
            high = min(self.high, math.ceil(value * 2**radius))
            return IntParam(self.name, low, high, log=True, when=self.when)
        low = max(self.low, value - radius * self.step)
        high = min(self.high, value + radius * self.step)
        return IntParam(self.name, low, high, step=self.step, when=self.when)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.step != 1:
            data["step"] = self.step
        if self.log:
            data["log"] = True
        return self._with_when(data)


# --------------------------------------------------------------------------- discrete kinds


def _check_choices(name: str, values: Any, what: str) -> tuple:
    if isinstance(values, str | bytes) or not isinstance(values, list | tuple):
        raise SpaceError.at(None, name, f"have {what} as a list", values)
    if not values:
        raise SpaceError.at(None, name, f"have at least one entry in {what}", list(values))
    out: list = []
    for value in values:
        if not _is_json_scalar(value):
            raise SpaceError.at(None, name, f"have JSON scalars (str, int, float, bool, null) "
                                f"in {what}", value)
        value = _plain(value)
        if any(same_value(value, seen) for seen in out):
            raise SpaceError.at(None, name, f"have unique entries in {what}", value,
                                hint="listed twice")
        out.append(value)
    return tuple(out)


@dataclass(frozen=True)
class _ChoiceParam(Parameter):
    """Shared logic of categorical and ordinal parameters (a finite list of values)."""

    @property
    def _options(self) -> tuple:
        raise NotImplementedError

    def validate_value(self, value: Any, *, source: str | None = None) -> Any:
        for option in self._options:
            if same_value(option, value):
                return option
        shown = ", ".join(json.dumps(o) if not isinstance(o, str) else o for o in self._options)
        raise SpaceError.at(source, self.name, f"be one of [{shown}]", value)

    def sample(self, rng: np.random.Generator) -> Any:
        return self._options[int(rng.integers(len(self._options)))]

    def grid_values(self, points: int) -> list:
        _check_points(self.name, points)
        return list(self._options)

    @cached_property
    def _levels(self) -> list:
        return list(self._options)


@dataclass(frozen=True)
class CategoricalParam(_ChoiceParam):
    """One of unordered ``choices`` (JSON scalars)."""

    kind: ClassVar[str] = "categorical"
    choices: tuple

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "choices", _check_choices(self.name, self.choices, "choices"))

    @property
    def _options(self) -> tuple:
        return self.choices

    def neighbours(self, value: Any, radius: int = 1, *,
                   keep_categorical: bool = True) -> Parameter:
        """``keep_categorical``: pin the centre's choice (FixedParam); else keep all choices."""
        value = self.validate_value(value)
        self._check_radius(radius)
        if keep_categorical:
            return FixedParam(self.name, value, when=self.when)
        return self

    def to_dict(self) -> dict[str, Any]:
        return self._with_when({"type": self.kind, "choices": list(self.choices)})


@dataclass(frozen=True)
class OrdinalParam(_ChoiceParam):
    """One of ``values`` whose user-given order defines adjacency (e.g. l2 strengths)."""

    kind: ClassVar[str] = "ordinal"
    values: tuple

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "values", _check_choices(self.name, self.values, "values"))

    @property
    def _options(self) -> tuple:
        return self.values

    def neighbours(self, value: Any, radius: int = 1, *,
                   keep_categorical: bool = True) -> OrdinalParam:
        value = self.validate_value(value)
        radius = self._check_radius(radius)
        index = next(i for i, v in enumerate(self.values) if same_value(v, value))
        kept = self.values[max(0, index - radius): index + radius + 1]
        return OrdinalParam(self.name, kept, when=self.when)

    def to_dict(self) -> dict[str, Any]:
        return self._with_when({"type": self.kind, "values": list(self.values)})


@dataclass(frozen=True)
class FixedParam(Parameter):
    """A constant (any JSON value, lists included); always takes ``value``."""

    kind: ClassVar[str] = "fixed"
    value: Any = field(hash=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _is_json_value(self.value):
            raise SpaceError.at(None, self.name, "have a JSON value (str, number, bool, null, "
                                "list, mapping)", self.value)
        object.__setattr__(self, "value", _json_plain(self.value))

    def validate_value(self, value: Any, *, source: str | None = None) -> Any:
        if not same_value(self.value, value):
            raise SpaceError.at(source, self.name, f"be the fixed value {self.value!r}", value)
        return self.value

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def grid_values(self, points: int) -> list:
        _check_points(self.name, points)
        return [self.value]

    @cached_property
    def _levels(self) -> list:
        return [self.value]

    def neighbours(self, value: Any, radius: int = 1, *,
                   keep_categorical: bool = True) -> FixedParam:
        self.validate_value(value)
        self._check_radius(radius)
        return self

    def to_dict(self) -> dict[str, Any]:
        return self._with_when({"type": self.kind, "value": self.value})


#: The parameter kinds by their YAML ``type``.
KINDS: dict[str, type[Parameter]] = {
    cls.kind: cls for cls in (FloatParam, IntParam, CategoricalParam, OrdinalParam, FixedParam)
}

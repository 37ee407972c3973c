"""Read a search space from YAML (or an equivalent mapping).

Format::

    parameters:
      optimizer: {type: categorical, choices: [sgd, adam, rmsprop]}
      momentum: {type: float, low: 0.0, high: 0.95, when: {optimizer: [sgd]}}
      learning_rate: {type: float, low: 1e-4, high: 1e-1, log: true}
      units: {type: int, low: 8, high: 256, log: true}
      l2: {type: ordinal, values: [0, 1.0e-5, 1.0e-4]}
      epochs: 200              # a bare scalar is a fixed value
      activation: [relu, elu]  # a bare list is categorical

PyYAML (YAML 1.1) reads ``1e-4`` (no dot) as the string ``"1e-4"``. Numeric fields accept such
strings; entries of ordinal values that look numeric become numbers; categorical choices,
fixed values and ``when`` values convert only the exponent forms PyYAML misses (``1e-4``,
``1E5``, ``1.0e5``), since a quoted ``"64"`` there may be meant as a string.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpsearch.errors import SpaceError
from hpsearch.space.params import KINDS, Parameter
from hpsearch.space.space import Space

__all__ = ["load_space", "parameter_from_mapping", "space_from_mapping"]

TOP_LEVEL_KEYS = ("parameters", "description")
KEYS: dict[str, tuple[str, ...]] = {
    "float": ("type", "low", "high", "log", "step", "resolution", "when"),
    "int": ("type", "low", "high", "step", "log", "when"),
    "categorical": ("type", "choices", "when"),
    "ordinal": ("type", "values", "when"),
    "fixed": ("type", "value", "when"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "float": ("low", "high"),
    "int": ("low", "high"),
    "categorical": ("choices",),
    "ordinal": ("values",),
    "fixed": ("value",),
}
#: Floats in exponent form that YAML 1.2 reads as numbers but PyYAML leaves as strings.
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_INT = re.compile(r"[-+]?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def load_space(path: str | Path) -> Space:
    """The :class:`Space` defined in the YAML file ``path``."""
    import yaml

    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise SpaceError.at(source, None, "be an existing file",
                            hint="no such file" if not file.exists() else "not a regular file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError.at(source, None, "be a readable UTF-8 text file",
                            f"<{type(exc).__name__}: {exc}>") from None
    try:
        data = yaml.load(text, Loader=unique_key_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError.at(source, where, "be valid YAML", f"<{problem}>") from None
    if data is None:
        raise SpaceError.at(source, None, "contain a 'parameters' mapping", "<an empty file>")
    return space_from_mapping(data, source=source)


def unique_key_loader() -> type:
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error.

    PyYAML keeps the last of two equal keys, and a merge (``<<: *base``) followed by the same
    key silently replaces the merged one: a parameter defined twice would lose a definition
    without a word.
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            if isinstance(node, yaml.MappingNode):
                self.flatten_mapping(node)  # merged pairs first, then the mapping's own
                seen: set = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:  # an unhashable key: SafeLoader reports it
                        continue
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} is given twice in one mapping "
                            "(a repeated key, or a key also brought in by a '<<' merge)",
                            key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def space_from_mapping(data: Any, *, source: str | None) -> Space:
    """A :class:`Space` from the parsed YAML form ``{"parameters": {name: spec}}``."""
    if not isinstance(data, Mapping):
        raise SpaceError.at(source, None, "be a mapping with a 'parameters' key",
                            f"<{type(data).__name__}>")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise SpaceError.at(source, str(key), f"be one of the keys {', '.join(TOP_LEVEL_KEYS)}",
                                key, hint=_hint(key, TOP_LEVEL_KEYS))
    if "parameters" not in data:
        raise SpaceError.at(source, "parameters", "be present (a mapping of name to spec)")
    params = data["parameters"]
    if not isinstance(params, Mapping):
        raise SpaceError.at(source, "parameters", "be a mapping of parameter name to spec",
                            f"<{type(params).__name__}>")
    if not params:
        raise SpaceError.at(source, "parameters", "list at least one parameter", "<none>")
    built = []
    for name, spec in params.items():
        if not isinstance(name, str) or not name.strip():
            raise SpaceError.at(source, "parameters", "have non-empty string names", name,
                                hint="quote the name in YAML")
        built.append(parameter_from_mapping(name, spec, source=source))
    return Space(built, source=source)


def parameter_from_mapping(name: str, spec: Any, *, source: str | None) -> Parameter:
    """One parameter from its YAML form (a mapping, a bare list or a bare scalar)."""
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    elif not isinstance(spec, Mapping):
        if isinstance(spec, str | int | float | bool) or spec is None:
            spec = {"type": "fixed", "value": spec}
        else:
            raise SpaceError.at(source, name, "be a mapping, a list (categorical) or a scalar "
                                "(fixed)", f"<{type(spec).__name__}>")
    for key in spec:
        if not isinstance(key, str):
            raise SpaceError.at(source, name, "have string keys", key)
    kind = _kind(name, spec, source)
    allowed = KEYS[kind]
    for key in spec:
        if key not in allowed:
            raise SpaceError.at(source, f"{name}.{key}",
                                f"be a key of type {kind} ({', '.join(allowed)})", key,
                                hint=_hint(key, allowed))
    for key in REQUIRED[kind]:
        if key not in spec:
            raise SpaceError.at(source, name, f"have '{key}' (a {kind} parameter needs "
                                f"{', '.join(REQUIRED[kind])})")
    try:
        return _build(name, kind, spec, source)
    except SpaceError as exc:
        if exc.source is not None:
            raise
        raise SpaceError(exc.message, source=source, field=exc.field or name) from None


def _kind(name: str, spec: Mapping[str, Any], source: str | None) -> str:
    """The declared ``type``, or the one implied by the keys."""
    if "type" in spec:
        kind = spec["type"]
        if not isinstance(kind, str) or kind not in KINDS:
            raise SpaceError.at(source, f"{name}.type", f"be one of {', '.join(KINDS)}", kind,
                                hint=_hint(kind, list(KINDS)))
        return kind
    if "choices" in spec:
        return "categorical"
    if "values" in spec:
        return "ordinal"
    if "value" in spec:
        return "fixed"
    if "low" in spec and "high" in spec:
        both_int = all(_looks_int(spec[k]) for k in ("low", "high"))
        return "int" if both_int else "float"
    raise SpaceError.at(source, name, "have a 'type' (one of " + ", ".join(KINDS) + ") or keys "
                        "that imply one (choices, values, value, low+high)",
                        f"<keys {', '.join(map(str, spec)) or 'none'}>")


def _looks_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and bool(_INT.fullmatch(value.strip()))


def _build(name: str, kind: str, spec: Mapping[str, Any], source: str | None) -> Parameter:
    when = spec.get("when")
    if when is not None:
        when = _when(name, when, source)
    if kind in ("float", "int"):
        options: dict[str, Any] = {
            "low": _number(name, "low", spec["low"], source),
            "high": _number(name, "high", spec["high"], source),
        }
        if spec.get("step") is not None:
            options["step"] = _number(name, "step", spec["step"], source)
        if "log" in spec:
            log = spec["log"]
            if not isinstance(log, bool):
                raise SpaceError.at(source, f"{name}.log", "be true or false", log)
            options["log"] = log
        if kind == "float" and "resolution" in spec:
            options["resolution"] = spec["resolution"]
        cls = KINDS[kind]
        return cls(name, options.pop("low"), options.pop("high"), when=when, **options)
    if kind == "categorical":
        choices = _entries(name, "choices", spec["choices"], source, _exponent_float)
        return KINDS[kind](name, choices, when=when)
    if kind == "ordinal":
        values = _entries(name, "values", spec["values"], source, _numeric)
        kinds = {"number" if isinstance(v, int | float) and not isinstance(v, bool)
                 else type(v).__name__ for v in values if v is not None}  # null: "none"
        if len(kinds) > 1:
            raise SpaceError.at(source, f"{name}.values", "be values of one kind (ordered "
                                "numbers, or ordered strings)", values,
                                hint="a value that is not a number is probably a typo; "
                                "use type: categorical for unordered mixed choices")
        return KINDS[kind](name, values, when=when)
    return KINDS[kind](name, _exponent_float(spec["value"]), when=when)


def _number(name: str, key: str, value: Any, source: str | None) -> int | float:
    """A number from a number or numeric string (``"1e-4"``); ints stay ints."""
    if isinstance(value, bool):
        raise SpaceError.at(source, f"{name}.{key}", "be a number", value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            pass
    raise SpaceError.at(source, f"{name}.{key}", "be a number", value)


def _entries(name: str, key: str, values: Any, source: str | None, convert: Any) -> list:
    if not isinstance(values, list):
        raise SpaceError.at(source, f"{name}.{key}", "be a list", f"<{type(values).__name__}>"
                            if not isinstance(values, str | int | float) else values)
    return [convert(v) for v in values]


def _exponent_float(value: Any) -> Any:
    """``"1e-4"`` → 1e-4 (the PyYAML quirk); anything else unchanged."""
    if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def _numeric(value: Any) -> Any:
    """A string that looks like a number → the number (ints stay ints)."""
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text):
            return int(text)
        if _NUMBER.fullmatch(text):
            return float(text)
    return value


def _when(name: str, when: Any, source: str | None) -> dict[str, list]:
    if not isinstance(when, Mapping) or not when:
        raise SpaceError.at(source, f"{name}.when", "be a mapping {parent: [values]}", when)
    out: dict[str, list] = {}
    for parent, values in when.items():
        listed = values if isinstance(values, list) else [values]
        out[str(parent)] = [_exponent_float(v) for v in listed]
    return out


def _hint(got: Any, allowed: Any) -> str | None:
    close = difflib.get_close_matches(str(got), [str(a) for a in allowed], n=1)
    return f"did you mean '{close[0]}'?" if close else None

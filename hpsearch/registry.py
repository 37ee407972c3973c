"""Name → object registries for models, strategies and executors.

Entries are registered by decorator or lazily as ``"module:attr"`` strings, so that listing
names never imports TensorFlow, Ray or Optuna. A user's own object can always be named by
``"package.module:attr"`` without registering it. Unknown names raise an error that lists the
valid names and the closest match.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from hpsearch.errors import ConfigError, UnknownNameError

T = TypeVar("T")


def import_object(spec: str, *, source: str | None = None, field: str | None = None) -> object:
    """Import ``"package.module:attr"`` (code that runs: only name modules you trust)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError.at(source, field, "be 'package.module:attribute'", spec)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError.at(source, field, "name an importable module", spec, str(exc)) from exc
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError.at(source, field, f"name an attribute of {module_name}", spec)
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """A named collection of objects of one kind (e.g. model builders)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, description: str = "") -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name``."""

        def decorate(obj: T) -> T:
            self._entries[name] = obj
            doc = description or (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]
            self._descriptions[name] = doc
            return obj

        return decorate

    def register_lazy(self, name: str, spec: str, description: str = "") -> None:
        """Register ``"module:attr"`` to be imported on first use."""
        self._entries[name] = spec
        self._descriptions[name] = description

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """Name → one-line description, without importing lazy entries."""
        return {name: self._descriptions.get(name, "") for name in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str, *, source: str | None = None, field: str | None = None) -> T:
        """The object for ``name``, or for ``"package.module:attr"`` if it contains a colon."""
        if name in self._entries:
            entry = self._entries[name]
            if isinstance(entry, str):
                entry = import_object(entry, source=source, field=field)  # type: ignore[assignment]
                self._entries[name] = entry
            return entry  # type: ignore[return-value]
        if isinstance(name, str) and ":" in name:
            return import_object(name, source=source, field=field)  # type: ignore[return-value]
        close = difflib.get_close_matches(str(name), self.names(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else None
        raise UnknownNameError.at(
            source,
            field,
            f"be a known {self.kind} ({', '.join(self.names())}) or 'package.module:function'",
            name,
            hint,
        )

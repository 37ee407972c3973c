"""The search space: an ordered list of parameters with conditions between them.

A :class:`Space` is what every strategy works against. It validates parameter sets
(normalised, active parameters only), samples, enumerates a grid, builds neighbourhoods for
refinement, maps configurations to integer genomes and back, and gives a stable fingerprint
so a resumed search can check that its space did not change.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hpsearch.errors import SpaceError, UnknownNameError
from hpsearch.space.grid import Grid
from hpsearch.space.params import Parameter, same_value

__all__ = ["Space", "UnknownParameterError"]


class UnknownParameterError(SpaceError, UnknownNameError):
    """A parameter name the space does not have (a SpaceError and a KeyError)."""


def _closest_hint(name: Any, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), list(names), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "known: " + ", ".join(names)


def canonical_json(data: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, floats as repr) for keys and hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


class Space:
    """An ordered, validated collection of :class:`Parameter` objects.

    Order matters: conditions (``when``) may only refer to earlier parameters, the grid varies
    the first parameter slowest, and genomes have one gene per parameter in this order.
    """

    def __init__(self, params: Sequence[Parameter], *, source: str | None = None) -> None:
        self.source = source
        params = list(params)
        if not params:
            raise SpaceError.at(source, "parameters", "list at least one parameter", [])
        self._params: dict[str, Parameter] = {}
        #: name -> [(parent name, normalised allowed values)]
        self._conditions: dict[str, list[tuple[str, list]]] = {}
        for param in params:
            if not isinstance(param, Parameter):
                raise SpaceError.at(source, "parameters", "contain Parameter objects",
                                    f"<{type(param).__name__}>")
            if param.name in self._params:
                raise SpaceError.at(source, param.name, "be declared once", param.name,
                                    hint="duplicate parameter name")
            self._conditions[param.name] = self._check_when(param, params)
            self._params[param.name] = param

    def _check_when(self, param: Parameter, params: list[Parameter]) -> list[tuple[str, list]]:
        """Parents exist, come before ``param``, and the listed values are theirs."""
        out: list[tuple[str, list]] = []
        for parent, values in (param.when or {}).items():
            if parent not in self._params:
                later = any(p.name == parent for p in params)
                where = f"{param.name}.when.{parent}"
                if later:
                    raise SpaceError.at(self.source, where,
                                        f"name a parameter declared before '{param.name}'",
                                        parent, hint=f"move '{parent}' above '{param.name}'")
                raise SpaceError.at(self.source, where, "name an existing parameter", parent,
                                    hint=_closest_hint(parent, [p.name for p in params]))
            parent_param = self._params[parent]
            allowed = []
            for value in values:
                try:
                    allowed.append(parent_param.validate_value(value))
                except SpaceError as exc:
                    raise SpaceError.at(self.source, f"{param.name}.when.{parent}",
                                        f"list values of '{parent}' ({exc.message})",
                                        value) from None
            out.append((parent, allowed))
        return out

    # ------------------------------------------------------------------ container protocol
    @property
    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return list(self._params)

    @property
    def params(self) -> list[Parameter]:
        """Parameters in declaration order."""
        return list(self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._params.values())

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except (KeyError, TypeError):
            raise UnknownParameterError.at(self.source, str(name), "name a parameter of the space",
                                           name, hint=_closest_hint(name, self.names)) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return self.params == other.params

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container; compare by value

    def __repr__(self) -> str:
        return f"Space({', '.join(f'{p.name}:{p.kind}' for p in self)})"

    def conditions(self, name: str) -> list[tuple[str, list]]:
        """The normalised ``when`` of ``name``: ``[(parent, allowed values)]`` (empty if none)."""
        self[name]  # unknown name -> UnknownParameterError
        return [(parent, list(values)) for parent, values in self._conditions[name]]

    # ------------------------------------------------------------------ activity, validation
    def _active_in(self, name: str, done: Mapping[str, Any]) -> bool:
        """Active given ``done``: normalised values of the earlier ACTIVE parameters."""
        for parent, allowed in self._conditions[name]:
            if parent not in done:
                return False
            if not any(same_value(done[parent], a) for a in allowed):
                return False
        return True

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given (partial) values of earlier parameters.

        A parent that is itself inactive, missing, or has an invalid value makes the child
        inactive.
        """
        self[name]
        for parent, allowed in self._conditions[name]:
            if parent not in params or not self.is_active(parent, params):
                return False
            try:
                value = self._params[parent].validate_value(params[parent])
            except SpaceError:
                return False
            if not any(same_value(value, a) for a in allowed):
                return False
        return True

    def validate(self, params: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
        """Exactly the active parameters, normalised, in declaration order.

        Unknown names, missing active parameters and invalid values raise SpaceError; values
        of inactive parameters are dropped silently (configs from another branch stay usable).
        """
        if not isinstance(params, Mapping):
            raise SpaceError.at(source, None, "be a mapping of parameter name to value",
                                f"<{type(params).__name__}>")
        for key in params:
            if key not in self._params:
                raise UnknownParameterError.at(source, str(key), "name a parameter of the space",
                                               key, hint=_closest_hint(key, self.names))
        out: dict[str, Any] = {}
        for name, param in self._params.items():
            if not self._active_in(name, out):
                continue
            if name not in params:
                parents = [p for p, _ in self._conditions[name]]
                why = f"it is active given {', '.join(parents)}" if parents else "it is required"
                raise SpaceError.at(source, name, "be given", hint=why)
            out[name] = param.validate_value(params[name], source=source)
        return out

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A random configuration (active parameters only)."""
        out: dict[str, Any] = {}
        for name, param in self._params.items():
            if self._active_in(name, out):
                out[name] = param.sample(rng)
        return out

    # ------------------------------------------------------------------ grid, neighbourhood
    def grid(self, points: int = 5) -> Grid:
        """The grid as a lazy, indexable sequence of configurations (see :class:`Grid`)."""
        return Grid(self, points)

    def size(self, points: int = 5) -> int:
        """Number of grid points with ``points`` values per unstepped float."""
        return len(self.grid(points))

    def neighborhood(self, center: Mapping[str, Any], radius: int = 1, *,
                     keep_categorical: bool = True) -> Space:
        """A narrower space around ``center`` (for local refinement).

        Each parameter active in ``center`` is replaced by ``param.neighbours(...)``; inactive
        ones are kept so the child space keeps its conditions. Condition values that the
        narrowed parent can no longer take are dropped, and a parameter whose condition can
        then never hold is dropped too (it could never be active in the child space).
        """
        centre = self.validate(center, source="centre")
        new: list[Parameter] = []
        kept: dict[str, Parameter] = {}
        for param in self:
            if param.name in centre:
                param = param.neighbours(centre[param.name], radius,
                                         keep_categorical=keep_categorical)
            param = _restrict_when(param, kept)
            if param is None:
                continue
            kept[param.name] = param
            new.append(param)
        return Space(new, source=self.source)

    # ------------------------------------------------------------------ genes
    def gene_sizes(self) -> list[int]:
        """Number of gene values per parameter (all parameters, declaration order)."""
        return [p.n_genes() for p in self]

    def encode(self, params: Mapping[str, Any]) -> list[int]:
        """One gene per parameter (nearest level; inactive parameters get gene 0)."""
        values = self.validate(params)
        return [p.encode(values[p.name]) if p.name in values else 0 for p in self]

    def decode(self, genes: Sequence[int]) -> dict[str, Any]:
        """The configuration of a genome; genes are taken modulo their size, so any int list
        of the right length decodes to a valid configuration (active parameters only)."""
        genes = list(genes)
        if len(genes) != len(self):
            raise SpaceError.at(self.source, "genes", f"have {len(self)} genes (one per "
                                "parameter)", len(genes))
        out: dict[str, Any] = {}
        for (name, param), gene in zip(self._params.items(), genes, strict=True):
            if isinstance(gene, bool | np.bool_) or not isinstance(gene, int | np.integer):
                raise SpaceError.at(self.source, name, "have an integer gene", gene)
            if self._active_in(name, out):
                out[name] = param.decode(int(gene) % param.n_genes())
        return out

    # ------------------------------------------------------------------ identity, export
    def key(self, params: Mapping[str, Any]) -> str:
        """Canonical JSON of ``validate(params)``: equal configurations give equal keys."""
        return canonical_json(self.validate(params))

    def to_dict(self) -> dict[str, Any]:
        """``{"parameters": {name: {...}}}``, the YAML form (declaration order kept)."""
        return {"parameters": {p.name: p.to_dict() for p in self}}

    def fingerprint(self) -> str:
        """sha256 hex of the canonical JSON of the space (parameter order included)."""
        ordered = [[p.name, p.to_dict()] for p in self]
        return hashlib.sha256(canonical_json(ordered).encode("utf-8")).hexdigest()

    def to_yaml(self) -> str:
        """The space as YAML text that :func:`hpsearch.space.load_space` reads back."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None,
                              allow_unicode=True, width=100)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Space:
        """The inverse of :meth:`to_dict` (same rules as a YAML space file)."""
        from hpsearch.space.loader import space_from_mapping

        return space_from_mapping(data, source=source)


def _restrict_when(param: Parameter, kept: Mapping[str, Parameter]) -> Parameter | None:
    """``param`` with condition values its (narrowed) parents can still take; None if none."""
    if not param.when:
        return param
    when: dict[str, list] = {}
    for parent, values in param.when.items():
        if parent not in kept:
            return None
        possible = []
        for value in values:
            try:
                kept[parent].validate_value(value)
            except SpaceError:
                continue
            possible.append(value)
        if not possible:
            return None
        when[parent] = possible
    if when == param.when:
        return param
    return dataclasses.replace(param, when=when)

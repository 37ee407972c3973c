"""The grid of a space as a lazy, indexable sequence.

The grid is a tree: parameters in declaration order, each active parameter branching over its
grid values, each inactive one not branching at all (so configurations that differ only in
inactive parameters appear once). Leaves in depth-first order give a mixed-radix order with the
first parameter varying slowest. Subtree sizes are counted with memoisation keyed on the values
of the parents that later conditions look at, so ``len()`` and indexing stay cheap for grids of
millions of points without building them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from hpsearch.space.params import same_value

if TYPE_CHECKING:
    from hpsearch.space.space import Space

__all__ = ["Grid"]

_ABSENT = -1  # grid index of an inactive parameter


class Grid(Sequence[dict[str, Any]]):
    """All grid configurations of ``space`` with ``points`` values per continuous range.

    Deterministic order, no duplicates, every member is a valid configuration (active
    parameters only). Indexing returns a fresh dict each time.
    """

    def __init__(self, space: Space, points: int = 5) -> None:
        self.space = space
        self.points = points
        params = list(space)
        self._names = [p.name for p in params]
        self._values: list[list] = [p.grid_values(points) for p in params]
        position = {name: i for i, name in enumerate(self._names)}
        # For each parameter: [(parent position, grid indices of the parent that activate it)].
        self._conds: list[list[tuple[int, frozenset[int]]]] = []
        for name in self._names:
            conds = []
            for parent, allowed in space.conditions(name):
                at = position[parent]
                ok = frozenset(k for k, v in enumerate(self._values[at])
                               if any(same_value(v, a) for a in allowed))
                conds.append((at, ok))
            self._conds.append(conds)
        # Parents (before i) that decide the activity of any parameter at or after i.
        n = len(params)
        self._relevant: list[tuple[int, ...]] = []
        for i in range(n + 1):
            parents = {at for j in range(i, n) for at, _ in self._conds[j] if at < i}
            self._relevant.append(tuple(sorted(parents)))
        self._memo: dict[tuple, int] = {}
        self._len = self._count(0, [_ABSENT] * n)

    # ------------------------------------------------------------------ internals
    def _active(self, i: int, chosen: list[int]) -> bool:
        return all(chosen[at] in ok for at, ok in self._conds[i])

    def _count(self, i: int, chosen: list[int]) -> int:
        """Leaves below position ``i`` given the choices made before it."""
        if i == len(self._names):
            return 1
        key = (i, *(chosen[at] for at in self._relevant[i]))
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        if not self._active(i, chosen):
            chosen[i] = _ABSENT
            total = self._count(i + 1, chosen)
        else:
            total = 0
            for k in range(len(self._values[i])):
                chosen[i] = k
                total += self._count(i + 1, chosen)
        chosen[i] = _ABSENT
        self._memo[key] = total
        return total

    def _config(self, chosen: list[int]) -> dict[str, Any]:
        return {name: self._values[i][k]
                for i, (name, k) in enumerate(zip(self._names, chosen, strict=True))
                if k != _ABSENT}

    # ------------------------------------------------------------------ Sequence
    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        try:
            index = int(index.__index__())
        except (AttributeError, TypeError):
            raise TypeError(f"grid indices must be integers or slices, not "
                            f"{type(index).__name__}") from None
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"grid index out of range (grid has {self._len} points)")
        chosen = [_ABSENT] * len(self._names)
        for i in range(len(self._names)):
            if not self._active(i, chosen):
                continue
            for k in range(len(self._values[i])):
                chosen[i] = k
                below = self._count(i + 1, chosen)
                if index < below:
                    break
                index -= below
        return self._config(chosen)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        chosen = [_ABSENT] * len(self._names)
        yield from self._walk(0, chosen)

    def _walk(self, i: int, chosen: list[int]) -> Iterator[dict[str, Any]]:
        if i == len(self._names):
            yield self._config(chosen)
            return
        if not self._active(i, chosen):
            chosen[i] = _ABSENT
            yield from self._walk(i + 1, chosen)
            return
        for k in range(len(self._values[i])):
            chosen[i] = k
            yield from self._walk(i + 1, chosen)
        chosen[i] = _ABSENT

    def __repr__(self) -> str:
        return f"Grid({self._len} points, points={self.points})"

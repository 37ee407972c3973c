"""Grid search: every combination of a discretised space, in a fixed (or seeded) order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from hpsearch.space import Space
from hpsearch.strategies.base import BaseStrategy, Proposal, check_positive_int
from hpsearch.trial import Objective


class GridSearch(BaseStrategy):
    """Walk the space's grid (floats without a step get ``points`` values each).

    Useful for a few hyperparameters and for final tuning; ``shuffle`` visits the grid in a
    seeded random order, so that a search stopped by its budget still covers the whole range.
    """

    name: ClassVar[str] = "grid"

    def __init__(
        self,
        space: Space,
        *,
        objective: Objective | None = None,
        seed: int = 0,
        first_trial_id: int = 0,
        points: int = 5,
        shuffle: bool = False,
    ) -> None:
        super().__init__(space, objective=objective, seed=seed, first_trial_id=first_trial_id)
        self.points = check_positive_int(points, "points", minimum=2)
        self.shuffle = bool(shuffle)
        self._grid = space.grid(points=self.points)
        self._order = self._visit_order()
        self._cursor = 0

    def _visit_order(self) -> np.ndarray | None:
        """A seeded permutation of the grid (derived, so the state stores only the cursor)."""
        if not self.shuffle:
            return None
        return np.random.default_rng([self.seed, 7]).permutation(len(self._grid))

    def __len__(self) -> int:
        return len(self._grid)

    def _propose(self, n: int) -> list[Proposal]:
        out = []
        while len(out) < n and self._cursor < len(self._grid):
            index = int(self._order[self._cursor]) if self._order is not None else self._cursor
            out.append(Proposal(self._grid[index], {"grid_index": index}))
            self._cursor += 1
        return out

    def _exhausted(self) -> bool:
        return self._cursor >= len(self._grid)

    def _extra_state(self) -> dict[str, Any]:
        return {"cursor": self._cursor, "grid_size": len(self._grid)}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self._cursor = int(extra["cursor"])
        self._order = self._visit_order()

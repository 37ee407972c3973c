"""Random search: independent draws from the space (log-uniform where a parameter is log)."""

from __future__ import annotations

from typing import ClassVar

from hpsearch.strategies.base import BaseStrategy, Proposal


class RandomSearch(BaseStrategy):
    """Sample each configuration independently; configurations already tried are redrawn.

    The baseline every cleverer strategy must beat (Bergstra & Bengio 2012), and the guide's
    recommendation over grids when there are more than a handful of hyperparameters.
    """

    name: ClassVar[str] = "random"

    def _propose(self, n: int) -> list[Proposal]:
        return [Proposal(self.space.sample(self.rng)) for _ in range(n)]

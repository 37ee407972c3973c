"""Refinement: a narrow local search around the best configurations of an earlier stage.

Each centre (the top-k completed trials of ``previous``, or explicit ``centres``) gets a narrow
space from ``space.neighborhood(centre, radius)``: adjacent ordinal / stepped values, a factor
band for log floats, a small band for linear floats, categoricals pinned (``keep_categorical``).
``grid`` walks the centres' neighbourhood grids round-robin, best centre first; ``random``
picks a centre round-robin and samples its neighbourhood. Configurations already evaluated in
``previous`` are never suggested again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpsearch.errors import ConfigError, SpaceError, StateError
from hpsearch.space import Grid, Space
from hpsearch.strategies.base import (
    BaseStrategy,
    Proposal,
    check_choice,
    check_positive_int,
)
from hpsearch.trial import Objective

#: Draws per suggestion before ``random`` decides that its neighbourhoods hold nothing new.
MAX_RANDOM_TRIES = 200


class RefineSearch(BaseStrategy):
    """Grid or random search in the neighbourhoods of the best earlier configurations.

    Suggestions carry ``centre`` (the trial id of their centre, None for an explicit centre
    that no earlier trial matches) and ``centre_rank`` (0 = best centre).
    """

    name: ClassVar[str] = "refine"

    def __init__(
        self,
        space: Space,
        *,
        objective: Objective | None = None,
        seed: int = 0,
        first_trial_id: int = 0,
        previous: Sequence[Mapping[str, Any]] | None = None,
        centres: Sequence[Mapping[str, Any]] | None = None,
        top_k: int = 3,
        radius: int = 1,
        method: str = "grid",
        points: int = 3,
        keep_categorical: bool = True,
    ) -> None:
        super().__init__(space, objective=objective, seed=seed, first_trial_id=first_trial_id)
        self.n_centres = check_positive_int(top_k, "top_k")  # self.top_k is a method
        self.radius = check_positive_int(radius, "radius", minimum=0)
        self.method = check_choice(method, "method", ("grid", "random"))
        self.points = check_positive_int(points, "points")
        if not isinstance(keep_categorical, bool):
            raise ConfigError.at(None, "keep_categorical", "be true or false", keep_categorical)
        self.keep_categorical = keep_categorical
        records = _check_records(previous)
        #: Keys of every configuration evaluated before (never suggested again).
        self._evaluated: set[str] = set()
        ids_by_key: dict[str, int] = {}
        for record in records:
            try:
                key = space.key(record["params"])
            except SpaceError:
                continue  # a record of another space cannot be repeated here anyway
            self._evaluated.add(key)
            ids_by_key.setdefault(key, int(record["trial_id"]))
        if centres is not None:
            chosen = self._explicit_centres(centres, ids_by_key)
        else:
            chosen = self._top_centres(records)
        if not chosen:
            raise ConfigError.at(
                None,
                "centres",
                "be given, or an earlier stage must have completed trials",
                "no centres" if previous is None and centres is None else "none usable",
                hint="refine needs an earlier stage in the same search (stages: [..., refine]) "
                "or explicit options.centres",
            )
        #: [{"params": centre config, "trial_id": id or None}], best first.
        self.centres: list[dict[str, Any]] = chosen
        self._neighbourhoods = [
            space.neighborhood(c["params"], self.radius, keep_categorical=self.keep_categorical)
            for c in chosen
        ]
        self._grids: list[Grid] = [nb.grid(points=self.points) for nb in self._neighbourhoods]
        self._cursors = [0] * len(chosen)
        self._turn = 0
        #: random only: centres whose neighbourhood gave nothing new in MAX_RANDOM_TRIES draws
        self._dry = [False] * len(chosen)

    # -- centres ---------------------------------------------------------------------------

    def _explicit_centres(
        self, centres: Sequence[Mapping[str, Any]], ids_by_key: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        if isinstance(centres, (str, bytes, Mapping)) or not isinstance(centres, Sequence):
            raise ConfigError.at(None, "centres", "be a list of configurations (mappings)", centres)
        out, keys = [], set()
        for i, centre in enumerate(centres):
            try:
                params = self.space.validate(centre, source=None)
            except SpaceError as exc:
                raise ConfigError.at(
                    None, f"centres[{i}]", f"be a configuration of the space ({exc})", "<invalid>"
                ) from None
            key = self.space.key(params)
            if key not in keys:
                keys.add(key)
                out.append({"params": params, "trial_id": ids_by_key.get(key)})
        return out

    def _top_centres(self, records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        done = []
        for record in records:
            score = record.get("score")
            if record.get("status", "completed") != "completed":
                continue
            if not isinstance(score, (int, float)) or not math.isfinite(score):
                continue
            try:
                params = self.space.validate(record["params"])
            except SpaceError:
                continue
            done.append((self.objective.loss(float(score)), int(record["trial_id"]), params))
        done.sort(key=lambda item: (item[0], item[1]))
        out, keys = [], set()
        for _, trial_id, params in done:
            key = self.space.key(params)
            if key in keys:
                continue
            keys.add(key)
            out.append({"params": params, "trial_id": trial_id})
            if len(out) >= self.n_centres:
                break
        return out

    # -- hooks -----------------------------------------------------------------------------

    def _is_new(self, params: Mapping[str, Any]) -> bool:
        return self.space.key(params) not in self._evaluated and not self.is_seen(params)

    def _tags(self, index: int) -> dict[str, Any]:
        return {"centre": self.centres[index]["trial_id"], "centre_rank": index}

    def _propose(self, n: int) -> list[Proposal]:
        if self.method == "grid":
            return self._propose_grid(n)
        return self._propose_random(n)

    def _propose_grid(self, n: int) -> list[Proposal]:
        out: list[Proposal] = []
        batch: set[str] = set()
        while len(out) < n and not self._exhausted():
            index = self._turn
            self._turn = (self._turn + 1) % len(self._grids)
            grid = self._grids[index]
            while self._cursors[index] < len(grid):  # next new point of this centre's grid
                params = self.space.validate(grid[self._cursors[index]])
                self._cursors[index] += 1
                key = self.space.key(params)
                if key not in batch and self._is_new(params):
                    batch.add(key)
                    out.append(Proposal(params, self._tags(index)))
                    break
        return out

    def _propose_random(self, n: int) -> list[Proposal]:
        out: list[Proposal] = []
        batch: set[str] = set()
        while len(out) < n and not all(self._dry):
            index = self._turn
            self._turn = (self._turn + 1) % len(self._neighbourhoods)
            if self._dry[index]:
                continue
            for _ in range(MAX_RANDOM_TRIES):
                params = self.space.validate(self._neighbourhoods[index].sample(self.rng))
                key = self.space.key(params)
                if key not in batch and self._is_new(params):
                    batch.add(key)
                    out.append(Proposal(params, self._tags(index)))
                    break
            else:
                self._dry[index] = True
        return out

    def _exhausted(self) -> bool:
        if self.method == "random":
            return all(self._dry)
        return all(c >= len(g) for c, g in zip(self._cursors, self._grids, strict=True))

    # -- state -----------------------------------------------------------------------------

    def _extra_state(self) -> dict[str, Any]:
        return {
            "centres": [{"params": c["params"], "trial_id": c["trial_id"]} for c in self.centres],
            "cursors": list(self._cursors),
            "turn": self._turn,
            "dry": list(self._dry),
        }

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        saved = [self.space.key(c["params"]) for c in extra["centres"]]
        if saved != [self.space.key(c["params"]) for c in self.centres]:
            raise StateError(
                "must match the centres this refine stage was built with (the earlier stage's "
                "results or options.centres changed since the save)",
                source="strategy_state.json",
                field="extra.centres",
            )
        self._cursors = [int(c) for c in extra["cursors"]]
        self._turn = int(extra["turn"])
        self._dry = [bool(d) for d in extra["dry"]]


def _check_records(previous: Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """The journal records of earlier stages, checked to be mappings with params and an id."""
    if previous is None:
        return []
    if isinstance(previous, (str, bytes, Mapping)) or not isinstance(previous, Sequence):
        raise ConfigError.at(None, "previous", "be a list of trial records", previous)
    out = []
    for i, record in enumerate(previous):
        if (
            not isinstance(record, Mapping)
            or not isinstance(record.get("params"), Mapping)
            or isinstance(record.get("trial_id"), bool)
            or not isinstance(record.get("trial_id"), int)
        ):
            raise ConfigError.at(
                None,
                f"previous[{i}]",
                "be a trial record with 'trial_id' and 'params'",
                "<malformed>",
            )
        out.append(record)
    return out

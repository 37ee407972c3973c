"""The "given" strategy: evaluate exactly the configurations a user lists, in that order.

This is what ``hpsearch run CONFIG --params exported.yaml`` runs: the configurations an
``hpsearch export`` chose on one trait (or marker set) are evaluated, honestly and unchanged,
on another. Nothing is searched: the strategy hands out the list once and is then finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpsearch.errors import ConfigError, SpaceError
from hpsearch.space import Space
from hpsearch.strategies.base import BaseStrategy, Proposal
from hpsearch.trial import Objective


class GivenConfigurations(BaseStrategy):
    """Hand out ``configurations`` one by one (tag ``given_index``), then finish.

    Every configuration is validated against the space when the strategy is built, so a bad
    file fails before the first trial; two entries that are the same configuration (after
    validation, e.g. differing only in inactive parameters) are an error, not a silent skip.
    """

    name: ClassVar[str] = "given"

    def __init__(
        self,
        space: Space,
        *,
        objective: Objective | None = None,
        seed: int = 0,
        first_trial_id: int = 0,
        configurations: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(space, objective=objective, seed=seed, first_trial_id=first_trial_id)
        self.configurations = validate_configurations(space, configurations)
        self._cursor = 0

    def __len__(self) -> int:
        return len(self.configurations)

    def _propose(self, n: int) -> list[Proposal]:
        out = []
        while len(out) < n and self._cursor < len(self.configurations):
            index = self._cursor
            out.append(Proposal(dict(self.configurations[index]), {"given_index": index}))
            self._cursor += 1
        return out

    def _exhausted(self) -> bool:
        return self._cursor >= len(self.configurations)

    def _extra_state(self) -> dict[str, Any]:
        return {"cursor": self._cursor, "n_configurations": len(self.configurations)}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self._cursor = int(extra["cursor"])


def validate_configurations(
    space: Space,
    configurations: Any,
    *,
    source: str | None = None,
    field: str = "configurations",
    labels: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Each configuration validated in ``space``; errors name ``field[i].PARAM`` (or
    ``labels[i].PARAM`` when the caller knows better where entry ``i`` sits in its file)."""
    if isinstance(configurations, (str, bytes)) or not isinstance(configurations, Sequence):
        raise ConfigError.at(source, field, "be a list of parameter mappings", configurations)
    if not configurations:
        raise ConfigError.at(source, field, "list at least one configuration", [])
    out: list[dict[str, Any]] = []
    first_at: dict[str, int] = {}
    for index, params in enumerate(configurations):
        where = labels[index] if labels is not None else f"{field}[{index}]"
        if not isinstance(params, Mapping):
            raise ConfigError.at(source, where, "be a mapping of parameter name to value", params)
        try:
            valid = space.validate(params)
        except SpaceError as exc:
            inner = f".{exc.field}" if exc.field else ""
            raise type(exc)(exc.message, source=source, field=f"{where}{inner}") from exc
        key = space.key(valid)
        if key in first_at:
            raise ConfigError.at(
                source,
                where,
                "be a configuration not listed before",
                f"<the same configuration as entry {first_at[key]}>",
            )
        first_at[key] = index
        out.append(valid)
    return out

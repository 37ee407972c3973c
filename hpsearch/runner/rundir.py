"""The run directory: what a search writes, where, and how a later command finds it again.

```
runs/<name>-<timestamp>/
  config.yaml           the resolved experiment config (absolute paths)
  space.yaml            the search space as it was when the search started
  data.json             data summary and load report
  summary.json          best configuration and outer-test metrics of every fold
  fold1/                one folder per outer fold searched
    trials.jsonl        append-only journal: one line per finished trial (the truth)
    state.json          the strategy state and current stage, replaced atomically
    outer.json          the outer-test evaluation of the best configuration
```
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hpsearch.errors import StateError
from hpsearch.tracking.journal import Journal, read_json, write_json_atomic


@dataclass(frozen=True)
class FoldDir:
    """The files of one outer fold's search."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def journal(self) -> Journal:
        return Journal(self.path / "trials.jsonl")

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def outer_path(self) -> Path:
        return self.path / "outer.json"

    def read_state(self) -> dict[str, Any] | None:
        return read_json(self.state_path) if self.state_path.exists() else None

    def write_state(self, state: dict[str, Any]) -> None:
        write_json_atomic(self.state_path, state)


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, output: Path, name: str) -> RunDir:
        """A new, empty run folder ``<output>/<name>-<timestamp>`` (never reuses one)."""
        output.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = output / f"{name}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = output / f"{name}-{stamp}-{suffix}"
        path.mkdir()
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """An existing run folder; anything that is not one is a StateError naming it."""
        path = Path(path)
        if not (path / "config.yaml").is_file():
            raise StateError(
                "must be a run directory made by 'hpsearch run' (no config.yaml)", source=str(path)
            )
        return cls(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def space_path(self) -> Path:
        return self.path / "space.yaml"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    def fold(self, name: str) -> FoldDir:
        folder = self.path / name
        folder.mkdir(exist_ok=True)
        return FoldDir(folder)

    def folds(self) -> list[FoldDir]:
        return sorted(
            (
                FoldDir(p)
                for p in self.path.iterdir()
                if p.is_dir() and (p / "trials.jsonl").exists()
            ),
            key=lambda f: (len(f.name), f.name),
        )

    def write_config(self, config: dict[str, Any], space_yaml: str) -> None:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.space_path.write_text(space_yaml)

    def write_json(self, name: str, data: Any) -> None:
        write_json_atomic(self.path / name, data)

    def read_summary(self) -> dict[str, Any] | None:
        return read_json(self.summary_path) if self.summary_path.exists() else None

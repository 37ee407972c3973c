"""A synthetic run directory whose score depends on one parameter (for the search report)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from hpsearch.errors import HpsearchError
from hpsearch.space import CategoricalParam, FixedParam, FloatParam, IntParam, OrdinalParam, Space
from hpsearch.tracking.journal import Journal
from hpsearch.trial import TrialRecord, TrialResult, TrialStatus


def report_space() -> Space:
    return Space(
        [
            CategoricalParam("optimizer", ("sgd", "adam")),
            FloatParam("momentum", 0.0, 0.9, when={"optimizer": ["sgd"]}),
            FloatParam("learning_rate", 1e-4, 1e-1, log=True),
            IntParam("units", 8, 256, log=True),
            OrdinalParam("l2", (0.0, 1e-4, 1e-3)),
            FixedParam("epochs", 50),
        ]
    )


def lr_score(params: dict[str, Any]) -> float:
    """Peaks at learning_rate = 1e-2 and ignores everything else."""
    return 0.6 - 0.1 * (math.log10(params["learning_rate"]) + 2.0) ** 2


@pytest.fixture
def make_search(tmp_path: Path) -> Callable[..., Path]:
    """``make_search(n_trials, fail_every=0, name=...)`` → a run dir with one fold."""

    def make(n_trials: int, *, fail_every: int = 0, name: str = "run", seed: int = 0) -> Path:
        space = report_space()
        path = tmp_path / name
        (path / "fold1").mkdir(parents=True)
        config = {"name": name, "model": "mlp", "data": {"trait": "yield"},
                  "evaluation": {"metric": "pearson_r"}, "tracking": {"mlflow": False}}  # fmt: skip
        (path / "config.yaml").write_text(yaml.safe_dump(config))
        (path / "space.yaml").write_text(space.to_yaml())
        journal = Journal(path / "fold1" / "trials.jsonl")
        rng = np.random.default_rng(seed)
        for t in range(n_trials):
            params = space.sample(rng)
            if fail_every and t % fail_every == fail_every - 1:
                result = TrialResult.failed(t, params, "diverged")
            else:
                result = TrialResult(t, params, TrialStatus.COMPLETED, lr_score(params))
            journal.append(TrialRecord(result, strategy="random", seed=t))
        return path

    return make


def run_command(
    argv: Sequence[str], add_parser: Callable[[Any], None], command: Callable[[Any], int]
) -> int:
    """What ``hpsearch.cli.main`` does with one subcommand: errors become one line, exit 2."""
    parser = argparse.ArgumentParser(prog="hpsearch")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return command(args)
    except HpsearchError as exc:
        print(f"hpsearch: error: {exc}", file=sys.stderr)
        return exc.exit_code


@pytest.fixture
def cli() -> Callable[..., int]:
    return run_command

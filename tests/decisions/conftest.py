"""Synthetic run directories (config, space, journals) for the decision commands: no Keras."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpsearch.space import CategoricalParam, FixedParam, FloatParam, IntParam, OrdinalParam, Space
from hpsearch.tracking.journal import Journal
from hpsearch.trial import TrialRecord, TrialResult, TrialStatus


def decision_space() -> Space:
    """An MLP-like space: architecture parameters, a conditional one and a fixed one."""
    return Space(
        [
            CategoricalParam("optimizer", ("sgd", "adam")),
            FloatParam("momentum", 0.0, 0.9, when={"optimizer": ["sgd"]}),
            FloatParam("learning_rate", 1e-4, 1e-1, log=True),
            IntParam("n_layers", 1, 3),
            IntParam("units", 8, 256, log=True),
            CategoricalParam("activation", ("relu", "tanh")),
            OrdinalParam("l2", (0.0, 1e-4, 1e-3)),
            FixedParam("epochs", 50),
        ],
        source="decision-space",
    )


def config_for(
    units: int,
    *,
    n_layers: int = 1,
    activation: str = "relu",
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    l2: float = 0.0,
) -> dict[str, Any]:
    params: dict[str, Any] = {"optimizer": optimizer}
    if optimizer == "sgd":
        params["momentum"] = 0.5
    params.update(
        learning_rate=learning_rate, n_layers=n_layers, units=units, activation=activation, l2=l2,
        epochs=50,
    )  # fmt: skip
    return params


RunMaker = Callable[..., Path]


@pytest.fixture
def make_run(tmp_path: Path) -> RunMaker:
    """``make_run(name, {fold: [(params, score or None), ...]}, metric=...)`` → run dir."""

    def make(
        name: str,
        folds: Mapping[str, Sequence[tuple[dict[str, Any], float | None]]],
        *,
        metric: str = "pearson_r",
        space: Space | None = None,
        trait: Any = 0,
        summary: bool = True,
    ) -> Path:
        path = tmp_path / name
        path.mkdir()
        config = {
            "name": name,
            "data": {"genotypes": "x", "phenotypes": "y", "trait": trait},
            "evaluation": {"metric": metric},
            "model": "mlp",
            "tracking": {"mlflow": False},
        }
        (path / "config.yaml").write_text(yaml.safe_dump(config))
        (path / "space.yaml").write_text((space or decision_space()).to_yaml())
        trial_id = 0
        for fold, trials in folds.items():
            (path / fold).mkdir()
            journal = Journal(path / fold / "trials.jsonl")
            for params, score in trials:
                if score is None:
                    result = TrialResult.failed(trial_id, params, "diverged")
                else:
                    result = TrialResult(
                        trial_id, params, TrialStatus.COMPLETED, score,
                        info={"refit_epochs": 7},
                    )  # fmt: skip
                journal.append(
                    TrialRecord(result, stage=0, strategy="random", seed=trial_id,
                                started_at=1000.0 + trial_id, finished_at=1001.0 + trial_id)
                )  # fmt: skip
                trial_id += 1
        if summary:
            direction = "minimize" if metric in ("mse", "rmse", "log_loss") else "maximize"
            (path / "summary.json").write_text(
                json.dumps({"metric": metric, "direction": direction, "folds": []})
            )
        return path

    return make


def run_command(
    argv: Sequence[str], add_parser: Callable[[Any], None], command: Callable[[Any], int]
) -> int:
    """What ``hpsearch.cli.main`` does with one subcommand: errors become one line, exit 2."""
    import argparse
    import sys

    from hpsearch.errors import HpsearchError

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


@pytest.fixture
def space() -> Space:
    return decision_space()


@pytest.fixture
def params_of() -> Callable[..., dict[str, Any]]:
    return config_for

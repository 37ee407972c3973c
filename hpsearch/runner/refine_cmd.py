"""``hpsearch refine RUN_DIR --top-k K``: a new run that searches around an earlier run's best.

The new run gets its own run directory. Its config is RUN_DIR's ``config.yaml`` with the
stages replaced by one ``refine`` stage (``top_k``, ``radius``, ``method``) and its space is
RUN_DIR's frozen ``space.yaml``. Each outer fold of the new run refines around the same fold's
top-K completed trials of RUN_DIR: that fold's journal records reach the refine strategy as its
``previous`` option, so the centres are its best trials and no configuration RUN_DIR already
evaluated (completed or failed) is evaluated again.

How the records get there without touching the runner: ``FoldSearch`` builds each stage's
strategy from ``config.stages[i].options`` and lets options win over its own context, so every
fold is searched by :func:`run_experiment` with a per-fold copy of the config whose refine
stage carries ``previous``; the folds' outcomes are then summarised together. The records are
also written to ``<fold>/previous.jsonl`` and the provenance to ``refine.json`` in the new run
directory: the run says what it was built from, and :func:`resume_refine` continues a stopped
refine run from them (``hpsearch resume`` should call it for a run directory holding
``refine.json``; plain resume cannot, since its config alone has no centres).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError, StateError

if TYPE_CHECKING:  # the runner is imported by the functions that need it (quick --help)
    from hpsearch.config import ExperimentConfig
    from hpsearch.runner.executors import Executor
    from hpsearch.runner.experiment import ExperimentOutcome, Prepared
    from hpsearch.runner.rundir import RunDir
    from hpsearch.runner.search import SearchObserver
    from hpsearch.trial import TrialRecord

DEFAULT_TRIALS = 20
METHODS = ("grid", "random")
#: The record fields the refine strategy reads (curves and per-fold metrics are left behind).
RECORD_FIELDS = ("trial_id", "params", "score", "status", "stage", "strategy")
_CLI = "command line"
#: In the new run directory: what it refines, and (per fold) the records it refines around.
PROVENANCE = "refine.json"
PREVIOUS = "previous.jsonl"


def add_refine_parser(subparsers: Any) -> None:
    """Add ``refine`` to the ``hpsearch`` subcommands (``subparsers``: from add_subparsers)."""
    refine = subparsers.add_parser(
        "refine",
        help="start a new run that searches around an earlier run's best trials",
        description="Start a NEW run (own run directory; config and space copied from RUN_DIR) "
        "whose single refine stage searches, in each outer fold, the neighbourhood of that "
        "fold's K best completed trials of RUN_DIR. Configurations RUN_DIR already evaluated "
        "are not evaluated again.",
    )
    refine.add_argument("run_dir", type=Path, help="the run directory to refine")
    refine.add_argument(
        "--top-k", type=int, required=True, help="centres: the K best completed trials per fold"
    )
    refine.add_argument(
        "--trials", type=int, default=DEFAULT_TRIALS, help=f"budget (default {DEFAULT_TRIALS})"
    )
    refine.add_argument(
        "--radius", type=int, default=1, help="neighbourhood size in grid steps (default 1)"
    )
    refine.add_argument(
        "--method", choices=METHODS, default="grid", help="walk the neighbourhoods (default grid)"
    )
    refine.add_argument(
        "--output",
        type=Path,
        help="folder that receives the new run directory (default: RUN_DIR's folder)",
    )
    refine.add_argument("--quiet", action="store_true", help="no per-trial lines")
    refine.add_argument("--no-mlflow", action="store_true", help="keep only the run directory")


def cmd_refine(args: argparse.Namespace) -> int:
    """Run ``hpsearch refine``; user mistakes raise HpsearchErrors (one line, exit 2 in main)."""
    from hpsearch.runner.experiment import load_run_config, prepare

    check_options(top_k=args.top_k, trials=args.trials, radius=args.radius, method=args.method)
    source = open_source(args.run_dir)
    previous = previous_records(source)
    config, space = load_run_config(source)
    config = refine_config(
        config,
        top_k=args.top_k,
        trials=args.trials,
        radius=args.radius,
        method=args.method,
        output=args.output,
    )
    if args.no_mlflow:
        config.tracking.mlflow = False
    prepared = prepare(config, space=space)
    return _run_with_display(prepared, previous, source=source, quiet=args.quiet)


def resume_refine(run_dir: RunDir, *, quiet: bool = False) -> int:
    """Continue a refine run that stopped (``hpsearch resume`` for a run with refine.json)."""
    from hpsearch.runner.experiment import load_run_config, prepare
    from hpsearch.runner.rundir import RunDir
    from hpsearch.tracking.journal import read_json

    previous = read_previous(run_dir)
    if not previous:
        raise StateError.at(
            str(run_dir.path),
            None,
            f"hold <fold>/{PREVIOUS} files (a run made by 'hpsearch refine')",
            "none",
        )
    config, space = load_run_config(run_dir)
    prepared = prepare(config, space=space)
    provenance = run_dir.path / PROVENANCE
    origin = read_json(provenance).get("source_run") if provenance.is_file() else None
    source = RunDir(Path(origin)) if origin else None
    return _run_with_display(prepared, previous, source=source, run_dir=run_dir, quiet=quiet)


def is_refine_run(run_dir: RunDir) -> bool:
    """True for a run directory made by ``hpsearch refine`` (resume it with resume_refine)."""
    return (run_dir.path / PROVENANCE).is_file()


def read_previous(run_dir: RunDir) -> dict[str, list[dict[str, Any]]]:
    """The records a refine run was built around, per fold (from ``<fold>/previous.jsonl``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(run_dir.path.glob(f"*/{PREVIOUS}")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            out[path.parent.name] = [json.loads(line) for line in lines if line.strip()]
        except (OSError, ValueError) as exc:
            raise StateError.at(str(path), None, "be readable JSON lines", f"<{exc}>") from None
    return out


# -- the pieces ------------------------------------------------------------------------------


def check_options(*, top_k: Any, trials: Any, radius: Any, method: Any) -> None:
    """The command's own options (checked before any data is read)."""
    checks = (("--top-k", top_k, 1), ("--trials", trials, 1), ("--radius", radius, 0))
    for flag, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError.at(_CLI, flag, f"be an integer >= {low}", value)
    if method not in METHODS:
        raise ConfigError.at(_CLI, "--method", f"be one of {list(METHODS)}", method)


def open_source(path: str | Path) -> RunDir:
    """The run to refine; a missing folder or one that is not a run directory is a StateError."""
    from hpsearch.runner.rundir import RunDir

    path = Path(path)
    if not path.is_dir():
        raise StateError.at(
            str(path),
            None,
            "be an existing run directory",
            "no such directory",
            hint="give a folder made by 'hpsearch run'",
        )
    return RunDir.open(path)


def previous_records(run_dir: RunDir) -> dict[str, list[dict[str, Any]]]:
    """Per outer fold with at least one completed trial: all its journal records, slimmed.

    Failed trials stay in (so that refinement does not retry them); folds without a completed
    trial are left out. No completed trial anywhere is a StateError.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for fold in run_dir.folds():
        records = fold.journal.read()
        if any(_completed(r) for r in records):
            out[fold.name] = [slim_record(r) for r in records]
    if not out:
        raise StateError.at(
            str(run_dir.path),
            None,
            "hold at least one completed trial to refine around",
            "none in any fold",
            hint="run or resume the search first ('hpsearch show' lists its trials)",
        )
    return out


def _completed(record: TrialRecord) -> bool:
    return record.result.ok and record.result.score is not None


def slim_record(record: TrialRecord) -> dict[str, Any]:
    """The fields of a journal record that the refine strategy reads."""
    data = record.to_dict()
    return {key: data[key] for key in RECORD_FIELDS}


def refine_config(
    config: ExperimentConfig,
    *,
    top_k: int,
    trials: int,
    radius: int,
    method: str,
    output: Path | None = None,
) -> ExperimentConfig:
    """A copy of ``config`` whose stages are one refine stage; named ``<name>-refine``."""
    from hpsearch.config import StageConfig

    new = copy.deepcopy(config)
    new.name = f"{config.name}-refine"
    new.stages = [
        StageConfig("refine", trials, {"top_k": top_k, "radius": radius, "method": method})
    ]
    if output is not None:
        new.output = Path(output)
    return new


def refine_run(
    prepared: Prepared,
    previous: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    source: RunDir | None = None,
    executor: Executor | None = None,
    observers: Sequence[SearchObserver] = (),
    run_dir: RunDir | None = None,
) -> ExperimentOutcome:
    """Search every outer fold of ``prepared`` that ``previous`` has records for.

    ``prepared.config`` has one refine stage (see :func:`refine_config`); ``previous`` maps an
    outer fold's name to the records of that fold in the run being refined. Each fold runs
    through :func:`run_experiment` with a copy of the config whose stage options carry that
    fold's records; ``execution.time_limit_minutes`` still bounds the whole run. A ``run_dir``
    that already holds trials is continued (what :func:`resume_refine` does).
    """
    from hpsearch.runner.experiment import (
        ExperimentOutcome,
        run_experiment,
        start_run_dir,
        summarise,
    )
    from hpsearch.tracking.journal import read_json

    prepared = folds_to_refine(prepared, previous, source)
    run_dir = run_dir or start_run_dir(prepared)
    if not (run_dir.path / PROVENANCE).is_file():
        _write_provenance(run_dir, prepared, previous, source)
    limit = prepared.config.execution.time_limit_minutes
    deadline = None if limit is None else time.time() + limit * 60.0
    outcomes = []
    for plan in prepared.plans:
        config = copy.deepcopy(prepared.config)
        config.stages[0].options["previous"] = [dict(r) for r in previous[plan.outer.name]]
        if deadline is not None:
            config.execution.time_limit_minutes = max(0.0, (deadline - time.time()) / 60.0)
        fold = dataclasses.replace(prepared, config=config, plans=[plan])
        outcome = run_experiment(fold, run_dir=run_dir, executor=executor, observers=observers)
        outcomes.extend(outcome.folds)
    summary = summarise(prepared, outcomes)
    summary["refined_from"] = read_json(run_dir.path / PROVENANCE).get("source_run")
    run_dir.write_json("summary.json", summary)
    return ExperimentOutcome(run_dir, outcomes, summary)


def folds_to_refine(
    prepared: Prepared,
    previous: Mapping[str, Sequence[Mapping[str, Any]]],
    source: RunDir | None = None,
) -> Prepared:
    """``prepared`` restricted to the outer folds that ``previous`` has records for."""
    stages = prepared.config.stages
    if len(stages) != 1 or stages[0].strategy != "refine":
        raise ConfigError.at(
            prepared.config.source, "stages", "be a single refine stage", len(stages)
        )
    plans = [p for p in prepared.plans if p.outer.name in previous]
    if not plans:
        raise StateError.at(
            str(source.path) if source else None,
            None,
            "have completed trials in an outer fold that its config searches",
            f"completed trials in {sorted(previous)}",
            hint=f"the config searches {[p.outer.name for p in prepared.plans]}",
        )
    return dataclasses.replace(prepared, plans=plans)


def _write_provenance(
    run_dir: RunDir,
    prepared: Prepared,
    previous: Mapping[str, Sequence[Mapping[str, Any]]],
    source: RunDir | None,
) -> None:
    """``refine.json`` (what the run refines) and ``<fold>/previous.jsonl`` (the records)."""
    options = dict(prepared.config.stages[0].options)
    run_dir.write_json(
        PROVENANCE,
        {
            "source_run": str(source.path) if source else None,
            "options": options,
            "trials": prepared.config.stages[0].trials,
            "folds": {p.outer.name: len(previous[p.outer.name]) for p in prepared.plans},
            "note": "each fold's refine stage got the records in <fold>/previous.jsonl as "
            "'previous'; tags 'centre' are trial ids of the source run",
        },
    )
    for plan in prepared.plans:
        fold = run_dir.fold(plan.outer.name)
        lines = [json.dumps(dict(r), allow_nan=False) for r in previous[plan.outer.name]]
        (fold.path / PREVIOUS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run_with_display(
    prepared: Prepared,
    previous: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    quiet: bool,
    source: RunDir | None = None,
    run_dir: RunDir | None = None,
) -> int:
    """Progress lines and MLflow as ``hpsearch run`` shows them, then the summary."""
    from rich.console import Console

    from hpsearch.cli import print_summary
    from hpsearch.runner.experiment import start_run_dir
    from hpsearch.runner.progress import ProgressReporter

    console = Console(stderr=True, highlight=False)
    skipped = [p.outer.name for p in prepared.plans if p.outer.name not in previous]
    prepared = folds_to_refine(prepared, previous, source)
    stage = prepared.config.stages[0]
    folds = [p.outer.name for p in prepared.plans]
    console.print(
        f"[bold]{prepared.config.name}[/]: {'resuming, ' if run_dir else ''}refining "
        f"{source.path if source else 'an earlier run'} around the top "
        f"{stage.options['top_k']} trials of {', '.join(folds)} (radius "
        f"{stage.options['radius']}, {stage.options['method']}, {stage.trials} trials per fold)"
        + (f"; skipped (no completed trial): {', '.join(skipped)}" if skipped else ""),
        soft_wrap=True,
    )
    reporter = ProgressReporter(prepared.objective.metric, console=console, quiet=quiet)
    observers: list[Any] = [reporter]
    run_dir = run_dir or start_run_dir(prepared)
    tracker = None
    if prepared.config.tracking.mlflow:
        import logging

        from hpsearch.tracking.mlflow_tracker import MlflowTracker

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        tracker = MlflowTracker.from_run_dir(
            run_dir.path,
            uri=prepared.config.tracking.uri,
            experiment=prepared.config.tracking.experiment,
            warn=lambda text: console.print(text, markup=False, highlight=False),
        )
        observers.append(tracker)
    outcome = refine_run(prepared, previous, source=source, observers=observers, run_dir=run_dir)
    print_summary(outcome.summary, outcome.run_dir.path)
    if tracker is not None and tracker.degraded:
        print(
            f"MLflow was not reachable; the journal has every trial: "
            f"'hpsearch sync {outcome.run_dir.path}' copies them when it is back"
        )
    return 0

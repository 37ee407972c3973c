"""The ``hpsearch`` command line.

Every user mistake ends as one line on stderr (``hpsearch: error: FILE: FIELD: must ..., got ...``)
and exit code 2; ``--debug`` shows the traceback instead. Heavy libraries are imported only by
the subcommands that need them, so ``--help``, ``list`` and ``validate`` stay quick.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from hpsearch.errors import HpsearchError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


#: The run directory of the search under way (for the Ctrl+C message), if any.
_active_run_dir: Path | None = None


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other bad input (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"hpsearch: error: command line: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="hpsearch",
        description="Honest hyperparameter search for deep learning in genomic prediction.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the search an experiment config describes")
    run.add_argument("config", type=Path, help="experiment YAML")
    run.add_argument("--trials", type=int, help="trials of the (single) stage")
    run.add_argument("--strategy", help="replace the stages by one stage of this strategy")
    run.add_argument("--seed", type=int, help="search seed")
    run.add_argument("--output", type=Path, help="folder that receives the run directory")
    run.add_argument("--executor", choices=["inprocess", "ray"], help="where trials run")
    run.add_argument("--max-concurrent", type=int, help="trials at once (ray executor)")
    run.add_argument("--quiet", action="store_true", help="no per-trial lines")
    run.add_argument("--no-mlflow", action="store_true", help="keep only the run directory")
    run.add_argument(
        "--params", type=Path, help="evaluate exactly these configurations (an exported file)"
    )

    resume = sub.add_parser("resume", help="continue a stopped search where it stopped")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--quiet", action="store_true")

    validate = sub.add_parser(
        "validate", help="check a config, its space and its data; run nothing"
    )
    validate.add_argument("config", type=Path)

    sync = sub.add_parser("sync", help="copy a run's journal into MLflow (what it missed)")
    sync.add_argument("run_dir", type=Path)
    sync.add_argument("--uri", help="tracking URI (default: the one the run used)")
    sync.add_argument("--experiment", help="MLflow experiment name (default: the run's)")

    ui = sub.add_parser("ui", help="serve the MLflow UI for a run's (or the default) store")
    ui.add_argument("run_dir", type=Path, nargs="?", help="a run directory (uses its store)")
    ui.add_argument("--uri", help="tracking URI (default: the run's, else ./mlflow.db)")
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    ui.add_argument("--port", type=int, default=5000)

    show = sub.add_parser("show", help="summarise a run directory")
    show.add_argument("run_dir", type=Path)
    show.add_argument("--top", type=int, default=5, help="best trials to list per fold")

    lister = sub.add_parser("list", help="list strategies, models or shipped search spaces")
    lister.add_argument("what", choices=["strategies", "models", "spaces"])

    sim = sub.add_parser("simulate", help="write a simulated genotype/phenotype data set")
    sim.add_argument("--out", type=Path, required=True, help="output folder")
    sim.add_argument("--prefix", default="sim")
    sim.add_argument("--lines", type=int, default=600)
    sim.add_argument("--markers", type=int, default=1200)
    sim.add_argument("--traits", type=int, default=2)
    sim.add_argument("--qtl", type=int, default=50)
    sim.add_argument("--h2", type=float, default=0.5)
    sim.add_argument("--epistasis", type=float, default=0.2)
    sim.add_argument("--folds", type=int, default=5)
    sim.add_argument("--coding", choices=["01", "012"], default="01")
    sim.add_argument("--seed", type=int, default=0)
    _add_extension_parsers(sub)
    return parser


#: Commands that live beside the feature they drive: (module, add-parser function, handler).
EXTENSIONS: dict[str, tuple[str, str, str]] = {
    "baseline": ("hpsearch.baselines.run", "add_parser", "cmd_baseline"),
    "replicate": ("hpsearch.decisions.replicate", "add_replicate_parser", "cmd_replicate"),
    "export": ("hpsearch.decisions.export", "add_export_parser", "cmd_export"),
    "inspect": ("hpsearch.inspection.report", "add_inspect_parser", "cmd_inspect"),
    "report": ("hpsearch.reporting.search_report", "add_report_parser", "cmd_report"),
    "refine": ("hpsearch.runner.refine_cmd", "add_refine_parser", "cmd_refine"),
}


def _add_extension_parsers(sub: Any) -> None:
    import importlib

    for module_name, add_name, _ in EXTENSIONS.values():
        getattr(importlib.import_module(module_name), add_name)(sub)


def _extension_handler(command: str) -> Any:
    import importlib

    module_name, _, handler_name = EXTENSIONS[command]
    return getattr(importlib.import_module(module_name), handler_name)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {
        "run": cmd_run, "resume": cmd_resume, "validate": cmd_validate, "show": cmd_show,
        "list": cmd_list, "simulate": cmd_simulate, "sync": cmd_sync, "ui": cmd_ui,
    }.get(args.command) or _extension_handler(args.command)  # fmt: skip
    try:
        return handler(args)
    except HpsearchError as exc:
        if args.debug:
            raise
        print(f"hpsearch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        where = str(_active_run_dir) if _active_run_dir is not None else "RUN_DIR"
        print(
            f"hpsearch: interrupted; finished trials are saved ('hpsearch resume {where}' "
            "continues)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


# -- commands --------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from hpsearch.config import load_config
    from hpsearch.runner.experiment import prepare_starting_ray

    overrides = {
        "trials": args.trials, "strategy": args.strategy, "seed": args.seed,
        "output": args.output, "executor": args.executor, "max_concurrent": args.max_concurrent,
        "mlflow": False if args.no_mlflow else None,
    }  # fmt: skip
    config = load_config(args.config, overrides)
    if args.params is not None:
        _given_configurations(config, args)
    prepared = prepare_starting_ray(config)
    return _search(prepared, None, quiet=args.quiet)


def _given_configurations(config: Any, args: argparse.Namespace) -> None:
    """Replace the stages by one stage that evaluates exactly the file's configurations."""
    from hpsearch.config import StageConfig
    from hpsearch.decisions.export import params_stage_from_file
    from hpsearch.errors import ConfigError
    from hpsearch.space import load_space

    if args.strategy is not None or args.trials is not None:
        raise ConfigError.at("command line", "--params", "come without --strategy or --trials",
                             "both")  # fmt: skip
    configurations = params_stage_from_file(args.params, load_space(config.space))
    config.stages = [StageConfig("given", len(configurations), {"configurations": configurations})]


def cmd_resume(args: argparse.Namespace) -> int:
    from hpsearch.runner.experiment import load_run_config, prepare_starting_ray
    from hpsearch.runner.rundir import RunDir

    run_dir = RunDir.open(args.run_dir)
    from hpsearch.runner.refine_cmd import is_refine_run, resume_refine

    if is_refine_run(run_dir):  # its centres live in the run folder, not in config.yaml
        return resume_refine(run_dir, quiet=args.quiet)
    config, space = load_run_config(run_dir)
    prepared = prepare_starting_ray(config, space)
    return _search(prepared, run_dir, quiet=args.quiet)


def _search(prepared: Any, run_dir: Any, *, quiet: bool) -> int:
    from rich.console import Console

    from hpsearch.runner.experiment import run_experiment, start_run_dir
    from hpsearch.runner.progress import ProgressReporter

    console = Console(stderr=True, highlight=False)
    data = prepared.data
    console.print(
        f"[bold]{prepared.config.name}[/]: {data.n_lines} lines × {data.n_markers} markers, "
        f"trait {data.trait!r} ({data.task}), {len(prepared.plans)} outer fold(s), "
        f"optimising {prepared.objective.metric} on {len(prepared.plans[0].inner)} inner splits",
        soft_wrap=True,
    )
    if prepared.load_report.get("dropped_lines"):
        console.print(_dropped_text(prepared.load_report), soft_wrap=True, highlight=False)
    reporter = ProgressReporter(prepared.objective.metric, console=console, quiet=quiet)
    observers: list[Any] = [reporter]
    run_dir = run_dir or start_run_dir(prepared)
    global _active_run_dir
    _active_run_dir = run_dir.path  # named by the Ctrl+C message
    tracker = None
    if prepared.config.tracking.mlflow:
        from hpsearch.tracking.mlflow_tracker import MlflowTracker

        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # not its table-creation notes

        tracker = MlflowTracker.from_run_dir(
            run_dir.path,
            uri=prepared.config.tracking.uri,
            experiment=prepared.config.tracking.experiment,
            warn=lambda text: console.print(text, markup=False, highlight=False),
        )
        tracker.warm_up()  # MLflow's import and store set-up overlap Ray's start
        observers.append(tracker)
    outcome = run_experiment(prepared, run_dir=run_dir, observers=observers)
    print_summary(outcome.summary, outcome.run_dir.path)
    from hpsearch.reporting.search_report import report_after_search

    report = report_after_search(outcome.run_dir.path, mlflow=prepared.config.tracking.mlflow)
    if report is not None:
        print(f"search report: {report}")
    if tracker is not None:
        if tracker.degraded:
            print(
                f"MLflow was not reachable; the journal has every trial: "
                f"'hpsearch sync {outcome.run_dir.path}' copies them when it is back"
            )
        else:
            from hpsearch.tracking.mlflow_tracker import mask_credentials

            shown = mask_credentials(tracker.uri)
            print(f"MLflow: {shown} (browse with 'hpsearch ui {outcome.run_dir.path}')")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from hpsearch.runner.rundir import RunDir
    from hpsearch.tracking.mlflow_tracker import check_tracking_uri, sync

    run_dir = RunDir.open(args.run_dir)
    if args.uri is not None:
        check_tracking_uri(args.uri, source="command line", field="--uri")
    report = sync(run_dir.path, uri=args.uri, experiment=args.experiment)
    for key, value in report.items():
        print(f"{key:<16} {value}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from hpsearch.tracking.mlflow_tracker import run_dir_tracking_uri
    from hpsearch.tracking.ui import serve_ui

    uri = args.uri
    if uri is not None:
        from hpsearch.tracking.mlflow_tracker import check_tracking_uri

        check_tracking_uri(uri, source="command line", field="--uri")
    if uri is None and args.run_dir is not None:
        from hpsearch.runner.rundir import RunDir

        uri = run_dir_tracking_uri(RunDir.open(args.run_dir).path)
    return serve_ui(uri, host=args.host, port=args.port)


def _dropped_text(report: dict[str, Any]) -> str:
    """How many lines the loading left out, and why (the run directory lists them all)."""
    counts = [
        (report.get("genotype_lines_without_phenotype_row", 0), "genotyped, no phenotype row"),
        (report.get("phenotype_lines_without_genotypes", 0), "phenotype row, no genotypes"),
        (report.get("dropped_missing_trait", 0), "for a missing trait value"),
    ]
    parts = [f"{n} {why}" for n, why in counts if n]
    if not parts:
        return "no line dropped"
    return "lines dropped: " + ", ".join(parts) + " (all named in the run's dropped_lines.tsv)"


def cmd_validate(args: argparse.Namespace) -> int:
    from hpsearch.config import load_config
    from hpsearch.runner.experiment import prepare

    prepared = prepare(load_config(args.config))
    config, data = prepared.config, prepared.data
    print(f"{args.config}: OK")
    print(
        f"  data      {data.n_lines} lines × {data.n_markers} markers; trait {data.trait!r} "
        f"({data.task}); {_dropped_text(prepared.load_report)}"
    )
    print(f"  space     {config.space} ({len(prepared.space)} parameters)")
    print(
        f"  model     {config.model}; metric {prepared.objective.metric} "
        f"({prepared.objective.direction})"
    )
    sizes = [
        f"{p.outer.name}: {len(p.outer.train)} train / {len(p.outer.valid)} test"
        for p in prepared.plans
    ]
    print(f"  outer     {'; '.join(sizes)}")
    print(f"  inner     {len(prepared.plans[0].inner)} splits per outer fold")
    stages = ", ".join(f"{s.strategy} × {s.trials}" for s in config.stages)
    print(f"  stages    {stages}; executor {config.execution.executor}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from hpsearch.errors import ConfigError
    from hpsearch.runner.progress import format_params
    from hpsearch.runner.rundir import RunDir

    if args.top < 1:
        raise ConfigError.at("command line", "--top", "be an integer >= 1", args.top)
    run_dir = RunDir.open(args.run_dir)
    folds = run_dir.folds()
    print(f"{run_dir.path}")
    for fold in folds:
        records = fold.journal.read()
        ok = [r for r in records if r.result.ok and r.result.score is not None]
        failed = len(records) - len(ok)
        print(f"  {fold.name}: {len(records)} trials ({failed} failed)")
        summary = run_dir.read_summary() or {}
        direction = summary.get("direction", "maximize")
        ok.sort(key=lambda r: -r.result.score if direction == "maximize" else r.result.score)
        for r in ok[: args.top]:
            print(
                f"    #{r.trial_id:<4} {r.result.score:.4f}  stage {r.stage} {r.strategy:<8} "
                f"{format_params(r.result.params, 12)}"
            )
    summary = run_dir.read_summary()
    if summary:
        print_summary(summary, run_dir.path, header=False)
    else:
        print(
            "  (no summary.json yet: the search has not finished; 'hpsearch resume' continues it)"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "strategies":
        from hpsearch.strategies import STRATEGIES as registry
    elif args.what == "models":
        from hpsearch.models import MODELS as registry
    else:
        from hpsearch.config import default_space_path

        folder = default_space_path("mlp", Path.cwd(), "list").parent
        for path in sorted(folder.glob("*.yaml")):
            print(f"{path.stem:<12} {path}")
        return 0
    for name, description in registry.describe().items():
        print(f"{name:<12} {description}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from hpsearch.data.simulate import simulate, write_simulated

    sim = simulate(
        n_lines=args.lines, n_markers=args.markers, n_traits=args.traits, n_qtl=args.qtl,
        h2=args.h2, epistasis=args.epistasis, n_folds=args.folds, coding=args.coding,
        seed=args.seed,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    paths = write_simulated(sim, args.out, prefix=args.prefix)
    for kind, path in paths.items():
        print(f"{kind:<12} {path}")
    return 0


# -- output ----------------------------------------------------------------------------------


def print_summary(summary: dict[str, Any], path: Path, *, header: bool = True) -> None:
    """The best configuration, its inner score and the outer-test metrics, per fold."""
    from hpsearch.runner.progress import format_params

    metric = summary["metric"]
    if header:
        print(f"\nrun directory: {path}")
    for fold in summary["folds"]:
        if fold["best_params"] is None:
            print(f"{fold['fold']}: no completed trial ({fold['n_failed']} failed)")
            continue
        outer = fold["outer_metrics"] or {}
        outer_text = ", ".join(f"{k} {v:.4f}" for k, v in outer.items() if isinstance(v, float))
        print(
            f"{fold['fold']}: best trial #{fold['best_trial']} of {fold['n_trials']}: "
            f"inner {metric} {fold['inner_score']:.4f}"
        )
        print(f"  params: {format_params(fold['best_params'], 40)}")
        print(
            f"  outer test: {outer_text or 'not evaluated'}"
            + (f" (stopped early: {fold['stopped_early']})" if fold.get("stopped_early") else "")
        )
    across = summary.get("outer_across_folds") or {}
    if len(summary["folds"]) > 1 and across:
        parts = [
            f"{k} {v['mean']:.4f} ± {v['sd']:.4f}"
            for k, v in across.items()
            if k in (metric, "pearson_r", "mse", "roc_auc", "accuracy")
        ]
        print(f"across {len(summary['folds'])} outer folds: " + ", ".join(parts))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())

"""A whole experiment: load data, make the outer folds, search each one, write the summary."""

from __future__ import annotations

import difflib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpsearch.config import ExperimentConfig, parse_config, read_yaml
from hpsearch.data.dataset import FoldPlan, GenomicData
from hpsearch.data.loading import DROPPED_LINES_KEY
from hpsearch.errors import ConfigError
from hpsearch.runner.context import TrialContext
from hpsearch.runner.executors import Executor, InProcessExecutor
from hpsearch.runner.rundir import RunDir
from hpsearch.runner.search import FoldOutcome, FoldSearch, SearchObserver, deadline_from
from hpsearch.space import Space, load_space
from hpsearch.tracking.journal import write_text_atomic
from hpsearch.trial import Objective

#: The run directory's list of every line the data loading left out, with the reason.
DROPPED_LINES_FILE = "dropped_lines.tsv"


@dataclass
class Prepared:
    """A checked experiment, ready to search: what ``hpsearch validate`` builds and reports."""

    config: ExperimentConfig
    space: Space
    data: GenomicData
    load_report: dict[str, Any]
    plans: list[FoldPlan]
    objective: Objective


@dataclass
class ExperimentOutcome:
    run_dir: RunDir
    folds: list[FoldOutcome]
    summary: dict[str, Any]


def prepare(config: ExperimentConfig, *, space: Space | None = None) -> Prepared:
    """Check everything that can be checked before the first trial (fast: no TensorFlow)."""
    from hpsearch.data.folds import outer_plans
    from hpsearch.data.loading import load_dataset
    from hpsearch.models import MODELS
    from hpsearch.strategies import STRATEGIES

    if config.model not in MODELS and ":" not in config.model:
        MODELS.get(config.model, source=config.source, field="model")  # raises with the list
    for i, stage in enumerate(config.stages):
        if stage.strategy not in STRATEGIES and ":" not in stage.strategy:
            STRATEGIES.get(stage.strategy, source=config.source, field=f"stages[{i}].strategy")
    space = space or load_space(config.space)
    check_space_keys(space, config)
    data, report = load_dataset(
        genotypes=config.data.genotypes,
        phenotypes=config.data.phenotypes,
        trait=config.data.trait,
        task=config.data.task,
        genotype_options=config.data.genotype_options,
        phenotype_options=config.data.phenotype_options,
        source=config.source,
        genotype_format=config.data.genotype_format,
        covariates=config.data.covariates,
        map_file=config.data.map,
        marker_order_kind=config.data.marker_order,
        marker_order_seed=(
            config.seed if config.data.marker_order_seed is None else config.data.marker_order_seed
        ),
        cache_dir=config.output / ".cache",
    )
    check_builder_covariates(config, data)
    objective = Objective.for_metric(config.metric_for(data.task), source=config.source)
    _check_metric_fits_task(config, data.task, objective)
    plans = outer_plans(
        data,
        config.evaluation.outer,
        config.evaluation.inner,
        seed=config.seed,
        base_dir=config.base_dir,
        source=config.source,
    )
    return Prepared(config, space, data, report, plans, objective)


def prepare_starting_ray(config: ExperimentConfig, space: Space | None = None) -> Prepared:
    """``prepare`` (data loading), with Ray starting meanwhile when the search will use it.

    ``ray.init`` waits seconds on processes it spawns; overlapping it with the genotype
    parsing (and the MLflow set-up after) shortens every Ray run by that much. Bad data still
    ends in one line and exit code 2: the early Ray is shut down first.
    """
    if config.execution.executor != "ray":
        return prepare(config, space=space)
    from hpsearch.runner.ray_start import cancel_early, start_early

    start_early(config.execution)
    try:
        return prepare(config, space=space)
    except BaseException:
        cancel_early()
        raise


def check_space_keys(space: Space, config: ExperimentConfig) -> None:
    """Refuse space parameters that nothing reads (a typo like ``learnig_rate`` would otherwise
    be searched over, to no effect). Builders that do not declare ``parameters`` are trusted."""
    from hpsearch.config import PREPROCESS_KEYS
    from hpsearch.models import get_builder
    from hpsearch.training import TRAINER_PARAMETERS

    builder = get_builder(config.model, source=config.source)
    declared = getattr(builder, "parameters", None)
    if declared is None:
        return
    known = set(declared) | set(TRAINER_PARAMETERS) | set(PREPROCESS_KEYS)
    for name in space.names:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise ConfigError.at(
                str(config.space),
                name,
                f"be a parameter that model {config.model!r}, the trainer or preprocessing reads",
                name,
                f"did you mean {close[0]!r}?" if close else None,
            )


def check_builder_covariates(config: ExperimentConfig, data: GenomicData) -> None:
    """Refuse, before any trial, a builder that cannot take the covariates as a second input
    (every trial would fail the same way)."""
    from hpsearch.models import accepts_covariates, covariates_error, get_builder

    if data.covariates is None or not data.covariate_names:
        return
    builder = get_builder(config.model, source=config.source)
    if not accepts_covariates(builder):
        raise covariates_error(builder, data.covariate_names, source=config.source)


def _check_metric_fits_task(config: ExperimentConfig, task: str, objective: Objective) -> None:
    fits = {
        "regression": {"pearson_r", "spearman_r", "mse", "rmse"},
        "binary": {"roc_auc", "accuracy", "log_loss"},
        "multiclass": {"accuracy", "log_loss"},
    }[task]
    if objective.metric not in fits:
        raise ConfigError.at(
            config.source,
            "evaluation.metric",
            f"suit a {task} trait ({', '.join(sorted(fits))})",
            objective.metric,
        )


def make_executor(config: ExperimentConfig, run_dir: RunDir) -> Executor:
    """The executor the config asks for; Ray keeps its trial files under the run directory."""
    if config.execution.executor == "inprocess":
        return InProcessExecutor()
    from hpsearch.runner.ray_tune import RayExecutor

    return RayExecutor(
        config.execution,
        run_name=config.name,
        storage_path=run_dir.path / "ray",
        scheduler=config.execution.scheduler,
    )


def start_run_dir(prepared: Prepared) -> RunDir:
    """A fresh run directory holding the resolved config, the space and the data summary."""
    from hpsearch.tracking.mlflow_tracker import mask_credentials

    config = prepared.config
    run_dir = RunDir.create(config.output, config.name)
    resolved = config.to_dict()
    if resolved["tracking"].get("uri"):
        # credentials never go to disk; a resume takes them from MLflow's own variables
        # MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead
        uri = mask_credentials(resolved["tracking"]["uri"])
        resolved["tracking"]["uri"] = uri.replace("://***@", "://", 1)
    run_dir.write_config(resolved, prepared.space.to_yaml())
    write_data_files(run_dir, prepared)
    return run_dir


def write_data_files(run_dir: RunDir, prepared: Prepared) -> None:
    """``data.json`` (data summary and load report) and, when lines were left out,
    ``dropped_lines.tsv`` naming every one with its reason (the report keeps 5 examples)."""
    report = dict(prepared.load_report)
    dropped = report.pop(DROPPED_LINES_KEY, None) or []
    report["dropped_lines_file"] = DROPPED_LINES_FILE if dropped else None
    data = {"summary": prepared.data.summary(), "load_report": report}
    run_dir.write_json("data.json", data)
    if dropped:  # every line left out, by name: the breeder's check that nobody went missing
        rows = "".join(f"{line}\t{reason}\n" for line, reason in dropped)
        write_text_atomic(run_dir.path / DROPPED_LINES_FILE, "line_id\treason\n" + rows)


def run_experiment(
    prepared: Prepared,
    *,
    run_dir: RunDir | None = None,
    executor: Executor | None = None,
    observers: Sequence[SearchObserver] = (),
) -> ExperimentOutcome:
    """Search every outer fold (resuming whatever ``run_dir`` already holds)."""
    config = prepared.config
    run_dir = run_dir or start_run_dir(prepared)
    executor = executor or make_executor(config, run_dir)
    deadline = deadline_from(config.execution.time_limit_minutes)
    outcomes = []
    try:
        for plan in prepared.plans:
            context = TrialContext(
                data=prepared.data,
                plan=plan,
                model=config.model,
                objective=prepared.objective,
                preprocess=config.preprocess,
                search_seed=config.seed,
                threads=config.execution.threads_per_trial,
            )
            search = FoldSearch(
                config,
                prepared.space,
                context,
                run_dir.fold(plan.outer.name),
                executor,
                observers=observers,
                deadline=deadline,
            )
            outcomes.append(search.run())
    finally:
        executor.close()
    summary = summarise(prepared, outcomes)
    run_dir.write_json("summary.json", summary)
    return ExperimentOutcome(run_dir, outcomes, summary)


def summarise(prepared: Prepared, outcomes: Sequence[FoldOutcome]) -> dict[str, Any]:
    """Per-fold results plus mean and sd of each outer-test metric across folds."""
    per_metric: dict[str, list[float]] = {}
    for outcome in outcomes:
        for key, value in outcome.outer_metrics.items():
            if isinstance(value, (int, float)):
                per_metric.setdefault(key, []).append(float(value))
    across = {
        key: {
            "mean": statistics.fmean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n_folds": len(values),
        }
        for key, values in per_metric.items()
    }
    return {
        "name": prepared.config.name,
        "metric": prepared.objective.metric,
        "direction": prepared.objective.direction,
        "data": prepared.data.summary(),
        "folds": [o.to_dict() for o in outcomes],
        "outer_across_folds": across,
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def load_run_config(run_dir: RunDir) -> tuple[ExperimentConfig, Space]:
    """The config and the frozen space of an existing run (for resume and show)."""
    raw = read_yaml(run_dir.config_path)
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "output"}
    config = parse_config(raw, source=str(run_dir.config_path), base_dir=Path(run_dir.path))
    config.output = run_dir.path.parent
    return config, load_space(run_dir.space_path)

"""The search report of a run directory: what the search found and which parameters mattered.

Per outer fold, from the journal alone (no TensorFlow, no re-training):

* best-so-far against trials done (the tracker's own figure);
* parameter importance by fANOVA (random-forest variance decomposition) and PED-ANOVA (which
  parameters separate the top 10 % of trials from the rest), computed by Optuna's evaluators on
  an in-memory study rebuilt from the journal; conditional parameters that some trials lack
  are not rated (Optuna rates only parameters present in every completed trial);
* the score against each parameter, one small panel per parameter;
* parallel coordinates of the most important parameters, coloured by score.

Written to ``RUN_DIR/report/`` (PNG, ``report.md``, ``report.html``, ``report.json``) and,
when the run was tracked, attached to each fold's MLflow parent run under ``report/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.reporting import Document, cell

if TYPE_CHECKING:
    from hpsearch.decisions.export import RunView
    from hpsearch.space import Parameter, Space
    from hpsearch.trial import Objective, TrialRecord

REPORT_FOLDER = "report"
#: Fewest completed trials for which parameter importance is computed.
MIN_TRIALS_FOR_IMPORTANCE = 5
#: Most parameters drawn in the parallel-coordinates plot (the most important ones).
MAX_PARALLEL_AXES = 12
_PANEL_COLUMNS = 4


# -- MLflow: where a run directory's runs are -----------------------------------------------------


@dataclass
class RunStore:
    """The MLflow store and experiment of a run directory, and its folds' parent runs."""

    uri: str
    experiment: str
    experiment_id: str
    client: Any
    parents: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def mlflow_calls() -> Iterator[None]:
    """The tracker's bounded HTTP retries and quiet console, for calls made here."""
    import logging

    from hpsearch.tracking.mlflow_tracker import call_env

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with call_env():
        yield


def mlflow_experiment(uri: str | None, experiment: str) -> tuple[Any, str, str]:
    """(client, experiment id, resolved URI): the experiment got or created exactly as the
    search's tracker does it (artifacts next to a sqlite store, not in ./mlruns)."""
    from hpsearch import __version__
    from hpsearch.tracking.mlflow_tracker import MlflowTracker

    tracker = MlflowTracker(
        uri=uri, experiment=experiment, run_dir=Path.cwd(), config={}, space_yaml="",
        data_summary={}, metric="pearson_r", direction="maximize", hpsearch_version=__version__,
    )  # fmt: skip
    with mlflow_calls():
        experiment_id = tracker._experiment()
    return tracker.client, experiment_id, tracker.uri


def open_run_store(
    run_dir: str | Path, *, uri: str | None = None, experiment: str | None = None
) -> RunStore:
    """The store the run's tracker used (config ``tracking``, then ``mlflow.json``, then the
    default), the experiment (created as the tracker would, artifacts next to a sqlite file)
    and the parent runs ``mlflow.json`` remembers that still exist."""
    from hpsearch.tracking.mlflow_tracker import REMEMBER_FILE, MlflowTracker

    try:
        remembered = json.loads((Path(run_dir) / REMEMBER_FILE).read_text())
    except (OSError, ValueError):
        remembered = {}
    if not isinstance(remembered, dict):
        remembered = {}
    # mlflow.json names the experiment its runs are in ('hpsearch sync --experiment' may have
    # chosen another than the config's)
    experiment = experiment or remembered.get("experiment")
    tracker = MlflowTracker.from_run_dir(run_dir, uri=uri, experiment=experiment)
    with mlflow_calls():
        experiment_id = tracker._experiment()  # get-or-create, same artifact location rules
        parents: dict[str, str] = {}
        for fold, run_id in (remembered.get("parents") or {}).items():
            try:
                run = tracker.client.get_run(run_id)
            except Exception:  # deleted, or another store: not ours to attach to
                continue
            if run.info.lifecycle_stage == "active" and run.info.experiment_id == experiment_id:
                parents[str(fold)] = run_id
    return RunStore(tracker.uri, tracker.experiment, experiment_id, tracker.client, parents)


def tracking_wanted(run: RunView, flag: bool | None) -> bool:
    """``flag`` when given; else whether the run reached MLflow (its tracker or ``hpsearch
    sync`` wrote ``mlflow.json``)."""
    from hpsearch.tracking.mlflow_tracker import REMEMBER_FILE

    return flag if flag is not None else (run.path / REMEMBER_FILE).is_file()


# -- importance --------------------------------------------------------------------------------


@dataclass
class Importance:
    """Normalised importances per evaluator, and why some parameters were not rated."""

    by_method: dict[str, dict[str, float]] = field(default_factory=dict)
    #: parameter -> which evaluators did not rate it, and why
    not_rated: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def order(self, names: Sequence[str]) -> list[str]:
        """``names`` by decreasing importance (fANOVA, then PED-ANOVA), unrated last."""
        first = next(iter(self.by_method.values()), {})
        return sorted(names, key=lambda n: (-first.get(n, -1.0), list(names).index(n)))


def searched(space: Space) -> list[Parameter]:
    """The parameters a search varies (fixed ones are left out)."""
    from hpsearch.space import FixedParam

    return [p for p in space if not isinstance(p, FixedParam)]


def _optuna_value(param: Parameter, value: Any) -> tuple[Any, Any]:
    """(distribution, internal value) of a parameter value; ordinals become their index."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from hpsearch.space import CategoricalParam, FloatParam, IntParam, OrdinalParam

    if isinstance(param, FloatParam):
        return FloatDistribution(param.low, param.high, log=param.log), float(value)
    if isinstance(param, IntParam):
        return IntDistribution(param.low, param.high, log=param.log), int(value)
    if isinstance(param, OrdinalParam):
        return IntDistribution(0, len(param.values) - 1), level_index(param, value)
    if isinstance(param, CategoricalParam):
        return CategoricalDistribution(list(param.choices)), value
    raise TypeError(f"parameter {param.name!r} has no Optuna distribution")


def level_index(param: Parameter, value: Any) -> int:
    """Position of ``value`` among an ordinal's values or a categorical's choices."""
    from hpsearch.space import same_value

    options = getattr(param, "values", None) or getattr(param, "choices", ())
    for i, option in enumerate(options):
        if same_value(option, value):
            return i
    raise ValueError(f"{value!r} is not a level of {param.name!r}")


def param_importances(
    space: Space, records: Sequence[TrialRecord], objective: Objective
) -> Importance:
    """fANOVA and PED-ANOVA importances over the completed trials (see module doc)."""
    from hpsearch.decisions.export import completed

    out = Importance()
    done = completed(records)
    params = searched(space)
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        out.notes.append(
            f"importance needs at least {MIN_TRIALS_FOR_IMPORTANCE} completed trials "
            f"({len(done)} here)"
        )
        return out
    conditional = {
        p.name: sum(p.name in r.result.params for r in done)
        for p in params
        if any(p.name not in r.result.params for r in done)
    }
    import optuna
    from optuna.importance import (
        FanovaImportanceEvaluator,
        PedAnovaImportanceEvaluator,
        get_param_importances,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=objective.direction)
    names = {p.name: p for p in params}
    for record in done:
        values, distributions = {}, {}
        for name, value in record.result.params.items():
            if name in names:
                distributions[name], values[name] = _optuna_value(names[name], value)
        study.add_trial(
            optuna.trial.create_trial(
                params=values, distributions=distributions, value=float(record.result.score)
            )
        )
    evaluators = {
        "fANOVA": FanovaImportanceEvaluator(seed=0),
        "PED-ANOVA": PedAnovaImportanceEvaluator(),
    }
    for method, evaluator in evaluators.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = get_param_importances(study, evaluator=evaluator)
        except Exception as exc:  # too few distinct values, one trial per level, ...
            out.notes.append(f"{method} not computed: {type(exc).__name__}: {exc}")
            continue
        out.by_method[method] = {str(k): float(v) for k, v in scores.items()}
    for p in params:
        lacking = [m for m, scores in out.by_method.items() if p.name not in scores]
        if lacking and any(p.name in r.result.params for r in done):
            why = (
                f"conditional: set in {conditional[p.name]} of {len(done)} trials"
                if p.name in conditional
                else "its values did not vary"
            )
            out.not_rated[p.name] = f"not rated by {' or '.join(lacking)} ({why})"
    return out


# -- figures -------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def importance_figure(importance: Importance, *, title: str) -> Any:
    """Horizontal bars, one group per parameter, one bar per evaluator."""
    methods = list(importance.by_method)
    names = importance.order(sorted({n for m in methods for n in importance.by_method[m]}))
    figure = _figure(7.0, 1.2 + 0.32 * max(1, len(names)) * max(1, len(methods)) / 1.4)
    axes = figure.add_subplot()
    height = 0.8 / max(1, len(methods))
    for j, method in enumerate(methods):
        ys = [i + (j - (len(methods) - 1) / 2) * height for i in range(len(names))]
        xs = [importance.by_method[method].get(n, 0.0) for n in names]
        axes.barh(ys, xs, height=height * 0.95, label=method, color=f"C{j}")
        for y, n in zip(ys, names, strict=True):
            if n not in importance.by_method[method]:
                axes.text(0.005, y, f"not rated by {method}", fontsize=7, va="center", color="0.4")
    axes.set_yticks(range(len(names)), names)
    axes.invert_yaxis()
    axes.set_xlabel("importance (normalised: each method sums to 1)")
    axes.set_title(title)
    axes.set_xlim(0, 1)
    axes.grid(axis="x", alpha=0.3)
    if methods:
        axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def _levels(param: Parameter) -> list[Any] | None:
    return list(getattr(param, "values", None) or getattr(param, "choices", None) or []) or None


def score_by_parameter_figure(
    space: Space,
    records: Sequence[TrialRecord],
    objective: Objective,
    *,
    title: str,
    order: Sequence[str],
) -> Any:
    """One small panel per searched parameter: each completed trial's score at its value."""
    from matplotlib.ticker import MaxNLocator

    from hpsearch.decisions.export import completed
    from hpsearch.space import FloatParam, IntParam

    done = completed(records)
    params = [space[name] for name in order]
    columns = min(_PANEL_COLUMNS, max(1, len(params)))
    rows = max(1, math.ceil(len(params) / columns))
    figure = _figure(3.1 * columns, 2.5 * rows + 0.6)
    best = min(done, key=lambda r: (objective.loss(r.result.score), r.trial_id)) if done else None
    jitter = random.Random(0)
    for k, param in enumerate(params):
        axes = figure.add_subplot(rows, columns, k + 1)
        have = [r for r in done if param.name in r.result.params]
        ys = [float(r.result.score) for r in have]  # type: ignore[arg-type]
        levels = _levels(param)
        if isinstance(param, (FloatParam, IntParam)):
            xs = [float(r.result.params[param.name]) for r in have]
            low, high = float(param.low), float(param.high)
            if getattr(param, "log", False) and low > 0:
                axes.set_xscale("log")
                pad = (high / low) ** 0.04
                axes.set_xlim(low / pad, high * pad)  # the space's range, not the trials'
            else:
                pad = 0.04 * (high - low) or 0.5
                axes.set_xlim(low - pad, high + pad)
                if isinstance(param, IntParam):
                    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        elif levels is not None:
            xs = [level_index(param, r.result.params[param.name]) for r in have]
            xs = [x + jitter.uniform(-0.15, 0.15) for x in xs]
            axes.set_xticks(range(len(levels)), [str(v) for v in levels])
            axes.set_xlim(-0.5, len(levels) - 0.5)
            if sum(len(str(v)) for v in levels) > 24:
                axes.tick_params(axis="x", labelrotation=45, labelsize=7)
        else:
            xs = [0.0] * len(have)
        axes.plot(xs, ys, "o", markersize=3.5, alpha=0.6, color="C0")
        if best is not None and param.name in best.result.params:
            bx = best.result.params[param.name]
            bx = float(bx) if levels is None else level_index(param, bx)
            axes.plot([bx], [best.result.score], "*", markersize=12, color="C3", label="best")
        axes.set_title(param.name, fontsize=9)
        axes.tick_params(which="both", labelsize=7)
        axes.grid(alpha=0.3)
        if k % columns == 0:
            axes.set_ylabel(objective.metric, fontsize=8)
    figure.suptitle(f"{title}: score against each parameter (★ = best trial)", fontsize=11)
    figure.tight_layout()
    return figure


def _axis_position(param: Parameter, value: Any) -> float:
    """A value's place on its parallel-coordinates axis, 0 (low / first level) .. 1."""
    from hpsearch.space import FloatParam, IntParam

    if isinstance(param, (FloatParam, IntParam)):
        low, high, v = float(param.low), float(param.high), float(value)
        if param.log and low > 0:
            low, high, v = math.log(low), math.log(high), math.log(v)
        return 0.5 if high == low else (v - low) / (high - low)
    levels = _levels(param) or [value]
    return 0.5 if len(levels) == 1 else level_index(param, value) / (len(levels) - 1)


def _axis_labels(param: Parameter) -> list[tuple[float, str]]:
    from hpsearch.space import FloatParam, IntParam

    if isinstance(param, (FloatParam, IntParam)):
        return [(0.0, f"{param.low:g}"), (1.0, f"{param.high:g}")]
    levels = _levels(param) or []
    if len(levels) == 1:
        return [(0.5, str(levels[0]))]
    return [(i / (len(levels) - 1), str(v)) for i, v in enumerate(levels)]


def parallel_coordinates_figure(
    space: Space,
    records: Sequence[TrialRecord],
    objective: Objective,
    *,
    title: str,
    order: Sequence[str],
) -> Any:
    """One line per completed trial across the parameters' axes and a final score axis."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from hpsearch.decisions.export import completed

    done = completed(records)
    params = [space[name] for name in order[:MAX_PARALLEL_AXES]]
    figure = _figure(max(7.0, 1.05 * (len(params) + 1) + 2.0), 5.0)
    axes = figure.add_subplot()
    scores = np.array([float(r.result.score) for r in done])  # type: ignore[arg-type]
    low, high = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)
    span = high - low or 1.0
    cmap = colormaps["viridis" if objective.maximize else "viridis_r"]
    norm = Normalize(low, high if high > low else low + 1.0)
    ranked = sorted(done, key=lambda r: -objective.loss(r.result.score))  # worst drawn first
    xs = list(range(len(params) + 1))
    for record in ranked:
        ys = [
            _axis_position(p, record.result.params[p.name])
            if p.name in record.result.params
            else np.nan
            for p in params
        ]
        ys.append((float(record.result.score) - low) / span)  # type: ignore[arg-type]
        axes.plot(xs, ys, color=cmap(norm(record.result.score)), alpha=0.55, linewidth=1.0)
    if ranked:
        best = ranked[-1]
        ys = [
            _axis_position(p, best.result.params[p.name])
            if p.name in best.result.params
            else np.nan
            for p in params
        ]
        ys.append((float(best.result.score) - low) / span)  # type: ignore[arg-type]
        axes.plot(xs, ys, color="C3", linewidth=2.6, label=f"best (trial {best.trial_id})")
        axes.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), fontsize=8, frameon=False)
    for x, param in enumerate(params):
        axes.axvline(x, color="0.4", linewidth=0.8)
        for y, text in _axis_labels(param):
            axes.text(x + 0.04, y, text, fontsize=6.5, va="center", color="0.2")
    axes.axvline(len(params), color="0.4", linewidth=0.8)
    for y in (0.0, 1.0):
        axes.text(len(params) + 0.04, y, f"{low + y * span:.3f}", fontsize=6.5, va="center")
    axes.set_xticks(xs, [p.name for p in params] + [objective.metric], rotation=30, ha="right")
    axes.set_yticks([])
    axes.set_xlim(-0.2, len(params) + 0.6)
    axes.set_ylim(-0.05, 1.05)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    figure.colorbar(mappable, ax=axes, label=f"{objective.metric} ({objective.direction})")
    shown = (
        f"{len(params)} most important parameters" if len(order) > len(params) else ("parameters")
    )
    axes.set_title(f"{title}: {len(done)} completed trials across {shown}")
    figure.tight_layout()
    return figure


# -- the report --------------------------------------------------------------------------------


def _varying(space: Space, records: Sequence[TrialRecord]) -> list[str]:
    """Searched parameters that took at least one value in the completed trials."""
    from hpsearch.decisions.export import completed

    done = completed(records)
    return [p.name for p in searched(space) if any(p.name in r.result.params for r in done)]


def _params_text(params: Mapping[str, Any], skip: Sequence[str] = ()) -> str:
    """``name=value, ...`` with floats to 4 significant digits (``skip``: names left out)."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in params.items()
        if k not in skip
    )


def write_search_report(
    run_dir: str | Path, *, mlflow: bool | None = None, warn: Callable[[str], None] | None = None
) -> Path:
    """Write ``RUN_DIR/report/`` and attach it to the MLflow parents; return the folder.

    ``mlflow=None`` attaches when the run was tracked; an MLflow problem is reported through
    ``warn`` (stderr by default) and never loses the files.
    """
    from hpsearch.decisions.export import completed, open_run
    from hpsearch.tracking.mlflow_tracker import best_so_far_figure

    warn = warn or _stderr
    run = open_run(run_dir)
    folder = run.path / REPORT_FOLDER
    folder.mkdir(exist_ok=True)
    objective = run.objective
    doc = Document(f"Search report: {run.label}")
    doc.paragraph(
        f"Model `{run.model}`, trait `{run.trait}`, metric `{objective.metric}` "
        f"({objective.direction}); scores are inner-CV means, the outer test part is not used."
    )
    facts: dict[str, Any] = {"run_dir": str(run.path), "metric": objective.metric, "folds": {}}
    files: dict[str, list[Path]] = {}
    for fold, records in run.fold_records().items():
        done = completed(records)
        files[fold] = []
        doc.heading(fold)
        if not done:
            doc.paragraph(f"{len(records)} trials, none completed.")
            continue
        best = min(done, key=lambda r: (objective.loss(r.result.score), r.trial_id))
        doc.paragraph(
            f"{len(records)} trials ({len(records) - len(done)} failed or pruned). Best: trial "
            f"{best.trial_id} with {objective.metric} {cell(best.result.score)}."
        )
        doc.paragraph(f"Best configuration: `{_params_text(best.result.params)}`")
        importance = param_importances(run.space, records, objective)
        order = importance.order(_varying(run.space, records))

        def save(figure: Any, name: str, caption: str, fold: str = fold) -> None:
            path = folder / f"{fold}_{name}.png"
            figure.savefig(path)
            files[fold].append(path)
            doc.image(path.name, caption)

        done_ids = {id(r) for r in done}  # journal order = completion order
        scores = [r.result.score if id(r) in done_ids else None for r in records]
        save(best_so_far_figure(scores, objective, title=fold), "best_so_far", "best so far")
        if importance.by_method:
            save(
                importance_figure(
                    importance, title=f"{fold}: parameter importance ({len(done)} trials)"
                ),
                "importance",
                "parameter importance",
            )
            methods = list(importance.by_method)
            doc.table(
                ["parameter", *methods],
                [
                    [name, *(importance.by_method[m].get(name) for m in methods)]
                    for name in importance.order(list(importance.by_method[methods[0]]))
                ],
            )
        notes = importance.notes + [
            f"`{name}`: {why}" for name, why in importance.not_rated.items()
        ]
        if notes:
            doc.bullets(notes)
        if order:
            save(
                score_by_parameter_figure(run.space, records, objective, title=fold, order=order),
                "score_by_parameter",
                "score against each parameter",
            )
            save(
                parallel_coordinates_figure(run.space, records, objective, title=fold, order=order),
                "parallel_coordinates",
                "parallel coordinates",
            )
        top = sorted(done, key=lambda r: (objective.loss(r.result.score), r.trial_id))[:10]
        fixed = [p.name for p in run.space if p not in searched(run.space)]
        doc.table(
            ["trial", "stage", "strategy", objective.metric, "searched parameters"],
            [
                [
                    r.trial_id,
                    r.stage,
                    r.strategy,
                    r.result.score,
                    _params_text(r.result.params, fixed),
                ]
                for r in top
            ],
        )
        facts["folds"][fold] = {
            "n_trials": len(records),
            "n_completed": len(done),
            "best_trial": best.trial_id,
            "best_score": best.result.score,
            "importance": importance.by_method,
            "not_rated": importance.not_rated,
            "notes": importance.notes,
        }
    doc.write(folder)
    (folder / "report.json").write_text(json.dumps(facts, indent=1, default=str))
    if tracking_wanted(run, mlflow):
        try:
            attached = _attach(run, folder, files)
        except Exception as exc:  # a mirror: the files are written whatever happens here
            from hpsearch.tracking.mlflow_tracker import mask_credentials

            problem = mask_credentials(f"{type(exc).__name__}: {exc}")
            warn(f"hpsearch: the report was not attached to MLflow ({problem}); see {folder}")
        else:
            missing = sorted(set(files) - set(attached))
            if missing:
                warn(f"hpsearch: no MLflow parent run for {', '.join(missing)}; report in {folder}")
    return folder


def _attach(run: RunView, folder: Path, files: Mapping[str, list[Path]]) -> list[str]:
    """Log each fold's figures and the report files on its parent run; return those folds."""
    from hpsearch.tracking.mlflow_tracker import mask_credentials

    store = open_run_store(run.path)
    done = []
    with mlflow_calls():
        for fold, paths in files.items():
            parent = store.parents.get(fold)
            if parent is None:
                continue
            for path in [*paths, folder / "report.md", folder / "report.html"]:
                store.client.log_artifact(parent, str(path), REPORT_FOLDER)
            done.append(fold)
    if done:
        print(
            f"MLflow: report attached to {len(done)} parent run(s) in {mask_credentials(store.uri)}"
        )
    return done


def report_after_search(
    run_dir: str | Path, *, mlflow: bool | None = None, warn: Callable[[str], None] | None = None
) -> Path | None:
    """The runner's end-of-search hook: write the report, never fail the search."""
    warn = warn or _stderr
    try:
        return write_search_report(run_dir, mlflow=mlflow, warn=warn)
    except Exception as exc:
        warn(f"hpsearch: the search report was not written ({type(exc).__name__}: {exc}); "
             f"'hpsearch report {run_dir}' retries")  # fmt: skip
        return None


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- command line -------------------------------------------------------------------------------


def add_report_parser(subparsers: Any) -> None:
    """``hpsearch report RUN_DIR [--no-mlflow]``."""
    parser = subparsers.add_parser(
        "report",
        help="search report of a run: best so far, parameter importance, parallel coordinates",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument(
        "--no-mlflow", action="store_true", help="write RUN_DIR/report/ only (no MLflow)"
    )


def cmd_report(args: argparse.Namespace) -> int:
    folder = write_search_report(args.run_dir, mlflow=False if args.no_mlflow else None)
    print(f"report: {folder / 'report.md'} (and report.html, PNG figures)")
    return 0

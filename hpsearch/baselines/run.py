"""Baselines on exactly the outer folds of an experiment, and the ``hpsearch baseline`` command.

For every outer fold of ``prepared.plans`` and every method: fit the experiment's preprocessing
on the fold's training rows (imputation means, SNP preselection, target standardisation: the
``preprocess:`` section, as the network gets it), let the estimator choose its hyperparameters
by inner CV / REML on those rows only, predict the test rows once and score them with
:func:`hpsearch.metrics.score_predictions` on the trait's scale. ``scale_markers`` is a network
input option and is not applied: baselines see the markers in their own coding (GBLUP's
VanRaden scaling is part of its definition). Covariates (``data.covariates``) are encoded on the
same training rows (:func:`hpsearch.data.covariates.encode_covariates`: one-hot levels, means
and sds of the training part only) and given to every estimator as fixed effects.

The table goes to ``baselines.json`` + ``baselines.md`` in a run directory first; MLflow
(one run per method) is a mirror whose failure costs one warning line, never the table.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpsearch.baselines.compare import BASELINES_FILE, fmt, markdown_table
from hpsearch.baselines.methods import BASELINES, DEFAULT_METHODS, BaselineMethod, genotype_coding
from hpsearch.errors import ConfigError

if TYPE_CHECKING:
    from hpsearch.data.dataset import GenomicData, Split
    from hpsearch.data.preprocess import PreprocessOptions, Preprocessor
    from hpsearch.runner.experiment import Prepared
    from hpsearch.runner.rundir import RunDir

MARKDOWN_FILE = "baselines.md"
Warn = Callable[[str], None]


# -- results -----------------------------------------------------------------------------------


@dataclass
class FoldResult:
    """One method on one outer fold."""

    method: str
    fold: str
    n_train: int
    n_test: int
    n_markers: int  # after preselection
    metrics: dict[str, float]
    chosen: dict[str, Any]
    fit_seconds: float
    predict_seconds: float
    #: Encoded covariate columns of this fold's training part (empty: none used).
    covariates: list[str] = field(default_factory=list)
    #: Fixed-effect estimates by column ("intercept", then covariate columns) when the
    #: method fits them (ridge, GBLUP, RKHS with covariates).
    fixed_effects: dict[str, float] = field(default_factory=dict)
    #: The test lines' observed values and predictions (regression: the trait's scale;
    #: binary: P(class 1); empty for multiclass), for the pooled accuracy over folds.
    observed: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))


@dataclass
class BaselineReport:
    """All methods on all outer folds of one experiment, plus how they were run."""

    name: str
    task: str
    metric: str
    direction: str
    seed: int
    methods: list[str]
    folds: list[dict[str, Any]]
    results: list[FoldResult]
    skipped: dict[str, str] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    #: Covariates used as fixed effects: {"names": [...], "kinds": [...]}; {} when none.
    covariates: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None
    mlflow: dict[str, Any] = field(default_factory=dict)

    def by_method(self, metric: str | None = None) -> dict[str, dict[str, float]]:
        """Method → (fold → value of ``metric``; default the experiment's metric)."""
        metric = metric or self.metric
        out: dict[str, dict[str, float]] = {m: {} for m in self.methods}
        for row in self.results:
            out.setdefault(row.method, {})[row.fold] = row.metrics.get(metric, math.nan)
        return out

    def pooled(self, metric: str | None = None) -> dict[str, float | None]:
        """Method → ``metric`` over all folds' test lines at once (the "pooled" accuracy many
        papers report, next to the fold mean); None where a fold is missing or for multiclass."""
        from hpsearch.metrics import score_predictions

        metric = metric or self.metric
        out: dict[str, float | None] = {}
        for method in self.methods:
            rows = [r for r in self.results if r.method == method]
            if not rows or len(rows) < len(self.folds) or any(not r.predicted for r in rows):
                out[method] = None
                continue
            observed = np.concatenate([np.asarray(r.observed, dtype=np.float64) for r in rows])
            predicted = np.concatenate([np.asarray(r.predicted, dtype=np.float64) for r in rows])
            target = observed if self.task == "regression" else observed.astype(np.int64)
            value = score_predictions(self.task, target, predicted).get(metric)
            out[method] = float(value) if value is not None and math.isfinite(value) else None
        return out

    def metric_names(self) -> list[str]:
        names: list[str] = []
        for row in self.results:
            names.extend(k for k in row.metrics if k not in names)
        return names

    def summary(self) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """Method → metric → mean, sd (over folds with a finite value) and n_folds."""
        out: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for method in self.methods:
            rows = [r for r in self.results if r.method == method]
            entry: dict[str, dict[str, float | int | None]] = {}
            for name in [*self.metric_names(), "fit_seconds"]:
                values = [
                    float(r.fit_seconds if name == "fit_seconds" else r.metrics.get(name, math.nan))
                    for r in rows
                ]
                finite = [v for v in values if math.isfinite(v)]
                entry[name] = {
                    "mean": statistics.fmean(finite) if finite else None,
                    "sd": statistics.stdev(finite) if len(finite) > 1 else None,
                    "n_folds": len(finite),
                }
            out[method] = entry
        return out

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "name": self.name,
                "task": self.task,
                "metric": self.metric,
                "direction": self.direction,
                "seed": self.seed,
                "methods": self.methods,
                "skipped": self.skipped,
                "preprocess": self.preprocess,
                "options": self.options,
                "data": self.data,
                "covariates": self.covariates,
                "folds": self.folds,
                "results": [r.to_dict() for r in self.results],
                "summary": self.summary(),
                "mlflow": self.mlflow,
                "created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )

    def summary_rows(
        self, metrics: Sequence[str] | None = None
    ) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the method × (mean ± sd over folds) table."""
        metrics = list(metrics or self.metric_names())
        summary = self.summary()
        headers = ["method", *[f"{m} (mean ± sd)" for m in metrics], "fit s / fold"]
        rows = []
        for method in self.methods:
            entry = summary[method]
            cells = [method]
            for name in metrics:
                stats = entry.get(name) or {}
                cells.append(f"{fmt(stats.get('mean'), 4)} ± {fmt(stats.get('sd'), 4)}")
            cells.append(fmt((entry.get("fit_seconds") or {}).get("mean"), 2))
            rows.append(cells)
        return headers, rows

    def to_markdown(self) -> str:
        """The summary table, then every fold × method with all metrics and the choices."""
        lines = [
            f"# Baselines: {self.name}",
            "",
            f"{self.data.get('n_lines', '?')} lines × {self.data.get('n_markers', '?')} markers, "
            f"trait {self.data.get('trait', '?')!r} ({self.task}); {len(self.folds)} outer "
            f"fold(s); metrics on each fold's test lines, trait scale; seed {self.seed}.",
            "",
            *([self.covariates_line(), ""] if self.covariates else []),
            f"## Mean ± sd over folds ({self.metric} is the experiment's metric)",
            "",
            markdown_table(*self.summary_rows()),
            *self._pooled_lines(),
        ]
        if self.skipped:
            lines += ["", *[f"- {m}: skipped ({why})" for m, why in self.skipped.items()]]
        names = self.metric_names()
        headers = ["fold", "method", "n train", "n test", *names, "fit s", "chosen"]
        rows = []
        order = {m: i for i, m in enumerate(self.methods)}
        for row in sorted(self.results, key=lambda r: (_fold_key(r.fold), order.get(r.method, 0))):
            chosen = ", ".join(f"{k}={_short(v)}" for k, v in row.chosen.items())
            rows.append(
                [
                    row.fold,
                    row.method,
                    row.n_train,
                    row.n_test,
                    *[fmt(row.metrics.get(n), 4) for n in names],
                    fmt(row.fit_seconds, 2),
                    chosen,
                ]
            )
        lines += ["", "## Per fold", "", markdown_table(headers, rows), ""]
        fixed = [r for r in self.results if r.fixed_effects]
        if fixed:
            columns: list[str] = []
            for row in fixed:
                columns.extend(k for k in row.fixed_effects if k not in columns)
            rows = [
                [row.fold, row.method, *[fmt(row.fixed_effects.get(c), 4) for c in columns]]
                for row in sorted(fixed, key=lambda r: (_fold_key(r.fold), order.get(r.method, 0)))
            ]
            lines += [
                "## Fixed effects (trait scale; intercept at the covariates' training means)",
                "",
                markdown_table(["fold", "method", *columns], rows),
                "",
            ]
        return "\n".join(lines)

    def _pooled_lines(self) -> list[str]:
        """One sentence with the pooled metric per method (several folds only)."""
        pooled = {m: v for m, v in self.pooled().items() if v is not None}
        if len(self.folds) < 2 or not pooled:
            return []
        listed = ", ".join(f"{m} {fmt(v)}" for m, v in pooled.items())
        return ["", f"Pooled {self.metric} over all folds' test lines at once: {listed}."]

    def covariates_line(self) -> str:
        """One sentence naming the covariates and how the methods used them."""
        names, kinds = self.covariates.get("names", []), self.covariates.get("kinds", [])
        listed = ", ".join(f"{name} ({kind})" for name, kind in zip(names, kinds, strict=False))
        how = (
            "ridge: unpenalised; GBLUP, RKHS: GLS in the mixed model; rf: extra features"
            if self.task == "regression"
            else "ridge (L2 logistic), rf: extra feature columns"
        )
        return (
            f"Covariates as fixed effects: {listed}; encoded on each fold's training lines ({how})."
        )


def _fold_key(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _json_safe(value: Any) -> Any:
    """NaN/inf → None and numpy scalars → Python (the journal's JSON writer refuses NaN)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and np.ndim(value) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- one method on one split -----------------------------------------------------------------


def preprocess_options(
    preprocess: Mapping[str, Any], *, source: str | None = None
) -> PreprocessOptions:
    """The experiment's ``preprocess:`` section as :class:`PreprocessOptions`."""
    from hpsearch.data.preprocess import PreprocessOptions

    try:
        return PreprocessOptions.from_params(dict(preprocess or {}))
    except ConfigError as exc:  # name the config file and the section
        raise ConfigError(exc.message, source=source, field=f"preprocess.{exc.field}") from exc


def design_matrix(pre: Preprocessor, x: np.ndarray) -> np.ndarray:
    """Selected markers in their own coding, missing calls set to the training means."""
    selected = pre.selected_
    means = pre.means_
    if selected is None or means is None:
        raise RuntimeError("the Preprocessor must be fitted first")
    block = np.asarray(x[:, selected], dtype=np.float64)
    missing = np.isnan(block)
    if missing.any():
        block[missing] = np.broadcast_to(means[selected], block.shape)[missing]
    return block


def _class_scores(
    model: Any, x: np.ndarray, task: str, n_classes: int, **covariates: Any
) -> np.ndarray:
    """Probabilities for class codes 0..k-1 (binary: of class 1), classes unseen in training
    getting 0. ``covariates``: the ``covariates=`` keyword of ``predict_proba``, if any."""
    proba = np.asarray(model.predict_proba(x, **covariates), dtype=np.float64)
    full = np.zeros((x.shape[0], n_classes))
    full[:, np.asarray(model.classes_, dtype=np.int64)] = proba
    return full[:, 1] if task == "binary" else full


def evaluate_split(
    data: GenomicData,
    split: Split,
    method: BaselineMethod,
    *,
    preprocess: PreprocessOptions,
    seed: int = 0,
    n_jobs: int | None = 1,
    options: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> FoldResult:
    """Fit ``method`` on ``split.train`` (preprocessing included) and score ``split.valid``.

    ``n_jobs`` is the CPU threads the estimator may use: random-forest workers and BLAS
    threads (-1 or None: no limit). The data set's covariates, encoded on ``split.train``
    only, reach the estimator's ``fit``/``predict`` as ``covariates=``; without covariates
    (or with zero encoded columns) the keyword is not passed at all.
    """
    from threadpoolctl import threadpool_limits

    from hpsearch.data.covariates import encode_covariates
    from hpsearch.data.preprocess import Preprocessor
    from hpsearch.metrics import score_predictions

    train, test = np.asarray(split.train), np.asarray(split.valid)
    estimator = method.make(data.task, seed=seed, n_jobs=n_jobs, options=options, source=source)
    pre = Preprocessor(preprocess, data.task).fit(data.genotypes[train], data.target[train])
    x_train = design_matrix(pre, data.genotypes[train])
    x_test = design_matrix(pre, data.genotypes[test])
    encoder, (cov_train, cov_test) = encode_covariates(data, train, test)
    features = list(encoder.feature_names_) if encoder is not None else []
    fit_kw: dict[str, Any] = {"covariates": cov_train} if features else {}
    test_kw: dict[str, Any] = {"covariates": cov_test} if features else {}
    limit = None if n_jobs is None or n_jobs < 1 else int(n_jobs)
    with threadpool_limits(limits=limit, user_api="blas"):  # BLAS threads = n_jobs
        started = time.perf_counter()
        estimator.fit(x_train, pre.transform_target(data.target[train]), **fit_kw)
        fitted = time.perf_counter()
        if data.task == "regression":
            pred = pre.inverse_target(estimator.predict(x_test, **test_kw))
        else:
            n_classes = len(data.classes) if data.classes else int(data.target.max()) + 1
            pred = _class_scores(estimator, x_test, data.task, max(n_classes, 2), **test_kw)
        predicted = time.perf_counter()
    return FoldResult(
        method=method.name,
        fold=split.name,
        n_train=int(train.size),
        n_test=int(test.size),
        n_markers=int(x_train.shape[1]),
        metrics=score_predictions(data.task, data.target[test], pred),
        chosen=dict(estimator.chosen_),
        fit_seconds=fitted - started,
        predict_seconds=predicted - fitted,
        covariates=features,
        fixed_effects=fixed_effect_estimates(estimator, features, pre),
        observed=[] if np.ndim(pred) > 1 else np.asarray(data.target[test], float).tolist(),
        predicted=[] if np.ndim(pred) > 1 else np.asarray(pred, dtype=np.float64).tolist(),
    )


def fixed_effect_estimates(
    estimator: Any, features: Sequence[str], pre: Preprocessor
) -> dict[str, float]:
    """The estimator's fixed effects b by name ("intercept", then the encoded covariate
    columns), on the trait's scale; {} when it fitted none."""
    effects = getattr(estimator, "fixed_effects_", None)
    if effects is None or len(effects) != 1 + len(features):
        return {}
    values = np.asarray(effects, dtype=np.float64)
    zero = float(np.asarray(pre.inverse_target(np.zeros(1))).reshape(-1)[0])
    scale = float(np.asarray(pre.inverse_target(np.ones(1))).reshape(-1)[0]) - zero
    values = np.concatenate([[zero + scale * values[0]], scale * values[1:]])
    return {name: float(v) for name, v in zip(["intercept", *features], values, strict=True)}


# -- all methods on all folds ------------------------------------------------------------------


def parse_methods(text: str | Sequence[str] | None, *, source: str | None = None) -> list[str]:
    """``"ridge,gblup"`` (or a list) → checked method names, in order, without repeats."""
    if text is None:
        return list(DEFAULT_METHODS)
    items = text.split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for item in items:
        name = str(item).strip()
        if not name:
            continue
        method = BASELINES.get(name, source=source, field="methods")
        if not isinstance(method, BaselineMethod):
            raise ConfigError.at(source, "methods", "name a BaselineMethod", name)
        if name not in names:
            names.append(name)
    if not names:
        raise ConfigError.at(
            source, "methods", f"name one or more of {', '.join(BASELINES.names())}", text
        )
    return names


def _fold_info(data: GenomicData, split: Split) -> dict[str, Any]:
    ids = sorted(data.line_ids[i] for i in np.asarray(split.valid))
    digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:16]
    return {
        "fold": split.name,
        "n_train": len(split.train),
        "n_test": len(split.valid),
        "test_lines_sha1": digest,
    }


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_baselines(
    prepared: Prepared,
    *,
    methods: str | Sequence[str] | None = None,
    seed: int | None = None,
    run_dir: RunDir | str | Path | None = None,
    mlflow: bool | None = None,
    uri: str | None = None,
    experiment: str | None = None,
    n_jobs: int | None = 1,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    warn: Warn | None = None,
    progress: Warn | None = None,
) -> BaselineReport:
    """Every method on every outer fold of ``prepared``; writes and returns the table.

    Defaults come from the experiment: ``seed`` = config.seed, ``mlflow``/``uri``/``experiment``
    = its ``tracking`` section (experiment name: tracking.experiment, else the config's name).
    ``run_dir``: where ``baselines.json``/``.md`` go; a new ``<output>/<name>-baselines-<time>``
    when None. ``options``: per-method estimator options, e.g. ``{"rf": {"n_estimators": 100}}``.
    Methods that do not suit the trait's task are skipped, noted in ``report.skipped`` and
    the tables (an error when none is left). ``warn`` gets the one line of an MLflow failure.
    """
    config = prepared.config
    source = config.source
    warn = warn or _stderr
    seed = config.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError.at(source, "seed", "be a non-negative integer", seed)
    data = prepared.data
    names = parse_methods(methods, source=source)
    options = {k: dict(v) for k, v in (options or {}).items()}
    for key in options:  # options of a known method that is not run are ignored
        if key not in names and key not in BASELINES:
            raise ConfigError.at(
                source, "options", f"name baselines ({', '.join(BASELINES.names())})", key
            )
    chosen: list[tuple[str, BaselineMethod]] = []
    skipped: dict[str, str] = {}
    for name in names:
        method = BASELINES.get(name, source=source, field="methods")
        if method.supports(data.task):
            chosen.append((name, method))
        else:
            skipped[name] = f"not for {data.task} traits; {method.unsupported}".rstrip("; ")
    if not chosen:
        raise ConfigError.at(
            source, "methods", f"include a method for a {data.task} trait (ridge, rf)", names
        )
    pre_options = preprocess_options(config.preprocess, source=source)
    if any(name == "gblup" for name, _ in chosen):  # the file's coding, not a fitted quantity
        options.setdefault("gblup", {}).setdefault("coding", genotype_coding(data.genotypes))
    for name, method in chosen:  # check every method's options before any work
        method.make(data.task, options=options.get(name), source=source)
    report = BaselineReport(
        name=config.name,
        task=data.task,
        metric=prepared.objective.metric,
        direction=prepared.objective.direction,
        seed=seed,
        methods=[name for name, _ in chosen],
        folds=[_fold_info(data, plan.outer) for plan in prepared.plans],
        results=[],
        skipped=skipped,
        preprocess={k: getattr(pre_options, k) for k in asdict(pre_options)},
        options=options,
        data=data.summary(),
        covariates=(
            {"names": list(data.covariate_names), "kinds": list(data.covariate_kinds or [])}
            if data.covariates is not None and data.covariate_names
            else {}
        ),
    )
    folder = _open_run_dir(prepared, run_dir)
    report.run_dir = folder.path
    for plan in prepared.plans:
        for name, method in chosen:
            row = evaluate_split(
                data,
                plan.outer,
                method,
                preprocess=pre_options,
                seed=seed,
                n_jobs=n_jobs,
                options=options.get(name),
                source=source,
            )
            row.method = name
            report.results.append(row)
            if progress is not None:
                value = row.metrics.get(prepared.objective.metric, math.nan)
                progress(
                    f"{plan.outer.name} {name:<6} {prepared.objective.metric} {fmt(value, 4)} "
                    f"({row.fit_seconds:.1f} s)"
                )
        write_report(report, folder.path)  # after every fold: an interrupted run keeps its rows
    use_mlflow = config.tracking.mlflow if mlflow is None else mlflow
    if use_mlflow:
        from hpsearch.tracking.mlflow_tracker import mask_credentials, resolve_tracking_uri

        name = experiment or config.tracking.experiment or config.name
        try:
            resolved = resolve_tracking_uri(uri if uri is not None else config.tracking.uri)
            runs = log_to_mlflow(report, uri=resolved, experiment=name)
            report.mlflow = {"uri": mask_credentials(resolved), "experiment": name, "runs": runs}
            write_report(report, folder.path)
        except Exception as exc:  # the mirror must never lose the table
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            warn(
                mask_credentials(
                    f"hpsearch baseline: MLflow logging failed ({type(exc).__name__}: {text}); "
                    f"the table is in {folder.path / BASELINES_FILE}"
                )
            )
    return report


def _open_run_dir(prepared: Prepared, run_dir: RunDir | str | Path | None) -> RunDir:
    from hpsearch.runner.experiment import write_data_files
    from hpsearch.runner.rundir import RunDir

    config = prepared.config
    if run_dir is None:
        folder = RunDir.create(Path(config.output), f"{config.name}-baselines")
    else:
        folder = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
        folder.path.mkdir(parents=True, exist_ok=True)
    if not folder.config_path.exists():  # never overwrite a network run's config
        folder.write_config(config.to_dict(), prepared.space.to_yaml())
        write_data_files(folder, prepared)
    return folder


def write_report(report: BaselineReport, folder: Path) -> None:
    """``baselines.json`` (atomic) and ``baselines.md`` in ``folder``."""
    from hpsearch.tracking.journal import write_json_atomic

    write_json_atomic(folder / BASELINES_FILE, report.to_dict())
    (folder / MARKDOWN_FILE).write_text(report.to_markdown(), encoding="utf-8")


# -- MLflow --------------------------------------------------------------------------------------


def _experiment_id(client: Any, name: str, uri: str) -> str:
    """Get or create ``name``; with a sqlite store, artifacts go next to the database file
    (as the search tracker does, so either may create the experiment first)."""
    import re

    from hpsearch import __version__
    from hpsearch.tracking.mlflow_tracker import sqlite_path

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage != "active":
            raise RuntimeError(f"experiment {name!r} is deleted")
        return str(found.experiment_id)
    db = sqlite_path(uri)
    location = None
    if db is not None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60] or "experiment"
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        location = str(db.parent / "mlruns" / f"{slug}-{digest}")
    try:
        return str(
            client.create_experiment(
                name, artifact_location=location, tags={"hpsearch.version": __version__}
            )
        )
    except Exception:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def method_payload(report: BaselineReport, method: str) -> Any:
    """Params (chosen hyperparameters per fold, options), metrics (per fold and mean ± sd over
    folds) and tags of one method's MLflow run."""
    from mlflow.entities import Metric

    from hpsearch import __version__
    from hpsearch.tracking.mlflow_tracker import (
        Payload,
        flatten,
        make_params,
        make_tags,
        mlflow_key,
    )

    stamp = int(time.time() * 1000)
    rows = [r for r in report.results if r.method == method]
    params: dict[str, Any] = {
        "baseline": method,
        "task": report.task,
        "n_folds": len(rows),
        "seed": report.seed,
        "covariates": ",".join(report.covariates.get("names", [])) or "none",
    }
    params.update(flatten(report.preprocess, "preprocess."))
    params.update(flatten(report.options.get(method) or {}, "options."))
    metrics: list[Any] = []
    for row in rows:
        params.update({f"{row.fold}.{k}": v for k, v in row.chosen.items()})
        for name, value in {**row.metrics, "fit_seconds": row.fit_seconds}.items():
            if isinstance(value, int | float) and math.isfinite(value):
                metrics.append(Metric(mlflow_key(f"{row.fold}_outer_{name}"), value, stamp, 0))
    for name, stats in report.summary()[method].items():
        for what in ("mean", "sd"):
            value = stats.get(what)
            if isinstance(value, int | float) and math.isfinite(value):
                metrics.append(Metric(mlflow_key(f"{what}_outer_{name}"), value, stamp, 0))
    tags = {
        "hpsearch.baseline": method,
        "hpsearch.role": "baseline",
        "hpsearch.metric": report.metric,
        "hpsearch.direction": report.direction,
        "hpsearch.version": __version__,
        "hpsearch.run_dir": str(report.run_dir) if report.run_dir else "",
    }
    return Payload(metrics, make_params(params), make_tags(tags))


def log_to_mlflow(report: BaselineReport, *, uri: str, experiment: str) -> dict[str, str]:
    """One finished MLflow run per method, in ``experiment``; returns method → run id."""
    from mlflow import MlflowClient

    runs: dict[str, str] = {}
    from hpsearch.tracking.mlflow_tracker import call_env

    with call_env():
        client = MlflowClient(tracking_uri=uri)
        experiment_id = _experiment_id(client, experiment, uri)
        markdown = report.to_markdown()
        for method in report.methods:
            payload = method_payload(report, method)
            run = client.create_run(
                experiment_id,
                run_name=f"baseline-{method}",
                tags={"hpsearch.baseline": method, "hpsearch.role": "baseline"},
            )
            run_id = run.info.run_id
            for metrics, params, tags in payload.batches():
                client.log_batch(
                    run_id, metrics=metrics, params=params, tags=tags, synchronous=True
                )
            client.log_text(run_id, markdown, MARKDOWN_FILE)
            client.set_terminated(run_id, status="FINISHED")
            runs[method] = run_id
    return runs


# -- the command line ------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Add ``hpsearch baseline CONFIG [--methods ...] [--output DIR] [--no-mlflow]``."""
    parser = subparsers.add_parser(
        "baseline",
        help="ridge / GBLUP / RKHS / random forest on the experiment's outer folds",
        description=(
            "Fit the baselines on exactly the outer folds of an experiment (hyperparameters by "
            "inner CV or REML on each training part) and print method × mean ± sd over folds."
        ),
    )
    parser.add_argument("config", type=Path, help="experiment YAML")
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated baselines (default: {','.join(DEFAULT_METHODS)})",
    )
    parser.add_argument(
        "--output", type=Path, help="folder that receives the run directory (default: the config's)"
    )
    parser.add_argument("--no-mlflow", action="store_true", help="write only the run directory")
    parser.add_argument(
        "--jobs", type=int, default=1, help="CPU threads (random forest, BLAS; -1: all)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="RUN_DIR",
        help="a finished network run of the same experiment: also print the paired comparison",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-fold lines")
    parser.set_defaults(handler=cmd_baseline)


def cmd_baseline(args: argparse.Namespace) -> int:
    """Run the baselines of an experiment config and print the comparison table."""
    from hpsearch.config import load_config
    from hpsearch.runner.experiment import prepare

    overrides = {"output": args.output, "mlflow": False if args.no_mlflow else None}
    config = load_config(args.config, overrides)
    methods = parse_methods(args.methods, source="command line")
    jobs = args.jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise ConfigError.at("command line", "--jobs", "be a positive integer or -1", jobs)
    prepared = prepare(config)
    data = prepared.data
    print(
        f"{config.name}: {data.n_lines} lines × {data.n_markers} markers, trait {data.trait!r} "
        f"({data.task}), {len(prepared.plans)} outer fold(s); baselines: {', '.join(methods)}",
        file=sys.stderr,
    )
    report = run_baselines(
        prepared,
        methods=methods,
        n_jobs=jobs,
        progress=None if args.quiet else _stderr,
    )
    print_report(report)
    if args.compare is not None:
        from hpsearch.baselines.compare import compare_run_dirs

        _, text = compare_run_dirs(args.compare, report.run_dir or Path("."))
        print()
        print(text, end="")
    return 0


def print_report(report: BaselineReport) -> None:
    """Method × mean ± sd over folds (the experiment's metric first), then where things are."""
    preferred = {
        "regression": ["pearson_r", "mse", "slope"],
        "binary": ["roc_auc", "accuracy", "log_loss"],
        "multiclass": ["accuracy", "log_loss"],
    }.get(report.task, [])
    metrics = [report.metric, *[m for m in preferred if m != report.metric]]
    headers, rows = report.summary_rows(metrics)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    print(f"\n{report.name}: {len(report.folds)} outer fold(s), mean ± sd over folds")
    for row in [headers, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for method, why in report.skipped.items():
        print(f"{method}: skipped ({why})")
    print(f"\nrun directory: {report.run_dir}")
    if report.mlflow.get("runs"):
        print(
            f"MLflow: {report.mlflow['uri']} (experiment {report.mlflow['experiment']!r}, "
            f"{len(report.mlflow['runs'])} runs)"
        )
    sys.stdout.flush()

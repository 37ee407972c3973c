"""Restart the finalists with several seeds: how much do initial values move the outer score?

The guide: "Once an optimum hyperparameter set has been decided, restart the algorithm several
times to assess the influence of initial values." ``hpsearch replicate RUN_DIR --top K --seeds
S`` takes, for each outer fold of a finished run, the K best configurations by inner score
(the only choice the search may make without looking at the outer test part), refits each on
the whole outer training part for its trial's ``refit_epochs`` with S seeds, and scores the
outer test part once per seed — exactly what the search's own outer evaluation does, with
other seeds. Every configuration sees the same seeds (paired), and the seeds differ from every
search trial's and from the outer evaluation's.

Written to ``RUN_DIR/replicates.json`` (rewritten after every configuration, so an
interrupted replicate keeps what it finished) and ``RUN_DIR/replicates.md``; logged to MLflow
when the run was tracked: one run per (fold, configuration), nested under that trial's own
run (itself nested under the fold's parent), with the outer metrics of each seed as a metric
history (step = seed index) and their mean and sd.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError, StateError

if TYPE_CHECKING:
    from hpsearch.decisions.export import RunView
    from hpsearch.trial import TrialRecord

REPLICATES_JSON = "replicates.json"
REPLICATES_MD = "replicates.md"
ROLE = "replicate"
KEY_TAG = "hpsearch.replicate_key"
_CLI = "command line"


def replicate_seeds(search_seed: int, n: int) -> list[int]:
    """``n`` seeds, reproducible from the search seed, unlike any trial's or the outer test's
    (those use trial ids >= 0 and -1 in :func:`hpsearch.runner.context.trial_seed`)."""
    from hpsearch.runner.context import trial_seed

    return [trial_seed(search_seed, -1000 - k) for k in range(n)]


def check_options(*, top: Any, seeds: Any) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfigError.at(_CLI, "--top", "be an integer >= 1", top)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ConfigError.at(
            _CLI, "--seeds", "be an integer >= 2", seeds, "one seed shows no spread"
        )


def finalists(run: RunView, records: Sequence[TrialRecord], top: int) -> list[TrialRecord]:
    """The ``top`` best distinct configurations of one fold by inner score (ties: earlier
    trial); a configuration evaluated twice is represented by its better trial."""
    from hpsearch.decisions.export import completed

    loss = run.objective.loss
    best: dict[str, TrialRecord] = {}
    for record in sorted(completed(records), key=lambda r: (loss(r.result.score), r.trial_id)):
        best.setdefault(run.space.key(record.result.params), record)
    return list(best.values())[:top]


def spread(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, sd (n - 1), min and max of the finite values (None where undefined)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return {
        "n": len(finite),
        "mean": statistics.fmean(finite) if finite else None,
        "sd": statistics.stdev(finite) if len(finite) > 1 else None,
        "min": min(finite) if finite else None,
        "max": max(finite) if finite else None,
    }


def replicate_run(
    run_dir: str | Path,
    *,
    top: int = 3,
    seeds: int = 5,
    mlflow: bool | None = None,
    progress: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Refit each fold's ``top`` configurations with ``seeds`` seeds; return the document
    written to ``replicates.json`` (see the module doc). ``mlflow=None`` logs when the run
    was tracked."""
    from hpsearch.decisions.export import open_run
    from hpsearch.errors import TrialFailed
    from hpsearch.runner.context import TrialContext
    from hpsearch.runner.experiment import load_run_config, prepare
    from hpsearch.tracking.journal import write_json_atomic

    check_options(top=top, seeds=seeds)
    progress = progress or _stderr
    warn = warn or _stderr
    run = open_run(run_dir)
    config, space = load_run_config(run.run_dir)
    prepared = prepare(config, space=space)
    plans = {plan.outer.name: plan for plan in prepared.plans}
    seed_values = replicate_seeds(config.seed, seeds)
    metric = run.objective.metric
    document: dict[str, Any] = {
        "run_dir": str(run.path.resolve()),
        "metric": metric,
        "direction": run.objective.direction,
        "score": "outer test part of each fold, refit on its whole training part per seed",
        "top": top,
        "seeds": seed_values,
        "complete": False,
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "folds": [],
        "configurations": [],
    }
    fold_records = run.fold_records()
    for fold in fold_records:
        if fold not in plans:
            raise StateError(
                f"must be an outer fold of the run's config ({', '.join(plans) or 'none'})",
                source=str(run.path / fold),
            )
    out_path = run.path / REPLICATES_JSON
    for fold, records in fold_records.items():
        chosen = finalists(run, records, top)
        if not chosen:
            warn(f"hpsearch: {fold}: no completed trial to replicate")
        context = TrialContext(
            data=prepared.data,
            plan=plans[fold],
            model=config.model,
            objective=prepared.objective,
            preprocess=config.preprocess,
            search_seed=config.seed,
            threads=config.execution.threads_per_trial,
        )
        entry: dict[str, Any] = {"fold": fold, "configurations": []}
        document["folds"].append(entry)
        for rank, record in enumerate(chosen, start=1):
            params = record.result.params
            epochs = int(record.result.info.get("refit_epochs") or params.get("epochs", 100))
            runs: list[dict[str, Any]] = []
            for k, seed in enumerate(seed_values):
                try:
                    metrics = context.evaluate_outer(params, epochs=max(1, epochs), seed=seed)
                except TrialFailed as exc:
                    runs.append({"seed": seed, "error": str(exc)})
                    progress(f"{fold} rank {rank} trial #{record.trial_id}: seed {k + 1}/"
                             f"{seeds} failed ({exc})")  # fmt: skip
                    continue
                metrics = {  # NaN (e.g. r of constant predictions) becomes None: strict JSON
                    name: float(v) if math.isfinite(v) else None
                    for name, v in metrics.items()
                    if isinstance(v, (int, float))
                }
                runs.append({"seed": seed, "metrics": metrics})
                value = metrics.get(metric)
                shown = "undefined" if value is None else f"{value:.4f}"
                progress(f"{fold} rank {rank} trial #{record.trial_id}: seed {k + 1}/{seeds} "
                         f"{metric} {shown}")  # fmt: skip
            names = sorted({n for r in runs for n in r.get("metrics", {})})
            entry["configurations"].append(
                {
                    "rank": rank,
                    "trial_id": record.trial_id,
                    "key": run.space.key(params),
                    "params": params,
                    "inner_score": record.result.score,
                    "refit_epochs": epochs,
                    "outer": spread([r.get("metrics", {}).get(metric) for r in runs]),
                    "metrics": {
                        n: spread([r.get("metrics", {}).get(n) for r in runs]) for n in names
                    },
                    "n_failed": sum("error" in r for r in runs),
                    "runs": runs,
                }
            )
            _summarise_fold(entry)
            write_json_atomic(out_path, document)  # an interruption keeps what is done
    document["configurations"] = _across_folds(document["folds"], metric)
    document["complete"] = True
    document["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_json_atomic(out_path, document)
    (run.path / REPLICATES_MD).write_text(markdown(document), encoding="utf-8")
    from hpsearch.reporting.search_report import tracking_wanted

    if tracking_wanted(run, mlflow):
        try:
            where = log_replicates(run, document)
        except Exception as exc:  # a mirror: replicates.json has everything
            from hpsearch.tracking.mlflow_tracker import mask_credentials

            problem = mask_credentials(f"{type(exc).__name__}: {exc}")
            warn(f"hpsearch: replicates were not logged to MLflow ({problem}); "
                 f"{out_path} has them")  # fmt: skip
        else:
            document["mlflow"] = where
    return document


def _summarise_fold(entry: dict[str, Any]) -> None:
    """Seed noise (pooled within-configuration sd) against the spread between configurations."""
    configs = entry["configurations"]
    variances = [c["outer"]["sd"] ** 2 for c in configs if c["outer"]["sd"] is not None]
    means = [c["outer"]["mean"] for c in configs if c["outer"]["mean"] is not None]
    entry["seed_sd_pooled"] = math.sqrt(statistics.fmean(variances)) if variances else None
    entry["between_configurations_sd"] = statistics.stdev(means) if len(means) > 1 else None


def _across_folds(folds: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One entry per distinct configuration: its outer scores over every fold and seed."""
    merged: dict[str, dict[str, Any]] = {}
    for fold in folds:
        for config in fold["configurations"]:
            item = merged.setdefault(
                config["key"], {"params": config["params"], "folds": {}, "values": []}
            )
            item["folds"][fold["fold"]] = config["outer"]["mean"]
            item["values"] += [r["metrics"].get(metric) for r in config["runs"] if "metrics" in r]
    return [
        {"params": item["params"], "folds": item["folds"], "outer": spread(item["values"])}
        for item in merged.values()
    ]


def _fmt(value: Any, digits: int = 4, missing: str = "—") -> str:
    return missing if value is None else f"{value:.{digits}f}"


def markdown(document: Mapping[str, Any]) -> str:
    """``replicates.md``: per fold, each finalist's outer score over seeds."""
    from hpsearch.reporting import Document

    metric = document["metric"]
    doc = Document(f"Replicates: {Path(document['run_dir']).name}")
    doc.paragraph(
        f"Each fold's {document['top']} best configurations by inner score, refitted on the "
        f"fold's whole training part with {len(document['seeds'])} seeds "
        f"({', '.join(str(s) for s in document['seeds'])}; the same for every configuration) "
        f"and scored on its outer test part: {metric} ({document['direction']})."
    )
    for fold in document["folds"]:
        doc.heading(fold["fold"])
        rows = []
        for c in fold["configurations"]:
            outer = c["outer"]
            per_seed = [
                "failed" if "error" in r else _fmt(r["metrics"].get(metric), 4, "undefined")
                for r in c["runs"]
            ]
            rows.append(
                [
                    c["rank"],
                    c["trial_id"],
                    c["inner_score"],
                    f"{_fmt(outer['mean'])} ± {_fmt(outer['sd'])}",
                    f"{_fmt(outer['min'])} – {_fmt(outer['max'])}",
                    ", ".join(per_seed),
                    c["refit_epochs"],
                ]
            )
        doc.table(
            ["rank", "trial", f"inner {metric}", "outer mean ± sd", "min – max", "per seed",
             "refit epochs"],
            rows,
        )  # fmt: skip
        doc.paragraph(
            f"Seed-to-seed sd (pooled over configurations): {_fmt(fold.get('seed_sd_pooled'))}; "
            f"sd of the configurations' means: {_fmt(fold.get('between_configurations_sd'))}. "
            "When the first is as large as the second, the ranking between these "
            "configurations is within the noise of initial values."
        )
    if len(document["folds"]) > 1 and document.get("configurations"):
        doc.heading("Across folds")
        doc.table(
            ["configuration", "folds (outer mean)", "mean ± sd over folds × seeds", "n"],
            [
                [
                    ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in c["params"].items()),
                    ", ".join(f"{f} {_fmt(m)}" for f, m in c["folds"].items()),
                    f"{_fmt(c['outer']['mean'])} ± {_fmt(c['outer']['sd'])}",
                    c["outer"]["n"],
                ]
                for c in document["configurations"]
            ],
        )  # fmt: skip
    return doc.markdown()


# -- MLflow ---------------------------------------------------------------------------------------


def _replicate_key(run_dir: Path, fold: str, trial_id: int, seeds: Sequence[int]) -> str:
    text = f"{run_dir.resolve()}\n{fold}\n{trial_id}\n{','.join(map(str, seeds))}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def log_replicates(run: RunView, document: Mapping[str, Any]) -> str:
    """One MLflow run per (fold, configuration); returns the store URI (credentials masked).

    Parent: the trial's own run when the store has it (so ``hpsearch sync``, which tidies the
    fold parent's direct children, never touches these), else none. A replicate logged again
    with the same seeds replaces the earlier one.
    """
    from mlflow.entities import Metric

    from hpsearch.reporting.search_report import mlflow_calls, open_run_store
    from hpsearch.tracking.mlflow_tracker import (
        PARENT_TAG,
        ROLE_TAG,
        Payload,
        flatten,
        make_params,
        make_tags,
        mask_credentials,
        mlflow_key,
    )

    store = open_run_store(run.path)
    client = store.client
    seeds = document["seeds"]
    with mlflow_calls():
        for fold in document["folds"]:
            parent = store.parents.get(fold["fold"])
            for config in fold["configurations"]:
                key = _replicate_key(run.path, fold["fold"], config["trial_id"], seeds)
                for old in client.search_runs(
                    [store.experiment_id], f"tags.`{KEY_TAG}` = '{key}'", max_results=100
                ):
                    client.delete_run(old.info.run_id)
                tags = {
                    ROLE_TAG: ROLE,
                    KEY_TAG: key,
                    "hpsearch.fold": fold["fold"],
                    "hpsearch.source_trial": config["trial_id"],
                    "hpsearch.rank": config["rank"],
                    "hpsearch.run_dir": str(run.path.resolve()),
                }
                trial_run = _trial_run(client, store.experiment_id, parent, config["trial_id"])
                if trial_run is not None:
                    tags[PARENT_TAG] = trial_run
                run_id = client.create_run(
                    store.experiment_id,
                    run_name=f"replicate {fold['fold']} trial {config['trial_id']}",
                    tags={k: str(v) for k, v in tags.items()},
                ).info.run_id
                stamp = int(time.time() * 1000)
                metrics = []
                for step, entry in enumerate(config["runs"]):
                    for name, value in entry.get("metrics", {}).items():
                        if value is not None:
                            metrics.append(Metric(mlflow_key(f"outer_{name}"), value, stamp, step))
                for name, values in config["metrics"].items():
                    for stat in ("mean", "sd"):
                        if values[stat] is not None:
                            key_name = mlflow_key(f"outer_{name}_{stat}")
                            metrics.append(Metric(key_name, values[stat], stamp, 0))
                if config["inner_score"] is not None:
                    inner = mlflow_key(f"inner_{document['metric']}")
                    metrics.append(Metric(inner, float(config["inner_score"]), stamp, 0))
                params = {
                    **flatten(config["params"]),
                    "refit_epochs": config["refit_epochs"],
                    "seeds": seeds,
                }
                payload = Payload(metrics, make_params(params), make_tags({}))
                for batch_metrics, batch_params, batch_tags in payload.batches():
                    client.log_batch(
                        run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags,
                        synchronous=True,
                    )  # fmt: skip
                client.set_terminated(
                    run_id, status="FAILED" if config["n_failed"] == len(seeds) else "FINISHED"
                )
    return mask_credentials(store.uri)


def _trial_run(client: Any, experiment_id: str, parent: str | None, trial_id: int) -> str | None:
    """The run id of trial ``trial_id``'s child under ``parent`` (None when absent)."""
    from hpsearch.tracking.mlflow_tracker import PARENT_TAG, ROLE_TAG, TRIAL_TAG

    if parent is None:
        return None
    found = client.search_runs(
        [experiment_id],
        f"tags.`{PARENT_TAG}` = '{parent}' and tags.`{TRIAL_TAG}` = '{trial_id}' "
        f"and tags.`{ROLE_TAG}` = 'trial'",
        max_results=10,
    )
    done = [r for r in found if r.info.status in ("FINISHED", "FAILED", "KILLED")]
    return min(done, key=lambda r: r.info.start_time or 0).info.run_id if done else None


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- command line -------------------------------------------------------------------------------


def add_replicate_parser(subparsers: Any) -> None:
    """``hpsearch replicate RUN_DIR --top K --seeds S [--no-mlflow]``."""
    parser = subparsers.add_parser(
        "replicate",
        help="refit each fold's best configurations with several seeds (outer mean ± sd)",
        description=(
            "For each outer fold of a finished run, refit the K best configurations (by inner "
            "score) on the fold's training part with S seeds and score its outer test part: "
            "the influence of initial values. Writes RUN_DIR/replicates.json and .md."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--top", type=int, default=3, help="configurations per fold (default 3)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (default 5)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")


def cmd_replicate(args: argparse.Namespace) -> int:
    check_options(top=args.top, seeds=args.seeds)
    document = replicate_run(
        args.run_dir, top=args.top, seeds=args.seeds, mlflow=False if args.no_mlflow else None
    )
    metric = document["metric"]
    for fold in document["folds"]:
        for c in fold["configurations"]:
            outer = c["outer"]
            print(
                f"{fold['fold']} rank {c['rank']} trial #{c['trial_id']}: inner "
                f"{c['inner_score']:.4f}, outer {metric} {_fmt(outer['mean'])} ± "
                f"{_fmt(outer['sd'])} over {outer['n']} seeds"
            )
    run_path = Path(document["run_dir"])
    print(f"replicates: {run_path / REPLICATES_JSON} and {REPLICATES_MD}")
    if "mlflow" in document:
        print(f"MLflow: {document['mlflow']}")
    return 0

#!/usr/bin/env python
"""Strategy benchmark: random, grid, TPE, GA and GA + refine at the same 60-trial budget.

Five strategies × five seeds × 60 trials × two data sets are 3000 trials: far too many real
Keras fits for a 2-core machine. So this is a *tabular* benchmark (the HPO-B / NAS-Bench-101
practice): the MLP space is discretised to a finite grid (:func:`bench_space`), every
configuration of it is trained and scored ONCE with the real :func:`hpsearch.training.fit_and_score`
(inner 3-fold CV inside the training part of outer fold 1, a cheaper objective: at most
``MAX_EPOCHS`` epochs, early stopping patience ``PATIENCE``), the table is cached as
``bench_results/table_<dataset>.json`` (reused on reruns, resumed from a partial file after an
interruption), and then every strategy × seed runs against table lookups. Every strategy searches
the same discrete space, sees the same (noisy, single-seed) scores, and is charged one trial per
configuration it asks for; a configuration a strategy never asks for costs it nothing. Since
one training seed per entry makes the table noisy, :func:`noise_check` re-scores the table's top
10 with two more seeds and the report states that noise next to the strategy table.

Data sets: ``sim`` (``hpsearch.data.simulate``: a known genetic architecture, see ``SIM``) and
``wheat`` (``../shared/data``, trait 1 = first column of wheat.Y, training part of outer fold 1
of wheat.sets; skipped with a message when absent).

Output under ``bench_results/`` (gitignored): ``bench_strategies.json`` (every curve and the
summary), ``bench_strategies.md`` (the table) and ``bench_strategies.png`` (median best inner
score against trials used, IQR band over seeds).

Usage::

    .venv/bin/python scripts/bench_strategies.py [--datasets sim wheat] [--workers 2]
        [--seeds 5] [--budget 60] [--out bench_results] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.space import CategoricalParam, FixedParam, OrdinalParam, Space
from hpsearch.strategies import make_strategy
from hpsearch.trial import Objective, TrialResult

REPO = Path(__file__).resolve().parents[1]
WHEAT_DIR = REPO / ".." / "shared" / "data"
OUT_DIR = REPO / "bench_results"

BUDGET = 60
N_SEEDS = 5
#: The cheaper objective of the table: a cap on epochs and a short early-stopping patience.
MAX_EPOCHS = 30
PATIENCE = 5
BATCH_SIZE = 32
INNER = {"kfold": 3, "seed": 0}
#: Training seed of every table entry (fit_and_score seeds inner fold k with TABLE_SEED + k).
TABLE_SEED = 2024
#: The simulated data set: its genetic architecture is known (and written to sim.truth.json).
SIM = {
    "n_lines": 400,
    "n_markers": 1000,
    "n_traits": 1,
    "n_qtl": 50,
    "h2": 0.5,
    "epistasis": 0.2,
    "n_folds": 5,
    "seed": 7,
}
#: Worker processes are replaced after this many table entries (TensorFlow keeps a few MB of
#: native memory per traced fit, so long-lived workers grow).
TASKS_PER_WORKER = 24
#: Training noise check: the table's top configurations are re-scored with these seeds.
NOISE_TOP = 10
NOISE_SEEDS = (TABLE_SEED + 1000, TABLE_SEED + 2000)
#: Budget points reported in the table besides the last one.
CHECKPOINTS = (15, 30)


# --------------------------------------------------------------------------- the search space


def bench_space() -> Space:
    """The discrete MLP space every strategy searches: 4 × 2 × 4 × 2 × 2 × 2 = 256 configurations.

    Learning rate on 4 log levels spanning search_spaces/mlp.yaml's range, depth, width on 4
    log levels, two activations, dropout off/on and SNP preselection off/on. Fixed (to keep the
    table build under 20 minutes on 2 shared cores): adam (the guide found no important
    differences between optimisers for genomic prediction), no L2 (the guide: dropout and L2 do
    the same job), batch 32, the cheaper epoch cap and patience.
    """
    return Space(
        [
            FixedParam("optimizer", "adam"),
            OrdinalParam("learning_rate", (1e-4, 1e-3, 1e-2, 1e-1)),
            OrdinalParam("n_layers", (1, 2)),
            OrdinalParam("units", (16, 32, 64, 128)),
            CategoricalParam("activation", ("relu", "tanh")),
            OrdinalParam("dropout", (0.0, 0.3)),
            FixedParam("l2", 0.0),
            OrdinalParam("preselect_top_k", (0, 300)),
            FixedParam("batch_size", BATCH_SIZE),
            FixedParam("epochs", MAX_EPOCHS),
            FixedParam("patience", PATIENCE),
        ],
        source="scripts/bench_strategies.py",
    )


# --------------------------------------------------------------------------- the strategies


@dataclass(frozen=True)
class Stage:
    """One stage of a strategy plan (as in an experiment config's ``stages``)."""

    strategy: str
    trials: int
    options: Mapping[str, Any] = field(default_factory=dict)


def strategy_plans(
    budget: int = BUDGET, *, population_size: int = 10, refine_trials: int | None = None
) -> dict[str, list[Stage]]:
    """The five contenders, each with ``budget`` trials in all.

    grid walks the (already discrete) grid in a seeded shuffled order, as a budget-limited grid
    should; bayesian is Optuna's TPE with 10 random start-up trials; genetic runs generations of
    ``population_size`` until the budget ends; genetic+refine gives the last quarter of the
    budget to a refine stage around the GA's top 3 (radius 1, random draws in the
    neighbourhood, configurations the GA already evaluated excluded).
    """
    refine = budget // 4 if refine_trials is None else refine_trials
    ga = {"population_size": population_size, "generations": 10_000}
    return {
        "random": [Stage("random", budget)],
        "grid": [Stage("grid", budget, {"shuffle": True})],
        "bayesian": [Stage("bayesian", budget, {"sampler": "tpe", "n_startup_trials": 10})],
        "genetic": [Stage("genetic", budget, ga)],
        "genetic+refine": [
            Stage("genetic", budget - refine, ga),
            Stage("refine", refine, {"top_k": 3, "radius": 1, "method": "random"}),
        ],
    }


Lookup = Callable[[Mapping[str, Any]], float | None]


def run_plan(
    stages: Sequence[Stage],
    space: Space,
    lookup: Lookup,
    *,
    seed: int,
    objective: Objective,
) -> list[float | None]:
    """Run one strategy plan against a table; the scores of its trials in order (None: failed).

    Stages run as :class:`hpsearch.runner.search.FoldSearch` runs them: stage ``i`` is seeded
    ``seed * 101 + i``, continues the trial ids, and gets the earlier stages' records as
    ``previous``. A stage that finishes before its budget simply uses fewer trials.
    """
    records: list[dict[str, Any]] = []
    scores: list[float | None] = []
    next_id = 0
    for index, stage in enumerate(stages):
        strategy = make_strategy(
            stage.strategy,
            space,
            objective=objective,
            seed=seed * 101 + index,
            first_trial_id=next_id,
            options=dict(stage.options),
            field=f"stages[{index}]",
            context={"previous": [dict(r) for r in records]},
        )
        told = 0
        while told < stage.trials:
            batch = strategy.ask(1)
            if not batch:
                break
            suggestion = batch[0]
            score = lookup(suggestion.params)
            if score is None:
                result = TrialResult.failed(suggestion.trial_id, suggestion.params, "failed")
            else:
                result = TrialResult(suggestion.trial_id, suggestion.params, score=score)
            strategy.tell(result)
            records.append(
                {
                    "trial_id": suggestion.trial_id,
                    "params": suggestion.params,
                    "score": score,
                    "status": result.status.value,
                    "stage": index,
                }
            )
            scores.append(score)
            next_id = suggestion.trial_id + 1
            told += 1
    return scores


def best_so_far(scores: Sequence[float | None], budget: int, *, maximize: bool) -> list[float]:
    """The best score after each of ``budget`` trials (NaN before the first success; a plan
    that stopped early keeps its last best)."""
    out: list[float] = []
    best = math.nan
    for t in range(budget):
        if t < len(scores) and scores[t] is not None:
            value = float(scores[t])  # type: ignore[arg-type]
            if math.isnan(best) or (value > best if maximize else value < best):
                best = value
        out.append(best)
    return out


def trials_to_reach(curve: Sequence[float], target: float, *, maximize: bool) -> int | None:
    """The first trial count (1-based) whose best-so-far reaches ``target``; None if never."""
    for t, value in enumerate(curve, start=1):
        if not math.isnan(value) and (value >= target if maximize else value <= target):
            return t
    return None


def median_trials(counts: Sequence[int | None]) -> float | None:
    """Median over seeds of trials-to-target, a seed that never got there counting as +inf
    (so the median is finite only when more than half of the seeds got there)."""
    values = [math.inf if c is None else float(c) for c in counts]
    median = float(np.median(values))
    return None if math.isinf(median) else median


def run_benchmark(
    space: Space,
    lookup: Lookup,
    *,
    plans: Mapping[str, Sequence[Stage]],
    seeds: Iterable[int],
    budget: int,
    objective: Objective,
) -> dict[str, list[list[float]]]:
    """Best-so-far curves: strategy -> one curve (``budget`` values) per seed."""
    curves: dict[str, list[list[float]]] = {}
    for name, stages in plans.items():
        curves[name] = [
            best_so_far(
                run_plan(stages, space, lookup, seed=seed, objective=objective),
                budget,
                maximize=objective.maximize,
            )
            for seed in seeds
        ]
    return curves


def summarise(
    curves: Mapping[str, Sequence[Sequence[float]]],
    *,
    maximize: bool,
    table_best: float | None = None,
    reference: str = "random",
    checkpoints: Sequence[int] = CHECKPOINTS,
) -> dict[str, Any]:
    """Per strategy: median / IQR best at the checkpoints and at the end, and the trials needed
    to reach ``target`` = the median over seeds of ``reference``'s final best."""
    target = float(np.median([c[-1] for c in curves[reference]]))
    out: dict[str, Any] = {"reference": reference, "target": target, "strategies": {}}
    for name, per_seed in curves.items():
        final = np.array([c[-1] for c in per_seed], dtype=float)
        counts = [trials_to_reach(c, target, maximize=maximize) for c in per_seed]
        entry: dict[str, Any] = {
            "best_at": {
                str(t): float(np.nanmedian([c[t - 1] for c in per_seed]))
                for t in (*checkpoints, len(per_seed[0]))
                if t <= len(per_seed[0])
            },
            "final_median": float(np.nanmedian(final)),
            "final_iqr": [float(np.nanpercentile(final, 25)), float(np.nanpercentile(final, 75))],
            "trials_to_target": counts,
            "trials_to_target_median": median_trials(counts),
            "seeds_reaching_target": sum(c is not None for c in counts),
        }
        if table_best is not None:
            entry["seeds_finding_table_best"] = int(np.sum(np.isclose(final, table_best)))
        out["strategies"][name] = entry
    return out


# --------------------------------------------------------------------------- the data sets


@dataclass
class Dataset:
    name: str
    data: Any  # GenomicData
    plan: Any  # FoldPlan of outer fold 1
    description: dict[str, Any]


def _load(name: str, genotypes: Path, phenotypes: Path, sets: Path, what: dict) -> Dataset:
    from hpsearch.data.folds import outer_plans
    from hpsearch.data.loading import load_dataset

    data, _ = load_dataset(genotypes=genotypes, phenotypes=phenotypes, trait=0, task="regression")
    (plan,) = outer_plans(
        data,
        {"fold_file": str(sets), "folds": [1]},
        INNER,
        seed=0,
        base_dir=sets.parent,
        source=name,
    )
    description = {
        **what,
        "lines": data.n_lines,
        "markers": data.n_markers,
        "outer_fold": 1,
        "search_lines": len(plan.outer.train),
        "inner": INNER,
    }
    return Dataset(name, data, plan, description)


def load_simulated(out_dir: Path) -> Dataset:
    """The simulated set (files written once under ``out_dir/sim_data``)."""
    from hpsearch.data.simulate import simulate, write_simulated

    folder = out_dir / "sim_data"
    paths = {k: folder / f"sim.{k}" for k in ("X", "Y", "sets")}
    if not all(p.is_file() for p in paths.values()):
        write_simulated(simulate(**SIM), folder, prefix="sim")
    what = {"source": "hpsearch.data.simulate", "simulate": SIM, "trait": "trait 1"}
    return _load("sim", paths["X"], paths["Y"], paths["sets"], what)


def load_wheat(wheat_dir: Path = WHEAT_DIR) -> Dataset | None:
    """Wheat, trait 1 (first column of wheat.Y); None when the files are absent."""
    paths = {k: wheat_dir / f"wheat.{k}" for k in ("X", "Y", "sets")}
    if not all(p.is_file() for p in paths.values()):
        return None
    what = {"source": "wheat (BGLR)", "trait": "trait 1 (first column of wheat.Y)"}
    return _load("wheat", paths["X"], paths["Y"], paths["sets"], what)


# --------------------------------------------------------------------------- the table


_WORKER: dict[str, Any] = {}


def _init_worker(data: Any, plan: Any, objective: Objective) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from hpsearch.training import configure_threads

    configure_threads(1)  # two single-thread trials use 2 cores best (reference measurements)
    _WORKER.update(data=data, plan=plan, objective=objective)


def _evaluate_entry(item: tuple[int, dict[str, Any], int]) -> dict[str, Any]:
    """Train and score one configuration with a training seed (in a worker set up by
    :func:`_init_worker`)."""
    from hpsearch.models import get_builder
    from hpsearch.training import fit_and_score

    index, params, seed = item
    cpu = time.process_time()
    result = fit_and_score(
        get_builder("mlp"),
        params,
        _WORKER["data"],
        _WORKER["plan"],
        _WORKER["objective"],
        seed=seed,
        trial_id=index,
    )
    return {
        "kind": "row",
        "index": index,
        "seed": seed,
        "params": params,
        "score": result.score if result.ok else None,
        "status": result.status.value,
        "error": result.error,
        "metrics": result.metrics,
        "epochs_run": result.info.get("epochs_run"),
        "duration_s": result.duration_s,
        "cpu_s": time.process_time() - cpu,
    }


def table_key(dataset: Dataset, space: Space, objective: Objective) -> dict[str, Any]:
    """What a cached table must match to be reused."""
    return {
        "space": space.fingerprint(),
        "data": dataset.description,
        "metric": objective.metric,
        "table_seed": TABLE_SEED,
        "model": "mlp",
    }


def _read_partial(path: Path, key: Mapping[str, Any]) -> tuple[dict[int, dict], float]:
    """Rows and summed session wall time of a partial build with the same key."""
    if not path.is_file():
        return {}, 0.0
    rows: dict[int, dict] = {}
    wall = 0.0
    with open(path, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip().endswith("}")]
    if not lines or lines[0].get("kind") != "header" or lines[0].get("key") != key:
        return {}, 0.0
    for line in lines[1:]:
        if line.get("kind") == "row":
            rows[int(line["index"])] = line
        elif line.get("kind") == "session":
            wall += float(line["wall_s"])
    return rows, wall


def build_table(
    dataset: Dataset,
    space: Space,
    *,
    out_dir: Path,
    workers: int = 2,
    objective: Objective | None = None,
    rebuild: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every configuration of ``space`` scored once on ``dataset`` (cached; see module doc)."""
    objective = objective or Objective.for_metric("pearson_r")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"table_{dataset.name}.json"
    partial = out_dir / f"table_{dataset.name}.partial.jsonl"
    key = table_key(dataset, space, objective)
    if path.is_file() and not rebuild:
        table = json.loads(path.read_text(encoding="utf-8"))
        if table.get("key") == key:
            log(f"{dataset.name}: reusing {path} ({len(table['rows'])} configurations)")
            return table
        log(f"{dataset.name}: {path} was built for other settings; rebuilding")
    if rebuild:
        partial.unlink(missing_ok=True)
    grid = space.grid()
    rows, earlier_wall = _read_partial(partial, key)
    if not rows:
        partial.write_text(json.dumps({"kind": "header", "key": key}) + "\n", encoding="utf-8")
    todo = [(i, grid[i], TABLE_SEED) for i in range(len(grid)) if i not in rows]
    log(
        f"{dataset.name}: training {len(todo)} of {len(grid)} configurations "
        f"({len(rows)} cached) with {workers} worker(s)"
    )
    load_before = os.getloadavg()[0]
    started = time.time()
    try:
        with open(partial, "a", encoding="utf-8") as sink:
            for n, row in enumerate(_evaluate_all(todo, dataset, objective, workers), start=1):
                rows[row["index"]] = row
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                if n % 16 == 0 or n == len(todo):
                    elapsed = time.time() - started
                    log(
                        f"  {dataset.name}: {n}/{len(todo)} in {elapsed:.0f} s "
                        f"(~{elapsed / n * (len(todo) - n):.0f} s left)"
                    )
    finally:
        wall = time.time() - started
        with open(partial, "a", encoding="utf-8") as sink:
            sink.write(json.dumps({"kind": "session", "wall_s": wall}) + "\n")
    ordered = [rows[i] for i in range(len(grid))]
    for row in ordered:
        row.pop("kind", None)
    table = {
        "key": key,
        "dataset": dataset.name,
        "size": len(grid),
        "build": {
            "wall_s": earlier_wall + wall,
            "workers": workers,
            "threads_per_worker": 1,
            "sum_trial_s": float(sum(r["duration_s"] for r in ordered)),
            "sum_trial_cpu_s": float(sum(r.get("cpu_s", 0.0) for r in ordered)),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0],
            "cpu_count": os.cpu_count(),
        },
        "objective": {
            "metric": objective.metric,
            "direction": objective.direction,
            "max_epochs": MAX_EPOCHS,
            "patience": PATIENCE,
            "batch_size": BATCH_SIZE,
            "inner": INNER,
        },
        "rows": ordered,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    partial.unlink(missing_ok=True)
    return table


def _evaluate_all(
    todo: list[tuple[int, dict[str, Any], int]],
    dataset: Dataset,
    objective: Objective,
    workers: int,
) -> Iterable[dict[str, Any]]:
    """Rows in finishing order: in this process (workers=1) or in a spawn pool."""
    if not todo:
        return
    if workers <= 1:
        _init_worker(dataset.data, dataset.plan, objective)
        for item in todo:
            yield _evaluate_entry(item)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no forked TensorFlow state
    with context.Pool(
        workers,
        initializer=_init_worker,
        initargs=(dataset.data, dataset.plan, objective),
        maxtasksperchild=TASKS_PER_WORKER,
    ) as pool:
        yield from pool.imap_unordered(_evaluate_entry, todo)


def noise_check(
    table: dict[str, Any],
    dataset: Dataset,
    *,
    out_dir: Path,
    workers: int = 2,
    objective: Objective | None = None,
    top: int = NOISE_TOP,
    seeds: Sequence[int] = NOISE_SEEDS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """How much of the table is training noise: its ``top`` configurations re-scored with
    other training seeds (cached in the table file).

    Returns the per-configuration scores, the median within-configuration sd, the spread of
    the top table scores, and where the table's best ranks by the mean over all seeds.
    """
    objective = objective or Objective.for_metric("pearson_r")
    cached = table.get("noise")
    if cached and cached["top"] == top and cached["seeds"] == list(seeds):
        return cached
    ok = [r for r in table["rows"] if r["score"] is not None]
    sign = -1.0 if objective.maximize else 1.0
    ranked = sorted(ok, key=lambda r: (sign * r["score"], r["index"]))[:top]
    todo = [(r["index"], r["params"], seed) for r in ranked for seed in seeds]
    log(f"{dataset.name}: re-scoring the top {len(ranked)} with {len(seeds)} more seeds")
    started = time.time()
    scores: dict[int, list[float | None]] = {r["index"]: [r["score"]] for r in ranked}
    for row in sorted(
        _evaluate_all(todo, dataset, objective, workers), key=lambda r: (r["index"], r["seed"])
    ):
        scores[row["index"]].append(row["score"])
    configs = []
    for r in ranked:
        values = [v for v in scores[r["index"]] if v is not None]
        configs.append(
            {
                "index": r["index"],
                "table_score": r["score"],
                "scores": scores[r["index"]],
                "mean": float(np.mean(values)),
                "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
            }
        )
    by_mean = sorted(configs, key=lambda c: (sign * c["mean"], c["index"]))
    noise = {
        "top": top,
        "seeds": list(seeds),
        "configs": configs,
        "median_sd": float(np.median([c["sd"] for c in configs if c["sd"] is not None])),
        "top_spread": float(abs(configs[0]["table_score"] - configs[-1]["table_score"])),
        "table_best_rank_by_mean": 1 + [c["index"] for c in by_mean].index(ranked[0]["index"]),
        "best_by_mean": {"index": by_mean[0]["index"], "mean": by_mean[0]["mean"]},
        "wall_s": time.time() - started,
    }
    table["noise"] = noise
    path = out_dir / f"table_{dataset.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return noise


def table_lookup(table: Mapping[str, Any], space: Space) -> Lookup:
    """A lookup params -> score over a table (a configuration outside it is a KeyError)."""
    scores = {space.key(row["params"]): row["score"] for row in table["rows"]}

    def lookup(params: Mapping[str, Any]) -> float | None:
        return scores[space.key(params)]

    return lookup


def table_facts(table: Mapping[str, Any], *, maximize: bool) -> dict[str, Any]:
    """Size, failures, best configuration (the parameters that vary) and the score
    distribution of a table."""
    rows = table["rows"]
    ok = [r for r in rows if r["score"] is not None]
    first = rows[0]["params"]
    varied = [k for k in first if any(r["params"].get(k) != first[k] for r in rows)]
    values = np.array([r["score"] for r in ok], dtype=float)
    best = (max if maximize else min)(ok, key=lambda r: r["score"])
    ranked = np.sort(values)[::-1] if maximize else np.sort(values)
    return {
        "size": len(table["rows"]),
        "failed": len(table["rows"]) - len(ok),
        "best": float(best["score"]),
        "best_params": {k: v for k, v in best["params"].items() if k in varied},
        "second_best": float(ranked[1]) if len(ranked) > 1 else None,
        "median": float(np.median(values)),
        "top_1pct": float(ranked[max(0, len(ranked) // 100 - 1)]),
        "build_wall_s": table["build"]["wall_s"],
        "noise": table.get("noise"),
        "build": table["build"],
        "objective": table["objective"],
    }


# --------------------------------------------------------------------------- reports


def _fmt(value: float | None, digits: int = 3) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def _fmt_trials(value: float | None, budget: int) -> str:
    if value is None:
        return f"> {budget}"
    return f"{value:g}"


def markdown(results: Mapping[str, Any]) -> str:
    """The report: settings, and per data set the table facts and the strategy table."""
    settings = results["settings"]
    budget = settings["budget"]
    checkpoints = [t for t in CHECKPOINTS if t < budget]
    lines = [
        "# Strategy benchmark (tabular)",
        "",
        f"Budget {budget} trials per strategy, {len(settings['seeds'])} seeds "
        f"({', '.join(map(str, settings['seeds']))}); the space: {settings['space_size']} "
        f"MLP configurations ({settings['space_note']}). Each configuration was trained once "
        f"with `fit_and_score` (inner 3-fold CV in the training part of outer fold 1, at most "
        f"{MAX_EPOCHS} epochs, patience {PATIENCE}, batch {BATCH_SIZE}); strategies then ran "
        "against table lookups. Scores are inner mean Pearson r.",
        "",
        "Strategies: " + "; ".join(f"**{k}**: {v}" for k, v in settings["plans"].items()) + ".",
        "",
    ]
    for name, ds in results["datasets"].items():
        facts, summary = ds["table"], ds["summary"]
        build = facts["build"]
        lines += [
            f"## {name}",
            "",
            f"Data: {_describe(ds['description'])}.",
            "",
            f"Table: {facts['size']} configurations ({facts['failed']} failed), built in "
            f"{build['wall_s'] / 60:.1f} min wall with {build['workers']} worker process(es) × "
            f"1 thread on {build['cpu_count']} shared cores (load average "
            f"{build['load_average_before']:.1f} before, {build['load_average_after']:.1f} "
            f"after; {build['sum_trial_s'] / 60:.1f} min of summed trial wall time, "
            f"{build.get('sum_trial_cpu_s', 0.0) / 60:.1f} min of trial CPU time). Best "
            f"{facts['best']:.4f} ({_params(facts['best_params'])}); second best "
            f"{_fmt(facts['second_best'], 4)}; top-1% threshold {facts['top_1pct']:.4f}; "
            f"median {facts['median']:.4f}.",
            "",
            *_noise_lines(facts.get("noise")),
            f"Target = random search's {budget}-trial best, median over seeds: "
            f"**{summary['target']:.4f}**.",
            "",
            "| strategy | "
            + "".join(f"best @{t} | " for t in checkpoints)
            + f"best @{budget} (median) | IQR @{budget} | trials to reach random's best (median;"
            " per seed) | seeds reaching it | seeds finding the table's best |",
            "|---|" + "---|" * (len(checkpoints) + 5),
        ]
        for strategy, entry in summary["strategies"].items():
            at = entry["best_at"]
            lo, hi = entry["final_iqr"]
            lines.append(
                f"| {strategy} | "
                + "".join(f"{_fmt(at.get(str(t)))} | " for t in checkpoints)
                + f"{_fmt(entry['final_median'])} | {lo:.3f}–{hi:.3f} | "
                f"{_fmt_trials(entry['trials_to_target_median'], budget)} "
                f"({', '.join('—' if c is None else str(c) for c in entry['trials_to_target'])}) "
                f"| {entry['seeds_reaching_target']}/{len(entry['trials_to_target'])} | "
                f"{entry.get('seeds_finding_table_best', '—')}/"
                f"{len(entry['trials_to_target'])} |"
            )
        s = summary["strategies"]
        lines += [
            "",
            f"**Trials needed to reach random search's {budget}-trial best (median over seeds):"
            f" GA {_fmt_trials(s['genetic']['trials_to_target_median'], budget)}, TPE "
            f"{_fmt_trials(s['bayesian']['trials_to_target_median'], budget)}, GA+refine "
            f"{_fmt_trials(s['genetic+refine']['trials_to_target_median'], budget)}** "
            f"(random itself: {_fmt_trials(s['random']['trials_to_target_median'], budget)}).",
            "",
        ]
    for name, why in results.get("skipped", {}).items():
        lines += [f"## {name}", "", f"Skipped: {why}", ""]
    return "\n".join(lines)


def _noise_lines(noise: Mapping[str, Any] | None) -> list[str]:
    """The training-noise sentence of a data set (nothing when the check was not run)."""
    if not noise:
        return []
    return [
        f"Training noise: the table's top {noise['top']} configurations re-scored with "
        f"{len(noise['seeds'])} more training seeds have a median within-configuration sd of "
        f"**{noise['median_sd']:.4f}**, against a spread of {noise['top_spread']:.4f} between "
        f"their table scores; by the mean over {len(noise['seeds']) + 1} seeds the table's best "
        f"ranks {noise['table_best_rank_by_mean']} of {noise['top']} (table entries differing "
        "by less than about one sd are ties in truth).",
        "",
    ]


def _describe(description: Mapping[str, Any]) -> str:
    text = (
        f"{description['source']}, {description['trait']}, {description['lines']} lines × "
        f"{description['markers']} markers; search on the {description['search_lines']} "
        f"training lines of outer fold {description['outer_fold']}"
    )
    if "simulate" in description:
        sim = description["simulate"]
        text += (
            f" (simulated: {sim['n_qtl']} QTL off the marker panel, h2 {sim['h2']}, "
            f"epistatic share {sim['epistasis']}, seed {sim['seed']})"
        )
    return text


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in params.items())


def plot(results: Mapping[str, Any], path: Path) -> None:
    """Median best-so-far against trials, IQR band over seeds, one panel per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = results["datasets"]
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(6.2 * len(datasets), 4.6), squeeze=False, sharey=False
    )
    colours = {
        "random": "tab:gray",
        "grid": "tab:brown",
        "bayesian": "tab:blue",
        "genetic": "tab:green",
        "genetic+refine": "tab:red",
    }
    for ax, (name, ds) in zip(axes[0], datasets.items(), strict=True):
        budget = results["settings"]["budget"]
        x = np.arange(1, budget + 1)
        for strategy, per_seed in ds["curves"].items():
            values = np.array(per_seed, dtype=float)
            median = np.nanmedian(values, axis=0)
            low, high = np.nanpercentile(values, [25, 75], axis=0)
            colour = colours.get(strategy)
            style = "--" if strategy == "genetic+refine" else "-"  # genetic shows beneath
            ax.plot(x, median, label=strategy, color=colour, lw=1.8, ls=style)
            ax.fill_between(x, low, high, color=colour, alpha=0.15, lw=0)
        ax.axhline(ds["table"]["best"], color="black", ls=":", lw=1, label="table best")
        ax.axhline(ds["summary"]["target"], color="tab:gray", ls="--", lw=1, label="random @60")
        worst = np.nanpercentile(np.array(ds["curves"]["random"], dtype=float)[:, 4], 25)
        ax.set_ylim(
            bottom=min(worst, ds["summary"]["target"]) - 0.01, top=ds["table"]["best"] + 0.01
        )
        ax.set_title(f"{name}: {ds['table']['size']}-configuration table")
        ax.set_xlabel("trials used")
        ax.set_ylabel("best inner Pearson r so far")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"Best inner score vs trials (median and IQR over {len(results['settings']['seeds'])} "
        "seeds)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=["sim", "wheat"], default=["sim", "wheat"])
    parser.add_argument("--workers", type=int, default=2, help="table-build processes")
    parser.add_argument("--seeds", type=int, default=N_SEEDS)
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--wheat-dir", type=Path, default=WHEAT_DIR)
    parser.add_argument("--rebuild", action="store_true", help="ignore cached tables")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a kill ends the worker pool too

    space = bench_space()
    objective = Objective.for_metric("pearson_r")
    plans = strategy_plans(args.budget)
    seeds = list(range(args.seeds))
    results: dict[str, Any] = {
        "settings": {
            "budget": args.budget,
            "seeds": seeds,
            "space_size": len(space.grid()),
            "space": space.to_dict(),
            "space_note": "learning_rate 1e-4..1e-1 × 4, n_layers 1–2, units 16–128 × 4, "
            "relu/tanh, dropout 0/0.3, preselect_top_k 0/300; adam, no L2",
            "plans": {
                name: " + ".join(
                    f"{s.strategy} × {s.trials}"
                    + (f" {json.dumps(dict(s.options))}" if s.options else "")
                    for s in stages
                )
                for name, stages in plans.items()
            },
            "table": {
                "max_epochs": MAX_EPOCHS,
                "patience": PATIENCE,
                "batch_size": BATCH_SIZE,
                "inner": INNER,
                "seed": TABLE_SEED,
            },
        },
        "datasets": {},
        "skipped": {},
    }
    for name in args.datasets:
        dataset = load_simulated(args.out) if name == "sim" else load_wheat(args.wheat_dir)
        if dataset is None:
            why = f"wheat.X / wheat.Y / wheat.sets not found in {args.wheat_dir}"
            print(f"{name}: skipped ({why})", file=sys.stderr)
            results["skipped"][name] = why
            continue
        table = build_table(
            dataset, space, out_dir=args.out, workers=args.workers, rebuild=args.rebuild
        )
        noise_check(table, dataset, out_dir=args.out, workers=args.workers)
        facts = table_facts(table, maximize=objective.maximize)
        started = time.time()
        curves = run_benchmark(
            space,
            table_lookup(table, space),
            plans=plans,
            seeds=seeds,
            budget=args.budget,
            objective=objective,
        )
        summary = summarise(curves, maximize=objective.maximize, table_best=facts["best"])
        print(f"{name}: strategies ran in {time.time() - started:.1f} s against the table")
        results["datasets"][name] = {
            "description": dataset.description,
            "table": facts,
            "summary": summary,
            "curves": {k: [_nan_to_none(c) for c in v] for k, v in curves.items()},
        }
    if not results["datasets"]:
        print("nothing to report", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_strategies.json").write_text(
        json.dumps(results, indent=1, allow_nan=False, default=_json_default) + "\n",
        encoding="utf-8",
    )
    report = markdown(results)
    (args.out / "bench_strategies.md").write_text(report + "\n", encoding="utf-8")
    plot(results, args.out / "bench_strategies.png")
    print(report)
    print(f"\nwrote {args.out / 'bench_strategies.json'}, .md and .png")
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _nan_to_none(curve: Sequence[float]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in curve]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())

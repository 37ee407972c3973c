"""What each piece of a trial's overhead costs, measured one knob at a time (issue 7).

The headline overhead (hpsearch on Ray with MLflow vs two bare pinned processes doing the same
fits) is ``bench_parallel.py``'s ``ray2 / pinned2``. This script times the knobs behind it,
on the same fixed list of wheat trials (``bench_parallel``'s configurations), each as ratios
within one process run with the variants interleaved:

* ``reuse``    a trial's model kept across its inner folds (``training.MODEL_REUSE``) vs a new
  model (and a new trace of the training step) per fold; results must be identical;
* ``knobs``    ``steps_per_execution`` and XLA (``jit_compile``) on the trials' models, and
  1 vs 2 TensorFlow threads (each thread count in its own process);
* ``stages``   the same trials through the Ray executor as 1 stage, 2 stages or 4 stages
  (each stage is one ``Tuner.fit``: new worker processes, a new TensorFlow import);
* ``mlflow``   the MLflow tracker's setup (import, experiment, parent run) and per-trial child
  logging, on records shaped like real trials.

    .venv/bin/python scripts/bench_overhead.py [reuse|knobs|stages|mlflow|all] [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as bc

SCRIPT = Path(__file__).resolve()
SUBCOMMANDS = ("reuse", "knobs", "stages", "mlflow")


def _setup(work: Path, *, epochs: int, trials: int, **config: Any) -> tuple[Any, list[Any]]:
    data = bc.find_data()
    if data is None:
        raise SystemExit("bench_overhead: neither ../shared/data/wheat.* nor DATA/example.*")
    space = bc.write_space(work / "space.yaml", epochs=epochs)
    path = bc.write_experiment(
        work / "experiment.yaml",
        data=data,
        space=space,
        trials=trials,
        executor="inprocess",
        **config,
    )
    prepared = bc.load_prepared(path)
    return prepared, bc.sample_suggestions(prepared, trials)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def _same(a: Any, b: Any) -> bool:
    return (a.score, a.curves, a.fold_metrics) == (b.score, b.curves, b.fold_metrics)


# --------------------------------------------------------------------------- reuse


def compare_reuse(prepared: Any, suggestions: Sequence[Any], *, threads: int = 1) -> dict:
    """Each trial with and without model reuse (alternating which goes first)."""
    from hpsearch import training

    rows = []
    for i, s in enumerate(suggestions):
        order = (True, False) if i % 2 == 0 else (False, True)
        got: dict[bool, tuple[Any, float]] = {}
        for flag in order:
            training.MODEL_REUSE = flag
            try:
                got[flag] = _timed(lambda s=s: bc.run_plain(prepared, [s], threads=threads)[0])
            finally:
                training.MODEL_REUSE = True
        (on, t_on), (off, t_off) = got[True], got[False]
        rows.append(
            {
                "trial_id": s.trial_id,
                "optimizer": s.params.get("optimizer"),
                "epochs_run": sum(on.info.get("epochs_run") or []),
                "reuse_s": t_on,
                "new_model_per_fold_s": t_off,
                "identical": _same(on, off),
            }
        )
    total_on = sum(r["reuse_s"] for r in rows)
    total_off = sum(r["new_model_per_fold_s"] for r in rows)
    return {
        "rows": rows,
        "reuse_s": total_on,
        "new_model_per_fold_s": total_off,
        "ratio": total_on / total_off if total_off else None,
        "all_identical": all(r["identical"] for r in rows),
    }


# --------------------------------------------------------------------------- knobs


def compare_knobs(
    prepared: Any,
    suggestions: Sequence[Any],
    *,
    variants: Sequence[tuple[str, int, bool]] = (
        ("default", 1, False),
        ("steps_per_execution=8", 8, False),
        ("steps_per_execution=32", 32, False),
        ("jit_compile=True", 1, True),
    ),
    threads: int = 1,
) -> dict:
    """Every trial under each (name, steps_per_execution, jit) variant, order rotating."""
    from hpsearch import training

    original = training._build
    times: dict[str, float] = {name: 0.0 for name, _, _ in variants}
    same: dict[str, bool] = {name: True for name, _, _ in variants}
    for i, s in enumerate(suggestions):
        rotated = list(variants[i % len(variants) :]) + list(variants[: i % len(variants)])
        results = {}
        for name, spe, jit in rotated:

            def build(*args: Any, _spe: int = spe, _jit: bool = jit, **kw: Any) -> Any:
                model = original(*args, **kw)
                model.steps_per_execution = _spe
                if _jit:
                    model.jit_compile = True
                return model

            training._build = build
            try:
                results[name], dt = _timed(
                    lambda s=s: bc.run_plain(prepared, [s], threads=threads)[0]
                )
            finally:
                training._build = original
            times[name] += dt
        base = results[variants[0][0]]
        for name in results:
            same[name] = same[name] and _same(results[name], base)
    base_time = times[variants[0][0]]
    return {
        "seconds": times,
        "ratio_to_default": {k: v / base_time for k, v in times.items()},
        "identical_to_default": same,
    }


def compare_threads(work: Path, *, epochs: int, trials: int) -> dict:
    """The same trials in two fresh processes, one with 1 TF thread and one with 2."""
    out = {}
    for threads in (1, 2, 1, 2):
        result = work / f"threads-{threads}-{time.time_ns()}.json"
        command = [bc.python(), str(SCRIPT), "--child-threads", str(threads)]
        command += ["--epochs", str(epochs), "--trials", str(trials), "--out", str(result)]
        subprocess.run(command, env=bc.quiet_env(), check=True, capture_output=True)
        out.setdefault(threads, []).append(json.loads(result.read_text())["trials_s"])
    medians = {k: bc.median(v) for k, v in out.items()}
    return {"trials_s": out, "ratio_2_to_1": medians[2] / medians[1]}


def _threads_child(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="hpsearch-threads-") as tmp:
        prepared, suggestions = _setup(Path(tmp), epochs=args.epochs, trials=args.trials)
        _, seconds = _timed(lambda: bc.run_plain(prepared, suggestions, threads=args.child_threads))
    Path(args.out).write_text(json.dumps({"trials_s": seconds}))
    return 0


# --------------------------------------------------------------------------- stages


def compare_stages(
    work: Path, *, epochs: int, trials: int, splits: Sequence[int] = (1, 2, 4), repeats: int = 1
) -> dict:
    """The same trials through Ray (2 concurrent, MLflow off) as 1, 2 or 4 stages."""
    data = bc.find_data()
    if data is None:
        raise SystemExit("bench_overhead: no data")
    space = bc.write_space(work / "space.yaml", epochs=epochs)
    probe = bc.write_experiment(work / "probe.yaml", data=data, space=space, trials=trials)
    suggestions = bc.sample_suggestions(bc.load_prepared(probe), trials)
    params_file = work / "params.json"
    params_file.write_text(json.dumps([s.params for s in suggestions]))
    configs = {}
    for n in splits:
        size = trials // n
        stages = [
            {
                "strategy": "_bench_common:FixedList",
                "trials": size,
                "options": {"file": str(params_file), "start": i * size},
            }
            for i in range(n)
        ]
        configs[n] = bc.write_experiment(
            work / f"stages{n}.yaml",
            data=data,
            space=space,
            trials=trials,
            stages=stages,
            max_concurrent=2,
        )
    runs: dict[int, list[dict]] = {}
    for r in range(repeats):
        for n in list(splits)[r % len(splits) :] + list(splits)[: r % len(splits)]:
            out = work / f"stages{n}-{time.time_ns()}.json"
            command = [bc.python(), str(SCRIPT), "--child-stages", str(configs[n])]
            subprocess.run(
                [*command, "--out", str(out)], env=bc.quiet_env(), check=True, capture_output=True
            )
            runs.setdefault(n, []).append(json.loads(out.read_text()))
    medians = {n: bc.median([r["search"] for r in rs]) for n, rs in runs.items()}
    first = min(splits)
    per_stage = {
        n: (medians[n] - medians[first]) / (n - first) for n in splits if n != first and n > first
    }
    return {
        "search_s": {n: [r["search"] for r in rs] for n, rs in runs.items()},
        "search_median_s": medians,
        "extra_seconds_per_added_stage": per_stage,
        "worker_pids": {n: rs[0]["worker_pids"] for n, rs in runs.items()},
        "scores_identical": len({json.dumps(rs[0]["scores"]) for rs in runs.values()}) == 1,
    }


def _stages_child(args: argparse.Namespace) -> int:
    prepared = bc.load_prepared(Path(args.child_stages))
    out = bc.run_hpsearch(prepared, mlflow=False)
    Path(args.out).write_text(json.dumps(out, default=str))
    return 0


# --------------------------------------------------------------------------- mlflow


def measure_mlflow(work: Path, *, trials: int = 16, folds: int = 3, epochs: int = 20) -> dict:
    """The tracker's costs on the driver, with records shaped like real trials."""
    from hpsearch.runner.rundir import RunDir
    from hpsearch.runner.search import FoldOutcome
    from hpsearch.trial import TrialRecord, TrialResult

    uri = f"sqlite:///{work / 'mlflow.db'}"
    started = time.perf_counter()
    from mlflow import MlflowClient

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    MlflowClient(tracking_uri=uri).search_experiments()
    create_s = time.perf_counter() - started
    run_dir = RunDir.create(work / "runs", "mlflow-bench")
    run_dir.write_config({"name": "mlflow-bench", "tracking": {"uri": uri}}, "parameters: {}\n")
    from hpsearch.tracking.mlflow_tracker import MlflowTracker

    tracker = MlflowTracker.from_run_dir(run_dir.path, uri=uri, experiment="mlflow-bench")
    fold = run_dir.fold("1")
    started = time.perf_counter()
    tracker.on_fold_start("1", fold, [])
    tracker.on_stage_start("1", 0, "random", trials, 0)
    fold_start_s = time.perf_counter() - started
    per_trial = []
    records = []
    for i in range(trials):
        curves = {
            f"fold{k}/{name}": [1.0 / (e + 1) for e in range(epochs)]
            for k in range(folds)
            for name in ("loss", "val_loss")
        }
        result = TrialResult(
            i,
            {"units": 10 + i, "optimizer": "adam", "learning_rate": 1e-3},
            score=0.3 + 0.01 * i,
            metrics={"pearson_r": 0.3 + 0.01 * i, "mse": 0.7},
            fold_metrics=[{"pearson_r": 0.3, "mse": 0.7, "best_epoch": 5}] * folds,
            curves=curves,
            duration_s=4.0,
        )
        record = TrialRecord(result, started_at=time.time() - 4, finished_at=time.time())
        records.append(record)
        fold.journal.append(record)
        started = time.perf_counter()
        tracker.on_trial("1", record, record)
        per_trial.append(time.perf_counter() - started)
    started = time.perf_counter()
    tracker.on_fold_end("1", FoldOutcome("1", trials, 0, records[-1], {"pearson_r": 0.4}))
    fold_end_s = time.perf_counter() - started
    return {
        "import_mlflow_s": import_s,
        "create_tables_s": create_s,
        "fold_start_s": fold_start_s,
        "child_per_trial_median_s": bc.median(per_trial),
        "child_per_trial_max_s": max(per_trial),
        "fold_end_s": fold_end_s,
        "log_seconds": tracker.log_seconds,
        "degraded": tracker.degraded,
    }


# --------------------------------------------------------------------------- report


def run(
    which: Sequence[str],
    *,
    epochs: int,
    trials: int,
    repeats: int,
    write: bool = True,
    name: str = "bench_overhead",
) -> dict:
    out: dict[str, Any] = {"machine": bc.machine(), "epochs_cap": epochs, "trials": trials}
    with tempfile.TemporaryDirectory(prefix="hpsearch-bench-overhead-") as tmp:
        work = Path(tmp)
        if "reuse" in which or "knobs" in which:
            prepared, suggestions = _setup(work / "inproc", epochs=epochs, trials=trials)
            out["data"] = prepared.data.summary()
            if "reuse" in which:
                out["reuse"] = compare_reuse(prepared, suggestions)
            if "knobs" in which:
                out["knobs"] = compare_knobs(prepared, suggestions[: max(4, trials // 2)])
                out["threads"] = compare_threads(work, epochs=epochs, trials=max(2, min(trials, 6)))
        if "stages" in which:
            sub = work / "stages"
            sub.mkdir()
            out["stages"] = compare_stages(sub, epochs=epochs, trials=trials, repeats=repeats)
        if "mlflow" in which:
            sub = work / "mlflow"
            sub.mkdir()
            out["mlflow"] = measure_mlflow(sub, trials=trials, epochs=epochs)
    out["load_average_end"] = bc.load_average()
    out["markdown"] = markdown(out)
    if write:
        json_path, md_path = bc.write_results(name, out, out["markdown"])
        out["files"] = [str(json_path), str(md_path)]
    return out


def markdown(out: dict[str, Any]) -> str:
    parts = [
        f"Overhead knobs on {out.get('data', {}).get('n_lines', '?')} lines, epoch cap "
        f"{out['epochs_cap']}, {out['trials']} trials; load average "
        f"{out['machine']['load_average_start'][0]:.1f} → {out['load_average_end'][0]:.1f} "
        f"({out['machine']['cpus']} CPUs, shared). Ratios within one process, variants "
        "interleaved.",
        "",
    ]
    rows = []
    if "reuse" in out:
        r = out["reuse"]
        rows.append(
            (
                "model kept across inner folds (trace once per trial) vs new model per fold",
                f"{r['reuse_s']:.1f} s vs {r['new_model_per_fold_s']:.1f} s",
                r["ratio"],
                "identical" if r["all_identical"] else "DIFFERENT",
            )
        )
    if "knobs" in out:
        k = out["knobs"]
        for name, ratio in k["ratio_to_default"].items():
            if name != "default":
                rows.append(
                    (
                        name,
                        f"{k['seconds'][name]:.1f} s vs {k['seconds']['default']:.1f} s",
                        ratio,
                        "identical" if k["identical_to_default"][name] else "different",
                    )
                )
    if "threads" in out:
        t = out["threads"]
        runs = {str(k): v for k, v in t["trials_s"].items()}
        seconds = "; ".join(
            f"{n} thread(s): {' / '.join(f'{x:.1f}' for x in runs[n])} s" for n in ("2", "1")
        )
        rows.append(("2 TF threads vs 1 (one trial at a time)", seconds, t["ratio_2_to_1"], ""))
    if rows:
        parts += [bc.md_table(("knob", "seconds", "ratio", "results"), rows), ""]
    if "stages" in out:
        s = out["stages"]
        parts += [
            bc.md_table(
                ("stages (same trials, Ray, 2 concurrent)", "search wall s (median)", "runs"),
                [
                    (n, s["search_median_s"][n], " / ".join(f"{x:.1f}" for x in s["search_s"][n]))
                    for n in s["search_median_s"]
                ],
            ),
            "",
            f"Extra wall per added stage (new Tuner: new workers, TF import): "
            f"{', '.join(f'{v:.1f} s' for v in s['extra_seconds_per_added_stage'].values())}; "
            f"scores identical across splits: {s['scores_identical']}.",
            "",
        ]
    if "mlflow" in out:
        m = out["mlflow"]
        parts += [
            bc.md_table(
                ("MLflow on the driver (sqlite)", "seconds"),
                [
                    ("import mlflow", m["import_mlflow_s"]),
                    ("create the tables (first use of a store)", m["create_tables_s"]),
                    ("fold start: experiment + parent run + artifacts", m["fold_start_s"]),
                    ("child run per trial (median)", m["child_per_trial_median_s"]),
                    ("child run per trial (max)", m["child_per_trial_max_s"]),
                    ("fold end: metrics, best params, plot", m["fold_end_s"]),
                ],
            ),
            "",
        ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="?", default="all", choices=(*SUBCOMMANDS, "all"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the stage runs")
    parser.add_argument("--name", default="bench_overhead", help="results file name")
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-stages", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_threads:
        return _threads_child(args)
    if args.child_stages:
        return _stages_child(args)
    which = SUBCOMMANDS if args.which == "all" else (args.which,)
    out = run(which, epochs=args.epochs, trials=args.trials, repeats=args.repeats, name=args.name)
    print(out["markdown"])
    print("\n".join(out.get("files", [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

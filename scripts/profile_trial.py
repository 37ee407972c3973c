"""Where one trial's time goes, end to end, through ``hpsearch`` on Ray with MLflow on.

Runs a tiny search (``--trials`` trials, one at a time, so the first trial is "cold": a fresh
worker process that imports TensorFlow, and the next ones are "warm": the same reused worker)
on the wheat data (``../shared/data``; ``DATA/example`` when absent) and times every step:

* a fresh Python process and its TensorFlow + Keras import (a separate child process);
* the driver's one-off costs: data loading, Ray start, MLflow setup, outer refit, Ray stop;
* per trial: actor start + Tune scheduling, data hand-over (the object-store ``ray.get``),
  TensorFlow import in the worker, preprocessing, model build, the first epoch (tracing
  included), the other epochs, weight restore, prediction, metrics, result hand-back,
  journal, MLflow logging, and Ray's scheduling overhead = trial wall in Tune (asked →
  result on the driver) minus the time inside ``evaluate``;
* checks: TensorFlow thread counts in the worker, and any ``tf.function`` retracing warning
  across the trials of one worker.

Writes ``bench_results/profile_trial.{json,md}``; the Markdown table is the README's.

    .venv/bin/python scripts/profile_trial.py [--trials 3] [--epochs 30]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as bc

from hpsearch.runner.ray_tune import RayExecutor

# --------------------------------------------------------------------------- in the worker


class _RetraceCounter(logging.Handler):
    """Counts TensorFlow's "retracing" warnings (tf.function traced again for new inputs)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "retracing" in text.lower():
            self.count += 1
            self.first = self.first or text[:300]


def profiled_evaluate(context: Any, suggestion: Any, report: Any) -> Any:
    """``context.evaluate`` with timers around the steps of ``fit_and_score`` (in the worker).

    The timers wrap the module-level helpers of :mod:`hpsearch.training` for the duration of
    the call; the trial's own code and results are unchanged. The timings travel back in
    ``result.info["profile"]``. This function is shipped to Ray workers by value: it must not
    use ``_bench_common`` (workers cannot import the scripts folder).
    """
    import os
    import time as _time

    entered = _time.time()
    fresh = "tensorflow" not in sys.modules
    from hpsearch import training

    t = _time.perf_counter()
    training._keras()
    tf_import = _time.perf_counter() - t
    import tensorflow as tf

    counter = getattr(training, "_profile_retraces", None)
    if counter is None:  # one counter per worker process: retracing across trials counts
        counter = _RetraceCounter()
        tf.get_logger().addHandler(counter)
        training._profile_retraces = counter  # type: ignore[attr-defined]
    tf.get_logger().setLevel(logging.WARNING)
    folds: list[dict[str, Any]] = []
    epochs: list[tuple[float, int]] = []
    patched: dict[str, Any] = {}

    def wrap(name: str, key: str, *, new_fold: bool = False) -> None:
        original = getattr(training, name)
        patched[name] = original

        def timed(*args: Any, **kwargs: Any) -> Any:
            if new_fold:
                folds.append({})
            start = _time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                end = _time.perf_counter()
                folds[-1][key] = folds[-1].get(key, 0.0) + end - start
                folds[-1][key + "_end"] = end
                folds[-1].setdefault(key + "_start", start)

        setattr(training, name, timed)

    wrap("_prepare", "preprocess", new_fold=True)
    wrap("_build", "build")
    wrap("_monitor", "monitor")
    wrap("_predict", "predict")
    wrap("score_predictions", "metrics")

    def timed_report(step: int, metrics: dict[str, float]) -> None:
        epochs.append((_time.perf_counter(), int(metrics.get("fold", 0))))
        report(step, metrics)

    t = _time.perf_counter()
    try:
        result = context.evaluate(suggestion, timed_report)
    finally:
        for name, original in patched.items():
            setattr(training, name, original)
        tf.get_logger().setLevel(logging.ERROR)
    evaluate = _time.perf_counter() - t
    per_fold = []
    for k, fold in enumerate(folds):
        ticks = [when for when, f in epochs if f == k]
        fit_start = fold.get("monitor_end")
        if not ticks or fit_start is None:
            continue
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        per_fold.append(
            {
                "preprocess": fold.get("preprocess", 0.0),
                "build": fold.get("build", 0.0) + fold.get("monitor", 0.0),
                "first_epoch": ticks[0] - fit_start,
                "other_epochs": ticks[-1] - ticks[0],
                "n_epochs": len(ticks),
                "epoch_median": sorted(gaps)[len(gaps) // 2] if gaps else None,
                "restore": fold.get("predict_start", ticks[-1]) - ticks[-1],
                "predict": fold.get("predict", 0.0),
                "metrics": fold.get("metrics", 0.0),
            }
        )
    parts = ("preprocess", "build", "first_epoch", "other_epochs", "restore", "predict", "metrics")
    totals = {p: sum(f[p] for f in per_fold) for p in parts}
    medians = [f["epoch_median"] for f in per_fold if f["epoch_median"]]
    profile = {
        "entered": entered,
        "left": _time.time(),
        "pid": os.getpid(),
        "fresh_tensorflow": fresh,
        "tf_import": tf_import if fresh else 0.0,
        "evaluate": evaluate,
        **totals,
        "other_in_evaluate": evaluate - sum(totals.values()),
        "n_epochs": sum(f["n_epochs"] for f in per_fold),
        "epoch_median": statistics.median(medians) if medians else None,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "retracing_warnings_so_far": counter.count,
        "first_retracing_warning": counter.first,
    }
    result.info["profile"] = profile
    return result


# --------------------------------------------------------------------------- on the driver


class TimedRayExecutor(RayExecutor):
    """RayExecutor that notes when each trial is asked and when its result is told."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: dict[int, float] = {}
        self.told: dict[int, float] = {}
        self.start_s = 0.0
        self.close_s = 0.0

    def start(self) -> RayExecutor:
        t = time.perf_counter()
        was = self._started
        out = super().start()
        if not was:
            self.start_s = time.perf_counter() - t
            import ray

            ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        return out

    def close(self) -> None:
        t = time.perf_counter()
        super().close()
        self.close_s += time.perf_counter() - t

    def run_stage(self, strategy: Any, context: Any, **kw: Any) -> int:
        on_asked, on_result = kw.pop("on_asked"), kw.pop("on_result")

        def asked(batch: list[Any]) -> None:
            for s in batch:
                self.asked[s.trial_id] = time.time()
            on_asked(batch)

        def result(suggestion: Any, res: Any, started: float) -> None:
            self.told[suggestion.trial_id] = time.time()
            on_result(suggestion, res, started)

        return super().run_stage(strategy, context, on_asked=asked, on_result=result, **kw)


class TimedObserver:
    """Times another observer's calls (here: the MLflow tracker)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fold_start = 0.0
        self.per_trial: dict[int, float] = {}
        self.fold_end = 0.0
        self.stage = 0.0

    def on_fold_start(self, *args: Any) -> None:
        t = time.perf_counter()
        self.inner.on_fold_start(*args)
        self.fold_start += time.perf_counter() - t

    def on_stage_start(self, *args: Any) -> None:
        t = time.perf_counter()
        self.inner.on_stage_start(*args)
        self.stage += time.perf_counter() - t

    def on_trial(self, fold: str, record: Any, best: Any) -> None:
        t = time.perf_counter()
        self.inner.on_trial(fold, record, best)
        self.per_trial[record.trial_id] = time.perf_counter() - t

    def on_fold_end(self, *args: Any) -> None:
        t = time.perf_counter()
        self.inner.on_fold_end(*args)
        self.fold_end += time.perf_counter() - t


class WallClock:
    """When each trial reached the observers (after the journal and state writes)."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.last = 0.0
        self.fold_end = 0.0

    def on_fold_start(self, *args: Any) -> None:
        pass

    def on_stage_start(self, *args: Any) -> None:
        pass

    def on_trial(self, fold: str, record: Any, best: Any) -> None:
        self.seen[record.trial_id] = time.time()
        self.last = time.perf_counter()

    def on_fold_end(self, *args: Any) -> None:
        self.fold_end = time.perf_counter()


_STARTUP_PROBE = (
    "import time; t0 = time.time(); import sys; "
    "from hpsearch.training import _keras; _keras(); t1 = time.time(); "
    "print(t0, t1, flush=True)"
)


def fresh_process_cost() -> dict[str, float]:
    """A new Python process up to its first line, then hpsearch's TensorFlow + Keras import."""
    spawn = time.time()
    out = subprocess.run(
        [bc.python(), "-c", _STARTUP_PROBE],
        capture_output=True,
        text=True,
        env=bc.quiet_env(),
        check=True,
    ).stdout.split()
    t0, t1 = float(out[-2]), float(out[-1])
    return {"python_start": t0 - spawn, "tf_keras_import": t1 - t0}


def profile(
    *, trials: int = 3, epochs: int = 30, workdir: Path | None = None, write: bool = True
) -> dict[str, Any]:
    """Run the profile and return its numbers (and write them unless ``write`` is False)."""
    from hpsearch.runner.experiment import run_experiment, start_run_dir
    from hpsearch.tracking.mlflow_tracker import MlflowTracker

    data = bc.find_data()
    if data is None:
        raise SystemExit("profile_trial: neither ../shared/data/wheat.* nor DATA/example.* found")
    load_start = bc.load_average()
    startup = fresh_process_cost()
    with tempfile.TemporaryDirectory(prefix="hpsearch-profile-", dir=workdir) as tmp:
        work = Path(tmp)
        space = bc.write_space(work / "space.yaml", epochs=epochs)
        config_path = bc.write_experiment(
            work / "experiment.yaml",
            data=data,
            space=space,
            trials=trials,
            max_concurrent=1,
            mlflow_uri=f"sqlite:///{work / 'mlflow.db'}",
            name="profile",
        )
        t = time.perf_counter()
        prepared = bc.load_prepared(config_path)
        prepare_s = time.perf_counter() - t
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        run_dir = start_run_dir(prepared)
        tracker = MlflowTracker.from_run_dir(
            run_dir.path,
            uri=prepared.config.tracking.uri,
            experiment=prepared.config.tracking.experiment,
        )
        timed_tracker = TimedObserver(tracker)
        clock = WallClock()
        executor = TimedRayExecutor(
            prepared.config.execution,
            run_name="profile",
            storage_path=run_dir.path / "ray",
            evaluate=profiled_evaluate,
        )
        wall = time.perf_counter()
        outcome = run_experiment(
            prepared, run_dir=run_dir, executor=executor, observers=[clock, timed_tracker]
        )
        wall = time.perf_counter() - wall
        fold_dir = run_dir.fold(prepared.plans[0].outer.name)
        records = sorted(fold_dir.journal.read(), key=lambda r: r.trial_id)
    if not records:
        raise SystemExit("profile_trial: no trial finished")
    rows = [trial_breakdown(r, executor, clock, timed_tracker) for r in records]
    outer_refit = clock.fold_end - clock.last - timed_tracker.fold_end
    out = {
        "machine": bc.machine(),
        "data": data.label,
        "epochs_cap": epochs,
        "trials": rows,
        "once": {
            "python_start": startup["python_start"],
            "tf_keras_import_fresh_process": startup["tf_keras_import"],
            "prepare_data": prepare_s,
            "ray_init": executor.start_s,
            "mlflow_setup": timed_tracker.fold_start + timed_tracker.stage,
            "outer_refit_in_driver": outer_refit,
            "mlflow_fold_end": timed_tracker.fold_end,
            "ray_shutdown": executor.close_s,
            "run_experiment_wall": wall,
        },
        "mlflow_share_of_wall": tracker.log_seconds / wall if wall else None,
        "mlflow_log_seconds": tracker.log_seconds,
        "outer_metrics": outcome.folds[0].outer_metrics if outcome.folds else {},
        "load_average": {"start": load_start, "end": bc.load_average()},
    }
    out["markdown"] = markdown(out)
    if write:
        json_path, md_path = bc.write_results("profile_trial", out, out["markdown"])
        out["files"] = [str(json_path), str(md_path)]
    return out


def trial_breakdown(
    record: Any, executor: TimedRayExecutor, clock: WallClock, tracker: TimedObserver
) -> dict[str, Any]:
    """One trial's steps in seconds, from the worker's profile and the driver's stamps."""
    tid = record.trial_id
    prof = record.result.info.get("profile") or {}
    asked = executor.asked.get(tid, record.started_at)
    told = executor.told.get(tid, record.finished_at)
    fit_and_score = float(prof.get("evaluate", 0.0))
    evaluate = float(prof.get("tf_import", 0.0)) + fit_and_score
    tune_wall = told - asked
    return {
        "trial_id": tid,
        "status": record.result.status.value,
        "score": record.result.score,
        "worker_pid": prof.get("pid"),
        "cold": bool(prof.get("fresh_tensorflow")),
        "actor_start_and_scheduling": record.started_at - asked,
        "data_handover": prof.get("entered", record.started_at) - record.started_at,
        "tf_import": prof.get("tf_import", 0.0),
        "preprocess": prof.get("preprocess"),
        "build": prof.get("build"),
        "first_epoch": prof.get("first_epoch"),
        "other_epochs": prof.get("other_epochs"),
        "n_epochs": prof.get("n_epochs"),
        "epoch_median": prof.get("epoch_median"),
        "restore_weights": prof.get("restore"),
        "predict": prof.get("predict"),
        "metrics": prof.get("metrics"),
        "other_in_evaluate": prof.get("other_in_evaluate"),
        "fit_and_score": fit_and_score,
        "evaluate": evaluate,
        "result_handback": told - prof.get("left", told),
        "journal_and_state": clock.seen.get(tid, told) - told,
        "mlflow_child": tracker.per_trial.get(tid, 0.0),
        "tune_wall": tune_wall,
        "ray_overhead": tune_wall - evaluate,
        "intra_op_threads": prof.get("intra_op_threads"),
        "inter_op_threads": prof.get("inter_op_threads"),
        "omp_num_threads": prof.get("omp_num_threads"),
        "retracing_warnings_so_far": prof.get("retracing_warnings_so_far"),
        "first_retracing_warning": prof.get("first_retracing_warning"),
    }


STEPS = (
    ("actor_start_and_scheduling", "actor start + Tune scheduling (asked → trial function runs)"),
    ("data_handover", "data hand-over (object-store `ray.get` of the genotypes)"),
    ("tf_import", "TensorFlow + Keras import in the worker (first trial only)"),
    ("preprocess", "preprocessing (fit on train part, transform), all folds"),
    ("build", "model build + compile, all folds"),
    ("first_epoch", "first epoch incl. tf.function tracing, all folds"),
    ("other_epochs", "other epochs, all folds"),
    ("restore_weights", "restore best weights"),
    ("predict", "prediction (direct call)"),
    ("metrics", "metric computation"),
    ("other_in_evaluate", "rest of evaluate (session clear, seeding, threads)"),
    ("fit_and_score", "**fit_and_score (the steps from preprocessing on)**"),
    ("evaluate", "**inside evaluate (TF import + fit_and_score)**"),
    ("result_handback", "result back to the driver"),
    ("journal_and_state", "journal append + state write (driver)"),
    ("mlflow_child", "MLflow child run (driver)"),
    ("tune_wall", "**trial wall in Tune (asked → result on driver)**"),
    ("ray_overhead", "Ray scheduling overhead (Tune wall − inside evaluate)"),
)


def markdown(out: dict[str, Any]) -> str:
    """The README's performance table: once-per-search costs and a cold and a warm trial."""
    trials = out["trials"]
    cold = next((t for t in trials if t["cold"]), trials[0])
    warm = [t for t in trials if not t["cold"]]

    def warm_value(key: str) -> float | None:
        values = [t[key] for t in warm if isinstance(t.get(key), (int, float))]
        return bc.median(values) if values else None

    rows = []
    for key, label in STEPS:
        rows.append((label, cold.get(key), warm_value(key)))
    lines = [
        f"One trial on {out['data']} (MLP, 3 inner folds, epoch cap {out['epochs_cap']}, "
        f"early stopping), hpsearch on a local Ray, 1 trial at a time, MLflow on (sqlite).",
        f"Cold = first trial in a fresh worker; warm = median of the {len(warm)} later trials "
        "in the same reused worker. Seconds.",
        "",
        bc.md_table(("step", "cold trial", "warm trial"), rows),
        "",
        f"Epochs run: cold {cold.get('n_epochs')}, warm {warm_value('n_epochs')}; "
        f"median epoch {cold.get('epoch_median') or float('nan'):.3f} s (cold), "
        f"{warm_value('epoch_median') or float('nan'):.3f} s (warm).",
        f"Worker threads: intra-op {cold.get('intra_op_threads')}, inter-op "
        f"{cold.get('inter_op_threads')}, OMP_NUM_THREADS={cold.get('omp_num_threads')}; "
        f"tf.function retracing warnings across {len(trials)} trials in one worker: "
        f"{trials[-1].get('retracing_warnings_so_far')}.",
        "",
        "Once per search (driver):",
        "",
        bc.md_table(
            ("step", "seconds"),
            [
                ("fresh Python process to its first line", out["once"]["python_start"]),
                (
                    "TensorFlow + Keras import (fresh process)",
                    out["once"]["tf_keras_import_fresh_process"],
                ),
                ("load data + make folds (prepare)", out["once"]["prepare_data"]),
                ("ray.init", out["once"]["ray_init"]),
                ("MLflow setup (import, experiment, parent run)", out["once"]["mlflow_setup"]),
                (
                    "outer refit + test (in the driver, TF import incl.)",
                    out["once"]["outer_refit_in_driver"],
                ),
                ("MLflow fold end (metrics, plot)", out["once"]["mlflow_fold_end"]),
                ("Ray shutdown", out["once"]["ray_shutdown"]),
                ("**run_experiment wall**", out["once"]["run_experiment_wall"]),
            ],
        ),
        "",
        f"MLflow per trial (child run, on the driver): {warm_value('mlflow_child') or 0:.3f} s = "
        f"{100 * (warm_value('mlflow_child') or 0) / (warm_value('tune_wall') or 1):.1f} % of a "
        f"warm trial; over the whole run {out['mlflow_log_seconds']:.2f} s = "
        f"{100 * (out['mlflow_share_of_wall'] or 0):.1f} % of its wall (mostly the one-off "
        "`import mlflow`). Load average during the run: "
        f"{out['load_average']['start'][0]:.2f} → {out['load_average']['end'][0]:.2f} "
        f"(2 cores).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3, help="trials (first is cold)")
    parser.add_argument("--epochs", type=int, default=30, help="epoch cap per fit")
    args = parser.parse_args(argv)
    out = profile(trials=args.trials, epochs=args.epochs)
    print(out["markdown"])
    print("\n" + "\n".join(out.get("files", [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

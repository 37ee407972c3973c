#!/usr/bin/env bash
# GPU smoke test of the Ray executor: 4 trials share one GPU (gpus_per_trial 0.25), each with
# TensorFlow capped to its share by hpsearch.runner.ray_tune.configure_gpu_memory.
#
# What it shows, per trial: the worker pid, the GPU Ray assigned (CUDA_VISIBLE_DEVICES), what
# configure_gpu_memory did, TensorFlow's memory limit, the peak TensorFlow used, and whether an
# allocation larger than the cap was refused; overall: how many trials ran at the same time and
# the most GPU memory each process held (nvidia-smi, sampled from the driver). It fails (exit 1)
# unless 4 trials overlapped, every trial was capped near 0.25 of the card, and every over-cap
# allocation was refused.
#
# Usage: scripts/gpu_smoke.sh [--keras] [--dry-run]
#   --keras     then also run 4 real MLP trials (context.evaluate on simulated data) 4 at a time
#   --dry-run   no GPU needed: Ray pretends to have one, to check the plumbing (checks will fail)
# Environment: PYTHON (default: .venv/bin/python if present, else python).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
if [[ " $* " != *" --dry-run "* ]]; then
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        echo "gpu_smoke: nvidia-smi not found: this needs a machine with an NVIDIA GPU" >&2
        exit 2
    fi
    nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

exec "$PYTHON" - "$@" <<'PY'
"""The smoke test proper (see scripts/gpu_smoke.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hpsearch.config import ExecutionConfig
from hpsearch.runner import ray_tune
from hpsearch.runner.ray_tune import RayExecutor
from hpsearch.space import FixedParam, FloatParam, IntParam, Space
from hpsearch.strategies import make_strategy
from hpsearch.trial import Suggestion, TrialResult, TrialStatus

SHARE = 0.25
TRIALS = 4
KERAS = "--keras" in sys.argv
DRY_RUN = "--dry-run" in sys.argv
MIB = 1024 * 1024


def gpu_evaluate(context: dict, suggestion: Suggestion, report) -> TrialResult:
    """Runs matmuls on the GPU for a few seconds, then tries to allocate past the cap."""
    import tensorflow as tf

    start = time.time()
    physical = tf.config.list_physical_devices("GPU")
    info = {
        "pid": os.getpid(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_setup": ray_tune._gpu_setup,
        "limit_mib": None,
        "peak_mib": None,
        "over_cap_refused": None,
    }
    if physical:
        configs = tf.config.get_logical_device_configuration(physical[0]) or []
        info["limit_mib"] = configs[0].memory_limit if configs else None
        with tf.device("/GPU:0"):
            a = tf.random.normal((2048, 2048))
            while time.time() - start < context["seconds"]:
                a = tf.linalg.matmul(a, a) / 2048.0
            float(tf.reduce_sum(a))
            if info["limit_mib"]:
                try:  # 256 MiB more than the whole cap: must be refused
                    big = tf.zeros(((info["limit_mib"] + 256) * MIB // 4,), tf.float32)
                    float(tf.reduce_sum(big))
                    info["over_cap_refused"] = False
                except tf.errors.ResourceExhaustedError:
                    info["over_cap_refused"] = True
        info["peak_mib"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] // MIB
    else:
        time.sleep(context["seconds"])
    info["start"], info["end"] = start, time.time()
    return TrialResult(
        suggestion.trial_id, suggestion.params, TrialStatus.COMPLETED, 0.0, info=info
    )


def sample_nvidia_smi(stop: threading.Event, seen: dict[int, int]) -> None:
    """Most GPU memory (MiB) each process held, sampled every 0.5 s."""
    exe = shutil.which("nvidia-smi")
    while exe and not stop.is_set():
        out = subprocess.run(
            [exe, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
        ).stdout
        for line in out.strip().splitlines():
            try:
                pid, used = (int(x) for x in line.split(","))
            except ValueError:
                continue
            seen[pid] = max(seen.get(pid, 0), used)
        stop.wait(0.5)


def overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    return peak


def run_stage(executor: RayExecutor, context, space: Space) -> list[TrialResult]:
    results: list[TrialResult] = []
    executor.run_stage(
        make_strategy("random", space, seed=0),
        context,
        budget=TRIALS,
        on_asked=lambda batch: None,
        on_result=lambda s, r, t: results.append(r),
        should_stop=lambda: False,
    )
    return sorted(results, key=lambda r: r.trial_id)


def main() -> int:
    cpus = max(0.25, min(1.0, (os.cpu_count() or 1) / TRIALS))
    execution = ExecutionConfig(
        executor="ray", max_concurrent=TRIALS, cpus_per_trial=cpus, gpus_per_trial=SHARE
    )
    storage = Path(tempfile.mkdtemp(prefix="hpsearch-gpu-smoke-"))
    if DRY_RUN:
        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=os.cpu_count(), num_gpus=1, include_dashboard=False)
    total = ray_tune._device_memory_mib()
    expected = ray_tune.gpu_memory_limit_mib(SHARE, total) if total else None
    print(f"GPU memory: {total} MiB; expected cap per trial: {expected} MiB")

    seen: dict[int, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_nvidia_smi, args=(stop, seen), daemon=True)
    sampler.start()
    executor = RayExecutor(
        execution, run_name="gpu-smoke", storage_path=storage, evaluate=gpu_evaluate
    )
    failures: list[str] = []
    try:
        wall = time.perf_counter()
        seconds = 2.0 if DRY_RUN else 8.0
        results = run_stage(executor, {"seconds": seconds}, Space([FloatParam("x", 0.0, 1.0)]))
        wall = time.perf_counter() - wall
        print(f"\n{TRIALS} GPU trials, {SHARE} GPU each: run_stage {wall:.1f} s")
        header = "trial  pid      GPU  limit MiB  TF peak MiB  smi MiB  over-cap refused  setup"
        print(header)
        for r in results:
            i = r.info
            print(
                f"{r.trial_id:5d}  {i.get('pid')!s:7}  {i.get('cuda_visible_devices')!s:3}  "
                f"{i.get('limit_mib')!s:9}  {i.get('peak_mib')!s:11}  "
                f"{seen.get(i.get('pid'), '-')!s:7}  {i.get('over_cap_refused')!s:16}  "
                f"{i.get('gpu_setup')}"
            )
            if r.status != TrialStatus.COMPLETED:
                failures.append(f"trial {r.trial_id} {r.status}: {r.error}")
                continue
            if i.get("limit_mib") is None or (expected and i["limit_mib"] != expected):
                failures.append(f"trial {r.trial_id}: limit {i.get('limit_mib')} != {expected}")
            if i.get("over_cap_refused") is not True:
                failures.append(f"trial {r.trial_id}: an allocation past the cap was not refused")
        spans = [(r.info["start"], r.info["end"]) for r in results if "start" in r.info]
        together = overlap(spans)
        print(f"trials running at the same time: {together} (want {TRIALS})")
        if together < TRIALS:
            failures.append(f"only {together} trials overlapped")

        if KERAS:
            failures += keras_trials(execution, storage)
    finally:
        stop.set()
        executor.close()
        if DRY_RUN:
            import ray

            ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
    print("\n" + ("OK" if not failures else "FAILED:\n  " + "\n  ".join(failures)))
    return 0 if not failures else 1


def keras_trials(execution: ExecutionConfig, storage: Path) -> list[str]:
    """4 real MLP trials through context.evaluate (the default evaluate), 4 at a time."""
    import numpy as np

    from hpsearch.data.dataset import FoldPlan, GenomicData, Split
    from hpsearch.runner.context import TrialContext
    from hpsearch.trial import Objective

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(600, 1000)).astype(np.float32)
    y = x[:, :50] @ rng.normal(size=50) + rng.normal(scale=2.0, size=600)
    data = GenomicData(
        x, y, "regression", "sim", [f"l{i}" for i in range(600)], [f"m{j}" for j in range(1000)]
    )
    rows = np.arange(600)
    plan = FoldPlan(
        Split(rows[:500], rows[500:], "outer"),
        (Split(rows[:400], rows[400:500], "inner0"),),
    )
    context = TrialContext(data, plan, "mlp", Objective("pearson_r", "maximize"))
    space = Space(
        [
            FloatParam("learning_rate", 1e-4, 1e-2, log=True),
            IntParam("units", 32, 256, log=True),
            FixedParam("n_layers", 2),
            FixedParam("optimizer", "adam"),
            FixedParam("epochs", 30),
            FixedParam("batch_size", 32),
        ]
    )
    keras_executor = RayExecutor(execution, run_name="gpu-smoke-keras", storage_path=storage)
    wall = time.perf_counter()
    results = run_stage(keras_executor, context, space)  # Ray is already up: reused
    wall = time.perf_counter() - wall
    print(f"\n{TRIALS} Keras MLP trials on the GPU, 4 at a time: run_stage {wall:.1f} s")
    failures = []
    for r in results:
        print(
            f"  trial {r.trial_id}: {r.status.value} score {r.score} "
            f"{r.duration_s:.1f} s  {r.info.get('gpu_setup')}"
        )
        if r.status != TrialStatus.COMPLETED:
            failures.append(f"keras trial {r.trial_id}: {r.error}")
    return failures


sys.exit(main())
PY

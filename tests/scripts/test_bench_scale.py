"""bench_scale's search mode: the process-tree memory sampler, the experiment it writes, and
one tiny `hpsearch run` measured end to end (real Ray, Keras, MLflow)."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_scale.py"
MB = 1024**2


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module
    spec.loader.exec_module(module)
    return module


bench = _load_script()

# A parent that maps 64 MB of shared memory, touches it, forks a child that touches it too,
# then waits for stdin to close and exits (leaving the child, re-parented, alive).
TWO_PROCESSES = textwrap.dedent(
    """
    import mmap, os, sys, time
    size = 64 * 1024 * 1024
    buf = mmap.mmap(-1, size)  # MAP_SHARED | MAP_ANONYMOUS: shmem pages
    buf.write(b"x" * size)
    if os.fork() == 0:
        sum(buf[i] for i in range(0, size, 4096))  # map every page in the child too
        print("child", os.getpid(), flush=True)
        time.sleep(60)
        os._exit(0)
    print("parent", os.getpid(), flush=True)
    sys.stdin.read()
    """
)


def test_tree_sampler_counts_descendants_and_shared_pages_once() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", TWO_PROCESSES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    pids = {}
    try:
        for _ in range(2):
            who, pid = proc.stdout.readline().split()
            pids[who] = int(pid)
        sampler = bench.TreeSampler(proc.pid)
        assert sampler.sample() == 2
        assert set(sampler.known) == {proc.pid, pids["child"]}
        # Both map the same 64 MB: RSS counts it twice, PSS (and its shmem part) once.
        assert sampler.peak["rss"] >= 2 * 60 * MB
        assert 60 * MB <= sampler.peak["shmem"] <= 70 * MB
        assert sampler.peak["pss"] < sampler.peak["rss"] - 50 * MB
        assert 25 * MB < sampler.peak_pss[pids["child"]] < 40 * MB  # half of the 64 MB
        proc.stdin.close()
        proc.wait(timeout=10)  # the parent exits; its child lives on, re-parented
        assert sampler.sample() == 1
        assert sampler.peak_pss[pids["child"]] >= 60 * MB  # now the only one mapping it
    finally:
        if "child" in pids:
            subprocess.run(["kill", str(pids["child"])], check=False)
        proc.kill()
        proc.wait()


def test_search_config_is_a_valid_two_trial_grid(tmp_path: Path) -> None:
    from hpsearch.config import load_config
    from hpsearch.space.loader import load_space

    bench.make_files(40, 50, tmp_path, 0)
    config = load_config(bench.write_search_config(tmp_path, epochs=3, top_k=20, seed=1))
    assert config.model == "mlp" and config.execution.executor == "ray"
    assert config.execution.max_concurrent == 2 and config.execution.cpus_per_trial == 1
    assert [(s.strategy, s.trials) for s in config.stages] == [("grid", 2)]
    assert config.tracking.mlflow and config.tracking.uri.startswith("sqlite:///")
    assert config.evaluation.inner["holdout"] == 0.2
    grid = list(load_space(config.space).grid())
    assert len(grid) == 2
    assert sorted(p["learning_rate"] for p in grid) == sorted(bench.LEARNING_RATES)
    for params in grid:
        assert params["epochs"] == 3 and params["preselect_top_k"] == 20
        assert {k: params[k] for k in bench.PARAMS if k != "learning_rate"} == {
            k: v for k, v in bench.PARAMS.items() if k != "learning_rate"
        }


@pytest.mark.integration
def test_search_mode_measures_a_real_run(tmp_path: Path) -> None:
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("keras") is None:
        pytest.skip("ray and keras are needed")
    row = bench.search_size(300, 1000, epochs=1, top_k=2000, seed=0, workdir=tmp_path)
    raw = row["raw"]
    assert row["exit_code"] == 0, raw["stderr_tail"]
    assert row["status"] == ["completed", "completed"]
    assert all(isinstance(s, float) and math.isfinite(s) for s in row["scores"])
    assert sorted(t["learning_rate"] for t in raw["trials"]) == sorted(bench.LEARNING_RATES)
    assert row["trial_workers"] == 2  # both trial workers were seen and sampled
    assert raw["left_running"] == 0  # Ray's processes ended with the driver
    assert raw["processes_seen"] > 3 and raw["samples"] > 5
    int8 = 300 * 1000
    assert row["int8_mb"] == pytest.approx(int8 / MB)
    peak = row["tree_peak_pss_mb"]
    assert peak >= max(row["driver_peak_pss_mb"], row["largest_worker_peak_pss_mb"]) > 100
    assert row["tree_peak_shmem_pss_mb"] >= int8 / MB  # the object store's copy of the data
    assert row["ratio_tree_peak_pss_to_int8"] == pytest.approx(peak * MB / int8)
    assert row["within_24gb"] and (tmp_path / "mlflow.db").is_file()

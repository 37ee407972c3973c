"""Smoke runs of the benchmark scripts' core functions: 1-2 trials, 2 epochs, real Keras/Ray.

Checks what the benchmarks rely on, not their timings (the machine is shared): the fixed trial
list is what hpsearch runs, a trial gives the same score in a bare pinned process and through
Ray (same seeds, one thread each), keeping a trial's model across its inner folds changes no
number, the profile's steps add up, and KerasTuner runs on the same split. Data: the wheat
files in ``../shared/data`` when present, else the bundled ``DATA/example``.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import _bench_common as bc  # noqa: E402

pytestmark = pytest.mark.integration
if importlib.util.find_spec("ray") is None or importlib.util.find_spec("keras") is None:
    pytest.skip("ray and keras are needed", allow_module_level=True)
if bc.find_data() is None:
    pytest.skip("no data: ../shared/data/wheat.* or DATA/example.*", allow_module_level=True)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One private local Ray for the module; the scripts' executors find it and leave it up."""
    from hpsearch.config import ExecutionConfig
    from hpsearch.runner.ray_tune import RayExecutor

    owner = RayExecutor(
        ExecutionConfig(executor="ray", max_concurrent=2, cpus_per_trial=1.0),
        run_name="smoke",
        storage_path=tmp_path_factory.mktemp("ray"),
    ).start()
    yield
    owner.close()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import bench_parallel

    return bench_parallel.setup(tmp_path_factory.mktemp("bench"), epochs=2, trials=2)


def finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def test_fixed_list_is_what_hpsearch_runs_and_pinned_processes_agree_with_ray(
    bench: Any, local_ray: None
) -> None:
    import bench_parallel

    pinned = bench_parallel.run_variant(bench, "pinned2")  # 2 fresh processes, 1 trial each
    assert pinned["n_failed"] == 0 and len(pinned["scores"]) == 2
    assert pinned["wall"] > 0 and pinned["trial_seconds_sum"] > 0
    ray = bench_parallel.run_hpsearch_variant(bench, "ray2")  # raises if the trials differ
    assert ray["n_trials"] == 2 and ray["n_failed"] == 0
    assert ray["outer_refit"] > 0 and ray["search"] < ray["wall"]
    assert not ray["mlflow_degraded"] and ray["mlflow_s"] > 0
    assert {str(k): v for k, v in ray["scores"].items()} == pinned["scores"]  # same seeds
    assert all(finite(v) for v in pinned["scores"].values())


def test_model_reuse_changes_no_number(bench: Any) -> None:
    import bench_overhead

    prepared = bc.load_prepared(Path(bench.configs["plain"]))
    suggestions = bc.sample_suggestions(prepared, 2)
    out = bench_overhead.compare_reuse(prepared, suggestions)
    assert out["all_identical"], out["rows"]
    assert len(out["rows"]) == 2 and out["reuse_s"] > 0 and out["new_model_per_fold_s"] > 0


def test_profile_breaks_a_trial_down(tmp_path: Path, local_ray: None) -> None:
    import profile_trial

    out = profile_trial.profile(trials=2, epochs=2, workdir=tmp_path, write=False)
    trials = out["trials"]
    assert [t["trial_id"] for t in trials] == [0, 1]
    assert all(t["status"] == "completed" for t in trials)
    assert trials[0]["worker_pid"] == trials[1]["worker_pid"]  # the worker was reused
    for t in trials:
        assert 1 <= t["n_epochs"] <= 6  # 3 folds x at most 2 epochs
        inside = sum(
            t[k]
            for k in (
                "preprocess",
                "build",
                "first_epoch",
                "other_epochs",
                "restore_weights",
                "predict",
                "metrics",
                "other_in_evaluate",
            )
        )
        assert inside == pytest.approx(t["fit_and_score"], rel=1e-6)
        assert t["evaluate"] == pytest.approx(t["tf_import"] + t["fit_and_score"])
        assert t["tune_wall"] >= t["evaluate"] > 0
        assert t["intra_op_threads"] == 1  # one CPU per trial, one thread
    assert "| step | cold trial | warm trial |" in out["markdown"]
    assert out["once"]["run_experiment_wall"] > out["once"]["outer_refit_in_driver"] > 0


def test_mlflow_costs_are_measured(tmp_path: Path) -> None:
    import bench_overhead

    out = bench_overhead.measure_mlflow(tmp_path, trials=2, folds=3, epochs=2)
    assert not out["degraded"]
    assert out["child_per_trial_median_s"] > 0 and out["log_seconds"] > 0


def test_keras_tuner_runs_on_the_same_split(tmp_path: Path) -> None:
    pytest.importorskip("keras_tuner")
    pytest.importorskip("tensorboard")
    import bench_kerastuner

    data = bc.find_data()
    assert data is not None
    files = bench_kerastuner.write_configs(tmp_path, trials=2, epochs=2, seed=0, data=data)
    out = bench_kerastuner.keras_tuner_search(
        files["config"], trials=2, epochs=2, seed=0, directory=tmp_path / "kt"
    )
    assert out["n_trials"] == 2 and out["n_scored"] == 2
    assert all(finite(s) for s in out["scores"]) and out["search_s"] > 0

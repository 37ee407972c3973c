"""The fault catalogue as tests: each fault of ``scripts/chaos.py`` injected for real.

Every test runs a tiny experiment through the ``hpsearch`` command line in a subprocess
(simulated 60 x 40 data, a small MLP, 3-5 epochs), injects its fault from outside, and checks
what the run left on disk and in MLflow: the observations come from ``scripts/chaos.py`` (the
same code writes ``bench_results/chaos.md``), the judgement is made here, trial by trial.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _load_chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hpsearch_chaos", REPO / "scripts" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


chaos = _load_chaos()

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray")


def assert_complete(result: dict[str, Any], trials: int) -> None:
    """Exactly ``trials`` trials, ids 0..trials-1, each once in the journal and in MLflow."""
    assert result["journal_trials"] == trials, result
    assert result["journal_lost"] == [] and result["journal_duplicates"] == [], result
    assert result["journal_unexpected"] == [], result
    assert result["mlflow_lost"] == [] and result["mlflow_duplicates"] == [], result
    assert result["mlflow_children"] == trials, result
    assert result["lost"] == 0 and result["duplicates"] == 0


@needs_ray
@needs_proc
def test_ray_workers_killed_mid_trial_are_retried_and_recorded_once(tmp_path: Path) -> None:
    result = chaos.worker_kills(tmp_path, kills=3, trials=4)
    assert result["returncode"] == 0, result["stderr_tail"]
    assert len(result["killed"]) == 3, "the test could not kill three trial workers"
    assert all(k["pid"] != result["driver_pid"] for k in result["killed"])
    assert len({k["pid"] for k in result["killed"]}) == 3
    for kill in result["killed"]:  # the killed trial ran again and counts once
        assert len(kill["trial_ids"]) == 1, kill
        assert kill["statuses"] == ["completed"], kill
        assert kill["mlflow_children"] == 1, kill
    assert result["statuses"] == ["completed"] * 4
    assert_complete(result, 4)
    assert result["injected"] == result["survived"] == 3


@needs_proc
def test_driver_killed_at_five_random_points_then_resumed_loses_nothing(tmp_path: Path) -> None:
    result = chaos.driver_kills(tmp_path, kills=5, trials=7, seed=11)
    launches = result["launches"]
    kills = [launch for launch in launches if launch["killed"]]
    assert len(kills) == 5, launches
    assert all(launch["returncode"] == -9 for launch in kills)
    assert all(launch["journal_readable"] is True for launch in kills)
    assert [launch["argv"][0] for launch in launches[1:]] == ["resume"] * 5
    assert launches[-1]["returncode"] == 0, result["final_stderr"]
    assert result["summary_exists"]
    assert result["statuses"] == ["completed"] * 7
    assert all(v == ["FINISHED"] for v in result["mlflow_statuses"].values())
    assert_complete(result, 7)


@needs_proc
def test_a_kill_while_mlflow_creates_its_store_leaves_a_usable_store(tmp_path: Path) -> None:
    result = chaos.kill_in_store_creation(tmp_path, trials=2)
    assert result["killed"], "the run ended before the kill"
    assert result["returncode"] == 0, result["resume_stderr"]
    assert result["store_error"] is None
    assert not result["tracking_degraded_on_resume"], result["resume_stderr"]
    assert result["side_files_left"] == []
    assert_complete(result, 2)


@needs_proc
def test_mlflow_server_stopped_mid_search_then_sync_fills_it_once(tmp_path: Path) -> None:
    result = chaos.mlflow_outage(tmp_path, trials=5, stop_after=2)
    assert result["stopped_while_running"], "the search ended before the server was stopped"
    assert result["returncode"] == 0, result["run_stderr"]
    assert "hpsearch sync" in result["run_stdout"]
    warnings = [
        line
        for line in result["run_stderr"].splitlines()
        if line.startswith("hpsearch: MLflow tracking at")
    ]
    assert len(warnings) == 1 and "stopped" in warnings[0], result["run_stderr"]
    assert result["journal_trials"] == 5
    assert result["children_before_sync"] < 5
    assert result["sync_returncodes"] == [0, 0]
    assert result["children_after_sync"] == 5
    assert result["children_after_second_sync"] == 5 and result["second_sync_added"] == 0
    assert "'logged': 0" in result["sync_outputs"][1]
    assert_complete(result, 5)
    assert result["server_starts"] == 2
    assert result["shm_leftovers"] == []
    assert not set(result["huey_dirs"]) & {f"/dev/shm/{n}" for n in result["shm_new_entries"]}


@needs_proc
@pytest.mark.parametrize("executor", ["inprocess", pytest.param("ray", marks=needs_ray)])
def test_ctrl_c_stops_with_130_one_line_and_resume_finishes(tmp_path: Path, executor: str) -> None:
    result = chaos.ctrl_c(tmp_path, trials=4, after=2, executor=executor)
    assert result["interrupted_while_running"], "the run ended before the SIGINT"
    assert result["returncode"] == 130, result["stderr"]
    assert len(result["interrupt_lines"]) == 1, result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert result["at_stop"]["state_json"] and result["at_stop"]["journal_lines"] >= 2
    assert not result["at_stop"]["summary_json"]
    assert result["processes_left_in_session"] == []
    assert result["resume_returncode"] == 0, result["resume_stderr"]
    assert_complete(result, 4)


def test_diverging_and_raising_trials_fail_alone(tmp_path: Path) -> None:
    result = chaos.failing_trials(tmp_path)
    assert result["returncode"] == 0, result["stderr"]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for trial in result["trials"]:
        by_kind.setdefault(trial["expected"], []).append(trial)
    assert {k: len(v) for k, v in by_kind.items()} == {"diverges": 1, "raises": 2, "trains": 1}
    for trial in by_kind["diverges"]:
        assert trial["status"] == "failed" and trial["error"].startswith("diverged:"), trial
        assert any(word in trial["error"] for word in ("nan", "inf")), trial
    for trial in by_kind["raises"]:
        assert trial["status"] == "failed" and "RuntimeError: boom" in trial["error"], trial
    for trial in by_kind["diverges"] + by_kind["raises"]:
        assert trial["mlflow_status"] == "FAILED" and trial["mlflow_error"] == trial["error"]
    (trained,) = by_kind["trains"]
    assert trained["status"] == "completed" and trained["mlflow_status"] == "FINISHED"
    assert "best trial #" in result["stdout"]
    assert_complete(result, 4)

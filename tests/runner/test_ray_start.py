"""Ray started in the background while the data load (hpsearch.runner.ray_start).

Each case runs in a fresh Python process: Ray is process-wide, and the failure guarded here
(Ray's GCS killed when the thread that started it ends, PR_SET_PDEATHSIG) makes the process
hang for 60 s and then terminate itself, which must not take the test session with it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed", allow_module_level=True)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_early_start_survives_its_thread_and_stops_with_shutdown() -> None:
    result = _python(
        """
        import threading, time
        from hpsearch.config import ExecutionConfig
        from hpsearch.runner import ray_start

        execution = ExecutionConfig()
        ray_start.start_early(execution)
        ray_start.start_early(execution)  # idempotent: still one start
        time.sleep(1.0)  # the main thread's own work (the data loading) goes on meanwhile
        assert ray_start.init_ray(execution) is True  # the early connection is ours to close
        import ray

        @ray.remote
        def square(x):
            return x * x

        time.sleep(3.0)  # a GCS killed with the starting thread would be gone by now
        assert ray.get([square.remote(i) for i in range(4)], timeout=60) == [0, 1, 4, 9]
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        starter = [t for t in threading.enumerate() if t.name == "hpsearch-ray-start"]
        assert len(starter) == 1
        ray_start.shutdown_ray()
        starter[0].join(timeout=10)
        assert not starter[0].is_alive() and not ray.is_initialized()
        assert ray_start.init_ray(execution) is True  # a later start, in the main thread
        assert ray.get(square.remote(5), timeout=60) == 25
        ray_start.shutdown_ray()
        print("OK")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
    assert "SIGTERM handler is not set" not in result.stderr


def test_cancel_shuts_the_early_ray_down_and_errors_reach_init() -> None:
    result = _python(
        """
        from hpsearch.config import ExecutionConfig
        from hpsearch.errors import ConfigError
        from hpsearch.runner import ray_start

        ray_start.start_early(ExecutionConfig())
        ray_start.cancel_early()  # the data were bad: no search, no Ray left behind
        import ray

        assert not ray.is_initialized()
        try:  # nobody listens there: the same one-line error as without an early start
            ray_start.start_early(ExecutionConfig(address="127.0.0.1:9"))
        except ConfigError as exc:
            assert "execution.address" in str(exc), exc
            print("OK")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "OK"


def test_bad_data_with_the_ray_executor_exits_2_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "g.X").write_text("0 1 2\n1 0\n")  # ragged: row 2 has 2 markers
    (tmp_path / "p.Y").write_text("1.0\n2.0\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {genotypes: g.X, phenotypes: p.Y, trait: 0}\n"
        "evaluation: {outer: {holdout: 0.5}, inner: {kfold: 2}}\n"
        "model: mlp\nstages: [{strategy: random, trials: 1}]\n"
        "execution: {executor: ray}\ntracking: {mlflow: false}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "hpsearch", "run", str(config)],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "g.X" in lines[0], result.stderr

"""A search joined to a Ray cluster that the user started from the shell (`ray start --head`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpsearch.cli import main

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def test_search_joins_a_cluster_started_with_ray_start(tmp_path: Path) -> None:
    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        pytest.skip("the ray command is not installed next to this Python")
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--node-ip-address=127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, 60)
        assert main(["simulate", "--out", str(tmp_path), "--lines", "100", "--markers", "80",
                     "--traits", "1", "--folds", "3"]) == 0  # fmt: skip
        (tmp_path / "space.yaml").write_text(
            "parameters:\n  units: {type: int, low: 2, high: 8}\n  epochs: 4\n  patience: 2\n"
        )
        config = tmp_path / "exp.yaml"
        config.write_text(
            "data: {genotypes: sim.X, phenotypes: sim.Y}\n"
            "evaluation: {outer: {fold_file: sim.sets, folds: [1]}, inner: {kfold: 2}}\n"
            "space: space.yaml\n"
            "stages: [{strategy: random, trials: 3}]\n"
            f"execution: {{executor: ray, address: '127.0.0.1:{port}', max_concurrent: 2}}\n"
            "tracking: {mlflow: false}\n"
        )
        os.environ["RAY_AUTH_MODE"] = "disabled"
        try:
            code = main(["run", str(config), "--output", str(tmp_path / "runs"), "--quiet"])
        finally:
            os.environ.pop("RAY_AUTH_MODE", None)
        assert code == 0
        (run_dir,) = (tmp_path / "runs").iterdir()
        journal = (run_dir / "fold1" / "trials.jsonl").read_text().splitlines()
        assert len(journal) == 3
        assert head.poll() is None, "the user's cluster must outlive the search"
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)

"""The MLflow UI that ``hpsearch ui`` serves shows the search's runs in a real (headless) browser.

A tiny search is tracked into a sqlite store, ``hpsearch ui RUN_DIR`` serves it, and Debian's
``chromium`` renders the experiment's runs page (``#/experiments/<id>/runs``; the page needs
``--virtual-time-budget`` to finish rendering). The rendered DOM must hold the search's parent
run and count every run of the search. Skipped when chromium is not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hpsearch.cli import main

pytestmark = pytest.mark.integration

BROWSER = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
TRIALS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        assert process.poll() is None, f"hpsearch ui exited with {process.returncode}"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to ``hpsearch ui`` (it stops its server), then make sure its session is gone."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def tiny_search(folder: Path) -> Path:
    """A 3-trial search tracked into ``folder/mlflow.db``; returns its run directory."""
    assert main(["simulate", "--out", str(folder), "--lines", "50", "--markers", "30",
                 "--traits", "1", "--folds", "3", "--seed", "2"]) == 0  # fmt: skip
    (folder / "space.yaml").write_text(
        "parameters:\n  units: {type: int, low: 2, high: 8}\n  epochs: 2\n"
    )
    config = folder / "exp.yaml"
    config.write_text(
        "name: ui-browser\n"
        "data: {genotypes: sim.X, phenotypes: sim.Y, trait: 0}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: [1]}, inner: {kfold: 2}}\n"
        "space: space.yaml\n"
        f"stages: [{{strategy: random, trials: {TRIALS}}}]\n"
        "execution: {executor: inprocess}\n"
        f"tracking: {{uri: 'sqlite:///{folder / 'mlflow.db'}', experiment: ui-browser}}\n"
    )
    assert main(["run", str(config), "--output", str(folder / "runs"), "--quiet"]) == 0
    (run_dir,) = (folder / "runs").iterdir()
    return run_dir


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_ui_lists_the_runs_of_a_search(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    run_dir = tiny_search(tmp_path)
    experiment = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = experiment.get_experiment_by_name("ui-browser").experiment_id
    port = free_port()
    log = (tmp_path / "ui.log").open("wb")
    ui = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "ui", str(run_dir), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C stops it
    )
    log.close()
    browser: subprocess.CompletedProcess[str] | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(f"{base}/health", ui)
        argv = [
            str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=20000", "--dump-dom",
            f"{base}/#/experiments/{experiment_id}/runs",
        ]  # fmt: skip
        browser = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=180,
            start_new_session=True,
        )
    finally:
        stop(ui)
    printed = (tmp_path / "ui.log").read_text()
    assert f"{base}/#/experiments/{experiment_id}/runs" in printed  # the link hpsearch ui prints
    dom = browser.stdout
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert "Training runs" in dom, dom[-2000:]
    assert "ui-browser/fold1" in dom, "the search's parent run is not listed"
    assert f"<strong>{TRIALS + 1}</strong> matching runs" in dom, "not every run is counted"

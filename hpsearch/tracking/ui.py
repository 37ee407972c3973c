"""``hpsearch ui``: the MLflow UI for the store a search logged to, on 127.0.0.1 by default.

The server runs as a child process in its own session (``mlflow ui --workers 1``), with
MLflow's job execution off unless the user turned it on: job execution is for GenAI
evaluations and is what starts the huey consumers, whose stores MLflow puts in a ``mkdtemp``
folder under /dev/shm and leaves behind on SIGTERM. When the user does enable it, the folders
named in our child's processes' environment are removed after the server stops (only those).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.tracking.mlflow_tracker import (
    is_server_uri,
    mask_credentials,
    resolve_tracking_uri,
    sqlite_path,
)

JOB_EXECUTION_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
HUEY_ENV = "_MLFLOW_HUEY_STORAGE_PATH"  # mlflow.server.constants.HUEY_STORAGE_PATH_ENV_VAR
STOP_GRACE_S = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ui_command(uri: str | None, host: str = "127.0.0.1", port: int = 5000) -> list[str]:
    """The command that serves the MLflow UI for store ``uri`` (the same MLflow as ours)."""
    resolved = resolve_tracking_uri(uri)
    if is_server_uri(resolved):
        raise ConfigError.at(
            mask_credentials(resolved),
            "tracking.uri",
            "be a database store to serve (an http(s) URI is a server already: open it)",
            "a server URI",
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError.at("hpsearch ui", "--port", "be an integer in 1..65535", port)
    if not isinstance(host, str) or not host.strip():
        raise ConfigError.at("hpsearch ui", "--host", "be a host name or address", host)
    return [
        sys.executable, "-m", "mlflow", "ui",
        "--backend-store-uri", resolved,
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip


def ui_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def serve_ui(
    uri: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    warn: Callable[[str], None] = print,
) -> int:
    """Run the MLflow UI until it exits or Ctrl-C; return its exit code (0 after Ctrl-C)."""
    resolved = resolve_tracking_uri(uri)
    shown = mask_credentials(resolved)
    if is_server_uri(resolved):
        warn(f"{shown} is an MLflow server already: open it in a browser")
        return 0
    db = sqlite_path(resolved)
    if db is not None and not db.is_file():
        raise ConfigError.at(
            str(db),
            "tracking.uri",
            "be an existing MLflow store",
            "no such file",
            hint="run a search with tracking on first, or pass the store's URI",
        )
    command = ui_command(resolved, host, port)
    if not is_loopback(host):
        warn(
            f"warning: the MLflow UI will listen on {host}: anyone who can reach this machine "
            "can read and change the runs (no authentication)"
        )
    url = ui_url(host, port)
    warn(f"MLflow UI for {shown} at {url} (Ctrl-C stops it)")
    for line in _runs_pages(resolved, url):
        warn(line)
    env = dict(os.environ)
    env.setdefault(JOB_EXECUTION_ENV, "false")
    jobs_on = env[JOB_EXECUTION_ENV].strip().lower() in ("1", "true", "yes")
    process = subprocess.Popen(command, env=env, start_new_session=True)
    huey: set[Path] = set()
    try:
        with _sigterm_as_interrupt():
            return _wait(process, huey if jobs_on else None)
    except KeyboardInterrupt:
        return 0
    finally:
        if jobs_on:
            huey |= _session_env_values(process.pid, HUEY_ENV)
        _stop(process)
        for path in huey:
            _remove_temp_dir(path)


def _runs_pages(uri: str, url: str, limit: int = 10) -> list[str]:
    """Links to each experiment's runs table (``#/experiments/<id>`` opens a GenAI page)."""
    try:
        from mlflow import MlflowClient

        experiments = MlflowClient(tracking_uri=uri).search_experiments(
            max_results=limit + 1, order_by=["last_update_time DESC"]
        )
    except Exception:  # links are a convenience; the UI itself still starts
        return []
    return [
        f"  {e.name}: {url}/#/experiments/{e.experiment_id}/runs"
        for e in experiments
        if e.name != "Default"
    ][:limit]


def _wait(process: subprocess.Popen[Any], huey: set[Path] | None) -> int:
    """Wait for the server; while job execution is on, note its huey folders as they appear."""
    while True:
        try:
            return process.wait(timeout=1.0 if huey is not None and not huey else None)
        except subprocess.TimeoutExpired:
            if huey is not None:
                huey |= _session_env_values(process.pid, HUEY_ENV)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM to us stops the server too (its own session would outlive us otherwise)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(process: subprocess.Popen[Any]) -> None:
    """SIGINT to the MLflow CLI (it forwards it to uvicorn), then end what is left of our
    child's session (its process group id is the child's pid)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE_S)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE_S / 2)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_GRACE_S)


def _session_env_values(session: int, name: str) -> set[Path]:
    """Values of environment variable ``name`` in the processes of session ``session``."""
    found: set[Path] = set()
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    prefix = f"{name}=".encode()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) != session:  # state ppid pgrp session ...
                continue
            for item in (entry / "environ").read_bytes().split(b"\0"):
                if item.startswith(prefix):
                    found.add(Path(item[len(prefix) :].decode(errors="replace")))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _remove_temp_dir(path: Path) -> None:
    """Remove a ``mkdtemp`` folder of ours in /dev/shm or the temp dir, nothing else."""
    roots = {Path("/dev/shm"), Path(tempfile.gettempdir())}
    try:
        if (
            path.parent in roots
            and path.name.startswith("tmp")
            and path.is_dir()
            and not path.is_symlink()
            and path.stat().st_uid == os.getuid()
        ):
            shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass

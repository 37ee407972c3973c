"""Fault catalogue: inject the faults a long search meets and check that nothing is lost.

Each fault runs a tiny real experiment through the ``hpsearch`` command line (simulated data,
a small MLP, at most 5 epochs), injects the fault from outside, and reads back what the run
left: the journal (``trials.jsonl``, the truth) and MLflow (one child run per trial id). The
faults:

- ``worker_kills``: Ray trial workers SIGKILLed mid-trial, several times (Tune retries them);
- ``driver_kills``: the ``hpsearch run`` process SIGKILLed at seeded random points, each time
  followed by ``hpsearch resume RUN_DIR``;
- ``mlflow_outage``: a real ``mlflow server`` stopped (SIGKILL) during a search and restarted
  after it, then ``hpsearch sync RUN_DIR`` twice;
- ``kill_in_store_creation``: the first ``hpsearch run`` SIGKILLed while MLflow creates its
  sqlite tables, then ``resume`` (the store must still open);
- ``ctrl_c_inprocess`` / ``ctrl_c_ray``: SIGINT to ``hpsearch run`` (exit 130, one line, state
  saved), then ``resume``;
- ``failing_trials``: trials that diverge (loss NaN/inf) or whose builder raises.

Every fault function returns its raw observations plus the catalogue's counts (injected,
survived, trials lost, duplicates); ``tests/chaos/`` asserts on the same observations. Run::

    .venv/bin/python scripts/chaos.py [--only NAME ...] [--seed N] [--out bench_results]

It writes ``bench_results/chaos.json`` and ``bench_results/chaos.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: The folder of ``tests_builders.py`` (user builders that fail or note their process id).
BUILDERS_DIR = REPO / "tests" / "chaos"
PID_DIR_ENV = "HPSEARCH_CHAOS_PID_DIR"
INTERRUPT_LINE = "hpsearch: interrupted"
#: Seconds any one hpsearch command may take before the catalogue gives up on it.
COMMAND_TIMEOUT_S = 300.0

# --------------------------------------------------------------------------- experiments


@dataclass
class Experiment:
    """A tiny experiment on disk: simulated data, a space, a config, an output folder."""

    folder: Path
    config: Path
    runs: Path
    tracking_uri: str | None
    experiment: str
    trials: int

    def run_dir(self) -> Path | None:
        """The run directory ``hpsearch run`` made (None before it made one)."""
        found = sorted(p for p in self.runs.glob("*") if (p / "config.yaml").is_file())
        return found[-1] if found else None

    def journal_path(self) -> Path | None:
        run_dir = self.run_dir()
        return None if run_dir is None else run_dir / "fold1" / "trials.jsonl"


DEFAULT_SPACE = (
    "parameters:\n"
    "  units: {type: int, low: 4, high: 16}\n"
    "  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"
    "  epochs: 3\n"
    "  patience: 2\n"
)


def write_experiment(
    folder: Path,
    *,
    name: str,
    trials: int,
    strategy: str = "random",
    space: str = DEFAULT_SPACE,
    model: str = "mlp",
    execution: str = "{executor: inprocess}",
    tracking_uri: str | None = "sqlite",
    seed: int = 3,
    lines: int = 60,
    markers: int = 40,
) -> Experiment:
    """Simulated data (``lines`` x ``markers``, 3 folds), ``space`` and an experiment config.

    ``tracking_uri="sqlite"`` means a fresh sqlite store in ``folder``; None turns MLflow off.
    """
    from hpsearch.data.simulate import simulate, write_simulated

    folder.mkdir(parents=True, exist_ok=True)
    sim = simulate(n_lines=lines, n_markers=markers, n_traits=1, n_qtl=10, n_folds=3, seed=1)
    write_simulated(sim, folder, prefix="sim")
    (folder / "space.yaml").write_text(space)
    if tracking_uri == "sqlite":
        tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    tracking = (
        "tracking: {mlflow: false}\n"
        if tracking_uri is None
        else f"tracking: {{uri: '{tracking_uri}', experiment: {name}}}\n"
    )
    config = folder / "exp.yaml"
    config.write_text(
        f"name: {name}\n"
        "data: {genotypes: sim.X, phenotypes: sim.Y, trait: 0}\n"
        "evaluation: {outer: {fold_file: sim.sets, folds: [1]}, inner: {kfold: 2}}\n"
        f"model: '{model}'\n"
        "space: space.yaml\n"
        f"stages: [{{strategy: {strategy}, trials: {trials}}}]\n"
        f"execution: {execution}\n"
        f"{tracking}"
        f"seed: {seed}\n"
    )
    return Experiment(folder, config, folder / "runs", tracking_uri, name, trials)


# --------------------------------------------------------------------------- processes


def command_env(**extra: str) -> dict[str, str]:
    """The environment of an hpsearch command: the test builders importable, TF quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(BUILDERS_DIR), str(REPO), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env.update(extra)
    return env


@dataclass
class Command:
    """A running or finished ``hpsearch`` subprocess, its output kept in files."""

    argv: list[str]
    process: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path
    started: float = field(default_factory=time.time)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = COMMAND_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise

    def kill_group(self) -> None:
        """End the command and anything it started in its session (cleanup only)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(30)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


def start(args: Sequence[str], *, cwd: Path, log_name: str, env: dict[str, str]) -> Command:
    """Start ``python -m hpsearch ARGS`` in its own session, output to ``cwd/logs``."""
    logs = cwd / "logs"
    logs.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "hpsearch", *args]
    out_path, err_path = logs / f"{log_name}.out", logs / f"{log_name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
    return Command(argv, process, out_path, err_path)


def _default_sigint() -> None:
    """Ctrl-C (SIGINT) acts as in a terminal even when the caller ignores it (a background
    job of a non-interactive shell starts with SIGINT ignored, and exec keeps that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_command(args: Sequence[str], *, cwd: Path, log_name: str, env: dict[str, str]) -> Command:
    command = start(args, cwd=cwd, log_name=log_name, env=env)
    command.wait()
    return command


def wait_until(
    condition: Callable[[], bool], *, timeout: float, poll: float = 0.1, while_alive: Any = None
) -> bool:
    """Poll ``condition`` until true (True), ``timeout`` passes or ``while_alive`` ends (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        if while_alive is not None and not while_alive.alive():
            return condition()
        time.sleep(poll)
    return False


@contextlib.contextmanager
def cleanup(*commands: Command) -> Iterator[list[Command]]:
    """Kill whatever is still running of the listed (and later appended) commands."""
    held = list(commands)
    try:
        yield held
    finally:
        for command in held:
            if command.alive():
                command.kill_group()


# --------------------------------------------------------------------------- reading back


def journal_lines(path: Path | None) -> list[dict[str, Any]]:
    """Every line of a journal, parsed strictly (a torn or damaged line raises)."""
    if path is None or not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def journal_count(path: Path | None) -> int:
    """Complete lines in a journal (a line still being written does not count)."""
    if path is None or not path.is_file():
        return 0
    return path.read_bytes().count(b"\n")


def mlflow_children(uri: str, experiment: str) -> dict[int, list[dict[str, Any]]]:
    """Active child runs of ``experiment`` per ``hpsearch.trial_id``: status, tags, params."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    children: dict[int, list[dict[str, Any]]] = {}
    token = None
    while True:
        page = client.search_runs(
            [found.experiment_id],
            "tags.`hpsearch.role` = 'trial'",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            if "mlflow.parentRunId" not in run.data.tags:
                continue
            tid = int(run.data.tags["hpsearch.trial_id"])
            children.setdefault(tid, []).append(
                {
                    "run_id": run.info.run_id,
                    "status": run.info.status,
                    "tags": dict(run.data.tags),
                    "params": dict(run.data.params),
                }
            )
        token = page.token
        if not token:
            return children


def losses(
    records: list[dict[str, Any]],
    children: dict[int, list[dict[str, Any]]] | None,
    requested: int,
) -> dict[str, Any]:
    """Lost and duplicated trials, in the journal and (when given) in MLflow.

    A trial is lost when one of the ids ``0..requested-1`` is missing; a duplicate is any
    second line (or second MLflow child) for one trial id.
    """
    ids = Counter(int(r["trial_id"]) for r in records)
    expected = set(range(requested))
    out: dict[str, Any] = {
        "journal_trials": len(records),
        "journal_lost": sorted(expected - set(ids)),
        "journal_duplicates": sorted(t for t, n in ids.items() if n > 1),
        "journal_unexpected": sorted(set(ids) - expected),
    }
    if children is not None:
        out["mlflow_children"] = sum(len(v) for v in children.values())
        out["mlflow_lost"] = sorted(expected - set(children))
        out["mlflow_duplicates"] = sorted(t for t, v in children.items() if len(v) > 1)
    lost = len(out["journal_lost"]) + len(out.get("mlflow_lost", []))
    dups = sum(ids[t] - 1 for t in out["journal_duplicates"])
    dups += sum(len(children[t]) - 1 for t in out.get("mlflow_duplicates", []))
    out["lost"], out["duplicates"] = lost, dups
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- 1. Ray workers


def worker_kills(work: Path, *, kills: int = 3, trials: int = 6) -> dict[str, Any]:
    """SIGKILL the Ray worker of ``kills`` different trials mid-trial (each trial once).

    The builder ``tests_builders:slow_pid`` notes its process id and params, then sleeps 1 s
    before building: the kill lands inside that trial. Tune restarts the worker and retries
    the trial (``max_retries: 2``); the search must still end with ``trials`` completed
    trials, each killed trial recorded once in the journal and once in MLflow.
    """
    pid_dir = work / "pids"
    pid_dir.mkdir(parents=True, exist_ok=True)
    space = DEFAULT_SPACE + "  builder_sleep: 1.0\n"
    exp = write_experiment(
        work,
        name="chaos-workers",
        trials=trials,
        space=space,
        model="tests_builders:slow_pid",
        execution="{executor: ray, max_concurrent: 2, cpus_per_trial: 1, max_retries: 2}",
    )
    env = command_env(**{PID_DIR_ENV: str(pid_dir)})
    killed: list[dict[str, Any]] = []
    seen: set[str] = set()
    command = start(
        ["run", str(exp.config), "--output", str(exp.runs), "--quiet"],
        cwd=work,
        log_name="run",
        env=env,
    )
    with cleanup(command):
        deadline = time.time() + COMMAND_TIMEOUT_S
        while command.alive() and time.time() < deadline:
            for note in sorted(pid_dir.glob("*.json")):
                if note.name in seen:
                    continue
                seen.add(note.name)
                info = json.loads(note.read_text())
                params_key = json.dumps(info["params"], sort_keys=True)
                if (
                    len(killed) >= kills
                    or info["pid"] == command.pid
                    or any(k["params_key"] == params_key or k["pid"] == info["pid"] for k in killed)
                ):
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info["pid"], signal.SIGKILL)
                    killed.append(
                        {"pid": info["pid"], "params": info["params"], "params_key": params_key}
                    )
            time.sleep(0.05)
        rc = command.wait()
    records = journal_lines(exp.journal_path())
    children = mlflow_children(exp.tracking_uri or "", exp.experiment)
    for kill in killed:
        matching = [r for r in records if r["params"] == kill["params"]]
        kill["trial_ids"] = [r["trial_id"] for r in matching]
        kill["statuses"] = [r["status"] for r in matching]
        kill["mlflow_children"] = sum(len(children.get(t, [])) for t in kill["trial_ids"])
        kill["survived"] = kill["statuses"] == ["completed"] and kill["mlflow_children"] == 1
    builders_pids = sorted({int(p.name.split("-")[0]) for p in pid_dir.glob("*.json")})
    counts = losses(records, children, trials)
    return {
        "fault": "worker_kills",
        "what": f"Ray trial workers SIGKILLed mid-trial ({kills} different trials)",
        "returncode": rc,
        "driver_pid": command.pid,
        "worker_pids": builders_pids,
        "killed": [{k: v for k, v in kill.items() if k != "params_key"} for kill in killed],
        "statuses": [r["status"] for r in records],
        "stderr_tail": command.stderr[-2000:],
        "injected": len(killed),
        "survived": sum(bool(k["survived"]) for k in killed) if rc == 0 else 0,
        **counts,
    }


# --------------------------------------------------------------------------- 2. the driver


def driver_kills(
    work: Path, *, kills: int = 5, trials: int = 8, seed: int = 2026
) -> dict[str, Any]:
    """SIGKILL ``hpsearch run`` at ``kills`` seeded random points; ``resume`` after each.

    A kill point is "once the journal holds at least K lines, then D more seconds" with K
    drawn without replacement from ``0..trials-3`` and D uniform in 0..2 s (both seeded), so
    that every point falls before the search ends: in start-up, inside a trial, between the
    journal and the state write, or inside an MLflow write. The last ``resume`` runs to the
    end. Nothing may be lost or duplicated, in the journal or in MLflow, and exactly
    ``trials`` trials must exist. Needs ``trials >= kills + 2``.
    """
    if trials < kills + 2:
        raise ValueError(f"{kills} kill points need at least {kills + 2} trials, got {trials}")
    rng = random.Random(seed)
    targets = sorted(rng.sample(range(trials - 2), kills))
    delays = [round(rng.uniform(0.0, 2.0), 2) for _ in targets]
    exp = write_experiment(work, name="chaos-driver", trials=trials)
    env = command_env()
    launches: list[dict[str, Any]] = []
    command = start(
        ["run", str(exp.config), "--output", str(exp.runs), "--quiet"],
        cwd=work,
        log_name="launch0",
        env=env,
    )
    with cleanup(command) as held:
        for index, (target, delay) in enumerate(zip(targets, delays, strict=True)):

            def ready(target: int = target) -> bool:
                run_dir = exp.run_dir()
                return run_dir is not None and journal_count(exp.journal_path()) >= target

            wait_until(ready, timeout=COMMAND_TIMEOUT_S, while_alive=command)
            time.sleep(delay)
            at = journal_count(exp.journal_path())
            killed = command.alive()
            if killed:
                os.kill(command.pid, signal.SIGKILL)
            rc = command.wait()
            launches.append(
                {
                    "argv": command.argv[3:5],
                    "kill_point": {"journal_lines": target, "delay_s": delay},
                    "killed": killed,
                    "journal_lines_at_kill": at,
                    "returncode": rc,
                    "journal_readable": _readable(exp.journal_path()),
                }
            )
            run_dir = exp.run_dir()
            if run_dir is None:  # killed before it made a run directory: start again
                args = ["run", str(exp.config), "--output", str(exp.runs), "--quiet"]
            else:
                args = ["resume", str(run_dir), "--quiet"]
            command = start(args, cwd=work, log_name=f"launch{index + 1}", env=env)
            held.append(command)
        rc = command.wait()
        launches.append(
            {"argv": command.argv[3:5], "killed": False, "returncode": rc, "final": True}
        )
    records = journal_lines(exp.journal_path())
    children = mlflow_children(exp.tracking_uri or "", exp.experiment)
    counts = losses(records, children, trials)
    injected = sum(launch["killed"] for launch in launches)
    consistent = (
        rc == 0
        and counts["lost"] == 0
        and counts["duplicates"] == 0
        and not counts["journal_unexpected"]
        and all(r["status"] == "completed" for r in records)
    )
    run_dir = exp.run_dir()
    return {
        "fault": "driver_kills",
        "what": f"hpsearch run/resume SIGKILLed at {kills} seeded random points (seed {seed})",
        "seed": seed,
        "launches": launches,
        "returncode": rc,
        "final_stdout": command.stdout[-1500:],
        "final_stderr": command.stderr[-1500:],
        "summary_exists": run_dir is not None and (run_dir / "summary.json").is_file(),
        "statuses": [r["status"] for r in records],
        "mlflow_statuses": {t: [c["status"] for c in v] for t, v in children.items()},
        "injected": injected,
        "survived": injected if consistent else 0,
        **counts,
    }


def _readable(journal: Path | None) -> bool | str:
    """Whether every complete line of a journal parses (a torn last line is allowed)."""
    if journal is None or not journal.is_file():
        return True
    lines = journal.read_bytes().split(b"\n")
    complete = lines[:-1]  # what follows the last newline is a line still being written
    try:
        for line in complete:
            if line.strip():
                json.loads(line)
    except ValueError as exc:
        return f"damaged: {exc}"
    return True


def kill_in_store_creation(
    work: Path, *, trials: int = 3, write: int = 6, delay: float = 3.0
) -> dict[str, Any]:
    """SIGKILL the first ``hpsearch run`` while MLflow creates its sqlite tables, then resume.

    MLflow creates a fresh store's tables in a few seconds of migrations, one write
    transaction after another; a SIGKILL inside some of them leaves MLflow's own store
    unreadable for good (measured here: "table _alembic_tmp_... already exists" after 3 of 5
    kills 1.5 to 4 s in). The kill lands in the ``write``-th write transaction seen (a
    ``-journal`` file beside the store or beside hpsearch's side file), or ``delay`` s after
    the store began if fewer are seen. The resumed search must then track into the store
    normally, and no side file may be left.
    """
    exp = write_experiment(work, name="chaos-store", trials=trials)
    db = work / "mlflow.db"

    def store_begun() -> bool:
        return db.exists() or any(work.glob(".mlflow.db.*"))

    def in_transaction() -> bool:
        return (work / "mlflow.db-journal").exists() or any(work.glob(".mlflow.db.*-journal"))

    env = command_env()
    command = start(
        ["run", str(exp.config), "--output", str(exp.runs), "--quiet"],
        cwd=work,
        log_name="run",
        env=env,
    )
    with cleanup(command) as held:
        begun = wait_until(store_begun, timeout=COMMAND_TIMEOUT_S, poll=0.005, while_alive=command)
        writes, was, end = 0, False, time.time() + delay
        while writes < write and time.time() < end and command.alive():
            now = in_transaction()
            writes += int(now and not was)
            was = now
            time.sleep(0.001)
        creating = sorted(p.name for p in work.glob(".mlflow.db.*"))
        killed = command.alive()
        if killed:
            os.kill(command.pid, signal.SIGKILL)
        command.wait()
        run_dir = exp.run_dir()
        resume = start(["resume", str(run_dir), "--quiet"], cwd=work, log_name="resume", env=env)
        held.append(resume)
        rc = resume.wait()
    records = journal_lines(exp.journal_path())
    degraded = "MLflow tracking at" in resume.stderr
    try:
        children: dict[int, list[dict[str, Any]]] | None = mlflow_children(
            exp.tracking_uri or "", exp.experiment
        )
        store_error = None
    except Exception as exc:  # the store could not be opened at all
        children, store_error = {}, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    counts = losses(records, children, trials)
    leftovers = sorted(p.name for p in work.glob(".mlflow.db.*"))
    ok = (
        killed
        and begun
        and rc == 0
        and not degraded
        and store_error is None
        and not leftovers
        and counts["lost"] == 0
        and counts["duplicates"] == 0
    )
    return {
        "fault": "kill_in_store_creation",
        "what": "hpsearch run SIGKILLed while MLflow creates a new sqlite store, then resume",
        "killed": killed,
        "writes_seen_before_kill": writes,
        "side_files_at_kill": creating,
        "returncode": rc,
        "tracking_degraded_on_resume": degraded,
        "store_error": store_error,
        "resume_stderr": resume.stderr[-1500:],
        "side_files_left": leftovers,
        "injected": int(killed and begun),
        "survived": int(ok),
        **counts,
    }


# --------------------------------------------------------------------------- 3. MLflow server


@dataclass
class MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 with a sqlite store, in its own session."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    huey_dirs: set[Path] = field(default_factory=set)
    starts: int = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 120.0) -> float:
        """Start the server and wait for ``/health``; return the seconds it took."""
        began = time.time()
        env = dict(os.environ)  # job execution as MLflow ships it (on): huey stores in /dev/shm
        argv = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", f"sqlite:///{self.folder / 'server.db'}",
            "--artifacts-destination", str(self.folder / "server-artifacts"),
            "--workers", "1",
        ]  # fmt: skip
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            argv,
            cwd=self.folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        while time.time() - began < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    self._note_huey()
                    return time.time() - began
            time.sleep(0.3)
        raise TimeoutError(f"mlflow server not ready after {timeout:.0f} s")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop every process of the server's session (SIGKILL: a crash, not a shutdown)."""
        if self.process is None:
            return
        self._note_huey()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def _note_huey(self) -> None:
        from hpsearch.tracking.ui import HUEY_ENV, _session_env_values

        if self.process is not None:
            self.huey_dirs |= _session_env_values(self.process.pid, HUEY_ENV)

    def remove_leftovers(self) -> list[str]:
        """Remove the /dev/shm job-queue folders this server's processes named; return what
        is still there afterwards (should be nothing)."""
        from hpsearch.tracking.ui import _remove_temp_dir

        for path in self.huey_dirs:
            _remove_temp_dir(path)
        return sorted(str(p) for p in self.huey_dirs if p.exists())


def mlflow_outage(work: Path, *, trials: int = 6, stop_after: int = 2) -> dict[str, Any]:
    """Kill the MLflow server after ``stop_after`` trials; restart it after the search ends.

    The search must finish (exit 0) with a complete journal; ``hpsearch sync RUN_DIR`` must
    then fill MLflow with exactly the missing runs, and a second sync must add nothing.
    """
    work.mkdir(parents=True, exist_ok=True)
    server = MlflowServer(work, free_port())
    shm_before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    try:
        ready_s = server.start()
        exp = write_experiment(work, name="chaos-outage", trials=trials, tracking_uri=server.uri)
        env = command_env()
        command = start(
            ["run", str(exp.config), "--output", str(exp.runs), "--quiet"],
            cwd=work,
            log_name="run",
            env=env,
        )
        with cleanup(command):
            wait_until(
                lambda: journal_count(exp.journal_path()) >= stop_after,
                timeout=COMMAND_TIMEOUT_S,
                while_alive=command,
            )
            stopped_at = journal_count(exp.journal_path())
            server.stop(signal.SIGKILL)
            stopped_while_running = command.alive()
            rc = command.wait()
        records = journal_lines(exp.journal_path())
        server.start()
        before = mlflow_children(server.uri, exp.experiment)
        run_dir = exp.run_dir()
        sync1 = run_command(["sync", str(run_dir)], cwd=work, log_name="sync1", env=env)
        after1 = mlflow_children(server.uri, exp.experiment)
        sync2 = run_command(["sync", str(run_dir)], cwd=work, log_name="sync2", env=env)
        after2 = mlflow_children(server.uri, exp.experiment)
    finally:
        server.stop(signal.SIGTERM)
        leftovers = server.remove_leftovers()
    shm_after = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    counts = losses(records, after1, trials)
    second_adds = sum(len(v) for v in after2.values()) - sum(len(v) for v in after1.values())
    ok = (
        stopped_while_running
        and rc == 0
        and sync1.process.returncode == 0
        and sync2.process.returncode == 0
        and counts["lost"] == 0
        and counts["duplicates"] == 0
        and second_adds == 0
    )
    return {
        "fault": "mlflow_outage",
        "what": "the MLflow server SIGKILLed mid-search, restarted after it, then sync twice",
        "server_ready_s": round(ready_s, 1),
        "stopped_after_trials": stopped_at,
        "stopped_while_running": stopped_while_running,
        "returncode": rc,
        "run_stdout": command.stdout[-1500:],
        "run_stderr": command.stderr[-1500:],
        "children_before_sync": sum(len(v) for v in before.values()),
        "children_after_sync": sum(len(v) for v in after1.values()),
        "children_after_second_sync": sum(len(v) for v in after2.values()),
        "second_sync_added": second_adds,
        "sync_returncodes": [sync1.process.returncode, sync2.process.returncode],
        "sync_outputs": [sync1.stdout[-1200:], sync2.stdout[-1200:]],
        "server_starts": server.starts,
        "huey_dirs": sorted(str(p) for p in server.huey_dirs),
        "shm_leftovers": leftovers,
        "shm_new_entries": sorted(shm_after - shm_before),
        "injected": 1,
        "survived": int(ok),
        **counts,
    }


# --------------------------------------------------------------------------- 4. Ctrl-C


def ctrl_c(
    work: Path, *, trials: int = 5, after: int = 2, executor: str = "inprocess"
) -> dict[str, Any]:
    """SIGINT to ``hpsearch run`` once ``after`` trials are done, then ``hpsearch resume``.

    Expected: exit code 130, the interruption told in one stderr line and no traceback, the
    journal and ``state.json`` on disk, and a resume that completes exactly ``trials``.
    """
    execution = (
        "{executor: inprocess}"
        if executor == "inprocess"
        else "{executor: ray, max_concurrent: 2, cpus_per_trial: 1}"
    )
    exp = write_experiment(work, name=f"chaos-ctrlc-{executor}", trials=trials, execution=execution)
    env = command_env()
    command = start(
        ["run", str(exp.config), "--output", str(exp.runs), "--quiet"],
        cwd=work,
        log_name="run",
        env=env,
    )
    with cleanup(command) as held:
        wait_until(
            lambda: journal_count(exp.journal_path()) >= after,
            timeout=COMMAND_TIMEOUT_S,
            while_alive=command,
        )
        interrupted = command.alive()
        if interrupted:
            os.kill(command.pid, signal.SIGINT)
        rc = command.wait()
        run_dir = exp.run_dir()
        at_stop = {
            "journal_lines": journal_count(exp.journal_path()),
            "state_json": run_dir is not None and (run_dir / "fold1" / "state.json").is_file(),
            "summary_json": run_dir is not None and (run_dir / "summary.json").is_file(),
        }
        leftover = _session_processes(command.pid)
        resume = start(["resume", str(run_dir), "--quiet"], cwd=work, log_name="resume", env=env)
        held.append(resume)
        resume_rc = resume.wait()
    err = command.stderr
    records = journal_lines(exp.journal_path())
    children = mlflow_children(exp.tracking_uri or "", exp.experiment)
    counts = losses(records, children, trials)
    interrupt_lines = [line for line in err.splitlines() if line.startswith(INTERRUPT_LINE)]
    ok = (
        interrupted
        and rc == 130
        and len(interrupt_lines) == 1
        and run_dir is not None
        and run_dir.name in interrupt_lines[0]  # the resume command names this run
        and "Traceback" not in err
        and at_stop["state_json"]
        and resume_rc == 0
        and counts["lost"] == 0
        and counts["duplicates"] == 0
    )
    return {
        "fault": f"ctrl_c_{executor}",
        "what": f"SIGINT to hpsearch run ({executor} executor), then resume",
        "interrupted_while_running": interrupted,
        "returncode": rc,
        "stderr": err[-3000:],
        "interrupt_lines": interrupt_lines,
        "at_stop": at_stop,
        "processes_left_in_session": leftover,
        "resume_returncode": resume_rc,
        "resume_stderr": resume.stderr[-1500:],
        "injected": int(interrupted),
        "survived": int(ok),
        **counts,
    }


def _session_processes(session: int) -> list[int]:
    """Process ids still alive in session ``session`` (what a stopped command left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found)


# --------------------------------------------------------------------------- 5. bad trials

#: A grid of four: learning rate 1e3 with plain SGD diverges; ``boom: true`` makes the
#: builder raise. Trial order (grid): (1e3, F) diverges, (1e3, T) raises, (1e-2, F) trains,
#: (1e-2, T) raises.
FAILING_SPACE = (
    "parameters:\n"
    "  learning_rate: {type: categorical, choices: [1000.0, 0.01]}\n"
    "  boom: {type: categorical, choices: [false, true]}\n"
    "  optimizer: sgd\n"
    "  units: 8\n"
    "  epochs: 5\n"
    "  patience: 5\n"
)


def failing_trials(work: Path) -> dict[str, Any]:
    """Trials whose loss becomes NaN/inf and trials whose builder raises: each FAILED with
    its reason in the journal and in MLflow (status FAILED, ``error`` tag); the search goes
    on and ends normally with the trial that trains."""
    exp = write_experiment(
        work,
        name="chaos-failing",
        trials=4,
        strategy="grid",
        space=FAILING_SPACE,
        model="tests_builders:explode",
    )
    env = command_env()
    command = run_command(
        ["run", str(exp.config), "--output", str(exp.runs), "--quiet"],
        cwd=work,
        log_name="run",
        env=env,
    )
    records = journal_lines(exp.journal_path())
    children = mlflow_children(exp.tracking_uri or "", exp.experiment)
    counts = losses(records, children, 4)
    trials = []
    for record in records:
        params = record["params"]
        expected = (
            "raises" if params["boom"] else "diverges" if params["learning_rate"] > 1 else "trains"
        )
        child = (children.get(record["trial_id"]) or [{}])[0]
        trials.append(
            {
                "trial_id": record["trial_id"],
                "expected": expected,
                "status": record["status"],
                "error": record["error"],
                "mlflow_status": child.get("status"),
                "mlflow_error": (child.get("tags") or {}).get("error"),
            }
        )
    poisoned = [t for t in trials if t["expected"] != "trains"]

    def handled(t: dict[str, Any]) -> bool:
        reason = "boom" if t["expected"] == "raises" else "diverged"
        return (
            t["status"] == "failed"
            and reason in (t["error"] or "")
            and t["mlflow_status"] == "FAILED"
            and reason in (t["mlflow_error"] or "")
        )

    trained = [t for t in trials if t["expected"] == "trains"]
    went_on = command.process.returncode == 0 and [t["status"] for t in trained] == ["completed"]
    return {
        "fault": "failing_trials",
        "what": "trials that diverge (lr 1e3, sgd) or whose builder raises",
        "returncode": command.process.returncode,
        "trials": trials,
        "stdout": command.stdout[-1500:],
        "stderr": command.stderr[-1500:],
        "injected": len(poisoned),
        "survived": sum(handled(t) for t in poisoned) if went_on else 0,
        **counts,
    }


# --------------------------------------------------------------------------- the catalogue

FAULTS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "worker_kills": worker_kills,
    "driver_kills": driver_kills,
    "kill_in_store_creation": kill_in_store_creation,
    "mlflow_outage": mlflow_outage,
    "ctrl_c_inprocess": lambda work: ctrl_c(work, executor="inprocess"),
    "ctrl_c_ray": lambda work: ctrl_c(work, executor="ray"),
    "failing_trials": failing_trials,
}


def totals(results: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {
        key: sum(int(r.get(key, 0)) for r in results)
        for key in ("injected", "survived", "lost", "duplicates")
    }


def markdown(results: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Fault catalogue (`scripts/chaos.py`)",
        "",
        f"{meta['when']} · {meta['host']} · {meta['cpus']} CPUs · seed {meta['seed']} · "
        f"{meta['wall_s']:.0f} s",
        "",
        "| fault | what | injected | survived | trials lost | duplicates | wall s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['fault']} | {r.get('what', '')} | {r.get('injected', 0)} | "
            f"{r.get('survived', 0)} | {r.get('lost', '-')} | {r.get('duplicates', '-')} | "
            f"{r.get('wall_s', 0):.0f} |"
        )
    t = totals(results)
    lines.append(
        f"| **total** | | **{t['injected']}** | **{t['survived']}** | **{t['lost']}** | "
        f"**{t['duplicates']}** | |"
    )
    lines += [
        "",
        "Lost: trial ids missing from the journal or from MLflow at the end; duplicates: a "
        "second journal line or MLflow child run for one trial id. Details per fault are in "
        "`chaos.json`.",
        "",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"- **{r['fault']}** raised: `{r['error']}`")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(FAULTS), help="faults to run")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the driver kill points")
    parser.add_argument("--out", type=Path, default=REPO / "bench_results")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args(argv)
    names = args.only or list(FAULTS)
    root = Path(tempfile.mkdtemp(prefix="hpsearch-chaos-"))
    began = time.time()
    results: list[dict[str, Any]] = []
    try:
        for name in names:
            work = root / name
            t0 = time.time()
            print(f"{name} ...", file=sys.stderr, flush=True)
            try:
                if name == "driver_kills":
                    result = driver_kills(work, seed=args.seed)
                else:
                    result = FAULTS[name](work)
            except Exception as exc:  # a fault the catalogue could not even run is a finding
                result = {"fault": name, "error": f"{type(exc).__name__}: {exc}", "injected": 0}
            result["wall_s"] = round(time.time() - t0, 1)
            results.append(result)
            print(
                f"  injected {result.get('injected', 0)}, survived {result.get('survived', 0)}, "
                f"lost {result.get('lost', '-')}, duplicates {result.get('duplicates', '-')} "
                f"({result['wall_s']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "seed": args.seed,
        "wall_s": time.time() - began,
        "python": sys.version.split()[0],
        "work": str(root) if args.keep else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "totals": totals(results), "faults": results}
    (args.out / "chaos.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (args.out / "chaos.md").write_text(markdown(results, meta))
    t = report["totals"]
    print(
        f"faults injected {t['injected']}, survived {t['survived']}, trials lost {t['lost']}, "
        f"duplicates {t['duplicates']}; report: {args.out / 'chaos.md'}"
    )
    return 0 if t["injected"] == t["survived"] and not t["lost"] and not t["duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())

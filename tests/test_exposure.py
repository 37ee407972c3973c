"""Exposure: what a search opens to the network, what it executes, what it writes down.

- the local Ray cluster of ``hpsearch run`` listens on 127.0.0.1 only and runs no dashboard
  (checked with ``ss`` on the processes of a real run, while a trial runs);
- ``hpsearch ui`` listens on 127.0.0.1 unless ``--host`` says otherwise, and then warns once;
- configs, spaces and run directories are read with safe YAML: a ``!!python/...`` tag is refused
  in one line and runs nothing;
- credentials in a tracking URI never reach the console, the run directory, Ray's logs or
  MLflow (params, tags, artifacts, the server's database);
- the README says that a custom builder (``module:function``) is code that runs.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hpsearch.cli import main

REPO = Path(__file__).resolve().parents[1]
SECRET = "hunter2-S3cr3t-9d41"
USER = "carol-tracking-user"


def _load_chaos() -> ModuleType:
    name = "hpsearch_chaos"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


chaos = _load_chaos()

needs_linux_tools = pytest.mark.skipif(
    shutil.which("ss") is None or not Path("/proc/self/stat").is_file(),
    reason="needs Linux /proc and ss (iproute2)",
)


# --------------------------------------------------------------------------- processes, sockets


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def listeners(pids: set[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every listening TCP/UDP socket that one of ``pids`` holds."""
    out = subprocess.run(
        ["ss", "-H", "-l", "-t", "-u", "-n", "-p"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        local = fields[4]
        address, _, port = local.rpartition(":")
        address = address.split("%")[0]
        for pid in map(int, re.findall(r"pid=(\d+)", line)):
            if pid in pids:
                found.append((address, int(port), pid))
    return found


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, or an IPv4-mapped loopback (``[::ffff:127.0.0.1]``); not ``*``."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False  # "*" (every address) or a name
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


# --------------------------------------------------------------------------- one real run


@pytest.fixture(scope="module")
def credential_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``hpsearch run`` on the Ray executor, tracking to a real MLflow server through a URI
    with a user and password; sockets and processes are read while its first trial runs."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("needs ray")
    if shutil.which("ss") is None:
        pytest.skip("needs ss (iproute2)")
    work = tmp_path_factory.mktemp("exposure")
    server = chaos.MlflowServer(work, chaos.free_port())
    pid_dir = work / "pids"
    pid_dir.mkdir()
    seen: dict[str, Any] = {}
    try:
        server.start()
        uri = f"http://{USER}:{SECRET}@127.0.0.1:{server.port}"
        exp = chaos.write_experiment(
            work,
            name="exposure",
            trials=2,
            space=chaos.DEFAULT_SPACE + "  builder_sleep: 4.0\n",
            model="tests_builders:slow_pid",
            execution="{executor: ray, max_concurrent: 1, cpus_per_trial: 1}",
            tracking_uri=uri,
        )
        env = chaos.command_env(**{chaos.PID_DIR_ENV: str(pid_dir)})
        command = chaos.start(
            ["run", str(exp.config), "--output", str(exp.runs)], cwd=work, log_name="run", env=env
        )
        with chaos.cleanup(command) as held:

            def worker_building() -> bool:
                notes = [p.name.split("-")[0] for p in pid_dir.glob("*.json")]
                return any(int(pid) != command.pid for pid in notes)

            assert chaos.wait_until(worker_building, timeout=300, while_alive=command), (
                command.stderr
            )
            tree = descendants(command.pid)
            seen["tree"] = {pid: cmdline(pid) for pid in tree}
            seen["listeners"] = listeners(tree)
            seen["returncode"] = command.wait()
            seen["left_alive"] = sorted(pid for pid in tree if alive(pid))
            run_dir = exp.run_dir()
            assert run_dir is not None
            outputs = [command.stdout, command.stderr]
            for args in (["show", str(run_dir)], ["sync", str(run_dir)]):
                extra = chaos.run_command(args, cwd=work, log_name=args[0], env=env)
                held.append(extra)
                outputs += [extra.stdout, extra.stderr]
                seen[f"{args[0]}_returncode"] = extra.process.returncode
        seen.update(work=work, run_dir=run_dir, outputs=outputs, server=server, exp=exp)
        seen["mlflow"] = mlflow_texts(server.uri, "exposure")
    finally:
        server.stop(signal.SIGTERM)
        server.remove_leftovers()
    return seen


def mlflow_texts(uri: str, experiment: str) -> list[str]:
    """Every param and tag (keys and values) and run name of an experiment's runs."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    texts = [found.name, found.artifact_location, *map(str, found.tags.items())]
    runs = client.search_runs([found.experiment_id], max_results=1000)
    assert runs, "nothing was tracked"
    for run in runs:
        texts.append(run.info.run_name or "")
        texts += [f"{k}={v}" for k, v in run.data.params.items()]
        texts += [f"{k}={v}" for k, v in run.data.tags.items()]
    return texts


@pytest.mark.integration
@needs_linux_tools
def test_local_ray_of_hpsearch_run_listens_on_loopback_only(credential_run: dict) -> None:
    assert credential_run["returncode"] == 0
    tree = credential_run["tree"]
    ray_processes = [pid for pid, cmd in tree.items() if "ray" in cmd]
    assert len(ray_processes) >= 3, "no Ray processes were seen under hpsearch run"
    held = credential_run["listeners"]
    assert held, "the Ray processes listened on nothing at all"
    exposed = [(a, p, tree.get(pid, "")[:80]) for a, p, pid in held if not is_loopback(a)]
    assert exposed == [], f"listening beyond the loopback: {exposed}"
    # Ray keeps a minimal dashboard head process (no web frontend) even with the dashboard off
    dashboards = [cmd for cmd in tree.values() if "dashboard/dashboard.py" in cmd]
    assert all("--disable-frontend" in cmd for cmd in dashboards), dashboards
    assert 8265 not in {port for _, port, _ in held}
    assert credential_run["left_alive"] == [], "Ray processes outlived hpsearch run"


@pytest.mark.integration
@needs_linux_tools
def test_credentials_in_the_tracking_uri_never_leak(credential_run: dict) -> None:
    assert credential_run["returncode"] == 0
    assert credential_run["show_returncode"] == 0 and credential_run["sync_returncode"] == 0
    outputs = "\n".join(credential_run["outputs"])
    assert "MLflow: http://***@127.0.0.1" in outputs  # the run said where it tracked, masked
    leaks: list[str] = []
    if SECRET in outputs or USER in outputs:
        leaks.append("console output")
    roots = [credential_run["run_dir"], credential_run["work"] / "server-artifacts"]
    roots.append(credential_run["work"] / "server.db")
    for session in {m for cmd in credential_run["tree"].values()
                    for m in re.findall(r"--session-name=(\S+)", cmd)}:  # fmt: skip
        roots.append(Path("/tmp/ray") / session / "logs")
    files = 0
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file():
                files += 1
                data = path.read_bytes()
                if SECRET.encode() in data or USER.encode() in data:
                    leaks.append(str(path))
    assert files > 10, "nothing was searched"
    for text in credential_run["mlflow"]:
        if SECRET in text or USER in text:
            leaks.append(f"MLflow: {text[:120]}")
    assert leaks == []
    config = (credential_run["run_dir"] / "config.yaml").read_text()
    port = credential_run["server"].port
    assert f"uri: http://127.0.0.1:{port}" in config  # what resume and sync connect to


# --------------------------------------------------------------------------- hpsearch ui


def make_store(folder: Path) -> str:
    from mlflow import MlflowClient

    uri = f"sqlite:///{folder / 'ui.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("ui-exposure"), run_name="a-run")
    client.set_terminated(run.info.run_id)
    return uri


@pytest.mark.integration
@needs_linux_tools
def test_hpsearch_ui_listens_on_loopback_by_default(tmp_path: Path) -> None:
    uri = make_store(tmp_path)
    port = chaos.free_port()
    command = chaos.start(
        ["ui", "--uri", uri, "--port", str(port)],
        cwd=tmp_path,
        log_name="ui",
        env=chaos.command_env(),
    )
    with chaos.cleanup(command):

        def serving() -> bool:
            return any(p == port for _, p, _ in listeners(descendants(command.pid)))

        assert chaos.wait_until(serving, timeout=180, poll=0.5, while_alive=command), command.stderr
        tree = descendants(command.pid)
        held = listeners(tree)
        command.process.send_signal(signal.SIGINT)
        assert command.wait(60) == 0
        time.sleep(0.5)
        left = sorted(pid for pid in tree if alive(pid))
    assert held and all(is_loopback(address) for address, _, _ in held), held
    assert "anyone who can reach" not in command.stdout + command.stderr  # our warning
    assert f"http://127.0.0.1:{port}" in command.stdout
    assert left == [], "the UI server outlived hpsearch ui"


class _FakeServer:
    """Stands for the MLflow UI process: exits at once."""

    pid = 999_999_999
    returncode = 0

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def poll(self) -> int:
        return 0

    def send_signal(self, sig: int) -> None:
        pass


@pytest.mark.parametrize(
    ("host", "warnings"), [(None, 0), ("127.0.0.1", 0), ("localhost", 0), ("0.0.0.0", 1)]
)
def test_hpsearch_ui_binds_where_told_and_warns_once_beyond_loopback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    host: str | None,
    warnings: int,
) -> None:
    from hpsearch.tracking import ui

    store = tmp_path / "store.db"
    store.write_bytes(b"")  # serve_ui only checks that the store exists
    servers: list[list[str]] = []
    real_popen = subprocess.Popen

    def popen(command: Any, *args: Any, **kwargs: Any) -> Any:
        if list(command[1:4]) == ["-m", "mlflow", "ui"]:
            servers.append(list(command))
            return _FakeServer()
        return real_popen(command, *args, **kwargs)

    monkeypatch.setattr(ui.subprocess, "Popen", popen)
    argv = ["ui", "--uri", f"sqlite:///{store}", "--port", "5999"]
    assert main(argv + (["--host", host] if host else [])) == 0
    out = capsys.readouterr()
    (command,) = servers
    assert command[command.index("--host") + 1] == (host or "127.0.0.1")
    lines = [line for line in (out.out + out.err).splitlines() if "warning" in line.lower()]
    assert len(lines) == warnings, lines
    if warnings:
        assert host in lines[0] and "anyone" in lines[0]


# --------------------------------------------------------------------------- safe YAML

PAYLOADS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:subprocess.call [['touch', '{marker}']]",
    "!!python/object/new:os.system ['touch {marker}']",
]


def tiny_experiment(folder: Path) -> Path:
    assert main(["simulate", "--out", str(folder), "--lines", "30", "--markers", "10",
                 "--traits", "1", "--folds", "3"]) == 0  # fmt: skip
    (folder / "space.yaml").write_text("parameters:\n  units: {type: int, low: 2, high: 4}\n")
    config = folder / "exp.yaml"
    config.write_text(  # absolute paths: a run directory's config.yaml holds them so
        f"data: {{genotypes: {folder / 'sim.X'}, phenotypes: {folder / 'sim.Y'}}}\n"
        f"evaluation: {{outer: {{fold_file: {folder / 'sim.sets'}, folds: [1]}}, "
        "inner: {kfold: 2}}\n"
        f"space: {folder / 'space.yaml'}\n"
        "execution: {executor: inprocess}\n"
    )
    return config


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("where", ["config", "space", "run config", "run space"])
def test_python_yaml_tags_are_refused_and_run_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: str, where: str
) -> None:
    config = tiny_experiment(tmp_path)
    marker = tmp_path / "EXECUTED"
    tag = payload.format(marker=marker)
    if where == "config":
        config.write_text(config.read_text() + f"seed: {tag}\n")
        argv, named = ["validate", str(config)], "exp.yaml"
    elif where == "space":
        (tmp_path / "space.yaml").write_text(f"parameters:\n  units: {tag}\n")
        argv, named = ["validate", str(config)], "space.yaml"
    else:  # a run directory someone handed over, with a tag in its config or space
        run_dir = tmp_path / "runs" / "handed-over"
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(config.read_text())
        (run_dir / "space.yaml").write_text((tmp_path / "space.yaml").read_text())
        target = run_dir / ("config.yaml" if where == "run config" else "space.yaml")
        target.write_text(target.read_text() + f"description: {tag}\n")
        argv, named = ["resume", str(run_dir)], target.name
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpsearch: error: "), err
    assert named in lines[0] and "python/object" in lines[0]
    assert not marker.exists(), "a YAML tag ran code"


# --------------------------------------------------------------------------- the README


def test_readme_says_a_custom_builder_is_code_that_runs() -> None:
    readme = (REPO / "README.md").read_text()
    paragraphs = [p for p in readme.split("\n\n") if re.search(r"runs your code", p, re.I)]
    assert paragraphs, "the README never says that a custom builder runs the user's code"
    (paragraph,) = paragraphs
    assert re.search(r"`model: [\w.]+:\w+`", paragraph), paragraph  # the module:function form
    assert re.search(r"trust", paragraph, re.IGNORECASE), paragraph

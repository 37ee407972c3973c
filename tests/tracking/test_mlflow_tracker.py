"""MLflow mirror of the journal: real sqlite stores in tmp, synthetic trial records (no Keras)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from hpsearch.errors import ConfigError
from hpsearch.runner.rundir import RunDir
from hpsearch.runner.search import FoldOutcome
from hpsearch.tracking import ui
from hpsearch.tracking.journal import write_json_atomic
from hpsearch.tracking.mlflow_tracker import (
    MAX_ENTITIES_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MlflowTracker,
    Payload,
    TrackingUnavailable,
    flatten,
    mask_credentials,
    mask_in,
    mlflow_key,
    remembered_uri,
    resolve_tracking_uri,
    run_dir_tracking_uri,
    sync,
)
from hpsearch.trial import TrialRecord, TrialResult

QUIET_SLEEP = (
    "import signal, sys, time; signal.signal(2, lambda *a: sys.exit(0)); print('ready', flush=True)"
    "; time.sleep(60)"
)
SECRET_URI = "https://alice:s3cr3t@mlflow.example.org/track"
CONFIG: dict[str, Any] = {
    "name": "toy",
    "data": {"genotypes": "/data/wheat.X", "trait": 0, "task": "regression"},
    "evaluation": {"outer": {"folds": [1, 2]}, "inner": {"kfold": 3}, "metric": "pearson_r"},
    "preprocess": {},
    "stages": [
        {"strategy": "genetic", "trials": 6, "options": {"population_size": 3}},
        {"strategy": "refine", "trials": 2, "options": {"top_k": 1}},
    ],
    "tracking": {"mlflow": True, "uri": SECRET_URI, "experiment": "toy"},
}
DATA = {"summary": {"n_lines": 40, "n_markers": 12, "task": "regression"}, "load_report": {}}


# -- helpers --------------------------------------------------------------------------------


def make_record(
    trial_id: int, score: float | None, *, folds: int = 2, epochs: int = 4, stage: int = 0
) -> TrialRecord:
    """A trial as the runner journals it; ``score=None`` makes a failed trial."""
    now = time.time()
    params = {"units": 16 * (trial_id + 1), "lr": 10.0 ** -(trial_id % 4 + 1), "act": "relu"}
    if score is None:
        result = TrialResult.failed(trial_id, params, "FloatingPointError: loss is nan")
    else:
        curves = {
            f"fold{k}/{name}": [
                round(1.0 / (e + 1) + 0.01 * k + 0.1 * trial_id, 6) for e in range(epochs)
            ]
            for k in range(folds)
            for name in ("loss", "val_loss")
        }
        result = TrialResult(
            trial_id,
            params,
            score=score,
            metrics={"pearson_r": score, "mse": 1.0 - score},
            fold_metrics=[{"pearson_r": score + 0.01 * k} for k in range(folds)],
            curves=curves,
            duration_s=1.5,
        )
    return TrialRecord(
        result,
        stage=stage,
        strategy="genetic" if stage == 0 else "refine",
        tags={"generation": trial_id // 3, "parents": [trial_id - 2, trial_id - 1]},
        seed=1000 + trial_id,
        started_at=now - 2.0,
        finished_at=now,
    )


def make_run_dir(root: Path) -> RunDir:
    run_dir = RunDir.create(root / "runs", "toy")
    run_dir.write_config(CONFIG, "units: {type: int, low: 8, high: 64}\n")
    run_dir.write_json("data.json", DATA)
    return run_dir


def make_tracker(uri: str, run_dir: RunDir, experiment: str, **kw: Any) -> MlflowTracker:
    return MlflowTracker(
        uri=uri,
        experiment=experiment,
        run_dir=run_dir.path,
        config=CONFIG,
        space_yaml=run_dir.space_path.read_text(),
        data_summary=DATA,
        metric="pearson_r",
        direction="maximize",
        hpsearch_version="0.0.test",
        **kw,
    )


def running_best(scores: list[float | None]) -> list[tuple[int, float]]:
    """(trials done, best score) at every improvement, computed independently of the tracker."""
    points, best = [], None
    for n, score in enumerate(scores, start=1):
        if score is not None and (best is None or score > best):
            best = score
            points.append((n, score))
    return points


def runs_of(client: Any, experiment: str) -> tuple[list[Any], list[Any]]:
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


# -- pure helpers (no store) ------------------------------------------------------------------


def test_mask_credentials_hides_userinfo_and_secret_query_values() -> None:
    assert mask_credentials(SECRET_URI) == "https://***@mlflow.example.org/track"
    assert mask_credentials("postgresql://u:pw@db:5432/x") == "postgresql://***@db:5432/x"
    assert mask_credentials("http://h/x?a=1&token=abc&b=2") == "http://h/x?a=1&token=***&b=2"
    text = "error talking to https://bob:pw@host/api: refused"
    assert "pw" not in mask_credentials(text) and "https://***@host/api" in mask_credentials(text)
    for plain in ("sqlite:////tmp/x.db", "http://127.0.0.1:5000", "user@example.org"):
        assert mask_credentials(plain) == plain
    nested = mask_in({"a": [SECRET_URI, 3], "b": {"c": SECRET_URI}})
    assert "s3cr3t" not in json.dumps(nested) and nested["a"][1] == 3


def test_keys_are_valid_for_mlflow_whatever_the_name() -> None:
    from mlflow.utils.validation import (
        _validate_metric_name,
        _validate_param_name,
        _validate_tag_name,
    )

    assert mlflow_key("fold0/loss") == "fold0/loss"  # slashes are valid: curves keep their names
    assert mlflow_key("best_pearson_r") == "best_pearson_r"
    odd = ["a:b", "x//y", "../z", "./a", "a/", "/abs", "é ok", "w[1]", "q" * 300, "a/" * 200, ""]
    keys = [mlflow_key(name) for name in odd]
    for key in keys:
        _validate_metric_name(key)
        _validate_param_name(key)
        _validate_tag_name(key)
        assert 0 < len(key) <= 250
    assert len(set(keys)) == len(keys)


def test_flatten_config_to_dotted_params() -> None:
    flat = flatten(CONFIG)
    assert flat["data.trait"] == 0
    assert flat["stages.0.strategy"] == "genetic"
    assert flat["stages.1.options.top_k"] == 1
    assert flat["evaluation.outer.folds"] == [1, 2]  # plain lists stay one value
    assert flat["preprocess"] == "{}"
    assert flatten({"x": {"y": {"z": 1}}}, "p.") == {"p.x.y.z": 1}


def test_batches_respect_mlflow_limits_and_lose_nothing() -> None:
    from mlflow.entities import Metric, Param, RunTag

    payload = Payload(
        metrics=[Metric(f"m{i}", float(i), 0, i) for i in range(2500)],
        params=[Param(f"p{i}", "v" * 5000) for i in range(250)],
        tags=[RunTag(f"t{i}", "w" * 7000) for i in range(150)],
    )
    seen: dict[str, list[str]] = {"m": [], "p": [], "t": []}
    for metrics, params, tags in payload.batches():
        assert len(params) <= MAX_PARAMS_TAGS_PER_BATCH and len(tags) <= MAX_PARAMS_TAGS_PER_BATCH
        assert len(metrics) + len(params) + len(tags) <= MAX_ENTITIES_PER_BATCH
        size = sum(len(e.key) + len(e.value) for e in (*params, *tags)) + 100 * len(metrics)
        assert size < 1_000_000
        seen["m"] += [m.key for m in metrics]
        seen["p"] += [p.key for p in params]
        seen["t"] += [t.key for t in tags]
    assert seen["m"] == [f"m{i}" for i in range(2500)]
    assert seen["p"] == [f"p{i}" for i in range(250)]
    assert seen["t"] == [f"t{i}" for i in range(150)]


def test_relative_sqlite_uri_is_made_absolute(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri("sqlite:///sub/m.db") == f"sqlite:///{tmp_path / 'sub' / 'm.db'}"
    assert resolve_tracking_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"  # MLflow's default


def test_ui_command_serves_the_store_on_loopback_with_one_worker() -> None:
    uri = "sqlite:////tmp/some/mlflow.db"
    command = ui.ui_command(uri)
    assert command[:4] == [sys.executable, "-m", "mlflow", "ui"]
    opts = dict(zip(command[4::2], command[5::2], strict=True))
    assert opts == {
        "--backend-store-uri": uri,
        "--host": "127.0.0.1",
        "--port": "5000",
        "--workers": "1",
    }
    assert ui.ui_command(uri, "::1", 5050)[command.index("--port") + 1] == "5050"
    with pytest.raises(ConfigError, match=r"https://\*\*\*@"):
        ui.ui_command(SECRET_URI)
    with pytest.raises(ConfigError, match="--port"):
        ui.ui_command(uri, "127.0.0.1", 70000)
    assert ui.is_loopback("127.0.0.1") and ui.is_loopback("::1") and ui.is_loopback("localhost")
    assert not ui.is_loopback("0.0.0.0") and not ui.is_loopback("example.org")


def test_serve_ui_warns_for_network_hosts_and_returns_the_exit_code(
    tmp_path: Path, monkeypatch: Any
) -> None:
    db = tmp_path / "mlflow.db"
    db.touch()
    script = (
        "import os, sys; "
        "sys.exit(3 if os.environ.get('MLFLOW_SERVER_ENABLE_JOB_EXECUTION') == 'false' else 4)"
    )
    monkeypatch.delenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", raising=False)
    monkeypatch.setattr(ui, "ui_command", lambda uri, host, port: [sys.executable, "-c", script])
    monkeypatch.setattr(ui, "_runs_pages", lambda uri, url: [])
    lines: list[str] = []
    assert ui.serve_ui(f"sqlite:///{db}", host="0.0.0.0", port=5001, warn=lines.append) == 3
    assert sum("reachable" in line or "no authentication" in line for line in lines) == 1
    lines.clear()
    assert ui.serve_ui(f"sqlite:///{db}", warn=lines.append) == 3
    assert not any("authentication" in line for line in lines)
    assert any("http://127.0.0.1:5000" in line for line in lines)
    lines.clear()
    assert ui.serve_ui(SECRET_URI, warn=lines.append) == 0  # a server: nothing to start
    assert "s3cr3t" not in " ".join(lines)
    with pytest.raises(ConfigError, match="existing MLflow store"):
        ui.serve_ui(f"sqlite:///{tmp_path / 'none.db'}", warn=lines.append)


def test_huey_folders_are_found_in_our_childs_session_only(tmp_path: Path) -> None:
    store = Path(tempfile.mkdtemp(dir=tempfile.gettempdir()))  # like MLflow's mkdtemp
    env = dict(os.environ, **{ui.HUEY_ENV: str(store)})
    child = subprocess.Popen(
        [sys.executable, "-c", QUIET_SLEEP], env=env, start_new_session=True, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        deadline = time.time() + 10
        found: set[Path] = set()
        while not found and time.time() < deadline:
            found = ui._session_env_values(child.pid, ui.HUEY_ENV)
            time.sleep(0.05)
        assert found == {store}
        assert ui._session_env_values(os.getsid(0), ui.HUEY_ENV) == set()  # not our session's
    finally:
        ui._stop(child)
        child.stdout.close()
    assert child.poll() is not None
    outside = tmp_path / "tmpkeep"
    outside.mkdir()
    ui._remove_temp_dir(outside)  # not directly in /dev/shm or the temp dir: kept
    assert outside.is_dir()
    ui._remove_temp_dir(store)
    assert not store.exists()


# -- a real sqlite store ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri)


@pytest.mark.integration
def test_parent_and_nested_children_hold_the_search(
    store: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri, client = store
    run_dir = make_run_dir(tmp_path)
    fold = run_dir.fold("fold1")
    tracker = make_tracker(uri, run_dir, "structure")
    scores = [0.20, 0.35, None, 0.30, 0.50]
    records = [make_record(i, s, epochs=7) for i, s in enumerate(scores)]

    tracker.on_fold_start("fold1", fold, [])
    tracker.on_stage_start("fold1", 0, "genetic", 6, 0)
    for record in records:
        fold.journal.append(record)
        tracker.on_trial("fold1", record, None)
    outcome = FoldOutcome("fold1", 5, 1, records[4], {"pearson_r": 0.41, "mse": 0.7})
    tracker.on_fold_end("fold1", outcome)
    assert not tracker.degraded, tracker.problem

    parents, children = runs_of(client, "structure")
    assert len(parents) == 1 and len(children) == 5
    parent = parents[0]
    assert parent.info.run_name == "structure/fold1" and parent.info.status == "FINISHED"
    assert parent.data.tags["hpsearch.run_dir"] == str(run_dir.path.resolve())
    assert parent.data.tags["hpsearch.fold"] == "fold1"
    assert parent.data.tags["hpsearch.version"] == "0.0.test"
    params = parent.data.params
    assert params["data.trait"] == "0" and params["stages.0.strategy"] == "genetic"
    assert params["stages.1.options.top_k"] == "1" and params["dataset.summary.n_lines"] == "40"
    assert params["tracking.uri"] == "https://***@mlflow.example.org/track"
    assert parent.data.metrics["outer_pearson_r"] == pytest.approx(0.41)
    assert parent.data.metrics["outer_mse"] == pytest.approx(0.7)
    assert parent.data.tags["hpsearch.best_trial"] == "4" and parent.data.tags["best.units"] == "80"
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    expected = {"config.yaml", "space.yaml", "data.json", "best_params.json", "best_so_far.png"}
    assert artifacts == expected
    local = Path(client.download_artifacts(parent.info.run_id, "config.yaml", str(tmp_path)))
    assert "s3cr3t" not in local.read_text() and "***@mlflow.example.org" in local.read_text()
    best = json.loads(
        Path(
            client.download_artifacts(parent.info.run_id, "best_params.json", str(tmp_path))
        ).read_text()
    )
    assert best["trial_id"] == 4 and best["params"] == records[4].result.params
    history = client.get_metric_history(parent.info.run_id, "best_pearson_r")
    assert sorted((m.step, m.value) for m in history) == running_best(scores)

    by_trial = {int(c.data.tags["hpsearch.trial_id"]): c for c in children}
    assert sorted(by_trial) == [0, 1, 2, 3, 4]
    for trial_id, child in by_trial.items():
        record = records[trial_id]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.run_name == f"trial-{trial_id}"
        assert child.data.tags["stage"] == "0" and child.data.tags["strategy"] == "genetic"
        assert child.data.tags["generation"] == str(trial_id // 3)
        assert json.loads(child.data.tags["parents"]) == [trial_id - 2, trial_id - 1]
        assert child.data.params["units"] == str(record.result.params["units"])
    failed = by_trial[2]
    assert failed.info.status == "FAILED" and failed.data.tags["status"] == "failed"
    assert "loss is nan" in failed.data.tags["error"]
    ok = by_trial[1]
    assert ok.info.status == "FINISHED" and "error" not in ok.data.tags
    assert ok.data.metrics["pearson_r"] == pytest.approx(0.35)
    assert ok.data.metrics["fold1_pearson_r"] == pytest.approx(0.36)
    for series, values in records[1].result.curves.items():
        points = client.get_metric_history(ok.info.run_id, series)
        assert [(m.step, m.value) for m in sorted(points, key=lambda m: m.step)] == [
            (epoch, pytest.approx(value)) for epoch, value in enumerate(values)
        ]


@pytest.mark.integration
def test_resume_reuses_the_parent_and_catches_up_without_duplicates(
    store: tuple[str, Any], tmp_path: Path
) -> None:
    uri, client = store
    run_dir = make_run_dir(tmp_path)
    fold = run_dir.fold("fold1")
    scores = [0.1, 0.4, 0.3, 0.6, 0.2, 0.7]
    records = [make_record(i, s) for i, s in enumerate(scores)]
    first = make_tracker(uri, run_dir, "resume")
    first.on_fold_start("fold1", fold, [])
    for record in records[:3]:
        first.on_trial("fold1", record, None)
    parents, _ = runs_of(client, "resume")
    parent_id = parents[0].info.run_id
    # a kill in the middle of writing trial 3's child: created, never terminated
    exp_id = client.get_experiment_by_name("resume").experiment_id
    client.create_run(
        exp_id, tags={"mlflow.parentRunId": parent_id, "hpsearch.trial_id": "3"}, run_name="trial-3"
    )

    second = make_tracker(uri, run_dir, "resume")  # the resumed search: the journal has 0..4
    second.on_fold_start("fold1", fold, records[:5])
    second.on_trial("fold1", records[5], None)
    second.on_trial("fold1", records[5], None)  # a repeated event changes nothing
    assert not second.degraded, second.problem

    parents, children = runs_of(client, "resume")
    assert [p.info.run_id for p in parents] == [parent_id]
    assert parents[0].info.status == "RUNNING"
    ids = sorted(int(c.data.tags["hpsearch.trial_id"]) for c in children)
    assert ids == [0, 1, 2, 3, 4, 5]
    assert all(c.info.status == "FINISHED" for c in children)
    history = client.get_metric_history(parent_id, "best_pearson_r")
    assert sorted((m.step, m.value) for m in history) == running_best(scores)


@pytest.mark.integration
def test_unreachable_server_never_raises_and_sync_fills_the_store(
    store: tuple[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, client = store
    run_dir = make_run_dir(tmp_path)
    dead = make_tracker("http://carol:hunter2@127.0.0.1:9", run_dir, "synced")
    started = time.perf_counter()
    all_scores: dict[str, list[float | None]] = {
        "fold1": [0.3, None, 0.5, 0.4],
        "fold2": [0.2, 0.1],
    }
    for name, scores in all_scores.items():
        fold = run_dir.fold(name)
        dead.on_fold_start(name, fold, [])
        dead.on_stage_start(name, 0, "genetic", 6, 0)
        records = [make_record(i, s) for i, s in enumerate(scores)]
        for record in records:
            fold.journal.append(record)  # the journal first, as the runner does
            dead.on_trial(name, record, None)
        if name == "fold1":  # fold2 is left unfinished (killed before its outer test)
            outcome = FoldOutcome(name, len(records), 1, records[2], {"pearson_r": 0.45})
            write_json_atomic(fold.outer_path, outcome.to_dict())
            dead.on_fold_end(name, outcome)
    elapsed = time.perf_counter() - started
    assert dead.degraded
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hpsearch sync" in err[0], err
    assert "hunter2" not in err[0] and "carol" not in err[0]
    assert elapsed < 30, f"a dead server blocked the search for {elapsed:.1f} s"

    with pytest.raises(TrackingUnavailable, match=r"http://\*\*\*@127\.0\.0\.1:9"):
        sync(run_dir.path, uri="http://carol:hunter2@127.0.0.1:9")  # hpsearch sync: exit 1
    report = sync(run_dir.path, uri=uri)
    assert report["experiment"] == "toy"  # from the run's tracking config
    assert report["folds"]["fold1"]["logged"] == 4 and report["folds"]["fold2"]["logged"] == 2
    again = sync(run_dir.path, uri=uri)
    assert again["folds"]["fold1"] == dict(report["folds"]["fold1"], logged=0, already=4,
                                           created_parent=False)  # fmt: skip
    assert again["folds"]["fold2"]["logged"] == 0 and again["folds"]["fold2"]["already"] == 2

    exp_id = client.get_experiment_by_name("toy").experiment_id
    runs = client.search_runs(
        [exp_id], f"tags.`hpsearch.run_dir` = '{run_dir.path.resolve()}'", max_results=1000
    )
    parents = {
        r.data.tags["hpsearch.fold"]: r
        for r in runs
        if r.data.tags.get("hpsearch.role") == "search"
    }
    assert sorted(parents) == ["fold1", "fold2"]
    assert parents["fold1"].info.status == "FINISHED"
    assert parents["fold1"].data.metrics["outer_pearson_r"] == pytest.approx(0.45)
    assert parents["fold2"].info.status == "KILLED"
    assert parents["fold2"].data.tags["hpsearch.state"] == "interrupted"
    for name, parent in parents.items():
        children = client.search_runs(
            [exp_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=1000
        )
        ids = sorted(int(c.data.tags["hpsearch.trial_id"]) for c in children)
        assert ids == list(range(len(all_scores[name])))
        statuses = {int(c.data.tags["hpsearch.trial_id"]): c.info.status for c in children}
        assert [statuses[i] for i in ids] == [
            "FAILED" if s is None else "FINISHED" for s in all_scores[name]
        ]


@pytest.mark.integration
def test_experiment_creation_race_is_won_by_either_creator(
    store: tuple[str, Any], tmp_path: Path
) -> None:
    uri, client = store
    existing = client.create_experiment("raced", artifact_location=str(tmp_path / "art"))
    tracker = make_tracker(uri, make_run_dir(tmp_path), "raced")
    real_get = tracker.client.get_experiment_by_name
    calls = {"n": 0}

    def late_get(name: str) -> Any:  # the other creator commits between our get and create
        calls["n"] += 1
        return None if calls["n"] == 1 else real_get(name)

    tracker.client.get_experiment_by_name = late_get
    assert tracker._experiment() == existing
    assert calls["n"] == 2


@pytest.mark.integration
def test_logging_cost_per_trial_is_small(store: tuple[str, Any], tmp_path: Path) -> None:
    """A trial of 3 inner folds x 100 epochs x 2 curves: one create, one batch, one terminate."""
    uri, client = store
    run_dir = make_run_dir(tmp_path)
    fold = run_dir.fold("fold1")
    tracker = make_tracker(uri, run_dir, "timing")
    tracker.on_fold_start("fold1", fold, [])
    calls: list[int] = []
    real_log_batch = tracker.client.log_batch

    def counting(
        run_id: str, metrics: Any = (), params: Any = (), tags: Any = (), **kw: Any
    ) -> Any:
        calls.append(len(metrics))
        return real_log_batch(run_id, metrics=metrics, params=params, tags=tags, **kw)

    tracker.client.log_batch = counting
    n, elapsed = 8, []
    for i in range(n):
        record = make_record(i, 0.5 - 0.01 * i, folds=3, epochs=100)  # trial 0 is the best
        started = time.perf_counter()
        tracker.on_trial("fold1", record, None)
        elapsed.append(time.perf_counter() - started)
    assert not tracker.degraded, tracker.problem
    per_trial_ms = 1000 * sorted(elapsed)[n // 2]
    print(
        f"\nMLflow sqlite logging per trial (3 folds x 100 epochs x 2 curves = 600 points): "
        f"median {per_trial_ms:.1f} ms, max {1000 * max(elapsed):.1f} ms "
        f"= {per_trial_ms / 50:.2f}% of a 5 s trial"
    )
    child_batches = [c for c in calls if c >= 600]
    assert len(child_batches) == n  # every child's data in ONE log_batch
    assert len(calls) == n + 1  # plus the parent's best_pearson_r after trial 0
    assert per_trial_ms < 1000
    _, children = runs_of(client, "timing")
    points = client.get_metric_history(children[0].info.run_id, "fold2/val_loss")
    assert len(points) == 100


@pytest.mark.integration
def test_best_history_follows_a_minimised_metric(store: tuple[str, Any], tmp_path: Path) -> None:
    uri, client = store
    run_dir = RunDir.create(tmp_path, "plain")
    run_dir.write_config({"name": "plain", "tracking": {"mlflow": True}}, "")  # no uri: default
    tracker = MlflowTracker(
        uri=uri, experiment="minimise", run_dir=run_dir.path, config={}, space_yaml="",
        data_summary={}, metric="mse", direction="minimize", hpsearch_version="0",
    )  # fmt: skip
    tracker.on_fold_start("fold1", run_dir.fold("fold1"), [])
    for i, mse in enumerate([0.9, 0.95, 0.4, 0.6, 0.3]):  # the score is the metric's value
        tracker.on_trial("fold1", make_record(i, mse), None)
    parents, _ = runs_of(client, "minimise")
    history = client.get_metric_history(parents[0].info.run_id, "best_mse")
    steps = sorted((m.step, round(m.value, 6)) for m in history)
    assert steps == [(1, 0.9), (3, 0.4), (5, 0.3)]
    # the store is remembered in the run dir, so resume / ui / sync find it from any directory
    assert remembered_uri(run_dir.path) == uri and run_dir_tracking_uri(run_dir.path) == uri
    assert MlflowTracker.from_run_dir(run_dir.path).uri == uri


@pytest.mark.integration
def test_a_trial_mlflow_refuses_is_skipped_and_tracking_goes_on(
    store: tuple[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    uri, client = store
    run_dir = make_run_dir(tmp_path)
    tracker = make_tracker(uri, run_dir, "refused")
    tracker.on_fold_start("fold1", run_dir.fold("fold1"), [])
    real_log_batch = tracker.client.log_batch

    def refuse_trial_1(run_id: str, metrics: Any = (), params: Any = (), **kw: Any) -> Any:
        if any(p.key == "units" and p.value == "32" for p in params):  # trial 1's units
            raise MlflowException("bad value", error_code=INVALID_PARAMETER_VALUE)
        return real_log_batch(run_id, metrics=metrics, params=params, **kw)

    tracker.client.log_batch = refuse_trial_1
    for i in range(3):
        tracker.on_trial("fold1", make_record(i, 0.1 * i), None)
    assert not tracker.degraded
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    _, children = runs_of(client, "refused")
    assert sorted(int(c.data.tags["hpsearch.trial_id"]) for c in children) == [0, 2]
    # the config's own uri wins over the store a tracker remembered
    assert remembered_uri(run_dir.path) == uri
    assert run_dir_tracking_uri(run_dir.path) == SECRET_URI
    # a remembered URI had its credentials masked: it cannot be used again, so it is not
    (run_dir.path / "mlflow.json").write_text(json.dumps({"uri": mask_credentials(SECRET_URI)}))
    assert remembered_uri(run_dir.path) is None


class Crash(BaseException):
    """Stands for the driver being killed."""


@pytest.mark.integration
def test_real_fold_search_killed_and_resumed_mirrors_the_journal(
    store: tuple[str, Any], tmp_path: Path
) -> None:
    """The runner's own event order (FoldSearch, in-process executor, toy objective)."""
    from dataclasses import dataclass, field

    from hpsearch.config import DataConfig, ExperimentConfig, StageConfig
    from hpsearch.runner.executors import InProcessExecutor
    from hpsearch.runner.search import FoldSearch
    from hpsearch.strategies.testing import contract_space, toy_score
    from hpsearch.trial import Objective, Suggestion, TrialStatus

    @dataclass
    class ToyContext:
        objective: Objective = field(default_factory=Objective)
        search_seed: int = 0

        def evaluate_outer(
            self, params: Any, *, epochs: int, seed: int, save_predictions: Any = None
        ) -> dict[str, float]:
            return {"pearson_r": toy_score(params) / 10}

    calls: list[int] = []

    def evaluate(context: ToyContext, s: Suggestion) -> TrialResult:
        calls.append(s.trial_id)
        if len(calls) == 7:
            raise Crash
        curves = {"fold0/loss": [1.0 / (e + 1) for e in range(3)]}
        score = toy_score(s.params)
        return TrialResult(s.trial_id, s.params, TrialStatus.COMPLETED, score, curves=curves)

    uri, client = store
    config = ExperimentConfig(
        name="e2e",
        data=DataConfig(Path("x"), Path("y")),
        space=Path("s"),
        stages=[StageConfig("random", 5), StageConfig("random", 4)],
        seed=3,
    )
    run_dir = make_run_dir(tmp_path)

    def search() -> FoldSearch:
        tracker = make_tracker(uri, run_dir, "e2e")
        fold = run_dir.fold("fold1")
        executor = InProcessExecutor(evaluate=evaluate)
        return FoldSearch(
            config, contract_space(), ToyContext(), fold, executor, observers=[tracker]
        )

    with pytest.raises(Crash):
        search().run()
    outcome = search().run()

    records = run_dir.fold("fold1").journal.read()
    assert len(records) == 9
    parents, children = runs_of(client, "e2e")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    by_trial = {int(c.data.tags["hpsearch.trial_id"]): c for c in children}
    assert len(children) == len(by_trial) == 9
    for record in records:
        child = by_trial[record.trial_id]
        assert child.data.tags["stage"] == str(record.stage)
        assert child.data.metrics["fold0/loss"] == pytest.approx(1.0 / 3)
    assert outcome.best is not None
    assert parents[0].data.tags["hpsearch.best_trial"] == str(outcome.best.trial_id)
    assert parents[0].data.metrics["best_pearson_r"] == pytest.approx(outcome.best.result.score)
    assert parents[0].data.metrics["outer_pearson_r"] == pytest.approx(
        outcome.outer_metrics["pearson_r"]
    )

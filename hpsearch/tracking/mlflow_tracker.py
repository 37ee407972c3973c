"""MLflow mirror of the journal, written from the driver process only.

One PARENT run per outer-fold search (config, space and data summary as params and artifacts,
``best_<metric>`` history, outer-test metrics, a best-so-far plot) and one NESTED child run per
trial (params, final and per-fold metrics, per-epoch curves as metric history, strategy tags).

The journal stays the truth. Every observer method catches tracking errors: the first one warns
once on stderr and turns the tracker "degraded" (no further MLflow calls in this process), so a
tracking server that went away never stops a search; :func:`sync` later copies whatever the
journals hold and MLflow lacks. Parents are found again by tags (``hpsearch.search_key`` = hash
of run dir + fold), children by ``mlflow.parentRunId`` + ``hpsearch.trial_id``, so a resumed
search or a sync reattaches instead of duplicating. A child is written with one ``create_run``,
as few ``log_batch`` calls as MLflow's batch limits allow (one for a typical trial), and one
``set_terminated``: a child that is not terminated is an interrupted write and is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError, HpsearchError
from hpsearch.trial import Objective, TrialRecord, TrialStatus

if TYPE_CHECKING:
    from hpsearch.runner.rundir import FoldDir
    from hpsearch.runner.search import FoldOutcome

# MLflow's limits (mlflow.utils.validation, 3.x); copied so that this module imports without MLflow.
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_BYTES = 900_000  # the REST API refuses requests over 1 MB
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ERROR_TAG_LENGTH = 4000

REMEMBER_FILE = "mlflow.json"
PARENT_TAG = "mlflow.parentRunId"
TRIAL_TAG = "hpsearch.trial_id"
KEY_TAG = "hpsearch.search_key"
ROLE_TAG = "hpsearch.role"
STATE_TAG = "hpsearch.state"
SETUP_TAG = "hpsearch.setup"
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
RUN_STATUS = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.FAILED: "FAILED",
    TrialStatus.PRUNED: "KILLED",
}

#: Environment for our MLflow calls, applied only where the user has not set a value: bounded
#: HTTP retries (MLflow's defaults, 7 retries with backoff 2 and a 120 s timeout, block a dead
#: server's first call for ~4 minutes), and no "View run ... at URL" lines on stdout after
#: every set_terminated against a server (each also costs an extra get_run request).
CALL_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


class TrackingUnavailable(HpsearchError):
    """The MLflow store could not be written (``hpsearch sync``: server down, bad URI)."""

    exit_code = 1


# -- URIs and credentials -------------------------------------------------------------------

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s'\"]+@")
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pwd|token|access_token|secret|api_key|apikey|key)=)"
    r"[^&;\s'\"]+",
    re.IGNORECASE,
)


def mask_credentials(text: str) -> str:
    """``https://user:pass@host`` → ``https://***@host``; secret query values → ``***``."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    return _SECRET_QUERY.sub(r"\g<name>***", text)


def mask_in(value: Any) -> Any:
    """:func:`mask_credentials` applied to every string inside nested dicts and lists."""
    if isinstance(value, str):
        return mask_credentials(value)
    if isinstance(value, Mapping):
        return {k: mask_in(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_in(v) for v in value]
    return value


def resolve_tracking_uri(uri: str | None) -> str:
    """The store URI to use: ``None`` → the installed MLflow's default (``MLFLOW_TRACKING_URI``
    or ``sqlite:///mlflow.db`` in the working directory), with sqlite paths made absolute so
    that ``hpsearch ui`` finds the same file from anywhere."""
    if uri is None:
        import mlflow

        uri = mlflow.get_tracking_uri()
    uri = str(uri).strip()
    if uri.startswith("sqlite:///"):
        rest, sep, query = uri[len("sqlite:///") :].partition("?")
        if rest and rest != ":memory:" and not rest.startswith("/"):
            uri = f"sqlite:///{Path(rest).resolve()}{sep}{query}"
    return uri


#: URI schemes of MLflow's own tracking stores ("" is a local folder; "postgresql+psycopg2"
#: counts as "postgresql"). Plugins add theirs through the "mlflow.tracking_store" entry points.
TRACKING_SCHEMES: tuple[str, ...] = (
    "", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https",
    "databricks", "databricks-uc", "uc",
)  # fmt: skip


def check_tracking_uri(uri: Any, *, source: str | None, field: str) -> None:
    """Refuse a tracking URI no MLflow store serves, before anything runs (exit code 2)."""
    from urllib.parse import urlparse

    must = "be an MLflow tracking URI (sqlite:///file.db, a folder, http(s)://host, postgresql://…)"
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError.at(source, field, must, uri)
    scheme = urlparse(uri.strip()).scheme.lower().split("+")[0]
    if scheme in TRACKING_SCHEMES or len(scheme) == 1:  # one letter: a Windows drive
        return
    if scheme in _plugin_schemes():
        return
    raise ConfigError.at(source, field, must, mask_credentials(uri))


def _plugin_schemes() -> set[str]:
    from importlib.metadata import entry_points

    try:
        return {e.name.lower() for e in entry_points(group="mlflow.tracking_store")}
    except Exception:  # broken metadata: do not block on it
        return set()


def is_server_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "databricks"))


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores or in-memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///") :].partition("?")[0]
    return None if rest in ("", ":memory:") else Path(rest)


def remembered_uri(run_dir: str | Path) -> str | None:
    """The store a tracker last wrote this run dir to (``mlflow.json``); None when unknown or
    when the URI had credentials (they are never written to disk)."""
    path = Path(run_dir) / REMEMBER_FILE
    try:
        uri = json.loads(path.read_text()).get("uri")
    except (OSError, ValueError, AttributeError):
        return None
    return uri if isinstance(uri, str) and uri and "***" not in uri else None


def run_dir_tracking_uri(run_dir: str | Path) -> str:
    """The store of a run dir's MLflow runs: its config's ``tracking.uri``, else the store a
    tracker remembered in ``mlflow.json``, else MLflow's default (for ``hpsearch ui RUN_DIR``)."""
    import yaml

    try:
        config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) or {}
        configured = (config.get("tracking") or {}).get("uri")
    except (OSError, yaml.YAMLError, AttributeError):
        configured = None
    return resolve_tracking_uri(configured or remembered_uri(run_dir))


def create_sqlite_store(uri: str) -> None:
    """Create a missing sqlite store whole or not at all.

    MLflow creates its tables (about 3 s of migrations) in the database file itself; a process
    killed meanwhile (Ctrl-C or a kill in the first seconds of a first search) leaves a
    half-migrated file that every later command fails to open ("table _alembic_tmp_... already
    exists"). Here the tables are made in a side file that is then linked into place.
    """
    db = sqlite_path(uri)
    if db is None or db.exists():
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in db.parent.glob(f".{db.name}.*.init*"):  # a killed creator's (and journal)
        pid = stale.name[len(db.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.unlink(missing_ok=True)
    side = db.with_name(f".{db.name}.{os.getpid()}.init")
    side.unlink(missing_ok=True)
    try:
        store = SqlAlchemyStore(f"sqlite:///{side}", "./mlruns")  # MLflow's default root
        store.engine.dispose()
        with contextlib.suppress(FileExistsError):  # another process made it first: use it
            os.link(side, db)
    finally:
        side.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- turning our data into MLflow entities ---------------------------------------------------

_BAD_KEY_CHARS = re.compile(r"[^\w.\- /]")


def mlflow_key(name: Any) -> str:
    """A valid MLflow metric/param/tag key for ``name``: odd characters become ``_``, and
    path segments that MLflow rejects (empty, ``.``, ``..``) become ``_``; at most 250 chars."""
    key = _BAD_KEY_CHARS.sub("_", str(name))
    parts = ["_" if part in ("", ".", "..") else part for part in key.split("/")]
    key = "/".join(parts)
    if len(key) > MAX_KEY_LENGTH:
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        key = key[: MAX_KEY_LENGTH - 9].rstrip("/.") + "_" + digest
    return key


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)


def param_value(value: Any) -> str:
    return _truncate(mask_credentials(_text(value)), MAX_PARAM_VALUE_LENGTH)


def tag_value(value: Any, limit: int = MAX_TAG_VALUE_LENGTH) -> str:
    return _truncate(mask_credentials(_text(value)), limit)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config → ``{"data.trait": 0, "stages.0.strategy": "random", ...}``.

    Lists of mappings are indexed (``stages.0``); lists of plain values stay one value.
    """
    if isinstance(data, Mapping):
        if not data and prefix:
            return {prefix[:-1]: "{}"}
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(data, (list, tuple)) and any(isinstance(v, Mapping) for v in data):
        out = {}
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}{index}."))
        return out
    return {prefix[:-1]: data} if prefix else {"value": data}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if hasattr(value, "item") and callable(value.item):  # numpy scalar
            return _finite(value.item())
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ms(seconds: float) -> int | None:
    return int(seconds * 1000) if seconds and seconds > 0 else None


@dataclass
class Payload:
    """A run's data as MLflow entities, keys made valid and unique."""

    metrics: list[Any] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    tags: list[Any] = field(default_factory=list)

    def batches(self) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
        """(metrics, params, tags) chunks within MLflow's per-call limits: 100 params, 100
        tags, 1000 entities in all, and under 1 MB of request (each chunk holds at least one
        entity, and a single param/tag value is at most 8000 characters)."""
        queues = [deque(self.params), deque(self.tags), deque(self.metrics)]
        while any(queues):
            batch: list[list[Any]] = [[], [], []]
            room, budget = MAX_ENTITIES_PER_BATCH, MAX_BATCH_BYTES
            for kind, queue in enumerate(queues):
                cap = MAX_PARAMS_TAGS_PER_BATCH if kind < 2 else MAX_ENTITIES_PER_BATCH
                while queue and room and len(batch[kind]) < cap:
                    size = _entity_bytes(queue[0])
                    if size > budget and room < MAX_ENTITIES_PER_BATCH:
                        break
                    batch[kind].append(queue.popleft())
                    room, budget = room - 1, budget - size
            yield batch[2], batch[0], batch[1]


def _entity_bytes(entity: Any) -> int:
    """A generous estimate of an entity's size in a JSON request."""
    return len(entity.key) + len(str(entity.value)) + 120


def _unique(items: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Keys made MLflow-valid; on a clash after cleaning, the first key wins."""
    pairs = items.items() if isinstance(items, Mapping) else items
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(mlflow_key(key), value)
    return out


def make_params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, param_value(v)) for k, v in _unique(values).items()]


def make_tags(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import RunTag

    return [RunTag(k, tag_value(v)) for k, v in _unique(values).items()]


def child_payload(record: TrialRecord, *, fold: str) -> Payload:
    """Everything one trial's child run holds besides its identity tags."""
    from mlflow.entities import Metric

    result = record.result
    stamp = _ms(record.finished_at) or int(time.time() * 1000)
    tags: dict[str, Any] = {mlflow_key(k): v for k, v in record.tags.items()}
    tags.update(
        {
            "stage": record.stage,
            "strategy": record.strategy,
            "status": result.status.value,
            "hpsearch.fold": fold,
            "hpsearch.seed": record.seed,
        }
    )
    if result.error:
        tags["error"] = tag_value(result.error, MAX_ERROR_TAG_LENGTH)
    metrics: list[Any] = []
    seen: set[tuple[str, int]] = set()

    def add(name: str, value: Any, step: int = 0) -> None:
        number = _finite(value)
        key = mlflow_key(name)
        if number is not None and (key, step) not in seen:
            seen.add((key, step))
            metrics.append(Metric(key, number, stamp, step))

    for name, value in result.metrics.items():
        add(name, value)
    for k, fold_metrics in enumerate(result.fold_metrics):
        for name, value in fold_metrics.items():
            add(f"fold{k}_{name}", value)
    for series, values in result.curves.items():
        for epoch, value in enumerate(values):
            add(series, value, epoch)
    if result.duration_s:
        add("duration_s", result.duration_s)
    return Payload(metrics, make_params(flatten(result.params)), make_tags(tags))


# -- the per-fold state ----------------------------------------------------------------------


@dataclass
class _Fold:
    """What the tracker knows about one outer fold's parent run."""

    name: str
    parent_id: str
    logged: set[int] = field(default_factory=set)  # trial ids with a complete child
    seen: set[int] = field(default_factory=set)
    scores: list[float | None] = field(default_factory=list)  # in completion order
    best_points: list[tuple[int, float, int]] = field(default_factory=list)  # step, score, id
    best_step: int = 0  # highest step of best_<metric> already in MLflow
    finished: bool = False
    created: bool = False
    replaced: int = 0
    new_children: int = 0
    refused: int = 0

    def observe(self, record: TrialRecord, objective: Objective) -> None:
        if record.trial_id in self.seen:
            return
        self.seen.add(record.trial_id)
        score = _finite(record.result.score) if record.result.ok else None
        self.scores.append(score)
        best = self.best_points[-1][1] if self.best_points else None
        if score is not None and (best is None or objective.is_better(score, best)):
            self.best_points.append((len(self.scores), score, record.trial_id))


def _search_key(run_dir: Path, fold: str) -> str:
    return hashlib.sha1(f"{run_dir}\n{fold}".encode()).hexdigest()[:20]


def _stderr_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def call_env() -> Iterator[None]:
    """CALL_ENV around our MLflow calls, only where the user has not set a value."""
    added = [name for name in CALL_ENV if name not in os.environ]
    for name in added:
        os.environ[name] = CALL_ENV[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _is_data_error(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "INVALID_PARAMETER_VALUE"


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return mask_credentials(_truncate(f"{type(exc).__name__}: {text}", limit))


# -- the tracker -------------------------------------------------------------------------------


class MlflowTracker:
    """A :class:`~hpsearch.runner.search.SearchObserver` that mirrors the search into MLflow."""

    def __init__(
        self,
        *,
        uri: str | None,
        experiment: str,
        run_dir: Path,
        config: dict[str, Any],
        space_yaml: str,
        data_summary: dict[str, Any],
        metric: str,
        direction: str,
        hpsearch_version: str,
        warn: Callable[[str], None] | None = None,
    ):
        if not isinstance(experiment, str) or not experiment.strip():
            raise ConfigError.at(None, "tracking.experiment", "be a non-empty name", experiment)
        if len(experiment) > MAX_EXPERIMENT_NAME_LENGTH:
            raise ConfigError.at(
                None, "tracking.experiment", "have at most 500 characters", experiment
            )
        if direction not in ("maximize", "minimize"):
            raise ConfigError.at(None, "direction", "be 'maximize' or 'minimize'", direction)
        self.uri = resolve_tracking_uri(uri)
        self.experiment = experiment
        self.run_dir = Path(run_dir).resolve()
        self.config = mask_in(config)
        self.space_yaml = space_yaml
        self.data_summary = mask_in(data_summary)
        self.objective = Objective(metric, direction)
        self.version = hpsearch_version
        self.degraded = False
        self.problem: str | None = None
        self.log_seconds = 0.0  # wall time spent in MLflow calls (the overhead report)
        self._warn = warn or _stderr_line
        self._warned_data = False
        self._client: Any = None
        self._experiment_id: str | None = None
        self._folds: dict[str, _Fold] = {}
        self._warming: threading.Thread | None = None

    @classmethod
    def from_run_dir(
        cls,
        run_dir: str | Path,
        *,
        uri: str | None = None,
        experiment: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> MlflowTracker:
        """A tracker for an existing run directory, from its config/space/data files."""
        import yaml

        from hpsearch import __version__
        from hpsearch.config import DEFAULT_METRIC
        from hpsearch.runner.rundir import RunDir
        from hpsearch.tracking.journal import read_json
        from hpsearch.trial import METRIC_DIRECTIONS

        rd = RunDir.open(run_dir)
        try:
            config = yaml.safe_load(rd.config_path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError.at(str(rd.config_path), None, "be valid YAML", str(exc)) from exc
        if not isinstance(config, dict):
            raise ConfigError.at(str(rd.config_path), None, "be a mapping", type(config).__name__)
        space_yaml = rd.space_path.read_text() if rd.space_path.is_file() else ""
        data_path = rd.path / "data.json"
        data = read_json(data_path) if data_path.is_file() else {}
        summary = rd.read_summary() or {}
        tracking = config.get("tracking") or {}
        task = ((data.get("summary") or {}).get("task")) or "regression"
        metric = (
            summary.get("metric")
            or (config.get("evaluation") or {}).get("metric")
            or DEFAULT_METRIC.get(task, "pearson_r")
        )
        return cls(
            uri=uri or tracking.get("uri") or remembered_uri(rd.path),
            experiment=experiment
            or tracking.get("experiment")
            or config.get("name")
            or rd.path.name,
            run_dir=rd.path,
            config=config,
            space_yaml=space_yaml,
            data_summary=data,
            metric=metric,
            direction=METRIC_DIRECTIONS.get(metric, "maximize"),
            hpsearch_version=__version__,
            warn=warn,
        )

    def warm_up(self) -> None:
        """Import MLflow, open the store and find the experiment in a background thread.

        ``import mlflow`` and a new sqlite store's table creation take 2-4 s; started right
        after the tracker is made, they overlap Ray's start-up instead of delaying the first
        trial. The first MLflow call waits for the thread; whatever went wrong there is not
        reported from the thread but met again (and reported) by that first call.
        """
        if self._warming is not None or self._experiment_id is not None:
            return

        def work() -> None:
            with contextlib.suppress(Exception), call_env():
                self._experiment()

        self._warming = threading.Thread(target=work, name="hpsearch-mlflow-warm-up", daemon=True)
        self._warming.start()

    def _wait_for_warm_up(self) -> None:
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()
            self._warming = None

    # -- observer methods: never raise ----------------------------------------------------

    def on_fold_start(self, fold: str, fold_dir: FoldDir, records: list[TrialRecord]) -> None:
        self._safely(f"fold {fold} start", self._start, fold, list(records))

    def on_stage_start(self, fold: str, stage: int, strategy: str, budget: int, done: int) -> None:
        state = self._folds.get(fold)
        if state is not None:
            self._safely(
                f"fold {fold} stage {stage}",
                self._set_tags,
                state.parent_id,
                {"hpsearch.stage": f"{stage} ({strategy}, {budget} trials)"},
            )

    def on_trial(self, fold: str, record: TrialRecord, best: TrialRecord | None) -> None:
        state = self._folds.get(fold)
        if state is not None:
            self._safely(f"trial {record.trial_id}", self._trial, state, record)

    def on_fold_end(self, fold: str, outcome: FoldOutcome) -> None:
        state = self._folds.get(fold)
        if state is not None:
            self._safely(
                f"fold {fold} end",
                self._finish_fold,
                state,
                outcome.best,
                outcome.outer_metrics,
                outcome.n_failed,
                outcome.stopped_early,
            )

    def _start(self, fold: str, records: list[TrialRecord]) -> None:
        self._start_fold(fold, records, resume=True)

    # -- sync --------------------------------------------------------------------------------

    def sync(self) -> dict[str, Any]:
        """Copy into MLflow whatever this run directory's journals hold and MLflow lacks.

        Reattaches to existing parents, replaces interrupted children, never duplicates.
        Raises :class:`TrackingUnavailable` when the store cannot be written.
        """
        from hpsearch.runner.rundir import RunDir
        from hpsearch.tracking.journal import read_json

        rd = RunDir.open(self.run_dir)
        report: dict[str, Any] = {"uri": mask_credentials(self.uri), "experiment": self.experiment}
        folds: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            with call_env():
                report["experiment_id"] = self._experiment()
                for fold_dir in rd.folds():
                    records = fold_dir.journal.read()
                    state = self._start_fold(fold_dir.name, records)
                    outer = (
                        read_json(fold_dir.outer_path) if fold_dir.outer_path.is_file() else None
                    )
                    if outer is not None and (not state.finished or state.new_children):
                        self._finish_from_file(state, records, outer)
                    elif outer is None and not state.finished:
                        self._interrupt(state)
                    folds[fold_dir.name] = {
                        "parent_run_id": state.parent_id,
                        "created_parent": state.created,
                        "trials": len(records),
                        "logged": state.new_children,
                        "already": len(state.logged) - state.new_children,
                        "replaced": state.replaced,
                        "refused": state.refused,
                        "finished": outer is not None,
                    }
        except HpsearchError:
            raise
        except Exception as exc:
            raise TrackingUnavailable(
                f"could not be written ({_one_line(exc)})", source=mask_credentials(self.uri)
            ) from exc
        finally:
            self.log_seconds += time.perf_counter() - started
        self.degraded, self.problem = False, None
        report["folds"] = folds
        return report

    # -- plumbing ----------------------------------------------------------------------------

    def _safely(self, action: str, fn: Callable[..., Any], *args: Any) -> None:
        if self.degraded:
            return
        started = time.perf_counter()
        try:
            with call_env():
                fn(*args)
        except Exception as exc:  # a mirror must never stop the search
            self.degraded = True
            self.problem = _one_line(exc)
            self._warn(
                mask_credentials(
                    f"hpsearch: MLflow tracking at {self.uri} stopped ({action}: {self.problem});"
                    f" the search goes on and its journal keeps every trial; run 'hpsearch sync"
                    f" {self.run_dir}' to copy them to MLflow later"
                )
            )
        finally:
            self.log_seconds += time.perf_counter() - started

    @property
    def client(self) -> Any:
        self._wait_for_warm_up()
        if self._client is None:
            from mlflow import MlflowClient

            create_sqlite_store(self.uri)
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def _experiment(self) -> str:
        """Get-or-create the experiment once; a concurrent creator's win is taken as ours."""
        self._wait_for_warm_up()
        if self._experiment_id is not None:
            return self._experiment_id
        client = self.client
        found = client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                self._experiment_id = client.create_experiment(
                    self.experiment,
                    artifact_location=self._artifact_location(),
                    tags={"hpsearch.version": self.version},
                )
                return self._experiment_id
            except Exception:
                found = client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise TrackingUnavailable(
                f"experiment {self.experiment!r} is deleted (restore it with 'mlflow experiments"
                f" restore --experiment-id {found.experiment_id}' or set tracking.experiment)",
                source=mask_credentials(self.uri),
            )
        self._experiment_id = str(found.experiment_id)
        return self._experiment_id

    def _artifact_location(self) -> str | None:
        """Artifacts next to a sqlite file (MLflow's default is ./mlruns of the working dir)."""
        db = sqlite_path(self.uri)
        if db is None:
            return None
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.experiment).strip("-.")[:60] or "experiment"
        digest = hashlib.sha1(self.experiment.encode()).hexdigest()[:8]
        return str(db.parent / "mlruns" / f"{slug}-{digest}")

    def _search(self, filter_string: str) -> list[Any]:
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [self._experiment()], filter_string, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.client.log_batch(run_id, tags=make_tags(tags), synchronous=True)

    def _log(self, run_id: str, payload: Payload) -> None:
        for metrics, params, tags in payload.batches():
            self.client.log_batch(
                run_id, metrics=metrics, params=params, tags=tags, synchronous=True
            )

    # -- parents -------------------------------------------------------------------------------

    def _start_fold(self, fold: str, records: list[TrialRecord], *, resume: bool = False) -> _Fold:
        state = self._attach_parent(fold)
        self._folds[fold] = state
        self._remember()
        if resume and not state.created:  # the search goes on: the parent runs again
            self.client.update_run(state.parent_id, status="RUNNING")
            self._set_tags(state.parent_id, {STATE_TAG: "running"})
            state.finished = False
        for record in records:
            state.observe(record, self.objective)
            if record.trial_id not in state.logged:
                self._log_child(state, record)
        self._log_best(state)
        return state

    def _remember(self) -> None:
        """Write ``mlflow.json`` in the run dir: where its runs are (resume, ui, show)."""
        from hpsearch.tracking.journal import write_json_atomic

        write_json_atomic(
            self.run_dir / REMEMBER_FILE,
            {
                "uri": mask_credentials(self.uri),
                "experiment": self.experiment,
                "experiment_id": self._experiment(),
                "parents": {name: state.parent_id for name, state in self._folds.items()},
            },
        )

    def _attach_parent(self, fold: str) -> _Fold:
        """Reuse this run dir's parent for ``fold`` (resume, sync) or create it."""
        key = _search_key(self.run_dir, fold)
        found = self._search(f"tags.`{KEY_TAG}` = '{key}' and tags.`{ROLE_TAG}` = 'search'")
        if not found:
            run = self.client.create_run(
                self._experiment(),
                run_name=f"{self.experiment}/{fold}",
                tags={
                    KEY_TAG: key,
                    ROLE_TAG: "search",
                    "hpsearch.run_dir": str(self.run_dir),
                    "hpsearch.fold": fold,
                    "hpsearch.version": self.version,
                    "hpsearch.metric": self.objective.metric,
                    "hpsearch.direction": self.objective.direction,
                    STATE_TAG: "running",
                },
            )
            state = _Fold(fold, run.info.run_id, created=True)
            self._setup_parent(state.parent_id)
            return state
        parent = min(found, key=lambda r: (r.info.start_time or 0, r.info.run_id))
        state = _Fold(fold, parent.info.run_id)
        state.finished = parent.data.tags.get(STATE_TAG) == "finished"
        if parent.data.tags.get(SETUP_TAG) != "done":
            self._setup_parent(state.parent_id)
        self._collect_children(state)
        history = self.client.get_metric_history(state.parent_id, self._best_key)
        state.best_step = max((m.step for m in history), default=0)
        return state

    def _collect_children(self, state: _Fold) -> None:
        """Complete children count as logged; interrupted writes and duplicates are removed."""
        children = self._search(f"tags.`{PARENT_TAG}` = '{state.parent_id}'")
        for child in sorted(children, key=lambda r: (r.info.start_time or 0, r.info.run_id)):
            trial = child.data.tags.get(TRIAL_TAG, "")
            complete = child.info.status in TERMINAL and trial.lstrip("-").isdigit()
            if complete and int(trial) not in state.logged:
                state.logged.add(int(trial))
            else:
                self.client.delete_run(child.info.run_id)
                state.replaced += 1

    def _setup_parent(self, run_id: str) -> None:
        import yaml

        values = flatten(self.config)
        values.update(flatten(self.data_summary, "dataset.") if self.data_summary else {})
        self._log(run_id, Payload(params=make_params(values)))
        self.client.log_text(run_id, yaml.safe_dump(self.config, sort_keys=False), "config.yaml")
        self.client.log_text(run_id, self.space_yaml, "space.yaml")
        data_text = json.dumps(self.data_summary, indent=1, default=str)
        self.client.log_text(run_id, data_text, "data.json")
        self._set_tags(run_id, {SETUP_TAG: "done"})

    @property
    def _best_key(self) -> str:
        return mlflow_key(f"best_{self.objective.metric}")

    def _log_best(self, state: _Fold) -> None:
        """Send the best-so-far points MLflow does not have yet (step = trials done)."""
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        new = [p for p in state.best_points if p[0] > state.best_step]
        if new:
            metrics = [Metric(self._best_key, score, stamp, step) for step, score, _ in new]
            self.client.log_batch(state.parent_id, metrics=metrics, synchronous=True)
            state.best_step = new[-1][0]

    # -- children --------------------------------------------------------------------------

    def _trial(self, state: _Fold, record: TrialRecord) -> None:
        if record.trial_id in state.logged:
            return
        state.observe(record, self.objective)
        self._log_child(state, record)
        self._log_best(state)

    def _log_child(self, state: _Fold, record: TrialRecord) -> None:
        payload = child_payload(record, fold=state.name)
        run = self.client.create_run(
            self._experiment(),
            start_time=_ms(record.started_at),
            run_name=f"trial-{record.trial_id}",
            tags={PARENT_TAG: state.parent_id, TRIAL_TAG: str(record.trial_id), ROLE_TAG: "trial"},
        )
        run_id = run.info.run_id
        try:
            self._log(run_id, payload)
        except Exception as exc:
            if not _is_data_error(exc):
                raise
            self.client.delete_run(run_id)  # a trial MLflow refuses: skip it, keep tracking
            state.refused += 1
            if not self._warned_data:
                self._warned_data = True
                self._warn(f"hpsearch: MLflow refused trial {record.trial_id}: {_one_line(exc)}")
            return
        status = RUN_STATUS.get(record.result.status, "FINISHED")
        self.client.set_terminated(run_id, status=status, end_time=_ms(record.finished_at))
        state.logged.add(record.trial_id)
        state.new_children += 1

    # -- the end of a fold -----------------------------------------------------------------

    def _finish_fold(
        self,
        state: _Fold,
        best: TrialRecord | None,
        outer_metrics: Mapping[str, Any],
        n_failed: int,
        stopped_early: str | None,
    ) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        n = len(state.scores)
        metrics = [
            Metric("n_trials", float(n), stamp, 0),
            Metric("n_failed", float(n_failed), stamp, 0),
        ]
        for name, value in outer_metrics.items():
            if (number := _finite(value)) is not None:
                metrics.append(Metric(mlflow_key(f"outer_{name}"), number, stamp, 0))
        tags: dict[str, Any] = {STATE_TAG: "finished"}
        if stopped_early:
            tags["hpsearch.stopped_early"] = stopped_early
        if best is not None:
            score = _finite(best.result.score)
            if score is not None and state.best_step < n:
                metrics.append(Metric(self._best_key, score, stamp, n))
            for name, value in best.result.metrics.items():
                key, number = mlflow_key(f"best_{name}"), _finite(value)
                if key != self._best_key and number is not None:
                    metrics.append(Metric(key, number, stamp, n))
            tags["hpsearch.best_trial"] = best.trial_id
            tags.update({f"best.{k}": v for k, v in flatten(best.result.params).items()})
        self._log(state.parent_id, Payload(metrics=metrics, tags=make_tags(tags)))
        state.best_step = max(state.best_step, n)
        if best is not None:
            best_file = {
                "trial_id": best.trial_id,
                "metric": self.objective.metric,
                "score": best.result.score,
                "params": best.result.params,
                "metrics": best.result.metrics,
            }
            text = json.dumps(best_file, indent=1, default=str)
            self.client.log_text(state.parent_id, text, "best_params.json")
        if state.scores:
            figure = best_so_far_figure(state.scores, self.objective, title=state.name)
            self.client.log_figure(state.parent_id, figure, "best_so_far.png")
        status = "KILLED" if stopped_early else "FINISHED"
        self.client.set_terminated(state.parent_id, status=status)
        state.finished = True

    def _finish_from_file(
        self, state: _Fold, records: list[TrialRecord], outer: Mapping[str, Any]
    ) -> None:
        best_id = outer.get("best_trial")
        best = next((r for r in records if r.trial_id == best_id), None)
        self._finish_fold(
            state,
            best,
            outer.get("outer_metrics") or {},
            sum(not r.result.ok for r in records),
            outer.get("stopped_early"),
        )

    def _interrupt(self, state: _Fold) -> None:
        """A fold with no outer result yet: mark its parent resumable, not running forever."""
        self._set_tags(state.parent_id, {STATE_TAG: "interrupted"})
        self.client.set_terminated(state.parent_id, status="KILLED")


def best_so_far_figure(scores: Sequence[float | None], objective: Objective, *, title: str) -> Any:
    """Score per trial (dots) and the running best (line), x = trials done; Agg, no pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    xs = [i + 1 for i, s in enumerate(scores) if s is not None]
    ys = [s for s in scores if s is not None]
    running: list[float] = []
    for y in ys:
        running.append(y if not running or objective.is_better(y, running[-1]) else running[-1])
    axes.step(xs, running, where="post", linewidth=1.8, color="C1", label="best so far")
    axes.plot(xs, ys, "o", markersize=3, alpha=0.7, color="C0", label="trial score")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    failed = len(scores) - len(ys)
    axes.set_title(f"{title}: {len(scores)} trials" + (f" ({failed} failed)" if failed else ""))
    axes.set_xlabel("trials done")
    axes.set_ylabel(f"{objective.metric} ({objective.direction})")
    axes.grid(alpha=0.3)
    if ys:
        axes.legend(loc="best")
    figure.tight_layout()
    return figure


def sync(
    run_dir: str | Path,
    *,
    uri: str | None = None,
    experiment: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``hpsearch sync RUN_DIR``: copy every fold's journal into MLflow, with no duplicates.

    ``uri``/``experiment`` default to the run's ``tracking`` config, then MLflow's default.
    """
    return MlflowTracker.from_run_dir(run_dir, uri=uri, experiment=experiment, warn=warn).sync()

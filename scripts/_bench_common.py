"""Shared pieces of the benchmark scripts: data, experiment files, fixed trial lists, reports.

Every benchmark runs on the real wheat data in ``<repo>/../shared/data`` (trait 1 = column 0
of wheat.Y, outer fold 1 of wheat.sets, inner 3-fold) and falls back to the simulated
``DATA/example.*`` when that folder is absent. Results go to ``bench_results/`` (gitignored)
as JSON plus a Markdown table; the machine's load average is recorded next to every number,
because the project machine is shared and timings move by up to 2x between minutes.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hpsearch.strategies.base import BaseStrategy, Proposal

if TYPE_CHECKING:
    from hpsearch.runner.experiment import Prepared
    from hpsearch.trial import Suggestion, TrialResult

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench_results"
SPACE_FILE = REPO / "search_spaces" / "mlp.yaml"
WHEAT_DIR = Path(os.environ.get("HPSEARCH_WHEAT_DIR") or (REPO / ".." / "shared" / "data"))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class BenchData:
    """Which files a benchmark reads, and a label for its report."""

    label: str
    genotypes: Path
    phenotypes: Path
    fold_file: Path
    trait: int = 0


def find_data(*, allow_fallback: bool = True) -> BenchData | None:
    """The wheat files when present, else the bundled example (None when neither exists)."""
    wheat = WHEAT_DIR.resolve()
    names = ("wheat.X", "wheat.Y", "wheat.sets")
    if all((wheat / n).is_file() for n in names):
        return BenchData("wheat 599x1279, trait 1", *(wheat / n for n in names))
    example = REPO / "DATA"
    names = ("example.X", "example.Y", "example.sets")
    if allow_fallback and all((example / n).is_file() for n in names):
        return BenchData("DATA/example (wheat absent)", *(example / n for n in names))
    return None


# --------------------------------------------------------------------------- experiment files


def write_space(
    dest: Path,
    *,
    epochs: int,
    fixed: Mapping[str, Any] | None = None,
    base: Path = SPACE_FILE,
) -> Path:
    """``base`` with ``epochs`` fixed to the benchmark's cap (and other params fixed)."""
    raw = yaml.safe_load(base.read_text())
    params = raw["parameters"]
    params["epochs"] = {"type": "fixed", "value": int(epochs)}
    for name, value in (fixed or {}).items():
        params[name] = {"type": "fixed", "value": value}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(raw, sort_keys=False))
    return dest


def write_experiment(
    dest: Path,
    *,
    data: BenchData,
    space: Path,
    trials: int,
    executor: str = "ray",
    max_concurrent: int = 2,
    mlflow_uri: str | None = None,
    inner: Mapping[str, Any] | None = None,
    stages: Sequence[Mapping[str, Any]] | None = None,
    seed: int = 42,
    name: str = "bench",
    output: Path | None = None,
) -> Path:
    """An experiment YAML for the benchmark (absolute paths, so it runs from anywhere)."""
    config: dict[str, Any] = {
        "name": name,
        "data": {
            "genotypes": str(data.genotypes),
            "phenotypes": str(data.phenotypes),
            "trait": data.trait,
            "task": "regression",
        },
        "evaluation": {
            "outer": {"fold_file": str(data.fold_file), "folds": [1]},
            "inner": dict(inner or {"kfold": 3, "seed": 0}),
            "metric": "pearson_r",
        },
        "model": "mlp",
        "space": str(space),
        "stages": [dict(s) for s in stages]
        if stages
        else [{"strategy": "random", "trials": trials}],
        "execution": {
            "executor": executor,
            "max_concurrent": max_concurrent,
            "cpus_per_trial": 1,
            "max_retries": 0,
        },
        "tracking": {"mlflow": mlflow_uri is not None, "experiment": name}
        | ({"uri": mlflow_uri} if mlflow_uri else {}),
        "output": str(output or dest.parent / "runs"),
        "seed": seed,
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def load_prepared(config_path: Path, *, start_ray: bool = False) -> Prepared:
    """Config checked, data loaded, outer and inner folds made (what ``hpsearch validate`` does);
    with ``start_ray``, Ray starts meanwhile when the config uses it, as in ``hpsearch run``."""
    from hpsearch.config import load_config
    from hpsearch.runner.experiment import prepare, prepare_starting_ray

    config = load_config(config_path)
    return prepare_starting_ray(config) if start_ray else prepare(config)


def sample_suggestions(prepared: Prepared, n: int) -> list[Suggestion]:
    """The ``n`` configurations stage 0 (random) of ``run_experiment`` will ask, in order.

    Same strategy, seed and first trial id as ``FoldSearch`` uses, so the plain loops and the
    hpsearch runs train exactly the same configurations with the same per-trial seeds (the
    benchmarks check the journal against this list).
    """
    from hpsearch.strategies import make_strategy

    config = prepared.config
    strategy = make_strategy(
        config.stages[0].strategy,
        prepared.space,
        objective=prepared.objective,
        seed=config.seed * 101,
        first_trial_id=0,
        options=config.stages[0].options,
    )
    out = strategy.ask(n)
    if len(out) != n:
        raise RuntimeError(f"the strategy gave {len(out)} configurations, not {n}")
    return out


def run_plain(
    prepared: Prepared,
    suggestions: Iterable[Suggestion],
    *,
    threads: int | None,
    on_trial: Callable[[TrialResult, float], None] | None = None,
) -> list[TrialResult]:
    """A plain Python loop of ``fit_and_score`` calls (no executor, no journal, no tracking)."""
    from hpsearch.data.preprocess import PreprocessOptions
    from hpsearch.models import get_builder
    from hpsearch.runner.context import trial_seed
    from hpsearch.training import configure_threads, fit_and_score

    config = prepared.config
    configure_threads(threads)
    builder = get_builder(config.model)
    preprocess = PreprocessOptions.from_params(config.preprocess)
    results = []
    for s in suggestions:
        started = time.perf_counter()
        result = fit_and_score(
            builder,
            s.params,
            prepared.data,
            prepared.plans[0],
            prepared.objective,
            seed=trial_seed(config.seed, s.trial_id),
            trial_id=s.trial_id,
            preprocess=preprocess,
        )
        results.append(result)
        if on_trial is not None:
            on_trial(result, time.perf_counter() - started)
    return results


# --------------------------------------------------------------------------- observers


@dataclass
class Clock:
    """A SearchObserver that timestamps the search's events (perf_counter seconds)."""

    fold_start: float | None = None
    stage_starts: list[float] = field(default_factory=list)
    trials: list[tuple[float, Any]] = field(default_factory=list)
    fold_end: float | None = None

    def on_fold_start(self, fold: str, fold_dir: Any, records: list[Any]) -> None:
        self.fold_start = time.perf_counter()

    def on_stage_start(self, fold: str, stage: int, strategy: str, budget: int, done: int) -> None:
        self.stage_starts.append(time.perf_counter())

    def on_trial(self, fold: str, record: Any, best: Any) -> None:
        self.trials.append((time.perf_counter(), record))

    def on_fold_end(self, fold: str, outcome: Any) -> None:
        self.fold_end = time.perf_counter()

    @property
    def records(self) -> list[Any]:
        return [r for _, r in self.trials]


def run_hpsearch(
    prepared: Prepared,
    *,
    suggestions: Sequence[Suggestion] | None = None,
    executor: Any = None,
    mlflow: bool = True,
) -> dict[str, Any]:
    """``run_experiment`` as ``hpsearch run`` calls it (MLflow tracker included when asked).

    Returns the timings: ``wall`` (prepare excluded, everything after it included: run dir,
    MLflow setup, Ray start, trials, outer refit, Ray shutdown), ``outer_refit`` (last trial →
    fold end: the refit on the outer training part, done in the driver), ``search`` = wall
    minus outer_refit (the part comparable with a loop of the same trials), and MLflow's own
    seconds. Raises when the trials run differ from ``suggestions``.
    """
    import logging

    from hpsearch.runner.experiment import run_experiment, start_run_dir
    from hpsearch.tracking.mlflow_tracker import MlflowTracker

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    clock = Clock()
    started = time.perf_counter()
    run_dir = start_run_dir(prepared)
    observers: list[Any] = [clock]
    tracker = None
    if mlflow and prepared.config.tracking.mlflow:
        tracker = MlflowTracker.from_run_dir(
            run_dir.path,
            uri=prepared.config.tracking.uri,
            experiment=prepared.config.tracking.experiment,
        )
        tracker.warm_up()  # as `hpsearch run` does
        observers.append(tracker)
    outcome = run_experiment(prepared, run_dir=run_dir, executor=executor, observers=observers)
    wall = time.perf_counter() - started
    records = sorted(clock.records, key=lambda r: r.trial_id)
    if suggestions is not None:
        ran = [(r.trial_id, r.result.params) for r in records]
        wanted = [(s.trial_id, s.params) for s in suggestions]
        if ran != wanted:
            raise RuntimeError("hpsearch ran other configurations than the fixed list")
    last = clock.trials[-1][0] if clock.trials else started
    outer = (clock.fold_end or last) - last
    durations = [r.result.duration_s for r in records]
    return {
        "wall": wall,
        "outer_refit": outer,
        "search": wall - outer,
        "first_trial_at": (clock.trials[0][0] - started) if clock.trials else None,
        "mlflow_s": tracker.log_seconds if tracker is not None else 0.0,
        "mlflow_degraded": bool(tracker and tracker.degraded),
        "trial_seconds_sum": sum(durations),
        "n_trials": len(records),
        "n_failed": sum(not r.result.ok for r in records),
        "scores": [r.result.score for r in records],
        "best": best_score([r.result.score for r in records]),
        "worker_pids": sorted({r.result.info.get("worker_pid") for r in records} - {None}),
        "outer_metrics": outcome.folds[0].outer_metrics if outcome.folds else {},
        "run_dir": str(run_dir.path),
    }


# --------------------------------------------------------------------------- reporting


def best_score(scores: Iterable[float | None]) -> float | None:
    finite = [s for s in scores if s is not None and s == s]
    return max(finite) if finite else None


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, Any]:
    """What the numbers came from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("tensorflow", "keras", "ray", "mlflow", "numpy"):
        try:
            from importlib.metadata import version

            versions[name] = version(name if name != "tensorflow" else "tensorflow-cpu")
        except Exception:
            versions[name] = None
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "versions": versions,
        "load_average_start": load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats get 2 decimals (3 below 0.1)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:
                return "n/a"
            return f"{value:.3f}" if abs(value) < 0.1 else f"{value:.2f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, payload: Mapping[str, Any], markdown: str) -> tuple[Path, Path]:
    """``bench_results/<name>.json`` and ``.md``; returns both paths."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS_DIR / f"{name}.json"
    md_path = RESULTS_DIR / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    md_path.write_text(markdown.rstrip() + "\n")
    return json_path, md_path


def quiet_env() -> dict[str, str]:
    """Environment for child processes: TF's notices off, unbuffered output."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def python() -> str:
    return sys.executable


def taskset_available() -> bool:
    try:
        probe = subprocess.run(["taskset", "-p", str(os.getpid())], capture_output=True)
        return probe.returncode == 0
    except OSError:
        return False


# --------------------------------------------------------------------------- a fixed list


class FixedList(BaseStrategy):
    """Hands out ``params[start:]`` of a JSON list file, in order (benchmarks only).

    Lets a benchmark split the same configurations over several stages (same trial ids,
    hence the same seeds), e.g. 16 trials as one stage or as 2 x 8; a config names it as
    ``strategy: "_bench_common:FixedList"`` with ``options: {file: ..., start: ...}``.
    """

    name = "fixed-list"

    def __init__(self, space: Any, *, file: str, start: int = 0, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.file, self.start, self.given = str(file), int(start), 0
        self._params: list[dict[str, Any]] | None = None

    def _all(self) -> list[dict[str, Any]]:
        if self._params is None:
            self._params = json.loads(Path(self.file).read_text())
        return self._params

    def _propose(self, n: int) -> list[Proposal]:
        first = self.start + self.given
        chosen = self._all()[first : first + n]
        self.given += len(chosen)
        return [Proposal(dict(p)) for p in chosen]

    def _exhausted(self) -> bool:
        return self.start + self.given >= len(self._all())

    def _extra_state(self) -> dict[str, Any]:
        return {"given": self.given}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self.given = int(extra.get("given", 0))

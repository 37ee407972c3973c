"""RayExecutor on a real local Ray: toy trials (no Keras), waiting strategies, killed workers,
the failure breaker, ASHA pruning, a two-node cluster, and one real Keras run.

One local Ray serves the whole module (started once by a module fixture, ~3 s); the executors
of the tests find it running and leave it alone. Nothing here asserts on timings: the machine
is shared and slow. Trial functions live in this module, so it is pickled by value for the
workers (they cannot import a test module).
"""

from __future__ import annotations

import importlib.util
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hpsearch.config import ExecutionConfig
from hpsearch.errors import ConfigError, FatalError
from hpsearch.runner import ray_tune
from hpsearch.runner.ray_tune import RayExecutor, configure_gpu_memory
from hpsearch.space import FixedParam, FloatParam, IntParam, Space
from hpsearch.strategies import make_strategy
from hpsearch.strategies.base import BaseStrategy, Proposal
from hpsearch.strategies.testing import contract_space, toy_score
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus

if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed", allow_module_level=True)
pytestmark = pytest.mark.integration
#: Whether something imported Ray before this module (then Ray's node address was fixed then).
RAY_IMPORTED_EARLIER = "ray" in sys.modules


# --------------------------------------------------------------------------- toy trials


@dataclass
class ToyContext:
    """Stands for TrialContext: knobs for the toy trial, and a pickling counter."""

    work_dir: str
    sleep: float = 0.2
    epochs: int = 3
    kill_trial: int | None = None
    kill_once: bool = True
    loss_by_id: bool = False
    threads: int | None = None
    objective: Objective = field(default_factory=Objective)
    search_seed: int = 0

    def evaluate_outer(
        self, params: dict, *, epochs: int, seed: int, save_predictions: Any = None
    ) -> dict[str, float]:
        return {"pearson_r": toy_score(params) / 10}

    def __getstate__(self) -> dict[str, Any]:
        # Count every pickling with the pickling process's id: the driver should pickle the
        # context once per stage (into the object store), never once per trial.
        with open(Path(self.work_dir) / "pickled.txt", "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        return dict(self.__dict__)


def toy_evaluate(context: ToyContext, suggestion: Suggestion, report: Any) -> TrialResult:
    """Sleeps, reports a few epochs, may SIGKILL its own worker, returns the toy score."""
    import ray

    work = Path(context.work_dir)
    start = time.time()
    (work / f"started-{suggestion.trial_id}-{os.getpid()}").touch()
    for step in range(1, context.epochs + 1):
        time.sleep(context.sleep / context.epochs)
        loss = float(suggestion.trial_id) if context.loss_by_id else 1.0 / step
        report(step, {"fold": 0, "loss": loss, "val_loss": loss})
    if context.kill_trial == suggestion.trial_id:
        marker = work / f"killed-{suggestion.trial_id}"
        if not (context.kill_once and marker.exists()):
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
    info = {
        "pid": os.getpid(),
        "start": start,
        "end": time.time(),
        "node": ray.get_runtime_context().get_node_id(),
        "threads": context.threads,
        "omp": os.environ.get("OMP_NUM_THREADS"),
    }
    return TrialResult(
        suggestion.trial_id,
        suggestion.params,
        TrialStatus.COMPLETED,
        toy_score(suggestion.params),
        info=info,
    )


@dataclass
class Recorder:
    """The driver-side handlers FoldSearch would pass; keeps the order of events."""

    events: list[tuple[str, int]] = field(default_factory=list)
    results: list[TrialResult] = field(default_factory=list)
    raise_at: int | None = None
    sigint_at: int | None = None
    error: Exception | None = None

    def on_asked(self, suggestions: list[Suggestion]) -> None:
        self.events.extend(("asked", s.trial_id) for s in suggestions)

    def on_result(self, suggestion: Suggestion, result: TrialResult, started: float) -> None:
        assert suggestion.trial_id == result.trial_id
        assert started <= time.time()
        self.events.append(("result", result.trial_id))
        self.results.append(result)
        if self.raise_at is not None and len(self.results) == self.raise_at:
            self.error = FatalError("5 trials in a row failed", source="toy")
            raise self.error
        if self.sigint_at is not None and len(self.results) == self.sigint_at:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl+C


def execution(**overrides: Any) -> ExecutionConfig:
    options = {"executor": "ray", "max_concurrent": 2, "cpus_per_trial": 1.0, "max_retries": 0}
    return ExecutionConfig(**{**options, **overrides})


def run(
    tmp_path: Path,
    *,
    budget: int,
    context: ToyContext | None = None,
    strategy: Any = None,
    recorder: Recorder | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    scheduler: str | None = None,
    **overrides: Any,
) -> tuple[int, Recorder, Any, ToyContext]:
    context = context or ToyContext(str(tmp_path))
    strategy = strategy or make_strategy("random", contract_space(), seed=0)
    recorder = recorder or Recorder()
    executor = RayExecutor(
        execution(**overrides),
        run_name="toy",
        storage_path=tmp_path / "ray",
        scheduler=scheduler,
        evaluate=toy_evaluate,
    )
    try:
        told = executor.run_stage(
            strategy,
            context,  # type: ignore[arg-type]
            budget=budget,
            on_asked=recorder.on_asked,
            on_result=recorder.on_result,
            should_stop=should_stop,
        )
    finally:
        executor.close()
    return told, recorder, strategy, context


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in points:  # an end sorts before a start at the same instant
        running += delta
        peak = max(peak, running)
    return peak


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """One local Ray for the module, started the way the executor starts it."""
    owner = RayExecutor(
        execution(), run_name="owner", storage_path=tmp_path_factory.mktemp("ray")
    ).start()
    import ray

    # Workers cannot import a test module: ship this module's functions and classes by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield owner
    owner.close()


def test_the_local_ray_listens_on_loopback_only(local_ray) -> None:
    import ray

    if RAY_IMPORTED_EARLIER:
        pytest.skip("Ray was imported before this module: its node address was already fixed")
    assert [n["NodeManagerAddress"] for n in ray.nodes()] == ["127.0.0.1"]
    assert ray.cluster_resources()["CPU"] == os.cpu_count()


# --------------------------------------------------------------------------- tests


def test_eight_toy_trials_two_at_a_time_on_reused_workers(local_ray, tmp_path: Path) -> None:
    wall = time.perf_counter()
    # Half a CPU per trial: the CPUs would allow 4 at once, max_concurrent must hold it to 2.
    told, rec, strategy, context = run(tmp_path, budget=8, cpus_per_trial=0.5)
    wall = time.perf_counter() - wall
    print(f"\n8 toy trials (0.2 s each) at concurrency 2: run_stage {wall:.2f} s")

    assert told == 8 and len(rec.results) == 8
    ids = [r.trial_id for r in rec.results]
    assert len(set(ids)) == 8
    assert strategy.n_told == 8 and strategy.pending == []
    for tid in ids:  # every trial was announced before its result came back
        assert rec.events.index(("asked", tid)) < rec.events.index(("result", tid))
    for r in rec.results:
        assert r.status == TrialStatus.COMPLETED
        assert r.score == pytest.approx(toy_score(r.params))
        assert r.info["threads"] == 1 and r.info["omp"] == "1"  # at least one thread
    assert max_overlap([(r.info["start"], r.info["end"]) for r in rec.results]) <= 2
    assert peak_in_flight(rec.events) <= 2
    assert len({r.info["pid"] for r in rec.results}) <= 2  # actors reused, not one per trial
    driver = str(os.getpid())
    pickled = (Path(context.work_dir) / "pickled.txt").read_text().split()
    assert pickled.count(driver) == 1  # the context went to the object store once

    # Another executor with other options: one more copy for its 2 trials, not 2.
    more, rec2, _, _ = run(tmp_path, budget=2, context=context, threads_per_trial=2)
    assert more == 2 and len(rec2.results) == 2
    assert all(r.info["threads"] == 2 for r in rec2.results)  # execution.threads_per_trial
    pickled = (Path(context.work_dir) / "pickled.txt").read_text().split()
    assert pickled.count(driver) == 2  # a new executor (new options) puts it once more


def peak_in_flight(events: list[tuple[str, int]]) -> int:
    """Most trials asked and not yet told at once, as the driver saw them."""
    in_flight = peak = 0
    for kind, _ in events:
        in_flight += 1 if kind == "asked" else -1
        peak = max(peak, in_flight)
    return peak


def test_max_concurrent_holds_when_the_cpus_allow_more(local_ray, tmp_path: Path) -> None:
    context = ToyContext(str(tmp_path), sleep=0.3)
    told, rec, _, _ = run(
        tmp_path, budget=4, context=context, max_concurrent=1, cpus_per_trial=0.25
    )
    assert told == 4
    assert peak_in_flight(rec.events) == 1  # never asked while a trial was live
    assert max_overlap([(r.info["start"], r.info["end"]) for r in rec.results]) == 1


def test_fold_search_runs_its_stages_through_ray(local_ray, tmp_path: Path) -> None:
    from hpsearch.config import DataConfig, ExperimentConfig, StageConfig
    from hpsearch.runner.rundir import RunDir
    from hpsearch.runner.search import FoldSearch

    config = ExperimentConfig(
        name="toy",
        data=DataConfig(Path("x"), Path("y")),
        space=Path("s"),
        stages=[StageConfig("random", 4), StageConfig("grid", 3, {"points": 2})],
        execution=execution(),
        seed=3,
    )
    context = ToyContext(str(tmp_path), sleep=0.05)
    executor = RayExecutor(
        config.execution, run_name="fold", storage_path=tmp_path / "ray", evaluate=toy_evaluate
    )
    fold_dir = RunDir(tmp_path).fold("fold1")
    try:
        outcome = FoldSearch(config, contract_space(), context, fold_dir, executor).run()
    finally:
        executor.close()
    records = fold_dir.journal.read()
    assert sorted(r.trial_id for r in records) == list(range(7))
    assert [r.stage for r in sorted(records, key=lambda r: r.trial_id)] == [0] * 4 + [1] * 3
    assert outcome.n_trials == 7 and outcome.best is not None
    assert outcome.best.result.score == max(r.result.score for r in records)
    assert fold_dir.read_state()["stage"] == 2
    pickled = (tmp_path / "pickled.txt").read_text().split()
    assert pickled.count(str(os.getpid())) == 1  # both stages shared one object-store copy


class BatchWaiter(BaseStrategy):
    """Hands out batches of 3 and waits (asks return []) until a whole batch is told."""

    name = "batch-waiter"

    def __init__(self, space: Space, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.batch_of: dict[int, int] = {}
        self.open_batch: list[Suggestion] = []
        self.batch = -1
        self.waited = 0
        self.order: list[tuple[str, int, int]] = []

    def ask(self, n: int = 1) -> list[Suggestion]:
        if self.open_batch:
            out, self.open_batch = self.open_batch[:n], self.open_batch[n:]
        elif any(self.batch_of[s.trial_id] == self.batch for s in self.pending):
            self.waited += 1
            return []
        else:
            self.batch += 1
            fresh = super().ask(3)
            for s in fresh:
                self.batch_of[s.trial_id] = self.batch
            out, self.open_batch = fresh[:n], fresh[n:]
        self.order.extend(("ask", s.trial_id, self.batch_of[s.trial_id]) for s in out)
        return out

    def _propose(self, n: int) -> list[Proposal]:
        return [Proposal(self.space.sample(self.rng)) for _ in range(n)]

    def _observe(self, result: TrialResult, suggestion: Suggestion) -> None:
        self.order.append(("tell", result.trial_id, self.batch_of[result.trial_id]))


def test_a_strategy_that_waits_for_results_still_completes_the_budget(
    local_ray, tmp_path: Path
) -> None:
    strategy = BatchWaiter(contract_space(), seed=1)
    context = ToyContext(str(tmp_path), sleep=0.05)
    told, rec, _, _ = run(tmp_path, budget=8, context=context, strategy=strategy)
    assert told == 8 and len({r.trial_id for r in rec.results}) == 8
    assert strategy.waited > 0  # the "wait" answer was really exercised
    for i, (kind, _, batch) in enumerate(strategy.order):  # no batch starts before the last ends
        if kind == "ask":
            assert all(b >= batch for k, _, b in strategy.order[i:] if k == "tell")


def test_a_killed_worker_is_retried_and_its_trial_told_once(local_ray, tmp_path: Path) -> None:
    context = ToyContext(str(tmp_path), sleep=0.1, kill_trial=2)
    told, rec, strategy, _ = run(tmp_path, budget=6, context=context, max_retries=2)
    assert told == 6 and len(rec.results) == 6
    ids = [r.trial_id for r in rec.results]
    assert ids.count(2) == 1 and len(set(ids)) == 6
    killed_pid = int((tmp_path / "killed-2").read_text())
    (second,) = [r for r in rec.results if r.trial_id == 2]
    assert second.status == TrialStatus.COMPLETED and second.info["pid"] != killed_pid
    assert all(r.ok for r in rec.results)
    assert strategy.pending == []


def test_a_worker_that_dies_every_time_is_told_as_failed(local_ray, tmp_path: Path) -> None:
    context = ToyContext(str(tmp_path), sleep=0.05, kill_trial=1, kill_once=False)
    told, rec, _, _ = run(tmp_path, budget=3, context=context, max_retries=0)
    assert told == 3
    (dead,) = [r for r in rec.results if r.trial_id == 1]
    assert dead.status == TrialStatus.FAILED and dead.score is None
    assert "retries used up" in (dead.error or "")
    assert all(r.ok for r in rec.results if r.trial_id != 1)


def test_fatal_error_from_on_result_stops_the_run_and_is_reraised(
    local_ray, tmp_path: Path
) -> None:
    rec = Recorder(raise_at=3)
    with pytest.raises(FatalError) as caught:
        run(tmp_path, budget=8, recorder=rec, context=ToyContext(str(tmp_path), sleep=0.3))
    assert caught.value is rec.error
    assert len(rec.results) == 3  # nothing told after the breaker
    started = {p.name.split("-")[1] for p in tmp_path.glob("started-*")}
    assert len(started) < 8  # the remaining trials never started


def test_ctrl_c_stops_the_stage_and_frees_the_workers(local_ray, tmp_path: Path) -> None:
    import ray

    rec = Recorder(sigint_at=2)
    # Python's own Ctrl+C handler, even where the test runner was started with SIGINT ignored
    # (a background job of a non-interactive shell); hpsearch itself respects that choice.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):  # Tune's own handler would end it quietly
            run(tmp_path, budget=8, recorder=rec, context=ToyContext(str(tmp_path), sleep=0.3))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(rec.results) == 2
    total = ray.cluster_resources()["CPU"]
    deadline = time.time() + 60
    while ray.available_resources().get("CPU", 0) < total and time.time() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == total  # no trial actor left behind


def test_time_limit_stops_asking_and_lets_running_trials_finish(local_ray, tmp_path: Path) -> None:
    rec = Recorder()
    told, _, strategy, _ = run(
        tmp_path, budget=8, recorder=rec, should_stop=lambda: len(rec.results) >= 2
    )
    asked = [tid for kind, tid in rec.events if kind == "asked"]
    assert 2 <= told < 8
    assert sorted(asked) == sorted(r.trial_id for r in rec.results)  # nothing left running
    assert strategy.pending == []


def test_asha_prunes_bad_trials_and_they_are_still_told(local_ray, tmp_path: Path) -> None:
    epochs = ray_tune.ASHA_GRACE_PERIOD + 3
    context = ToyContext(str(tmp_path), sleep=0.1, epochs=epochs, loss_by_id=True)
    told, rec, strategy, _ = run(tmp_path, budget=6, context=context, scheduler="asha")
    assert told == 6 and strategy.pending == []
    by_id = {r.trial_id: r for r in rec.results}
    pruned = [r for r in rec.results if r.status == TrialStatus.PRUNED]
    assert by_id[0].status == TrialStatus.COMPLETED  # the best loss is never cut
    assert pruned, "ASHA stopped nothing although later trials report worse losses"
    for r in pruned:
        assert r.score is None
        assert r.metrics["val_loss"] == float(r.trial_id)  # its last per-epoch report
        assert r.info["pruned_at_step"] < epochs


def test_configuration_errors_are_reported_before_any_trial(local_ray, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scheduler"):
        RayExecutor(execution(), run_name="x", scheduler="hyperband")
    with pytest.raises(ConfigError, match="max_concurrent"):
        RayExecutor(execution(max_concurrent=0), run_name="x")
    with pytest.raises(ConfigError, match="whole number"):
        RayExecutor(execution(gpus_per_trial=1.5), run_name="x")
    import ray

    gpus = ray.cluster_resources().get("GPU", 0)
    with socket.socket() as free:  # a port nobody listens at
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(ConfigError, match=r"execution\.address"):
        RayExecutor(execution(address=f"127.0.0.1:{port}"), run_name="x").start()
    with pytest.raises(ConfigError, match="HOST:PORT"):
        RayExecutor(execution(address="no-port"), run_name="x").start()
    with pytest.raises(ConfigError, match="gpus_per_trial"):
        run(tmp_path, budget=2, gpus_per_trial=gpus + 1)
    with pytest.raises(ConfigError, match="cpus_per_trial"):  # more than any node holds
        run(tmp_path, budget=2, cpus_per_trial=ray.cluster_resources()["CPU"] + 1)
    assert not list(tmp_path.glob("started-*"))


def test_gpu_memory_limit_keeps_shares_inside_the_device() -> None:
    for total in (4_096, 16_384, 81_559):
        for share in (0.25, 0.5, 1 / 3):
            limit = ray_tune.gpu_memory_limit_mib(share, total)
            assert 0 < limit <= share * total
            assert math.floor(1 / share) * (limit + ray_tune.GPU_CONTEXT_HEADROOM_MIB) <= total
    with pytest.raises(ValueError):
        ray_tune.gpu_memory_limit_mib(0.0, 1000)


def test_configure_gpu_memory_is_a_no_op_without_a_gpu(monkeypatch) -> None:
    tf = pytest.importorskip("tensorflow")
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: scripts/gpu_smoke.sh covers it")
    monkeypatch.setattr(ray_tune, "_gpu_setup", None)
    assert configure_gpu_memory(0.25) == "no GPU"
    assert configure_gpu_memory(1.0) == "no GPU"  # once per process
    assert tf.config.list_logical_devices("GPU") == []


# --------------------------------------------------------------------------- real data


def tiny_data(n: int = 60, m: int = 20) -> Any:
    from hpsearch.data.dataset import GenomicData

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(n, m)).astype(np.float32)
    y = x @ rng.normal(size=m) + rng.normal(scale=0.5, size=n)
    return GenomicData(
        genotypes=x,
        target=y.astype(np.float64),
        task="regression",
        trait="toy",
        line_ids=[f"l{i}" for i in range(n)],
        marker_ids=[f"m{j}" for j in range(m)],
    )


def data_evaluate(context: Any, suggestion: Suggestion, report: Any) -> TrialResult:
    """What a trial sees of a real TrialContext (no training)."""
    info = {
        "data": type(context.data).__name__,
        "n_lines": context.data.n_lines,
        "inner_train": len(context.plan.inner[0].train),
        "threads": context.threads,
    }
    return TrialResult(suggestion.trial_id, suggestion.params, score=1.0, info=info)


def test_outer_folds_share_one_copy_of_the_genotypes(
    local_ray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpsearch.data.dataset import FoldPlan, GenomicData, Split
    from hpsearch.runner.context import TrialContext

    counter = tmp_path / "data-pickled.txt"

    def counting_getstate(self: GenomicData) -> dict[str, Any]:
        with open(counter, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        return dict(self.__dict__)

    monkeypatch.setattr(GenomicData, "__getstate__", counting_getstate, raising=False)
    data, rows = tiny_data(), np.arange(60)
    plans = [
        FoldPlan(Split(rows[:40], rows[40:], "f1"), (Split(rows[:30], rows[30:40], "i"),)),
        FoldPlan(Split(rows[20:], rows[:20], "f2"), (Split(rows[20:45], rows[45:], "i"),)),
    ]
    executor = RayExecutor(
        execution(), run_name="folds", storage_path=tmp_path / "ray", evaluate=data_evaluate
    )
    results: list[TrialResult] = []
    try:
        for plan in plans:
            executor.run_stage(
                make_strategy("random", contract_space(), seed=len(results)),
                TrialContext(data, plan, "mlp", Objective()),
                budget=2,
                on_asked=lambda batch: None,
                on_result=lambda s, r, t: results.append(r),
                should_stop=lambda: False,
            )
    finally:
        executor.close()
    assert [r.info["inner_train"] for r in results] == [30, 30, 25, 25]
    assert all(r.info["data"] == "GenomicData" and r.info["n_lines"] == 60 for r in results)
    assert all(r.info["threads"] == 1 for r in results)  # filled in from cpus_per_trial
    assert counter.read_text().split().count(str(os.getpid())) == 1  # one put for both folds


def test_the_driver_reads_the_stored_copy_of_a_large_matrix(local_ray, tmp_path: Path) -> None:
    """One copy of a large in-memory matrix on the node while trials run, not two; the
    driver's matrix is its own (writable, equal) again once the executor closes."""
    from hpsearch.data.dataset import FoldPlan, GenomicData, Split
    from hpsearch.runner.context import TrialContext
    from hpsearch.runner.ray_tune import SHARE_GENOTYPES_BYTES

    n, m = 2000, SHARE_GENOTYPES_BYTES // 2000 + 8
    rng = np.random.default_rng(1)
    genotypes = rng.integers(0, 3, size=(n, m), dtype=np.int8)
    original = genotypes.copy()
    data = GenomicData(
        genotypes=genotypes,
        target=rng.normal(size=n),
        task="regression",
        trait="toy",
        line_ids=[f"l{i}" for i in range(n)],
        marker_ids=[f"m{j}" for j in range(m)],
    )
    rows = np.arange(n)
    plan = FoldPlan(Split(rows[:1500], rows[1500:], "f1"), (Split(rows[:1000], rows[1000:1500]),))
    executor = RayExecutor(
        execution(), run_name="share", storage_path=tmp_path / "ray", evaluate=data_evaluate
    )
    results: list[TrialResult] = []
    try:
        executor.run_stage(
            make_strategy("random", contract_space(), seed=0),
            TrialContext(data, plan, "mlp", Objective()),
            budget=2,
            on_asked=lambda batch: None,
            on_result=lambda s, r, t: results.append(r),
            should_stop=lambda: False,
        )
        assert data.genotypes is not genotypes  # the heap copy is no longer referenced here
        assert not data.genotypes.flags.writeable  # a read-only view of the shared copy
        assert np.array_equal(data.genotypes, original)
    finally:
        executor.close()
    assert [r.info["n_lines"] for r in results] == [n, n]
    assert data.genotypes.flags.writeable and data.genotypes.flags.owndata
    assert np.array_equal(data.genotypes, original)

    small = tiny_data()
    kept = small.genotypes
    executor = RayExecutor(
        execution(), run_name="small", storage_path=tmp_path / "ray2", evaluate=data_evaluate
    )
    try:
        executor.run_stage(
            make_strategy("random", contract_space(), seed=0),
            TrialContext(small, plan_for(small), "mlp", Objective()),
            budget=1,
            on_asked=lambda batch: None,
            on_result=lambda s, r, t: None,
            should_stop=lambda: False,
        )
        assert small.genotypes is kept  # below the threshold: left alone
    finally:
        executor.close()


def plan_for(data: Any) -> Any:
    from hpsearch.data.dataset import FoldPlan, Split

    rows = np.arange(data.n_lines)
    half, quarter = len(rows) // 2, len(rows) // 4
    inner = (Split(rows[:quarter], rows[quarter:half]),)
    return FoldPlan(Split(rows[:half], rows[half:], "f1"), inner)


# --------------------------------------------------------------------------- real Keras


def test_real_keras_trials_through_ray(local_ray, tmp_path: Path) -> None:
    try:
        from hpsearch.data.dataset import FoldPlan, Split
        from hpsearch.models import get_builder
        from hpsearch.runner.context import TrialContext

        get_builder("mlp")
        import hpsearch.training  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"hpsearch.models / hpsearch.training not importable yet: {exc}")
    data, rows = tiny_data(), np.arange(60)
    plan = FoldPlan(
        outer=Split(rows[:48], rows[48:], "outer"),
        inner=(Split(rows[:36], rows[36:48], "inner0"),),
    )
    context = TrialContext(data, plan, "mlp", Objective("pearson_r", "maximize"))
    space = Space(
        [
            FloatParam("learning_rate", 1e-3, 1e-2, log=True),
            IntParam("units", 4, 16),
            FixedParam("n_layers", 1),
            FixedParam("optimizer", "adam"),
            FixedParam("epochs", 4),
            FixedParam("batch_size", 16),
        ]
    )
    strategy = make_strategy("random", space, seed=0)
    rec = Recorder()
    executor = RayExecutor(execution(), run_name="keras", storage_path=tmp_path / "ray")
    wall = time.perf_counter()
    try:
        told = executor.run_stage(
            strategy,
            context,
            budget=2,
            on_asked=rec.on_asked,
            on_result=rec.on_result,
            should_stop=lambda: False,
        )
    finally:
        executor.close()
    wall = time.perf_counter() - wall
    print(f"\n2 real Keras trials through Ray at concurrency 2: run_stage {wall:.2f} s")
    assert told == 2 and len(rec.results) == 2
    for r in rec.results:
        assert r.status == TrialStatus.COMPLETED, r.error
        assert r.score is not None and math.isfinite(r.score)
        assert 1 <= len(r.curves["fold0/loss"]) <= 4
        assert (
            r.params
            == strategy.history[[h["trial_id"] for h in strategy.history].index(r.trial_id)][
                "params"
            ]
        )


# --------------------------------------------------------------------------- two nodes


def test_trials_spread_over_a_two_node_cluster(local_ray, tmp_path: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    local_ray.close()  # this test needs the driver free to join another cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        context = ToyContext(str(tmp_path), sleep=1.0)
        told, rec, _, _ = run(tmp_path, budget=4, context=context, address=cluster.address)
        assert told == 4
        nodes = {r.info["node"] for r in rec.results}
        assert len(nodes) == 2, f"all trials ran on {nodes}"
        # close() disconnects the driver but leaves the joined cluster running
        assert not ray.is_initialized()
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()

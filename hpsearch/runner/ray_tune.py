"""The Ray Tune executor: trials of one stage run as Tune trials, the strategy stays on the driver.

This is the only module that imports Ray, and it does so inside functions, so that importing
it costs nothing until a stage runs. The pieces:

- :class:`StrategySearcher` turns any :class:`~hpsearch.strategies.Strategy` into a Tune
  ``Searcher``: Tune asks it for configurations when a slot is free and tells it every finished
  trial. It calls ``on_asked`` / ``on_result`` on the driver, in finishing order, exactly like
  the in-process executor. Tune swallows (or retries trials on) exceptions raised inside
  searcher callbacks, so the searcher never raises: it keeps the first exception, a stopper
  ends the whole run, and :meth:`RayExecutor.run_stage` re-raises it after ``Tuner.fit()``.
- ``_trainable`` is the function trainable. The trial context (genotypes included) reaches the
  workers through ``tune.with_parameters``, which ``ray.put``\\ s each keyword argument once
  per stage and hands every trial an object reference (numpy arrays are read zero-copy from
  the node's shared-memory store), instead of pickling the data into every trial's config.
  ``reuse_actors=True`` keeps each worker process (and its imported TensorFlow) across trials.
- :func:`configure_gpu_memory` caps TensorFlow's GPU memory once per worker process, so that
  several trials can share one GPU (Ray's fractional GPUs are bookkeeping only).

Per-epoch reports reach Tune only when a scheduler (ASHA) needs them: each ``tune.report`` is
a synchronous round trip to the driver (2-4 ms measured here), and without a scheduler nobody
reads them (the curves come back inside the final result anyway).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from hpsearch.config import ExecutionConfig
from hpsearch.data.dataset import GenomicData
from hpsearch.errors import ConfigError
from hpsearch.runner.context import ReportFn, TrialContext
from hpsearch.runner.executors import AskHandler, ResultHandler
from hpsearch.runner.ray_start import cancel_early, init_ray, shutdown_ray
from hpsearch.strategies import Strategy
from hpsearch.trial import Suggestion, TrialResult, TrialStatus

EvaluateFn = Callable[[TrialContext, Suggestion, ReportFn], TrialResult]

#: Keys of the final result a trial reports to Tune.
RESULT_KEY = "hpsearch_result"  # the whole TrialResult as a JSON string (Tune flattens dicts)
SCORE_KEY = "score"  # the objective's value, flat, for Tune's own tables
STARTED_KEY = "hpsearch_started"  # when the trial function started, on the worker's clock
#: Per-epoch metrics are reported to Tune under this prefix (``epoch/val_loss``, ...).
EPOCH_PREFIX = "epoch/"

SCHEDULERS = ("asha",)
#: ASHA watches the validation loss of the epoch just trained (lower is better); its time unit
#: is Tune's ``training_iteration``, i.e. epochs counted across the inner folds of a trial.
ASHA_METRIC = EPOCH_PREFIX + "val_loss"
ASHA_GRACE_PERIOD = 5
ASHA_REDUCTION_FACTOR = 3
ASHA_MAX_T = 100_000  # an upper bound only: a trial is never cut for being long

#: Genotype matrices at least this large are read by the driver from the object store's copy
#: (see RayExecutor._share_genotypes); smaller ones are not worth the bookkeeping.
SHARE_GENOTYPES_BYTES = 16 * 2**20

#: Memory a process needs on the GPU outside TensorFlow's allocator (CUDA context, kernels).
GPU_CONTEXT_HEADROOM_MIB = 512
#: The smallest cap worth setting; below it TensorFlow cannot even load its kernels.
GPU_MIN_LIMIT_MIB = 256

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- GPU memory

_gpu_setup: str | None = None  # what configure_gpu_memory did in this process (once per worker)


def gpu_memory_limit_mib(fraction: float, total_mib: int) -> int:
    """TensorFlow's memory cap for a trial that owns ``fraction`` of a ``total_mib`` GPU.

    The share minus the CUDA context's own memory, which TensorFlow's cap does not count.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return max(GPU_MIN_LIMIT_MIB, int(fraction * total_mib) - GPU_CONTEXT_HEADROOM_MIB)


def _device_memory_mib() -> int | None:
    """Total memory of the first GPU this process may use, from nvidia-smi; None if unknown.

    TensorFlow cannot tell the size before it initialises the device (which would be too late
    to cap it). ``CUDA_VISIBLE_DEVICES`` (set by Ray to the GPU it assigned) names the device
    by index or UUID, both of which ``nvidia-smi -i`` accepts.
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip() or "0"
    try:
        out = subprocess.run(
            [exe, "-i", visible, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        return int(float(out.strip().splitlines()[0]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def configure_gpu_memory(fraction: float) -> str:
    """Limit TensorFlow in this process to ``fraction`` of its GPU; return what was done.

    Must run before TensorFlow touches the GPU, and only once per process (a reused Ray actor
    keeps its TensorFlow, so later calls return the first answer):

    - no GPU visible (or no TensorFlow): nothing, returns ``"no GPU"`` / ``"no TensorFlow"``;
    - ``fraction >= 1``: memory growth on every visible GPU (TensorFlow would otherwise map
      the whole device at start);
    - ``0 < fraction < 1``: a hard cap through a logical device configuration of
      :func:`gpu_memory_limit_mib` MiB. When the device size is unknown (no ``nvidia-smi``)
      the documented fallback is memory growth: a guessed size could exceed a small card.
    """
    global _gpu_setup
    if _gpu_setup is not None:
        return _gpu_setup
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or fraction <= 0:
        raise ValueError(f"fraction must be a positive number, got {fraction!r}")
    try:
        from hpsearch.training import _keras

        _keras()  # TensorFlow's first import, with its C++ start-up notices silenced
        import tensorflow as tf
    except ImportError:
        _gpu_setup = "no TensorFlow"
        return _gpu_setup
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        _gpu_setup = "no GPU"
        return _gpu_setup
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "all")
    try:
        total = _device_memory_mib() if fraction < 1 else None
        if total is None:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
            why = (
                ""
                if fraction >= 1
                else f"; device size unknown, fraction {fraction:g} not enforced"
            )
            done = f"memory growth on {len(gpus)} GPU(s) (CUDA_VISIBLE_DEVICES={visible}){why}"
        else:
            limit = gpu_memory_limit_mib(fraction, total)
            config = [tf.config.LogicalDeviceConfiguration(memory_limit=limit)]
            tf.config.set_logical_device_configuration(gpus[0], config)
            done = (
                f"memory limit {limit} MiB = {fraction:g} x {total} MiB - "
                f"{GPU_CONTEXT_HEADROOM_MIB} MiB context (CUDA_VISIBLE_DEVICES={visible})"
            )
    except RuntimeError as exc:  # TensorFlow initialised the GPU before this call
        done = f"unchanged: TensorFlow had already initialised the GPU ({exc})"
    _gpu_setup = done
    return done


# --------------------------------------------------------------------------- the trainable


@dataclasses.dataclass(frozen=True)
class _WorkerOptions:
    """What every trial of a stage needs besides its configuration."""

    threads: int
    gpu_fraction: float
    forward_epochs: bool
    epoch_metric: str | None


def _default_evaluate(
    context: TrialContext, suggestion: Suggestion, report: ReportFn
) -> TrialResult:
    return context.evaluate(suggestion, report)


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def _trainable(
    config: dict[str, Any],
    *,
    context: TrialContext,
    evaluate: EvaluateFn,
    options: _WorkerOptions,
) -> dict[str, Any]:
    """One trial in a Ray worker: evaluate the suggestion and return the final result.

    An exception from ``evaluate`` becomes a failed TrialResult (like the in-process
    executor); only a dying worker is a Tune error (retried up to ``max_retries``). When Tune
    stops the trial (a scheduler decision), ``tune.report`` raises ``SystemExit`` inside
    ``report``; it is not caught here.
    """
    import ray
    from ray import tune

    started = time.time()
    suggestion = Suggestion.from_dict(config["suggestion"])
    if isinstance(getattr(context, "data", None), ray.ObjectRef):  # see RayExecutor._shippable
        context = dataclasses.replace(context, data=ray.get(context.data))
    if "tensorflow" not in sys.modules:  # read by TensorFlow's thread pools at import
        os.environ["OMP_NUM_THREADS"] = str(options.threads)
    gpu_setup = configure_gpu_memory(options.gpu_fraction) if options.gpu_fraction > 0 else None
    last: dict[str, float] = {}

    def report(step: int, metrics: dict[str, float]) -> None:
        values = {EPOCH_PREFIX + k: v for k, v in _numeric(metrics).items()}
        last.update(values)
        if options.forward_epochs:
            tune.report({**values, EPOCH_PREFIX + "step": float(step)})

    try:
        result = evaluate(context, suggestion, report)
    except Exception as exc:
        result = TrialResult.failed(
            suggestion.trial_id,
            suggestion.params,
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}",
            time.time() - started,
        )
    if gpu_setup is not None:
        result.info.setdefault("gpu_setup", gpu_setup)
    final: dict[str, Any] = {
        SCORE_KEY: result.score if result.score is not None else math.nan,
        RESULT_KEY: json.dumps(result.to_dict()),
        STARTED_KEY: started,
    }
    if options.epoch_metric:  # Tune checks that every result carries the scheduler's metric
        final[options.epoch_metric] = last.get(options.epoch_metric, math.nan)
    return final


def _trial_name(trial: Any) -> str:
    """``t00012_<tune id>``: the hpsearch trial id first, so that folders sort by trial."""
    tid = int(trial.config["suggestion"]["trial_id"])
    return f"t{tid:05d}_{trial.trial_id}"


# --------------------------------------------------------------------------- the searcher


@functools.cache
def _ray_classes() -> SimpleNamespace:
    """The classes that subclass Ray's, built on first use so that Ray is imported lazily."""
    from ray.tune import Callback
    from ray.tune.search import Searcher
    from ray.tune.stopper import Stopper

    class StrategySearcher(Searcher):
        """A Tune searcher that asks and tells an hpsearch Strategy (see the module doc)."""

        def __init__(
            self,
            strategy: Strategy,
            *,
            budget: int,
            on_asked: AskHandler,
            on_result: ResultHandler,
            should_stop: Callable[[], bool],
        ) -> None:
            super().__init__(metric=None, mode=None)  # scores are read from our own result
            self.strategy = strategy
            self.budget = budget
            self.on_asked = on_asked
            self.on_result = on_result
            self.should_stop = should_stop
            self.told = 0
            self.asked = 0
            self.waits = 0  # how often the strategy answered "wait for results"
            self.failure: BaseException | None = None
            self._stopping = False
            self._live: dict[str, tuple[Suggestion, float]] = {}
            self._errored: dict[str, tuple[Suggestion, float]] = {}

        # -- Tune's side --------------------------------------------------------------

        def set_search_properties(
            self, metric: str | None, mode: str | None, config: dict, **spec: Any
        ) -> bool:
            return True  # the strategy owns the space; Tune's param_space stays empty

        def suggest(self, trial_id: str) -> dict | str | None:
            if self.failure is not None or self._stopping:
                return Searcher.FINISHED
            try:
                if self.asked >= self.budget or self.strategy.finished:
                    return Searcher.FINISHED
                if self.should_stop():
                    self._stopping = True  # let running trials finish, start no new one
                    return Searcher.FINISHED
                batch = self.strategy.ask(1)
                if not batch:
                    if self.strategy.finished or not (self._live or self._errored):
                        return Searcher.FINISHED  # nothing in flight: it would wait forever
                    self.waits += 1
                    return None  # e.g. a GA generation still running: Tune asks again later
                suggestion = batch[0]
                self._live[trial_id] = (suggestion, time.time())
                self.asked += 1
                self.on_asked([suggestion])
                return {"suggestion": suggestion.to_dict()}
            except Exception as exc:
                self._fail(exc)
                return Searcher.FINISHED

        def on_trial_complete(
            self, trial_id: str, result: dict | None = None, error: bool = False
        ) -> None:
            entry = self._live.pop(trial_id, None)
            if entry is None or self.failure is not None:
                return  # told already, or the run is stopping (the trial stays pending)
            if error:  # the message arrives just after, through ErrorCallback
                self._errored[trial_id] = entry
                return
            suggestion, asked_at = entry
            try:
                trial_result, started = _result_from(suggestion, result or {}, asked_at)
                self._tell(suggestion, trial_result, started)
            except Exception as exc:
                self._fail(exc)

        def save(self, checkpoint_path: str) -> None:
            """Tune's experiment checkpoint; hpsearch resumes from its own state.json."""
            with open(checkpoint_path, "w", encoding="utf-8") as handle:
                json.dump({"strategy_state": self.strategy.state_dict()}, handle)

        def restore(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, encoding="utf-8") as handle:
                self.strategy.load_state_dict(json.load(handle)["strategy_state"])

        def __getstate__(self) -> dict[str, Any]:
            # Tune pickles its config (tuner.pkl); the driver-side callbacks cannot travel.
            return {"_metric": None, "_mode": None}

        def __setstate__(self, state: dict[str, Any]) -> None:
            self.__dict__.update(state)

        # -- ours -----------------------------------------------------------------------

        def trial_errored(self, trial_id: str, message: str) -> None:
            """Tell a trial whose worker failed for good (retries used up)."""
            entry = self._errored.pop(trial_id, None)
            if entry is None or self.failure is not None:
                return
            suggestion, asked_at = entry
            failed = TrialResult.failed(
                suggestion.trial_id, suggestion.params, message, time.time() - asked_at
            )
            try:
                self._tell(suggestion, failed, asked_at)
            except Exception as exc:
                self._fail(exc)

        def flush_errored(self) -> None:
            """Tell errored trials whose message never arrived (should not happen)."""
            for trial_id in list(self._errored):
                self.trial_errored(trial_id, "the trial's worker failed (see the Ray logs)")

        def _tell(self, suggestion: Suggestion, result: TrialResult, started: float) -> None:
            self.strategy.tell(result)
            self.told += 1
            self.on_result(suggestion, result, started)  # may raise FatalError

        def _fail(self, exc: BaseException) -> None:
            if self.failure is None:
                self.failure = exc

    class FailureStopper(Stopper):
        """Ends the whole Tune run once the searcher holds a failure."""

        def __init__(self, searcher: Any) -> None:
            self.searcher = searcher

        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return getattr(self.searcher, "failure", None) is not None

    class ErrorCallback(Callback):
        """Hands the searcher the reason of a trial whose worker failed for good."""

        def __init__(self, searcher: Any) -> None:
            self.searcher = searcher

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.searcher.trial_errored(trial.trial_id, _error_text(trial))

    for cls in (StrategySearcher, FailureStopper, ErrorCallback):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__  # picklable by reference
    return SimpleNamespace(
        StrategySearcher=StrategySearcher,
        FailureStopper=FailureStopper,
        ErrorCallback=ErrorCallback,
    )


def __getattr__(name: str) -> Any:
    """``StrategySearcher`` (and its helpers) are real classes, made when first imported."""
    if name in ("StrategySearcher", "FailureStopper", "ErrorCallback"):
        return getattr(_ray_classes(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _result_from(
    suggestion: Suggestion, result: Mapping[str, Any], asked_at: float
) -> tuple[TrialResult, float]:
    """The TrialResult a trial reported, or a PRUNED one when Tune stopped it before the end."""
    started = float(result.get(STARTED_KEY) or asked_at)
    raw = result.get(RESULT_KEY)
    if isinstance(raw, str):
        trial_result = TrialResult.from_dict(json.loads(raw))
    else:  # stopped by the scheduler: its last report is a per-epoch one
        metrics = {
            k[len(EPOCH_PREFIX) :]: float(v)
            for k, v in result.items()
            if k.startswith(EPOCH_PREFIX) and isinstance(v, (int, float))
        }
        step = metrics.pop("step", None)
        trial_result = TrialResult(
            suggestion.trial_id,
            dict(suggestion.params),
            TrialStatus.PRUNED,
            None,
            metrics=metrics,
            duration_s=max(0.0, time.time() - started),
            info={"pruned_at_step": None if step is None else int(step)},
        )
    for key, name in (("pid", "worker_pid"), ("node_ip", "node_ip")):
        if key in result:
            trial_result.info.setdefault(name, result[key])
    return trial_result, started


def _error_text(trial: Any) -> str:
    """One line about why a trial's worker failed, from Tune's error file."""
    attempts = trial.run_metadata.num_failures
    text = ""
    with contextlib.suppress(OSError, TypeError):
        raw = Path(trial.error_file).read_text(encoding="utf-8", errors="replace")
        text = raw.rsplit("Failure # ", 1)[-1].split("\n", 1)[-1]
    text = " ".join(text.split())
    if "actor died unexpectedly" in text.lower() or "SYSTEM_ERROR" in text:
        text = "the worker process died (killed, out of memory or crashed). " + text
    text = text[:400] + ("..." if len(text) > 400 else "")
    return f"worker failed {attempts} time(s), retries used up: {text or 'no error text'}"


# --------------------------------------------------------------------------- the executor


#: Environment for the duration of ``Tuner.fit``:
#: - ``RAY_AIR_NEW_OUTPUT=0``: Tune's newer output engine prints an experiment box even at
#:   ``verbose=0``; the legacy engine honours ``verbose=0``.
#: - ``TUNE_DISABLE_SIGINT_HANDLER=1``: otherwise Tune takes Ctrl+C, stops the trials and
#:   returns as if the stage had ended (the search would go on to its next stage); without
#:   its handler, Ctrl+C raises KeyboardInterrupt in the driver and the search stops, to be
#:   continued with ``hpsearch resume``.
_FIT_ENV = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_SIGINT_HANDLER": "1"}


@contextlib.contextmanager
def _fit_env() -> Iterator[None]:
    """Set :data:`_FIT_ENV` during ``fit`` and restore the previous values after."""
    before = {key: os.environ.get(key) for key in _FIT_ENV}
    os.environ.update(_FIT_ENV)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "hpsearch"


class RayExecutor:
    """Runs each stage as one Ray Tune run on a local or joined Ray cluster.

    Ray starts on the first :meth:`run_stage` (or :meth:`start`) and is reused by every
    later stage and outer fold: ``ray.init`` costs about 3 s. With ``execution.address`` the
    executor joins that cluster (``ray start --head`` on the head machine) and leaves it
    running on :meth:`close`; otherwise it starts a private local Ray (dashboard off, bound to
    127.0.0.1, all CPUs) and shuts it down on :meth:`close`. A Ray already initialised in this
    process (by the caller) is used as it is and left alone.
    """

    def __init__(
        self,
        execution: ExecutionConfig,
        *,
        run_name: str,
        storage_path: Path | None = None,
        scheduler: str | None = None,
        evaluate: EvaluateFn | None = None,
    ) -> None:
        if scheduler is not None and scheduler not in SCHEDULERS:
            raise ConfigError.at(None, "scheduler", f"be one of {list(SCHEDULERS)}", scheduler)
        checks = (
            (
                "max_concurrent",
                1 if execution.max_concurrent is None else execution.max_concurrent,
                1,
            ),
            ("cpus_per_trial", execution.cpus_per_trial, 0),
            ("gpus_per_trial", execution.gpus_per_trial, 0),
            ("max_retries", execution.max_retries, 0),
        )
        for field, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise ConfigError.at(None, f"execution.{field}", f"be a number >= {low}", value)
        gpus = float(execution.gpus_per_trial)
        if gpus > 1 and not gpus.is_integer():
            raise ConfigError.at(
                None,
                "execution.gpus_per_trial",
                "be a fraction below 1 (trials sharing a GPU) or a whole number of GPUs",
                execution.gpus_per_trial,
            )
        self.execution = execution
        self.run_name = _safe_name(run_name)
        self.scheduler = scheduler
        self._evaluate: EvaluateFn = evaluate or _default_evaluate
        self._storage = Path(storage_path).resolve() if storage_path is not None else None
        self._temp_storage: Path | None = None
        self._initialised_here = False
        self._started = False
        self._runs = 0
        self._cached: tuple[Any, Any, _WorkerOptions] | None = None  # (context, trainable, opts)
        self._data: tuple[Any, Any] | None = None  # (GenomicData, its object ref)
        self._shared_from: GenomicData | None = None  # data whose genotypes are the store's

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> RayExecutor:
        """Start or join Ray now (otherwise the first stage does); idempotent.

        Finishes an early start (:func:`hpsearch.runner.ray_start.start_early`) if one is
        under way, and owns that connection as if it had made it.
        """
        if self._started:
            return self
        self._initialised_here = init_ray(self.execution)
        self._started = True
        return self

    def close(self) -> None:
        """Disconnect from Ray if this executor connected: a local Ray it started stops, a
        joined cluster keeps running (a driver left connected would be terminated by Ray when
        the user later stops that cluster)."""
        self._restore_genotypes()
        if self._initialised_here:
            shutdown_ray()
            self._initialised_here = False
        elif not self._started:
            cancel_early()  # started early for a search that ran no stage here
        self._started = False
        self._cached = self._data = None
        if self._temp_storage is not None:
            shutil.rmtree(self._temp_storage, ignore_errors=True)
            self._temp_storage = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one stage -----------------------------------------------------------------------

    def run_stage(
        self,
        strategy: Strategy,
        context: TrialContext,
        *,
        budget: int,
        on_asked: AskHandler,
        on_result: ResultHandler,
        should_stop: Callable[[], bool],
    ) -> int:
        """Evaluate up to ``budget`` trials on Ray; return how many were told.

        Re-raises an exception raised by ``on_result`` / ``on_asked`` / the strategy (e.g. the
        failure breaker's FatalError) once Tune has stopped every trial.
        """
        if budget <= 0:
            return 0
        self.start()
        self._check_resources()
        from ray import tune

        classes = _ray_classes()
        searcher = classes.StrategySearcher(
            strategy,
            budget=budget,
            on_asked=on_asked,
            on_result=on_result,
            should_stop=should_stop,
        )
        tuner = tune.Tuner(
            self._wrapped_trainable(context),
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=self._make_scheduler(),
                num_samples=budget,
                # None: as many trials at once as the cluster's CPUs / GPUs allow
                max_concurrent_trials=self.execution.max_concurrent,
                reuse_actors=True,
                trial_name_creator=_trial_name,
                trial_dirname_creator=_trial_name,
            ),
            run_config=tune.RunConfig(
                name=self._next_run_name(),
                storage_path=str(self._storage_root()),
                failure_config=tune.FailureConfig(max_failures=int(self.execution.max_retries)),
                stop=classes.FailureStopper(searcher),
                callbacks=[classes.ErrorCallback(searcher)],
                verbose=0,
                log_to_file=True,
            ),
        )
        interrupted = False
        try:
            with _fit_env():
                tuner.fit()
        except KeyboardInterrupt:
            interrupted = True
        if interrupted:
            # Raised from inside Tune's loop, whose frames hold the trial actors' handles:
            # drop them (the actors end, their CPUs come back) before passing Ctrl+C on.
            del tuner
            gc.collect()
            raise KeyboardInterrupt
        searcher.flush_errored()
        if searcher.failure is not None:
            raise searcher.failure
        return searcher.told

    # -- helpers -------------------------------------------------------------------------

    def _threads(self) -> int:
        return int(self.execution.threads_per_trial or max(1, int(self.execution.cpus_per_trial)))

    def _wrapped_trainable(self, context: TrialContext) -> Any:
        """The wrapped function trainable; the context goes to the object store once."""
        from ray import tune

        options = _WorkerOptions(
            threads=self._threads(),
            gpu_fraction=float(self.execution.gpus_per_trial),
            forward_epochs=self.scheduler is not None,
            epoch_metric=ASHA_METRIC if self.scheduler == "asha" else None,
        )
        if self._cached is not None and self._cached[0] is context and self._cached[2] == options:
            return self._cached[1]  # the next stage of the same fold: no second ray.put
        trainable = tune.with_resources(
            tune.with_parameters(
                _trainable,
                context=self._shippable(context, options.threads),
                evaluate=self._evaluate,
                options=options,
            ),
            {
                "cpu": float(self.execution.cpus_per_trial),
                "gpu": float(self.execution.gpus_per_trial),
            },
        )
        self._cached = (context, trainable, options)
        return trainable

    def _shippable(self, context: TrialContext, threads: int) -> Any:
        """The context as it travels: thread count filled in, genotypes as an object ref.

        The outer folds of one experiment share one GenomicData; it goes into the object
        store once per executor, and each fold's context (``with_parameters`` puts one per
        fold) carries only a reference to it, resolved in the worker by ``_trainable``.
        """
        if not dataclasses.is_dataclass(context) or isinstance(context, type):
            return context
        changes: dict[str, Any] = {}
        if getattr(context, "threads", 0) is None:
            changes["threads"] = threads
        data = getattr(context, "data", None)
        if isinstance(data, GenomicData):
            import ray

            if self._data is None or self._data[0] is not data:
                self._restore_genotypes()
                self._data = (data, ray.put(data))
                self._share_genotypes(data, self._data[1])
            changes["data"] = self._data[1]
        return dataclasses.replace(context, **changes) if changes else context

    def _share_genotypes(self, data: GenomicData, ref: Any) -> None:
        """Let the driver read the object store's copy of a large in-memory matrix, so that
        the node holds it once, not twice (the driver's own heap copy is released).

        ``ray.get`` on the driver maps the stored arrays without copying them (read-only);
        the outer refits, which run on the driver, read the same pages as the workers. A
        memory-mapped matrix is left alone: its pages are the file's, shared already.
        """
        genotypes = data.genotypes
        if isinstance(genotypes, np.memmap) or genotypes.nbytes < SHARE_GENOTYPES_BYTES:
            return
        import ray

        stored = ray.get(ref)
        if stored.genotypes.shape != genotypes.shape or stored.genotypes.dtype != genotypes.dtype:
            return  # not the zero-copy array we expected: keep the driver's own
        data.genotypes = stored.genotypes
        self._shared_from = data

    def _restore_genotypes(self) -> None:
        """Before the object store goes away: the driver's matrix back on its own heap."""
        data, self._shared_from = self._shared_from, None
        if data is not None:
            data.genotypes = np.array(data.genotypes)  # writable again, as it was loaded

    def _make_scheduler(self) -> Any:
        if self.scheduler != "asha":
            return None
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(
            time_attr="training_iteration",
            metric=ASHA_METRIC,
            mode="min",
            max_t=ASHA_MAX_T,
            grace_period=ASHA_GRACE_PERIOD,
            reduction_factor=ASHA_REDUCTION_FACTOR,
        )

    def _check_resources(self) -> None:
        """A trial that no node can hold would make Tune wait forever: say so instead."""
        import ray

        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        for field, key in (("cpus_per_trial", "CPU"), ("gpus_per_trial", "GPU")):
            wanted = float(getattr(self.execution, field))
            have = max((float(n.get(key, 0.0)) for n in nodes), default=0.0)
            if wanted > have:
                raise ConfigError.at(
                    None,
                    f"execution.{field}",
                    f"fit on one node of the Ray cluster, whose largest has {have:g} {key}(s)",
                    wanted,
                )

    def _storage_root(self) -> Path:
        if self._storage is not None:
            self._storage.mkdir(parents=True, exist_ok=True)
            return self._storage
        if self._temp_storage is None:
            self._temp_storage = Path(tempfile.mkdtemp(prefix="hpsearch-ray-"))
        return self._temp_storage

    def _next_run_name(self) -> str:
        root = self._storage_root()
        while True:
            self._runs += 1
            name = f"{self.run_name}-{self._runs:03d}"
            if not (root / name).exists():
                return name

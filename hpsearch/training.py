"""The one Keras training loop: a trial's inner-fold evaluation and the final refit.

Plain Python, no Ray and no MLflow: executors call :func:`fit_and_score` for each trial and
:func:`fit_final` once for the outer test after the search. Preprocessing (target scaling,
marker scaling, SNP preselection, covariate encoding) is fitted on each split's training rows
only, so the rows held out from a split (and the outer test rows, which no inner split
contains) never shape the model, its early stopping or its score. Genotypes are read through
row indices (``Preprocessor.fit/transform(..., rows=)``), never sliced whole: a large int8
memory map is turned into float32 only for the selected columns of the rows in use.

With covariates (``data.covariates``), each split's encoded covariate matrix is the model's
second input: the builder gets ``n_covariates=k`` and the model is fed ``[markers,
covariates]`` in fitting, validation loss and prediction alike. For regression, the output
layer of a freshly built model starts at the fixed effects: its bias and its covariate weights
are set to the least-squares fit of the (scaled) training target on [1, covariates], its
hidden-unit weights keep their random values (:func:`_start_at_fixed_effects`). Otherwise a
short or early-stopped fit often let the markers memorise the training rows before the
covariate weights had grown (site shifts of +-4 sd: inner r < 0.3 where 0.9 is reachable).

A trial's failure (divergence, constant predictions, a bad parameter value, any Keras error)
is *returned* as a failed :class:`TrialResult` with a one-line reason; exceptions raised by
the ``report`` callback propagate unchanged, since that is how an executor stops a trial.

Speed notes (wheat, 599 x 1279, MLP 64-32, adam, batch 32, 1 thread, 2-core VM):
predicting by calling the model directly takes ~2 ms per fold against ~70 ms for
``model.predict`` (which traces a new graph function for every new model), with identical
outputs; computing the validation loss with one direct forward pass per epoch instead of
``fit(validation_data=...)`` brings an epoch from ~54 ms to ~39 ms (no validation: ~35 ms);
``clear_session(free_memory=False)`` skips a ~0.2 s ``gc.collect()`` per fold (Python's own
collector still runs). TensorFlow 2.21 keeps ~4-7 MB of native memory per traced ``fit``
even after the model is collected (also with a plain Keras loop), so long-lived worker
processes grow with the number of fits. The first epoch of a new model costs 15-20 normal
epochs (tracing the training step); :class:`_ModelReuse` traces once per trial instead of
once per inner fold, with bit-identical results (a 3-fold trial ~25 % faster).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from hpsearch.data.covariates import encode_covariates, with_covariates
from hpsearch.data.dataset import FoldPlan, GenomicData, Split
from hpsearch.data.preprocess import PreprocessOptions, Preprocessor
from hpsearch.errors import ConfigError, TrialFailed
from hpsearch.metrics import metric_names, score_predictions
from hpsearch.models.common import param_float, param_int
from hpsearch.trial import Objective, TrialResult

if TYPE_CHECKING:
    import keras

Report = Callable[[int, dict[str, float]], None]
#: A model's input: the marker array, or ``[markers, covariates]`` for a two-input model.
ModelInput = np.ndarray | list[np.ndarray]

#: Rows per forward pass when predicting (one pass for the data sizes of genomic prediction).
PREDICT_BATCH = 4096

#: Keep a trial's model across its inner folds (:class:`_ModelReuse`); False builds and traces
#: a new model for every fold, as before (the benchmarks time both).
MODEL_REUSE = True

#: Start a regression network's output layer at the covariates' least-squares fit
#: (:func:`_start_at_fixed_effects`); False leaves the builder's random initial weights.
FIXED_EFFECT_START = True

_SOURCE = "trainer parameters"
_threads: int | None = None
_quiet = False


# --------------------------------------------------------------------------- process setup


@contextlib.contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment.

    TensorFlow's import prints oneDNN and absl notices from C++ before any Python logging
    setting can reach them (``TF_CPP_MIN_LOG_LEVEL`` does not silence them); Python
    exceptions still propagate normally.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _keras() -> Any:
    """Import Keras on the TensorFlow backend, once, with TF's console chatter turned off."""
    global _quiet
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" not in sys.modules:
        with _c_stderr_silenced():
            import keras  # the first import, silently
    import keras

    if not _quiet:
        try:
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:  # pragma: no cover - absl comes with TensorFlow
            pass
        try:
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
        except ImportError:  # pragma: no cover - another Keras backend
            pass
        _quiet = True
    return keras


def configure_threads(n: int | None) -> bool:
    """Use ``n`` TensorFlow intra-op and inter-op threads in this process.

    TensorFlow accepts this only before it runs its first operation; afterwards (e.g. the
    second trial in a reused Ray actor) the call is a no-op. Returns True when ``n`` is in
    effect.
    """
    global _threads
    if n is None:
        return False
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError.at(None, "threads", "be a positive integer", n)
    if _threads == n:
        return True
    _keras()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:
        return False
    _threads = n
    return True


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class TrainOptions:
    """The trainer's hyperparameters (every one has a default)."""

    batch_size: int = 32
    epochs: int = 200
    patience: int = 10
    min_delta: float = 0.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainOptions:
        """Read batch_size, epochs (the maximum), patience and min_delta from ``params``."""
        return cls(
            batch_size=param_int(params, "batch_size", cls.batch_size, low=1, source=_SOURCE),
            epochs=param_int(params, "epochs", cls.epochs, low=1, source=_SOURCE),
            patience=param_int(params, "patience", cls.patience, low=0, source=_SOURCE),
            min_delta=param_float(params, "min_delta", cls.min_delta, low=0.0, source=_SOURCE),
        )


#: The params keys the trainer reads.
TRAINER_PARAMETERS: tuple[str, ...] = tuple(f.name for f in fields(TrainOptions))


# --------------------------------------------------------------------------- fold pieces


@dataclass
class _Fold:
    """One split's arrays after preprocessing (model inputs and targets)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray  # original scale / class codes, for scoring
    y_valid_fit: np.ndarray | None  # the loss's scale, for validation loss
    preprocessor: Preprocessor
    n_markers: int
    c_train: np.ndarray | None = None  # encoded covariates (None: the data has none)
    c_valid: np.ndarray | None = None

    @property
    def n_covariates(self) -> int:
        """Encoded covariate columns (0: a markers-only model)."""
        return 0 if self.c_train is None else int(self.c_train.shape[1])

    @property
    def train_input(self) -> ModelInput:
        return with_covariates(self.x_train, self.c_train if self.n_covariates else None)

    @property
    def valid_input(self) -> ModelInput:
        return with_covariates(self.x_valid, self.c_valid if self.n_covariates else None)


@dataclass
class _EpochState:
    """What the monitor records during one fit."""

    fold: int
    step: int  # epochs reported before this fit (across folds)
    report: Report | None
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    diverged: tuple[str, float, int] | None = None  # (series, value, 1-based epoch)
    best: float | None = None  # best val_loss so far
    best_epoch: int = 0  # its 1-based epoch
    wait: int = 0


class _ReportRaised(Exception):
    """Carries an exception raised by the caller's ``report`` through ``model.fit``."""

    def __init__(self, original: Exception):
        super().__init__(str(original))
        self.original = original


def _encode_target(y: np.ndarray, task: str, n_outputs: int, pre: Preprocessor) -> np.ndarray:
    """Targets as the loss wants them: scaled (regression), 0/1 (binary), one-hot (multiclass)."""
    if task == "regression":
        return np.asarray(pre.transform_target(y), dtype=np.float32).reshape(len(y), -1)
    codes = np.asarray(y, dtype=np.int64)
    if task == "binary":
        return codes.astype(np.float32).reshape(-1, 1)
    return np.eye(n_outputs, dtype=np.float32)[codes]


def _prepare(
    data: GenomicData,
    split: Split,
    options: PreprocessOptions,
    *,
    rank: int,
    valid_targets: bool,
) -> _Fold:
    """Fit preprocessing and the covariate encoding on ``split.train`` only; transform both
    parts. The genotypes are read by row index (no row copy of the whole matrix)."""
    train = np.asarray(split.train)
    valid = np.asarray(split.valid)
    genotypes = data.genotypes
    pre = Preprocessor(options, data.task).fit(genotypes, data.target[train], rows=train)
    x_train = np.asarray(pre.transform(genotypes, rows=train), dtype=np.float32)
    x_valid = np.asarray(pre.transform(genotypes, rows=valid), dtype=np.float32)
    if not (np.isfinite(x_train).all() and np.isfinite(x_valid).all()):
        raise ValueError("genotypes still hold missing or infinite values after preprocessing")
    n_markers = int(x_train.shape[1])
    if rank == 2:
        x_train = x_train[:, :, None]
        x_valid = x_valid[:, :, None]
    y_train = _encode_target(data.target[train], data.task, data.n_outputs, pre)
    y_valid = np.asarray(data.target[valid])
    y_fit = _encode_target(y_valid, data.task, data.n_outputs, pre) if valid_targets else None
    _, (c_train, c_valid) = encode_covariates(data, train, valid)
    return _Fold(x_train, y_train, x_valid, y_valid, y_fit, pre, n_markers, c_train, c_valid)


def _batches(n: int) -> list[slice]:
    return [slice(i, min(n, i + PREDICT_BATCH)) for i in range(0, n, PREDICT_BATCH)]


def _n_rows(x: Any) -> int:
    """Rows of a model input (an array or tensor, or a list of them)."""
    return int((x[0] if isinstance(x, list) else x).shape[0])


def _rows(x: Any, rows: slice) -> Any:
    """The same rows of every part of a model input."""
    return [part[rows] for part in x] if isinstance(x, list) else x[rows]


def _predict(model: keras.Model, x: ModelInput) -> np.ndarray:
    """Forward passes with ``training=False``, in large batches.

    Calling the model directly avoids building and tracing ``predict``'s graph function for
    every new model (each trial builds new ones): about 4 ms instead of 70 ms per fold on
    the wheat data, with identical outputs.
    """
    keras = _keras()
    parts = [
        keras.ops.convert_to_numpy(model(_rows(x, b), training=False)) for b in _batches(_n_rows(x))
    ]
    return np.concatenate(parts, axis=0).astype(np.float64)


def _to_original(pred: np.ndarray, task: str, pre: Preprocessor) -> np.ndarray:
    """Predictions on the target's original scale (regression) or as probabilities."""
    if task == "regression":
        return np.asarray(pre.inverse_target(pred), dtype=np.float64).reshape(pred.shape[0])
    if task == "binary":
        return pred.reshape(pred.shape[0])
    return pred


def _monitor(
    state: _EpochState,
    *,
    valid: tuple[ModelInput, np.ndarray] | None,
    patience: int | None,
    min_delta: float,
) -> keras.callbacks.Callback:
    """The one callback of a fit: validation loss, early stopping, divergence, reporting.

    * ``val_loss`` is the compiled loss (+ regularisation terms) of a direct forward pass on
      the held-out rows, as ``Model.test_step`` computes it; running Keras' own validation
      loop each epoch costs 20-30 ms more per epoch on the wheat data (~40 % of a trial).
    * Early stopping follows ``keras.callbacks.EarlyStopping(monitor="val_loss", patience,
      min_delta, restore_best_weights=True)``: an epoch improves when its val_loss is below
      the best minus ``min_delta``; training stops after ``patience`` epochs without one;
      the best epoch's weights are restored at the end.
    * A non-finite loss or val_loss stops the fit at the end of that epoch (what
      TerminateOnNaN does, without its console print or a per-batch hook, so Keras keeps
      dispatching batches asynchronously): a NaN/inf batch loss makes the epoch mean NaN/inf.
    * ``state.report(step, {"fold", "loss", "val_loss"})`` after every epoch.
    """
    keras = _keras()
    if valid is not None:
        x_valid = (
            [keras.ops.convert_to_tensor(part) for part in valid[0]]
            if isinstance(valid[0], list)
            else keras.ops.convert_to_tensor(valid[0])
        )
        y_valid = keras.ops.convert_to_tensor(valid[1])
        n_valid = _n_rows(valid[0])

    class Monitor(keras.callbacks.Callback):
        best_weights: list[np.ndarray] | None = None

        def _val_loss(self) -> float:
            total = 0.0
            for b in _batches(n_valid):
                x, y = _rows(x_valid, b), y_valid[b]
                pred = self.model(x, training=False)
                loss = self.model.compute_loss(x=x, y=y, y_pred=pred, training=False)
                total += float(keras.ops.convert_to_numpy(loss)) * (b.stop - b.start)
            return total / n_valid

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            loss = float((logs or {}).get("loss", math.nan))
            val_loss = self._val_loss() if valid is not None else math.nan
            state.loss.append(loss)
            if valid is not None:
                state.val_loss.append(val_loss)
            state.step += 1
            if not math.isfinite(loss):
                state.diverged = ("loss", loss, epoch + 1)
            elif valid is not None and not math.isfinite(val_loss):
                state.diverged = ("val_loss", val_loss, epoch + 1)
            elif valid is not None and patience is not None:
                state.wait += 1
                if state.best is None or val_loss + min_delta < state.best:
                    state.best, state.best_epoch, state.wait = val_loss, epoch + 1, 0
                    self.best_weights = self.model.get_weights()
                elif state.wait >= patience and epoch > 0:
                    self.model.stop_training = True
            if state.diverged is not None:
                self.model.stop_training = True
            if state.report is not None:
                try:
                    state.report(
                        state.step, {"fold": state.fold, "loss": loss, "val_loss": val_loss}
                    )
                except Exception as exc:
                    raise _ReportRaised(exc) from exc

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            if self.best_weights is not None and state.diverged is None:
                self.model.set_weights(self.best_weights)

    return Monitor()


def _build(builder: Any, params: dict[str, Any], fold: _Fold, data: GenomicData) -> keras.Model:
    """The builder's compiled model; ``n_covariates`` is passed only when there are some.

    With covariates and a regression task, the output layer then starts at the fixed effects
    (:func:`_start_at_fixed_effects`), before :class:`_ModelReuse` copies the initial state.
    """
    from hpsearch.models import accepts_covariates, covariates_error

    keras = _keras()
    extra: dict[str, int] = {}
    if fold.n_covariates:
        if not accepts_covariates(builder):
            raise covariates_error(builder, data.covariate_names or ())
        extra["n_covariates"] = fold.n_covariates
    model = builder(
        dict(params),
        input_shape=tuple(fold.x_train.shape[1:]),
        n_outputs=data.n_outputs,
        task=data.task,
        **extra,
    )
    if not isinstance(model, keras.Model):
        raise TypeError(f"the builder returned {type(model).__name__}, not a keras.Model")
    if not getattr(model, "compiled", True):
        raise TypeError("the builder returned a model that is not compiled")
    if fold.n_covariates and _n_inputs(model) not in (None, 2):
        raise TypeError(
            f"the builder got n_covariates={fold.n_covariates} but returned a model with "
            f"{_n_inputs(model)} input(s); it needs two: [markers, covariates]"
        )
    if FIXED_EFFECT_START and fold.n_covariates and data.task == "regression":
        _start_at_fixed_effects(model, fold.c_train, fold.y_train)
    return model


def _fixed_effects_fit(covariates: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``target`` (n, t) on [1, ``covariates``] (n, k): (bias (t,), weights
    (k, t)).

    Solved on the centred design [1, covariates - means] with the minimum-norm solution, as
    the baselines' :class:`~hpsearch.baselines.methods.FixedEffects` does: collinear columns
    (one-hot levels summing to the intercept) are fine, each categorical's level weights sum
    to zero, and a level unseen in training (all zeros) gets about the training mean rather
    than an arbitrary reference level's value.
    """
    c = np.asarray(covariates, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64).reshape(c.shape[0], -1)
    means = c.mean(axis=0)
    design = np.column_stack([np.ones(c.shape[0]), c - means])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    weights = coef[1:]
    return coef[0] - means @ weights, weights


def _fixed_effect_head(model: keras.Model, n_covariates: int) -> Any | None:
    """The output layer when ``model`` has the structure :func:`hpsearch.models.common.finish`
    builds, else None: one output, made by a linear Dense with a bias whose only input is the
    ``with_covariates`` Concatenate of [hidden, the covariates input] on the last axis, so
    that its kernel's last ``n_covariates`` rows are the covariates' weights."""
    keras = _keras()
    try:
        concat = model.get_layer("with_covariates")
        if not isinstance(concat, keras.layers.Concatenate) or concat.axis not in (-1, 1):
            return None
        parts = concat.input
        if not isinstance(parts, list | tuple) or len(parts) != 2:
            return None
        hidden, covariates = parts
        if not any(covariates is given for given in model.inputs):
            return None
        if len(hidden.shape) != 2 or tuple(covariates.shape) != (None, n_covariates):
            return None
        if len(model.outputs) != 1:
            return None
        (head,) = [layer for layer in model.layers if layer.output is model.outputs[0]]
        if not isinstance(head, keras.layers.Dense) or head.input is not concat.output:
            return None
        if not head.use_bias or head.activation is not keras.activations.linear:
            return None
        width = hidden.shape[-1]
        if width is None or tuple(head.kernel.shape) != (width + n_covariates, head.units):
            return None
    except Exception:  # a subclassed model, a layer called twice, another output layer, ...
        return None
    return head


def _start_at_fixed_effects(model: keras.Model, c_train: np.ndarray, y_train: np.ndarray) -> bool:
    """Set a regression model's bias and covariate weights to the least-squares fit of the
    scaled training target on the encoded training covariates; returns whether it did.

    The network then starts as "fixed effects + a small random marker part" and training
    refines both; the hidden-unit rows of the output kernel keep their random values. Only
    the training rows are used. A model without the expected head (a builder of the user's
    own) is left as built. Binary and multiclass heads are left as built too (a logistic
    start would need an iterative fit of its own).
    """
    n_covariates = int(c_train.shape[1])
    head = _fixed_effect_head(model, n_covariates)
    if head is None or y_train.ndim != 2 or y_train.shape[1] != head.units:
        return False
    try:
        bias, weights = _fixed_effects_fit(c_train, y_train)
    except np.linalg.LinAlgError:
        return False
    if not (np.isfinite(bias).all() and np.isfinite(weights).all()):
        return False
    keras = _keras()
    kernel = keras.ops.convert_to_numpy(head.kernel).copy()
    kernel[kernel.shape[0] - n_covariates :] = weights
    head.kernel.assign(kernel)
    head.bias.assign(np.asarray(bias, dtype=keras.ops.convert_to_numpy(head.bias).dtype))
    return True


def _n_inputs(model: keras.Model) -> int | None:
    """How many inputs a functional model takes; None when it cannot be told (subclassed)."""
    try:
        return len(model.inputs)
    except Exception:
        return None


def _resolve_rank(builder: Any, input_rank: int | None) -> int:
    from hpsearch.models import input_rank as builder_rank

    if input_rank is None:
        return builder_rank(builder)
    if input_rank not in (1, 2):
        raise ConfigError.at(None, "input_rank", "be 1 or 2", input_rank)
    return int(input_rank)


def _constant(pred: np.ndarray) -> bool:
    return bool(pred.size) and bool(np.all(np.ptp(pred, axis=0) == 0.0))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > 500:
        text = text[:497] + "..."
    return f"{type(exc).__name__}: {text}"


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


class _ModelReuse:
    """One trial's compiled model, kept across its inner folds so ``fit`` traces once.

    Every fold still builds its own fresh, seeded model: the builder decides the initial
    weights and dropout seeds exactly as before. When that fresh model has the same
    architecture, compile settings and variables as the kept one (always, within a trial,
    unless SNP preselection by p-value changes the input width), the fresh model's initial
    state (every layer variable, seed-generator states included) is copied into the kept
    model and the kept optimizer's variables are reset to their values before training; the
    kept model's traced training step is then reused. Fits are bit-identical to fitting the
    fresh model (checked for all seven optimizers on synthetic data, and on 16 wheat trials
    with dropout: scores, curves and fold metrics equal); the first epoch of folds 2..k then
    costs one ordinary epoch instead of 0.5-2 s of tracing.
    """

    def __init__(self) -> None:
        self.model: keras.Model | None = None
        self.signature: tuple[Any, ...] | None = None
        self.initial_optimizer: list[np.ndarray] = []

    def adopt(self, fresh: keras.Model) -> keras.Model:
        """The model to fit for this fold: the kept one in ``fresh``'s initial state, or
        ``fresh`` itself (then kept for the next folds)."""
        signature = _signature(fresh)
        if signature is None:
            return fresh  # cannot tell whether it matches: fit it as it is
        kept = self.model
        if kept is not None and signature == self.signature:
            for target, value in zip(kept.variables, fresh.variables, strict=True):
                target.assign(value)
            optimizer_variables = kept.optimizer.variables
            for target, initial in zip(optimizer_variables, self.initial_optimizer, strict=True):
                target.assign(initial)
            return kept
        keras = _keras()
        # TensorFlow builds the optimizer while tracing the first step; build it now (same
        # initial values) so that its state before training can be recorded and restored.
        try:
            if not fresh.optimizer.built:
                fresh.optimizer.build(fresh.trainable_variables)
            initial = [keras.ops.convert_to_numpy(v) for v in fresh.optimizer.variables]
        except Exception:  # an optimizer that cannot be built ahead: no reuse, fit as before
            self.model, self.signature = None, None
            return fresh
        self.model, self.signature, self.initial_optimizer = fresh, signature, initial
        return fresh


def _signature(model: keras.Model) -> tuple[Any, ...] | None:
    """What must match for one model to stand in for another; None when it cannot be told."""
    try:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or not model.built or not model.trainable_variables:
            return None
        return (
            type(model),
            type(optimizer),
            json.dumps(model.get_config(), sort_keys=True, default=repr),
            json.dumps(model.get_compile_config(), sort_keys=True, default=repr),
            json.dumps(optimizer.get_config(), sort_keys=True, default=repr),
            bool(model.run_eagerly),
            model.jit_compile,
            model.steps_per_execution,
            tuple((v.path, tuple(v.shape), str(v.dtype)) for v in model.variables),
        )
    except Exception:  # e.g. a subclassed model without get_config
        return None


# --------------------------------------------------------------------------- public


def fit_and_score(
    builder: Any,
    params: Mapping[str, Any],
    data: GenomicData,
    plan: FoldPlan,
    objective: Objective,
    *,
    seed: int,
    trial_id: int = 0,
    report: Report | None = None,
    preprocess: PreprocessOptions | None = None,
    input_rank: int | None = None,
) -> TrialResult:
    """Evaluate one configuration on the inner splits of ``plan`` (never its outer test rows).

    Per inner split k: clear the Keras session, seed ``seed + k``, fit preprocessing on the
    split's training rows, build the model, train with early stopping on the split's held-out
    rows (best weights restored), predict them and score on the original scale. The result's
    score is the fold mean of ``objective.metric``. ``report(step, {"fold", "loss",
    "val_loss"})`` is called after every epoch, ``step`` counting epochs across folds from 1.
    Folds 2..k train the first fold's model object, set to their own fresh model's initial
    state (same numbers, no retracing; see :class:`_ModelReuse`). Covariates, when the data
    has them, are encoded per split from its training rows and fed as the second input; a
    regression model's output layer starts at their least-squares fit on those rows
    (:func:`_start_at_fixed_effects`, before the reuse copies the initial state).
    """
    start = time.perf_counter()
    params = dict(params)
    if not plan.inner:
        raise ConfigError.at(None, "evaluation.inner", "give at least one inner split", 0)
    if objective.metric not in metric_names(data.task):
        raise ConfigError.at(
            None,
            "evaluation.metric",
            f"be one of {', '.join(metric_names(data.task))} for a {data.task} task",
            objective.metric,
        )
    curves: dict[str, list[float]] = {}
    fold_metrics: list[dict[str, float]] = []

    def failed(error: str) -> TrialResult:
        result = TrialResult.failed(trial_id, params, error, time.perf_counter() - start)
        result.curves = curves
        return result

    step = 0
    reuse = _ModelReuse() if MODEL_REUSE else None
    try:
        keras = _keras()
        train = TrainOptions.from_params(params)
        pre_options = PreprocessOptions.from_params(params, preprocess)
        rank = _resolve_rank(builder, input_rank)
        for k, split in enumerate(plan.inner):
            name = split.name or f"inner{k}"
            keras.backend.clear_session(free_memory=False)
            keras.utils.set_random_seed(seed + k)
            fold = _prepare(data, split, pre_options, rank=rank, valid_targets=True)
            model = _build(builder, params, fold, data)
            if reuse is not None:
                model = reuse.adopt(model)
            state = _EpochState(fold=k, step=step, report=report)
            assert fold.y_valid_fit is not None
            monitor = _monitor(
                state,
                valid=(fold.valid_input, fold.y_valid_fit),
                patience=train.patience,
                min_delta=train.min_delta,
            )
            model.fit(
                fold.train_input,
                fold.y_train,
                epochs=train.epochs,
                batch_size=train.batch_size,
                shuffle=True,
                verbose=0,
                callbacks=[monitor],
            )
            step = state.step
            curves[f"fold{k}/loss"] = state.loss
            curves[f"fold{k}/val_loss"] = state.val_loss
            if state.diverged is not None:
                series, value, epoch = state.diverged
                return failed(f"diverged: {series} became {value} at epoch {epoch} of fold {name}")
            pred = _to_original(_predict(model, fold.valid_input), data.task, fold.preprocessor)
            metrics = score_predictions(data.task, fold.y_valid, pred)
            score = metrics[objective.metric]
            if not math.isfinite(score):
                if _constant(pred):
                    why = f"constant predictions on fold {name}: {objective.metric} undefined"
                elif objective.metric == "roc_auc":
                    why = f"roc_auc undefined on fold {name}: its held-out rows hold one class"
                else:
                    why = f"{objective.metric} is {score} on fold {name}"
                return failed(why)
            epochs_run = len(state.loss)
            best_epoch = state.best_epoch or epochs_run
            fold_metrics.append(
                {
                    **metrics,
                    "best_epoch": int(best_epoch),
                    "epochs_run": int(epochs_run),
                    "n_markers": int(fold.n_markers),
                }
            )
    except _ReportRaised as exc:
        raise exc.original from None
    except Exception as exc:
        return failed(_one_line(exc))

    names = metric_names(data.task)
    mean = {m: float(np.mean([f[m] for f in fold_metrics])) for m in names}
    mean["n_markers_used"] = float(np.mean([f["n_markers"] for f in fold_metrics]))
    best_epochs = [int(f["best_epoch"]) for f in fold_metrics]
    return TrialResult(
        trial_id=trial_id,
        params=params,
        score=mean[objective.metric],
        metrics=mean,
        fold_metrics=fold_metrics,
        curves=curves,
        duration_s=time.perf_counter() - start,
        info={
            "best_epochs": best_epochs,
            "epochs_run": [int(f["epochs_run"]) for f in fold_metrics],
            "refit_epochs": max(1, _half_up(float(np.mean(best_epochs)))),
        },
    )


def fit_final(
    builder: Any,
    params: Mapping[str, Any],
    data: GenomicData,
    split: Split,
    *,
    seed: int,
    epochs: int,
    preprocess: PreprocessOptions | None = None,
    input_rank: int | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Refit on all of ``split.train`` for exactly ``epochs`` epochs, then score ``split.valid``.

    No early stopping (the epoch count comes from the inner folds' best epochs) and no look at
    ``split.valid`` before the single prediction. Returns (metrics on the original scale,
    predictions: original-scale values, P(class 1), or (n, k) probabilities). Raises
    :class:`TrialFailed` when the loss diverges; other errors propagate.
    """
    params = dict(params)
    epochs = param_int({"epochs": epochs}, "epochs", 1, low=1, source="fit_final")
    keras = _keras()
    train = TrainOptions.from_params({**params, "epochs": epochs})
    pre_options = PreprocessOptions.from_params(params, preprocess)
    rank = _resolve_rank(builder, input_rank)
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    fold = _prepare(data, split, pre_options, rank=rank, valid_targets=False)
    model = _build(builder, params, fold, data)
    state = _EpochState(fold=0, step=0, report=None)
    model.fit(
        fold.train_input,
        fold.y_train,
        epochs=epochs,
        batch_size=train.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[_monitor(state, valid=None, patience=None, min_delta=0.0)],
    )
    if state.diverged is not None:
        series, value, epoch = state.diverged
        where = split.name or "the outer training rows"
        raise TrialFailed(
            f"diverged: {series} became {value} at epoch {epoch} of the refit on {where}"
        )
    pred = _to_original(_predict(model, fold.valid_input), data.task, fold.preprocessor)
    metrics = score_predictions(data.task, fold.y_valid, pred)
    metrics["n_markers_used"] = float(fold.n_markers)
    return metrics, pred

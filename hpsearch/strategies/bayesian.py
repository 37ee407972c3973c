"""Bayesian optimisation with Optuna (TPE by default) driven through ask/tell.

The Optuna study lives in memory (no storage file: SQLite locks under parallel writers). Two
choices make it exactly resumable and reproducible:

- before every ``study.ask()`` the sampler is rebuilt with a seed mixed from the strategy's seed
  and the number of Optuna trials so far, so the next suggestion depends only on (seed, history);
- the JSON state keeps every Optuna trial (params, distributions, state, value, system attrs —
  TPE's constant liar and CMA-ES keep their working data there) and a restored strategy replays
  them into a fresh study, pending ones included as RUNNING trials.

Optuna may propose a configuration that was already suggested (common in small discrete spaces,
and TPE keeps proposing its favourite once it has converged). Such an Optuna trial is closed at
once — with the earlier score when that one is known (so TPE is not misled), as FAIL when it
failed or is still running — and marked; right after a marked trial the next one is drawn by
Optuna's RandomSampler (seeded the same way), so the search moves on instead of stalling.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hpsearch.errors import ConfigError, SpaceError
from hpsearch.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    OrdinalParam,
    Parameter,
    Space,
)
from hpsearch.strategies.base import BaseStrategy, Proposal, check_choice, check_positive_int
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus

if TYPE_CHECKING:  # pragma: no cover - typing only
    import optuna

SAMPLERS = ("tpe", "gp", "cmaes", "random")
#: Extra package a sampler needs beyond Optuna itself (checked when the strategy is built).
_SAMPLER_NEEDS = {"gp": "torch", "cmaes": "cmaes"}
#: Consecutive already-seen configurations (counted in the study) after which each further one
#: is handed to the base class, whose duplicate counter then decides the space is exhausted.
_MAX_DUPLICATE_STREAK = 30
#: User attribute marking an Optuna trial closed because its configuration was seen before.
_DUPLICATE_ATTR = "hpsearch_duplicate"


def mix_seed(*parts: int) -> int:
    """A stable 32-bit seed from integers (sha256; Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(",".join(str(int(p)) for p in parts).encode("ascii")).digest()
    return int.from_bytes(digest[:4], "little")


def _check_bool(value: Any, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError.at(None, field_name, "be true or false", value)
    return value


class BayesianSearch(BaseStrategy):
    """Model-based search with an Optuna sampler (TPE, GP, CMA-ES or random) over the Space.

    Parameter kinds map to Optuna distributions: float → FloatDistribution, int →
    IntDistribution, categorical → CategoricalDistribution, ordinal → IntDistribution over the
    value's index (so TPE sees the order), fixed → not suggested. Conditional parameters are
    suggested define-by-run, only when their ``when`` holds; TPE then uses ``group=True``, the
    multivariate mode Optuna supports for such dynamic spaces.
    """

    name: ClassVar[str] = "bayesian"

    def __init__(
        self,
        space: Space,
        *,
        objective: Objective | None = None,
        seed: int = 0,
        first_trial_id: int = 0,
        sampler: str = "tpe",
        n_startup_trials: int = 10,
        constant_liar: bool = True,
        multivariate: bool = True,
    ) -> None:
        super().__init__(space, objective=objective, seed=seed, first_trial_id=first_trial_id)
        self.sampler = check_choice(sampler, "sampler", SAMPLERS)
        self.n_startup_trials = check_positive_int(n_startup_trials, "n_startup_trials", minimum=0)
        self.constant_liar = _check_bool(constant_liar, "constant_liar")
        self.multivariate = _check_bool(multivariate, "multivariate")
        needed = _SAMPLER_NEEDS.get(self.sampler)
        if needed and importlib.util.find_spec(needed) is None:
            raise ConfigError.at(
                None,
                "sampler",
                f"name a sampler whose packages are installed ({self.sampler!r} needs {needed!r})",
                self.sampler,
                hint=f"pip install {needed}, or use sampler: tpe",
            )
        for param in space:
            if not isinstance(
                param, (FloatParam, IntParam, CategoricalParam, OrdinalParam, FixedParam)
            ):
                raise SpaceError.at(
                    space.source,
                    param.name,
                    "be a float, int, categorical, ordinal or fixed parameter "
                    "for the bayesian strategy",
                    f"<{type(param).__name__}>",
                )
        self._conditional = any(space.conditions(p.name) for p in space)
        self._study: optuna.Study | None = None
        #: space key -> Optuna trial number, for suggestions not told yet.
        self._open: dict[str, int] = {}
        #: space key -> told score (None: failed or pruned).
        self._scores: dict[str, float | None] = {}

    # -- the Optuna study ------------------------------------------------------------------

    @property
    def study(self) -> optuna.Study:
        """The in-memory Optuna study (e.g. for ``optuna.importance`` in reports)."""
        if self._study is None:
            self._study = self._new_study()
        return self._study

    def _new_study(self) -> optuna.Study:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        direction = "maximize" if self.objective.maximize else "minimize"
        return optuna.create_study(
            study_name=f"hpsearch-{self.name}",
            direction=direction,
            sampler=self._make_sampler(mix_seed(self.seed, 0)),
        )

    def _make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        with warnings.catch_warnings():  # group=True is "experimental"; the choice is deliberate
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if self.sampler == "tpe":
                return optuna.samplers.TPESampler(
                    seed=seed,
                    n_startup_trials=self.n_startup_trials,
                    constant_liar=self.constant_liar,
                    multivariate=self.multivariate,
                    group=self.multivariate and self._conditional,
                )
            if self.sampler == "gp":
                return optuna.samplers.GPSampler(
                    seed=seed,
                    n_startup_trials=self.n_startup_trials,
                    warn_independent_sampling=False,
                )
            if self.sampler == "cmaes":
                return optuna.samplers.CmaEsSampler(
                    seed=seed,
                    n_startup_trials=self.n_startup_trials,
                    warn_independent_sampling=False,
                )
            return optuna.samplers.RandomSampler(seed=seed)

    def _ask_trial(self) -> optuna.Trial:
        """``study.ask()`` with the sampler reseeded from (seed, trials so far): replayable.

        Right after a repeat the trial is drawn at random instead (see the module docstring).
        """
        import optuna

        study = self.study
        seed = mix_seed(self.seed, len(study.get_trials(deepcopy=False)))
        if self._trailing_duplicates():
            study.sampler = optuna.samplers.RandomSampler(seed=seed)
        else:
            study.sampler = self._make_sampler(seed)
        return study.ask()

    def _trailing_duplicates(self) -> int:
        """How many of the study's latest trials in a row were closed as repeats."""
        count = 0
        for trial in reversed(self.study.get_trials(deepcopy=False)):
            if not trial.user_attrs.get(_DUPLICATE_ATTR):
                break
            count += 1
        return count

    def _suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Define-by-run: each active parameter in declaration order, inactive ones skipped."""
        values: dict[str, Any] = {}
        for param in self.space:
            if self.space.is_active(param.name, values):
                values[param.name] = _suggest_value(trial, param)
        return values

    # -- hooks -----------------------------------------------------------------------------

    def _propose(self, n: int) -> list[Proposal]:
        out: list[Proposal] = []
        batch: set[str] = set()
        while len(out) < n:
            trial = self._ask_trial()
            params = self._suggest(trial)
            key = self.space.key(params)
            if key in batch or self.is_seen(params):
                self._close_duplicate(trial, key)
                if self._trailing_duplicates() > _MAX_DUPLICATE_STREAK:
                    # Hand it over anyway: the base class drops it and counts a duplicate round,
                    # which is how an exhausted (small, discrete) space ends the search.
                    out.append(Proposal(params))
                    break
                continue
            batch.add(key)
            self._open[key] = trial.number
            out.append(Proposal(params))
        return out

    def _close_duplicate(self, trial: optuna.Trial, key: str) -> None:
        """Tell Optuna about a trial whose configuration was suggested before, and mark it."""
        from optuna.trial import TrialState

        trial.set_user_attr(_DUPLICATE_ATTR, True)
        score = self._scores.get(key)
        if score is not None:
            self.study.tell(trial, score)
        else:  # failed before, or still running: nothing to learn yet
            self.study.tell(trial, state=TrialState.FAIL)

    def _observe(self, result: TrialResult, suggestion: Suggestion) -> None:
        from optuna.trial import TrialState

        key = self.space.key(suggestion.params)
        number = self._open.pop(key)
        score = result.score
        if result.status == TrialStatus.COMPLETED and score is not None and math.isfinite(score):
            self.study.tell(number, float(score))
            self._scores[key] = float(score)
            return
        state = TrialState.PRUNED if result.status == TrialStatus.PRUNED else TrialState.FAIL
        self.study.tell(number, state=state)
        self._scores[key] = None

    # -- state -----------------------------------------------------------------------------

    def _extra_state(self) -> dict[str, Any]:
        from optuna.distributions import distribution_to_json

        trials = []
        for t in self.study.get_trials(deepcopy=False):
            trials.append(
                {
                    "number": t.number,
                    "state": t.state.name,
                    "value": t.value if t.values is not None else None,
                    "params": dict(t.params),
                    "distributions": {
                        k: distribution_to_json(d) for k, d in t.distributions.items()
                    },
                    "system_attrs": dict(t.system_attrs),
                    "user_attrs": dict(t.user_attrs),
                }
            )
        return {"trials": trials, "open": dict(self._open)}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        from optuna.distributions import json_to_distribution
        from optuna.trial import TrialState, create_trial

        study = self._new_study()
        for raw in extra.get("trials", []):
            state = TrialState[raw["state"]]
            study.add_trial(
                create_trial(
                    state=state,
                    value=raw["value"] if state == TrialState.COMPLETE else None,
                    params=raw["params"],
                    distributions={
                        k: json_to_distribution(d) for k, d in raw["distributions"].items()
                    },
                    system_attrs=raw["system_attrs"],
                    user_attrs=raw.get("user_attrs") or {},
                )
            )
        self._study = study
        self._open = {str(k): int(v) for k, v in (extra.get("open") or {}).items()}
        self._scores = {self.space.key(h["params"]): h["score"] for h in self.history}


def _suggest_value(trial: optuna.Trial, param: Parameter) -> Any:
    """Suggest one parameter's value through the Optuna distribution of its kind."""
    name = param.name
    if isinstance(param, FixedParam):
        return param.value
    if isinstance(param, FloatParam):
        value = trial.suggest_float(name, param.low, param.high, log=param.log, step=param.step)
        return param.validate_value(value)  # snaps stepped values onto the lattice
    if isinstance(param, IntParam):
        return trial.suggest_int(name, param.low, param.high, step=param.step, log=param.log)
    if isinstance(param, OrdinalParam):
        return param.values[trial.suggest_int(name, 0, len(param.values) - 1)]
    if isinstance(param, CategoricalParam):
        return param.validate_value(trial.suggest_categorical(name, list(param.choices)))
    raise SpaceError.at(None, name, "be a known parameter kind", f"<{type(param).__name__}>")

"""A DeepEvolve-style genetic algorithm (Liphard's DeepEvolve, as used by DL-Biobank).

Genome = one integer gene per Space parameter (``space.encode`` / ``space.decode``). A generation
is handed out through ``ask``; when all of it is told, the next one is bred:

1. grade the population by loss (failed trials are kept, with the worst fitness);
2. selection — ``truncation`` (DeepEvolve): the best ``retain`` fraction is carried over
   unchanged, every other individual is kept as a breeding parent with probability
   ``random_select`` and a mutated copy of it joins the next generation; ``tournament``:
   the breeding parents come from ``deap.tools.selTournament`` (``tournament_size``), only the
   elites are carried and ``retain`` / ``random_select`` are not used;
3. the hall of fame (``deap.tools.HallOfFame``, size ``elitism``) is carried over unchanged;
4. children fill the population: two parents drawn from the breeding pool (two different
   individuals under truncation, as DeepEvolve), crossover (``parents``: one-point,
   ``deap.tools.cxOnePoint``, as DeepEvolve / DL-Biobank; ``uniform``: ``deap.tools.cxUniform``
   with 0.5), each child mutated with probability ``mutation_probability`` (one random gene
   re-drawn).

A genome is never trained twice: scores are cached by configuration key (genes of inactive
parameters do not matter), a child equal to a known genome is mutated until new (bounded), and
one that cannot be made new joins the population with its cached score, without a trial.
Carried individuals are never re-suggested either.

No global state is shared: DEAP's ``creator`` is not used (the two small classes below are
private), and DEAP's operators, which call the ``random`` module's functions directly, run with
this strategy's own ``random.Random`` state swapped into the module and swapped back out right
after (see :meth:`GeneticSearch._deap_random`). The swap is not thread-safe with respect to other
users of the global ``random`` at that same instant; strategies run on the driver's thread.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from hpsearch.errors import ConfigError
from hpsearch.space import Space
from hpsearch.strategies.base import (
    BaseStrategy,
    Proposal,
    check_choice,
    check_fraction,
    check_positive_int,
)
from hpsearch.strategies.bayesian import mix_seed
from hpsearch.trial import Objective, Suggestion, TrialResult, TrialStatus

#: How many mutations a genome gets at most to become one that was never evaluated.
MAX_NOVELTY_TRIES = 50

_DEAP_TYPES: dict[str, type] = {}


def _deap_types() -> tuple[type, type]:
    """A DEAP Fitness (minimising the loss) and a list-based Individual, made once, privately.

    Defined here rather than with ``deap.creator`` so that nothing is registered globally.
    """
    if not _DEAP_TYPES:
        from deap import base

        class LossFitness(base.Fitness):
            weights = (-1.0,)

        class Individual(list):
            """Genes plus what selection needs: fitness (the loss) and the configuration key."""

            def __init__(self, genes: Sequence[int], loss: float, key: str, index: int) -> None:
                super().__init__(genes)
                self.fitness = LossFitness((loss,))
                self.key = key
                self.index = index

        _DEAP_TYPES["fitness"] = LossFitness
        _DEAP_TYPES["individual"] = Individual
    return _DEAP_TYPES["fitness"], _DEAP_TYPES["individual"]


class GeneticSearch(BaseStrategy):
    """Evolve a population generation by generation (DeepEvolve / DL-Biobank defaults).

    Suggestions carry the tags ``generation`` (0-based), ``parents`` (trial ids) and
    ``origin`` (``random``, ``child`` or ``mutant``); individuals carried over unchanged
    (``elite``) are never suggested again.
    """

    name: ClassVar[str] = "genetic"

    def __init__(
        self,
        space: Space,
        *,
        objective: Objective | None = None,
        seed: int = 0,
        first_trial_id: int = 0,
        population_size: int = 30,
        generations: int = 8,
        retain: float = 0.15,
        random_select: float = 0.1,
        mutation_probability: float = 0.3,
        selection: str = "truncation",
        tournament_size: int = 3,
        crossover: str = "parents",
        elitism: int = 1,
    ) -> None:
        super().__init__(space, objective=objective, seed=seed, first_trial_id=first_trial_id)
        self.population_size = check_positive_int(population_size, "population_size", minimum=2)
        self.generations = check_positive_int(generations, "generations")
        self.retain = check_fraction(retain, "retain")
        self.random_select = check_fraction(random_select, "random_select")
        self.mutation_probability = check_fraction(mutation_probability, "mutation_probability")
        self.selection = check_choice(selection, "selection", ("truncation", "tournament"))
        self.tournament_size = check_positive_int(tournament_size, "tournament_size", minimum=2)
        self.crossover = check_choice(crossover, "crossover", ("parents", "uniform"))
        self.elitism = check_positive_int(elitism, "elitism", minimum=0)
        if self.elitism >= self.population_size:
            raise ConfigError.at(
                None,
                "elitism",
                f"be smaller than population_size ({self.population_size})",
                elitism,
            )
        self._sizes = space.gene_sizes()
        self._random = random.Random(mix_seed(self.seed, 1))
        self._generation = 0
        self._started = False
        self._done = False
        #: The current generation: {"genes", "key", "origin", "parents"} per individual.
        self._members: list[dict[str, Any]] = []
        #: Indices into ``_members`` still to hand out (each a never-evaluated configuration).
        self._queue: list[int] = []
        #: Configuration key -> score (None: failed) and -> the trial that evaluated it.
        self._scores: dict[str, float | None] = {}
        self._trial_ids: dict[str, int] = {}
        #: Hall of fame, best first: {"genes", "key"}.
        self._hof: list[dict[str, Any]] = []

    # -- public views ----------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """The generation being evaluated (0-based)."""
        return self._generation

    @property
    def population(self) -> list[dict[str, Any]]:
        """The current generation: params, origin, parents, score (None: failed or pending)."""
        return [self._view(m) for m in self._members]

    @property
    def hall_of_fame(self) -> list[dict[str, Any]]:
        """The best configurations seen so far (at most ``elitism``), best first."""
        return [self._view(m) for m in self._hof]

    def _view(self, member: Mapping[str, Any]) -> dict[str, Any]:
        key = member["key"]
        return {
            "params": self.space.decode(member["genes"]),
            "genes": list(member["genes"]),
            "origin": member.get("origin", "elite"),
            "parents": list(member.get("parents", [])),
            "evaluated": key in self._scores,
            "score": self._scores.get(key),
            "trial_id": self._trial_ids.get(key),
        }

    # -- hooks -----------------------------------------------------------------------------

    def _propose(self, n: int) -> list[Proposal]:
        if not self._started:
            self._started = True
            self._members = self._initial_population()
            self._queue = self._new_indices(self._members)
            self._advance()  # a generation with nothing new (tiny space) is complete already
        out: list[Proposal] = []
        while self._queue and len(out) < n:
            member = self._members[self._queue.pop(0)]
            tags = {
                "generation": self._generation,
                "parents": list(member["parents"]),
                "origin": member["origin"],
            }
            out.append(Proposal(self.space.decode(member["genes"]), tags))
        return out

    def _observe(self, result: TrialResult, suggestion: Suggestion) -> None:
        key = self.space.key(suggestion.params)
        score = result.score
        ok = result.status == TrialStatus.COMPLETED and score is not None and math.isfinite(score)
        self._scores[key] = float(score) if ok else None
        self._trial_ids[key] = suggestion.trial_id
        self._advance()

    def _exhausted(self) -> bool:
        return self._done

    # -- generations -----------------------------------------------------------------------

    def _advance(self) -> None:
        """Breed while the current generation is fully evaluated; stop after the last one."""
        while (
            not self._done
            and not self._queue
            and all(m["key"] in self._scores for m in self._members)
        ):
            self._update_hall_of_fame()
            if self._generation + 1 >= self.generations:
                self._done = True
                return
            self._members = self._breed()
            self._queue = self._new_indices(self._members)
            self._generation += 1

    def _initial_population(self) -> list[dict[str, Any]]:
        members: list[dict[str, Any]] = []
        taken: set[str] = set()
        for _ in range(self.population_size):
            genes = self.space.encode(self.space.sample(self.rng))
            genes, key, _ = self._make_novel(genes, taken)
            taken.add(key)
            members.append({"genes": genes, "key": key, "origin": "random", "parents": []})
        return members

    def _new_indices(self, members: list[dict[str, Any]]) -> list[int]:
        """Indices of members whose configuration is new (first occurrence only)."""
        out, queued = [], set()
        for index, member in enumerate(members):
            key = member["key"]
            if key in self._scores or key in queued:
                continue
            queued.add(key)
            out.append(index)
        return out

    def _individuals(self) -> list[Any]:
        """The current generation as DEAP individuals, one per configuration, best first."""
        _, individual = _deap_types()
        unique: dict[str, Any] = {}
        for index, member in enumerate(self._members):
            if member["key"] not in unique:
                loss = self.objective.loss(self._scores.get(member["key"]))
                unique[member["key"]] = individual(member["genes"], loss, member["key"], index)
        return sorted(unique.values(), key=lambda ind: (ind.fitness.values[0], ind.index))

    def _update_hall_of_fame(self) -> None:
        if self.elitism == 0:
            return
        from deap import tools

        _, individual = _deap_types()
        hof = tools.HallOfFame(self.elitism, similar=lambda a, b: a.key == b.key)
        for i, member in enumerate(self._hof):
            loss = self.objective.loss(self._scores.get(member["key"]))
            hof.insert(individual(member["genes"], loss, member["key"], -1 - i))
        finite = [ind for ind in self._individuals() if math.isfinite(ind.fitness.values[0])]
        hof.update(finite)
        self._hof = [{"genes": list(ind), "key": ind.key} for ind in hof]

    def _breed(self) -> list[dict[str, Any]]:
        """The next generation: carried survivors, elites, mutated random picks, children."""
        graded = self._individuals()
        carried: list[dict[str, Any]] = []
        lucky: list[Any] = []
        if self.selection == "truncation":
            n_retain = min(len(graded), max(1, int(len(graded) * self.retain)))
            pool = list(graded[:n_retain])
            carried = [self._carry(ind, "elite") for ind in pool]
            lucky = [ind for ind in graded[n_retain:] if self._random.random() < self.random_select]
            pool.extend(lucky)
        else:
            from deap import tools

            with self._deap_random():
                pool = tools.selTournament(graded, len(graded), self.tournament_size)
        carried_keys = {m["key"] for m in carried}
        for member in self._hof:
            if member["key"] not in carried_keys:
                carried_keys.add(member["key"])
                carried.append(
                    {
                        "genes": list(member["genes"]),
                        "key": member["key"],
                        "origin": "elite",
                        "parents": [],
                    }
                )
        taken: set[str] = set()
        mutants: list[dict[str, Any]] = []
        for ind in lucky:  # DeepEvolve keeps a mutated copy of each lucky individual
            if len(carried) + len(mutants) >= self.population_size:
                break
            genes, key, novel = self._make_novel(list(ind), taken, force=True)
            if novel:
                taken.add(key)
                mutants.append(
                    {
                        "genes": genes,
                        "key": key,
                        "origin": "mutant",
                        "parents": self._parent_ids(ind),
                    }
                )
        if self.selection == "truncation":  # DeepEvolve breeds two different parents
            keys = {ind.key for ind in pool}
            for ind in graded:
                if len(keys) >= 2:
                    break
                if ind.key not in keys:
                    keys.add(ind.key)
                    pool.append(ind)
        children = self._children(pool, self.population_size - len(carried) - len(mutants), taken)
        return carried + mutants + children

    def _children(self, pool: list[Any], count: int, taken: set[str]) -> list[dict[str, Any]]:
        from deap import tools

        _, individual = _deap_types()
        children: list[dict[str, Any]] = []
        while len(children) < count:
            if len(pool) >= 2:
                i, j = self._random.sample(range(len(pool)), 2)
            else:
                i = j = 0
            mother, father = pool[i], pool[j]
            kids = [individual(mother, 0.0, "", -1), individual(father, 0.0, "", -1)]
            with self._deap_random():
                if self.crossover == "parents" and len(self._sizes) >= 2:
                    tools.cxOnePoint(kids[0], kids[1])
                else:
                    tools.cxUniform(kids[0], kids[1], 0.5)
            parents = self._parent_ids(mother) + [
                t for t in self._parent_ids(father) if t not in self._parent_ids(mother)
            ]
            for kid in kids:
                if len(children) >= count:
                    break
                genes = list(kid)
                mutated = self._random.random() < self.mutation_probability
                if mutated:
                    genes = self._mutate(genes)
                genes, key, _ = self._make_novel(genes, taken)
                taken.add(key)
                origin = "mutant" if mutated or genes != self._canonical(list(kid)) else "child"
                children.append({"genes": genes, "key": key, "origin": origin, "parents": parents})
        return children

    def _carry(self, ind: Any, origin: str) -> dict[str, Any]:
        return {"genes": list(ind), "key": ind.key, "origin": origin, "parents": []}

    def _parent_ids(self, ind: Any) -> list[int]:
        tid = self._trial_ids.get(ind.key)
        return [tid] if tid is not None else []

    # -- genes -----------------------------------------------------------------------------

    def _canonical(self, genes: list[int]) -> list[int]:
        """Genes of the decoded configuration (inactive parameters get gene 0)."""
        return self.space.encode(self.space.decode(genes))

    def _key(self, genes: list[int]) -> str:
        return self.space.key(self.space.decode(genes))

    def _is_known(self, key: str, taken: set[str]) -> bool:
        # Nothing is pending while a generation is bred: every asked genome was told.
        return key in self._scores or key in taken

    def _make_novel(
        self, genes: list[int], taken: set[str], *, force: bool = False
    ) -> tuple[list[int], str, bool]:
        """Mutate ``genes`` until they are a configuration never evaluated nor taken.

        Returns (genes, key, novel); when no new configuration turns up within
        ``MAX_NOVELTY_TRIES`` mutations the last genes come back with ``novel=False``.
        """
        genes = self._canonical(genes)
        if force:
            genes = self._canonical(self._mutate(genes))
        key = self._key(genes)
        tries = 0
        while self._is_known(key, taken) and tries < MAX_NOVELTY_TRIES:
            genes = self._canonical(self._mutate(genes))
            key = self._key(genes)
            tries += 1
        return genes, key, not self._is_known(key, taken)

    def _mutate(self, genes: list[int]) -> list[int]:
        """Re-draw one random gene of an active parameter to a different value."""
        active = self.space.decode(genes)
        mutable = [
            i
            for i, (param, size) in enumerate(zip(self.space, self._sizes, strict=True))
            if size > 1 and param.name in active
        ]
        if not mutable:
            return list(genes)
        out = list(genes)
        i = mutable[self._random.randrange(len(mutable))]
        value = self._random.randrange(self._sizes[i] - 1)
        out[i] = value + 1 if value >= out[i] % self._sizes[i] else value
        return out

    @contextlib.contextmanager
    def _deap_random(self) -> Iterator[None]:
        """Run DEAP operators on this strategy's own random state, then restore the global one.

        DEAP's operators call ``random.random()`` etc. on the module; swapping states keeps
        them reproducible per strategy without touching anyone else's ``random`` stream.
        """
        saved = random.getstate()
        random.setstate(self._random.getstate())
        try:
            yield
        finally:
            self._random.setstate(random.getstate())
            random.setstate(saved)

    # -- state -----------------------------------------------------------------------------

    def _extra_state(self) -> dict[str, Any]:
        version, internal, gauss = self._random.getstate()
        return {
            "random": [version, list(internal), gauss],
            "generation": self._generation,
            "started": self._started,
            "done": self._done,
            "members": [dict(m, genes=list(m["genes"])) for m in self._members],
            "queue": list(self._queue),
            "scores": dict(self._scores),
            "trial_ids": dict(self._trial_ids),
            "hall_of_fame": [dict(m, genes=list(m["genes"])) for m in self._hof],
        }

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        version, internal, gauss = extra["random"]
        self._random.setstate((int(version), tuple(int(x) for x in internal), gauss))
        self._generation = int(extra["generation"])
        self._started = bool(extra["started"])
        self._done = bool(extra["done"])
        self._members = [
            {
                "genes": [int(g) for g in m["genes"]],
                "key": str(m["key"]),
                "origin": str(m["origin"]),
                "parents": [int(p) for p in m["parents"]],
            }
            for m in extra["members"]
        ]
        self._queue = [int(i) for i in extra["queue"]]
        self._scores = {
            str(k): (None if v is None else float(v)) for k, v in extra["scores"].items()
        }
        self._trial_ids = {str(k): int(v) for k, v in extra["trial_ids"].items()}
        self._hof = [
            {"genes": [int(g) for g in m["genes"]], "key": str(m["key"])}
            for m in extra["hall_of_fame"]
        ]

"""The strategy benchmark's core loop on a tiny synthetic table (no Keras)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hpsearch.space import CategoricalParam, FixedParam, OrdinalParam, Space
from hpsearch.trial import Objective

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_strategies.py"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("bench_strategies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_strategies"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


bench = _load_script()
MAXIMIZE = Objective.for_metric("pearson_r")


def tiny_space() -> Space:
    return Space(
        [
            OrdinalParam("a", (0, 1, 2, 3, 4, 5)),
            OrdinalParam("b", (0.0, 0.1, 0.2, 0.3)),
            CategoricalParam("c", ("x", "y")),
            FixedParam("epochs", 3),
        ]
    )


def tiny_score(params: dict[str, Any]) -> float | None:
    """A landscape with one best cell (a=3, b=0.1, c=y) and one failing configuration."""
    if params["a"] == 0 and params["b"] == 0.3 and params["c"] == "x":
        return None
    return (
        -((params["a"] - 3) ** 2)
        - 10 * (params["b"] - 0.1) ** 2
        + (0.5 if params["c"] == "y" else 0)
    )


def tiny_table(space: Space) -> dict[str, Any]:
    rows = [{"params": p, "score": tiny_score(p), "duration_s": 0.1} for p in space.grid()]
    return {
        "rows": rows,
        "build": {"wall_s": 1.0, "workers": 1, "sum_trial_s": 4.8, "cpu_count": 2,
                  "load_average_before": 0.5, "load_average_after": 0.7},
        "objective": {"metric": "pearson_r"},
    }  # fmt: skip


class Counting:
    """A table lookup that remembers what was asked (each call = one trial charged)."""

    def __init__(self, space: Space):
        self.space = space
        self.lookup = bench.table_lookup(tiny_table(space), space)
        self.asked: list[str] = []

    def __call__(self, params: dict[str, Any]) -> float | None:
        self.asked.append(self.space.key(params))
        return self.lookup(params)


def test_all_five_strategies_run_for_two_seeds_against_the_table() -> None:
    space = tiny_space()
    plans = bench.strategy_plans(16, population_size=4)
    assert list(plans) == ["random", "grid", "bayesian", "genetic", "genetic+refine"]
    assert [(s.strategy, s.trials) for s in plans["genetic+refine"]] == [
        ("genetic", 12),
        ("refine", 4),
    ]
    table_values = {s for p in space.grid() if (s := tiny_score(p)) is not None}
    for name, stages in plans.items():
        for seed in (0, 1):
            lookup = Counting(space)
            scores = bench.run_plan(stages, space, lookup, seed=seed, objective=MAXIMIZE)
            assert len(scores) == len(lookup.asked) == 16, name  # 48 configurations: no early end
            assert len(set(lookup.asked)) == 16, name  # no configuration charged twice
            again = bench.run_plan(stages, space, Counting(space), seed=seed, objective=MAXIMIZE)
            assert again == scores, name  # seeded: the same run again
            curve = bench.best_so_far(scores, 16, maximize=True)
            finite = [v for v in curve if not math.isnan(v)]
            assert finite == sorted(finite) and set(finite) <= table_values, name
            assert curve[-1] == max(s for s in scores if s is not None), name
    curves = bench.run_benchmark(
        space, Counting(space), plans=plans, seeds=[0, 1], budget=16, objective=MAXIMIZE
    )
    assert {k: (len(v), len(v[0])) for k, v in curves.items()} == {k: (2, 16) for k in plans}


def test_refine_stage_gets_the_genetic_stage_records() -> None:
    space = tiny_space()
    stages = bench.strategy_plans(16, population_size=4)["genetic+refine"]
    lookup = Counting(space)
    scores = bench.run_plan(stages, space, lookup, seed=3, objective=MAXIMIZE)
    ga_keys, refine_keys = lookup.asked[:12], lookup.asked[12:]
    assert len(refine_keys) == 4 and not set(ga_keys) & set(refine_keys)
    ga_best = max(s for s in scores[:12] if s is not None)
    assert max(s for s in scores if s is not None) >= ga_best


def test_a_full_grid_finds_the_table_best() -> None:
    space = tiny_space()
    size = len(space.grid())
    plans = {
        "grid": bench.strategy_plans(size)["grid"],
        "random": bench.strategy_plans(size)["random"],
    }
    curves = bench.run_benchmark(
        space, Counting(space), plans=plans, seeds=[0], budget=size, objective=MAXIMIZE
    )
    facts = bench.table_facts(tiny_table(space), maximize=True)
    assert facts["best"] == 0.5 and facts["failed"] == 1 and facts["size"] == 48
    assert facts["best_params"] == {"a": 3, "b": 0.1, "c": "y"}
    assert curves["grid"][0][-1] == facts["best"] == curves["random"][0][-1]


def test_best_so_far_by_hand() -> None:
    scores = [None, 0.3, 0.2, None, 0.5]
    up = bench.best_so_far(scores, 7, maximize=True)
    assert math.isnan(up[0]) and up[1:] == [0.3, 0.3, 0.3, 0.5, 0.5, 0.5]
    down = bench.best_so_far(scores, 5, maximize=False)
    assert math.isnan(down[0]) and down[1:] == [0.3, 0.2, 0.2, 0.2]


def test_trials_to_reach_by_hand() -> None:
    nan = math.nan
    assert bench.trials_to_reach([nan, 0.2, 0.5, 0.5, 0.7], 0.5, maximize=True) == 3
    assert bench.trials_to_reach([nan, 0.2, 0.5, 0.5, 0.7], 0.8, maximize=True) is None
    assert bench.trials_to_reach([nan, 3.0, 2.0, 2.0, 1.0], 2.0, maximize=False) == 3
    assert bench.median_trials([3, None, 5]) == 5
    assert bench.median_trials([None, None, 4]) is None
    assert bench.median_trials([2, 7, None, None]) is None  # half of 4 never got there
    assert bench.median_trials([2, 8, 9, None]) == 8.5


def test_trials_to_reach_randoms_best_by_hand() -> None:
    # random's final bests 0.4, 0.6, 0.5 -> target (their median) 0.5
    curves = {
        "random": [[0.2, 0.4, 0.4], [0.6, 0.6, 0.6], [0.1, 0.5, 0.5]],
        "genetic": [[0.1, 0.5, 0.6], [0.3, 0.3, 0.45], [0.5, 0.5, 0.5]],
        "bayesian": [[0.1, 0.2, 0.3], [0.1, 0.2, 0.55], [0.0, 0.0, 0.0]],
    }
    summary = bench.summarise(curves, maximize=True, table_best=0.6, checkpoints=(2,))
    assert summary["target"] == 0.5
    ga = summary["strategies"]["genetic"]
    assert ga["trials_to_target"] == [2, None, 1]  # reached at trial 2, never, at trial 1
    assert ga["trials_to_target_median"] == 2.0 and ga["seeds_reaching_target"] == 2
    assert ga["final_median"] == 0.5 and ga["best_at"] == {"2": 0.5, "3": 0.5}
    assert ga["seeds_finding_table_best"] == 1
    rnd = summary["strategies"]["random"]
    assert rnd["trials_to_target"] == [None, 1, 2] and rnd["trials_to_target_median"] == 2.0
    tpe = summary["strategies"]["bayesian"]
    assert tpe["trials_to_target"] == [None, 3, None] and tpe["trials_to_target_median"] is None


def test_report_files(tmp_path: Path) -> None:
    space = tiny_space()
    plans = bench.strategy_plans(12, population_size=4)
    curves = bench.run_benchmark(
        space, Counting(space), plans=plans, seeds=[0, 1], budget=12, objective=MAXIMIZE
    )
    facts = bench.table_facts(tiny_table(space), maximize=True)
    results = {
        "settings": {"budget": 12, "seeds": [0, 1], "space_size": 48, "space_note": "tiny",
                     "plans": {k: "..." for k in plans}},
        "datasets": {
            "tiny": {
                "description": {"source": "synthetic", "trait": "t", "lines": 1, "markers": 1,
                                "search_lines": 1, "outer_fold": 1},
                "table": facts,
                "summary": bench.summarise(curves, maximize=True, table_best=facts["best"]),
                "curves": curves,
            }
        },
        "skipped": {"wheat": "not here"},
    }  # fmt: skip
    text = bench.markdown(results)
    assert "## tiny" in text and "Skipped: not here" in text
    assert "Trials needed to reach random search's 12-trial best" in text
    assert text.count("\n| ") == 1 + len(plans)  # header row + one row per strategy
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len({line.count("|") for line in table_lines}) == 1  # same number of columns
    png = tmp_path / "plot.png"
    bench.plot(results, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_cache_is_reused_and_a_partial_build_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = tiny_space()
    dataset = bench.Dataset("toy", None, None, {"source": "toy"})
    evaluated: list[int] = []

    def fake_all(todo, dataset, objective, workers):  # stands for the Keras fits
        for index, params, _seed in todo:
            evaluated.append(index)
            yield {"kind": "row", "index": index, "params": params, "score": tiny_score(params),
                   "status": "completed", "duration_s": 0.01}  # fmt: skip
            if len(evaluated) == 10 and interrupt:
                raise KeyboardInterrupt

    monkeypatch.setattr(bench, "_evaluate_all", fake_all)
    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        bench.build_table(dataset, space, out_dir=tmp_path, workers=1, log=lambda _: None)
    assert not (tmp_path / "table_toy.json").exists()
    interrupt = False
    table = bench.build_table(dataset, space, out_dir=tmp_path, workers=1, log=lambda _: None)
    assert sorted(evaluated) == list(range(48))  # the 10 done before the interruption: not again
    assert [r["index"] for r in table["rows"]] == list(range(48))
    assert not (tmp_path / "table_toy.partial.jsonl").exists()
    assert json.loads((tmp_path / "table_toy.json").read_text())["size"] == 48
    again = bench.build_table(dataset, space, out_dir=tmp_path, workers=1, log=lambda _: None)
    assert len(evaluated) == 48 and again["rows"] == table["rows"]  # reused, nothing trained
    other = bench.Dataset("toy", None, None, {"source": "other"})
    bench.build_table(other, space, out_dir=tmp_path, workers=1, log=lambda _: None)
    assert len(evaluated) == 96  # other settings: rebuilt
    assert np.isclose(table["build"]["sum_trial_s"], 0.48)


def test_noise_check_rescores_the_top_with_other_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = tiny_space()
    table = tiny_table(space)
    for i, row in enumerate(table["rows"]):
        row["index"] = i
    ranked = sorted((r for r in table["rows"] if r["score"] is not None), key=lambda r: -r["score"])
    runner_up = ranked[1]["index"]
    calls: list[tuple[int, int]] = []

    def fake_all(todo, dataset, objective, workers):
        for index, params, seed in todo:
            calls.append((index, seed))
            shift = 1.0 if index == runner_up else (0.2 if seed == 11 else -0.2)
            yield {"index": index, "seed": seed, "score": tiny_score(params) + shift}

    monkeypatch.setattr(bench, "_evaluate_all", fake_all)
    dataset = bench.Dataset("toy", None, None, {})
    noise = bench.noise_check(
        table, dataset, out_dir=tmp_path, top=4, seeds=(11, 12), log=lambda _: None
    )
    assert sorted(calls) == sorted((r["index"], s) for r in ranked[:4] for s in (11, 12))
    assert [c["index"] for c in noise["configs"]] == [r["index"] for r in ranked[:4]]
    assert noise["median_sd"] == pytest.approx(0.2)  # three of four configs: s, s+0.2, s-0.2
    assert noise["top_spread"] == pytest.approx(ranked[0]["score"] - ranked[3]["score"])
    assert noise["table_best_rank_by_mean"] == 2  # the runner-up got +1 from both new seeds
    assert noise["best_by_mean"]["index"] == runner_up
    stored = json.loads((tmp_path / "table_toy.json").read_text())
    assert stored["noise"]["configs"] == noise["configs"]
    bench.noise_check(stored, dataset, out_dir=tmp_path, top=4, seeds=(11, 12), log=print)
    assert len(calls) == 8  # cached: nothing re-trained

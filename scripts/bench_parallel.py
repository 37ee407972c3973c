"""The same 16 trials five ways: a plain loop, two pinned processes, and hpsearch (issues 3, 7).

The trials: 16 MLP configurations drawn (seeded) from ``search_spaces/mlp.yaml`` with the
epoch cap fixed by ``--epochs`` (early stopping as configured), on wheat trait 1, the
training part of outer fold 1 of ``wheat.sets``, inner 3-fold. Every variant trains exactly
these configurations with the same per-trial seeds, in a fresh Python process of its own
(so each pays its own interpreter start, imports and data loading):

* ``plain``     (a) one process, a plain loop of ``fit_and_score`` calls (TF default threads);
* ``pinned2``   (b) two processes pinned with ``taskset`` to one core each, 8 trials each
  (1 TF thread);
* ``ray1``      (c) ``run_experiment`` with the Ray executor, 1 trial at a time, MLflow on;
* ``ray2``      (c) the same with 2 concurrent trials: the overhead measurement of issue 7
  is ``ray2 / pinned2`` (target <= 1.05);
* ``inprocess`` ``run_experiment`` with the in-process executor, MLflow off (target <= 1.05
  of ``plain``).

hpsearch also refits the best configuration on the outer training part and scores the outer
test part once; the loops do not, so that refit (timed by the child) is subtracted from the
hpsearch processes' wall time. The MLflow store is a sqlite file created once beforehand
(its table creation, ~1-3 s, is a first-use cost, reported separately). Variants are
interleaved and repeated; medians are reported with the load average seen.

    .venv/bin/python scripts/bench_parallel.py [--epochs 60] [--repeats 3] [--trials 16]

The default epoch cap, 60, is still below the shipped space's (300, with early stopping).
With it the four variants plain, pinned2, ray2 and inprocess took 17 min on an idle 2-core
machine (3 repeats); all five take ~22 min. Shorter trials (``--epochs 15``) raise the share
of hpsearch's fixed start-up (Ray, MLflow, worker start) in the ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as bc

VARIANTS = ("plain", "pinned2", "ray1", "ray2", "inprocess")
SCRIPT = Path(__file__).resolve()


@dataclass
class Bench:
    """The files every variant reads (written once by :func:`setup`)."""

    work: str
    data_label: str
    epochs: int
    trials: int
    configs: dict[str, str]  # variant kind -> experiment YAML
    trial_ids: list[int]
    mlflow_uri: str
    mlflow_create_s: float

    def save(self) -> Path:
        path = Path(self.work) / "bench.json"
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    @classmethod
    def load(cls, work: str | Path) -> Bench:
        return cls(**json.loads((Path(work) / "bench.json").read_text()))


def setup(
    work: Path, *, epochs: int = 15, trials: int = 16, data: bc.BenchData | None = None
) -> Bench:
    """Write the space, the experiment files and the MLflow store of one benchmark."""
    data = data or bc.find_data()
    if data is None:
        raise SystemExit("bench_parallel: neither ../shared/data/wheat.* nor DATA/example.*")
    work.mkdir(parents=True, exist_ok=True)
    space = bc.write_space(work / "space.yaml", epochs=epochs)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    configs = {
        "plain": bc.write_experiment(
            work / "plain.yaml", data=data, space=space, trials=trials, executor="inprocess"
        ),
        "inprocess": bc.write_experiment(
            work / "inprocess.yaml", data=data, space=space, trials=trials, executor="inprocess"
        ),
        "ray1": bc.write_experiment(
            work / "ray1.yaml",
            data=data,
            space=space,
            trials=trials,
            max_concurrent=1,
            mlflow_uri=uri,
            name="bench-ray1",
        ),
        "ray2": bc.write_experiment(
            work / "ray2.yaml",
            data=data,
            space=space,
            trials=trials,
            max_concurrent=2,
            mlflow_uri=uri,
            name="bench-ray2",
        ),
    }
    prepared = bc.load_prepared(configs["plain"])
    ids = [s.trial_id for s in bc.sample_suggestions(prepared, trials)]
    started = time.perf_counter()
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=uri).search_experiments()  # creates the tables once
    bench = Bench(
        work=str(work),
        data_label=data.label,
        epochs=epochs,
        trials=trials,
        configs={k: str(v) for k, v in configs.items()},
        trial_ids=ids,
        mlflow_uri=uri,
        mlflow_create_s=time.perf_counter() - started,
    )
    bench.save()
    return bench


# --------------------------------------------------------------------------- one variant


def run_plain_variant(
    bench: Bench, *, ids: Sequence[int] | None = None, threads: int | None = None
) -> dict[str, Any]:
    """(a)/(b): a plain loop over the trials ``ids`` in this process."""
    from hpsearch.training import _keras

    started = time.perf_counter()
    _keras()
    imported = time.perf_counter()
    prepared = bc.load_prepared(Path(bench.configs["plain"]))
    wanted = set(bench.trial_ids if ids is None else ids)
    suggestions = [s for s in bc.sample_suggestions(prepared, bench.trials) if s.trial_id in wanted]
    loaded = time.perf_counter()
    results = bc.run_plain(prepared, suggestions, threads=threads)
    done = time.perf_counter()
    return {
        "tf_import": imported - started,
        "prepare": loaded - imported,
        "trials": done - loaded,
        "outer_refit": 0.0,
        "trial_seconds_sum": sum(r.duration_s for r in results),
        "scores": {r.trial_id: r.score for r in results},
        "epochs_run": {r.trial_id: sum(r.info.get("epochs_run") or []) for r in results},
        "n_failed": sum(not r.ok for r in results),
    }


def run_hpsearch_variant(bench: Bench, kind: str) -> dict[str, Any]:
    """(c)/in-process: ``run_experiment`` on the variant's config, checked against the list."""
    config = Path(bench.configs[kind])
    started = time.perf_counter()
    prepared = bc.load_prepared(config, start_ray=True)
    suggestions = bc.sample_suggestions(prepared, bench.trials)
    out = bc.run_hpsearch(prepared, suggestions=suggestions)
    out["prepare"] = time.perf_counter() - started - out["wall"]
    out["scores"] = dict(zip(bench.trial_ids, out.pop("scores"), strict=True))
    return out


def _child(args: argparse.Namespace) -> int:
    """Run one variant in this (fresh) process and write its numbers as JSON."""
    bench = Bench.load(args.work)
    if args.child == "plain":
        ids = [int(i) for i in args.ids.split(",")] if args.ids else None
        out = run_plain_variant(bench, ids=ids, threads=args.threads)
    else:
        out = run_hpsearch_variant(bench, args.child)
    Path(args.out).write_text(json.dumps(out, default=str))
    return 0


def _spawn(
    bench: Bench,
    name: str,
    child: str,
    *,
    ids: Sequence[int] | None = None,
    threads: int | None = None,
    cpu: int | None = None,
) -> tuple[subprocess.Popen[bytes], Path]:
    out = Path(bench.work) / f"{name}-{time.time_ns()}.json"
    command = [bc.python(), str(SCRIPT), "--child", child, "--work", bench.work, "--out", str(out)]
    if ids is not None:
        command += ["--ids", ",".join(map(str, ids))]
    if threads is not None:
        command += ["--threads", str(threads)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    log = open(Path(bench.work) / f"{name}.log", "ab")  # noqa: SIM115 - closed by the child's exit
    return subprocess.Popen(command, env=bc.quiet_env(), stdout=log, stderr=log), out


def _wait(procs: Sequence[tuple[subprocess.Popen[bytes], Path]], name: str) -> list[dict]:
    outs = []
    for proc, out in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"variant {name} failed (exit {proc.returncode}); see its .log")
        outs.append(json.loads(out.read_text()))
    return outs


def run_variant(bench: Bench, name: str) -> dict[str, Any]:
    """One variant in fresh process(es); wall = spawn → last exit (minus the outer refit)."""
    load_before = bc.load_average()[0]
    started = time.perf_counter()
    if name == "plain":
        procs = [_spawn(bench, name, "plain")]
    elif name == "pinned2":
        if not bc.taskset_available():
            raise RuntimeError("variant pinned2 needs `taskset` (util-linux) to pin processes")
        halves = (bench.trial_ids[0::2], bench.trial_ids[1::2])
        procs = [
            _spawn(bench, name, "plain", ids=ids, threads=1, cpu=cpu)
            for cpu, ids in enumerate(halves)
        ]
    elif name in ("ray1", "ray2", "inprocess"):
        procs = [_spawn(bench, name, name)]
    else:
        raise ValueError(f"unknown variant {name!r}")
    outs = _wait(procs, name)
    wall = time.perf_counter() - started
    outer = sum(o.get("outer_refit", 0.0) for o in outs)
    scores: dict[str, float | None] = {}
    for o in outs:
        scores.update({str(k): v for k, v in o["scores"].items()})
    return {
        "variant": name,
        "process_wall": wall,
        "outer_refit": outer,
        "wall": wall - outer,
        "trial_seconds_sum": sum(o["trial_seconds_sum"] for o in outs),
        "mlflow_s": sum(o.get("mlflow_s", 0.0) for o in outs),
        "n_failed": sum(o.get("n_failed", 0) for o in outs),
        "scores": scores,
        "children": outs,
        "load_before": load_before,
        "load_after": bc.load_average()[0],
    }


# --------------------------------------------------------------------------- the benchmark


def benchmark(
    *,
    epochs: int = 15,
    trials: int = 16,
    repeats: int = 3,
    variants: Sequence[str] = VARIANTS,
    work: Path | None = None,
    write: bool = True,
    name: str = "bench_parallel",
) -> dict[str, Any]:
    """Interleaved repeats of every variant (the order rotates each repeat)."""
    machine = bc.machine()
    with tempfile.TemporaryDirectory(prefix="hpsearch-bench-parallel-", dir=work) as tmp:
        bench = setup(Path(tmp), epochs=epochs, trials=trials)
        runs: list[dict[str, Any]] = []
        order = list(variants)
        for r in range(repeats):
            rotated = order[r % len(order) :] + order[: r % len(order)]
            for variant in rotated:
                run = run_variant(bench, variant)
                run["repeat"] = r
                runs.append(run)
                print(
                    f"repeat {r} {variant:<9} wall {run['wall']:7.2f} s "
                    f"(process {run['process_wall']:.2f}, outer refit {run['outer_refit']:.2f}) "
                    f"load {run['load_before']:.1f}",
                    flush=True,
                )
    out = summarise(runs, bench, machine)
    out["markdown"] = markdown(out)
    if write:
        json_path, md_path = bc.write_results(name, out, out["markdown"])
        out["files"] = [str(json_path), str(md_path)]
    return out


def _ratio(values: dict[str, list[float]], a: str, b: str) -> float | None:
    """Median over repeats of the per-repeat ratio a/b (each repeat's pair ran minutes apart)."""
    pairs = [x / y for x, y in zip(values.get(a, []), values.get(b, []), strict=False) if y]
    return bc.median(pairs) if pairs else None


def summarise(runs: list[dict[str, Any]], bench: Bench, machine: dict[str, Any]) -> dict[str, Any]:
    walls: dict[str, list[float]] = {}
    for run in runs:
        walls.setdefault(run["variant"], []).append(run["wall"])
    per_variant = {}
    for name, values in walls.items():
        mine = [r for r in runs if r["variant"] == name]
        per_variant[name] = {
            "wall_median": bc.median(values),
            "walls": values,
            "trial_seconds_sum_median": bc.median([r["trial_seconds_sum"] for r in mine]),
            "mlflow_s_median": bc.median([r["mlflow_s"] for r in mine]),
            "mlflow_share_median": bc.median(
                [r["mlflow_s"] / r["wall"] for r in mine if r["wall"]]
            ),
            "outer_refit_median": bc.median([r["outer_refit"] for r in mine]),
            "n_failed": max(r["n_failed"] for r in mine),
            "load_median": bc.median([r["load_before"] for r in mine]),
        }
    scores = {name: next(r["scores"] for r in runs if r["variant"] == name) for name in walls}
    same = {
        f"{a}=={b}": scores[a] == scores[b]
        for a, b in (("pinned2", "ray1"), ("pinned2", "ray2"), ("plain", "inprocess"))
        if a in scores and b in scores
    }
    ratios = {
        "ray2/pinned2 (issue 7 overhead, target <= 1.05)": _ratio(walls, "ray2", "pinned2"),
        "inprocess/plain (target <= 1.05)": _ratio(walls, "inprocess", "plain"),
        "ray2/plain": _ratio(walls, "ray2", "plain"),
        "ray1/plain": _ratio(walls, "ray1", "plain"),
        "pinned2/plain": _ratio(walls, "pinned2", "plain"),
        "ray2/ray1": _ratio(walls, "ray2", "ray1"),
    }
    loads = [r["load_before"] for r in runs] + [r["load_after"] for r in runs]
    return {
        "machine": machine,
        "data": bench.data_label,
        "epochs_cap": bench.epochs,
        "trials": bench.trials,
        "repeats": max(r["repeat"] for r in runs) + 1,
        "mlflow_table_creation_s": bench.mlflow_create_s,
        "variants": per_variant,
        "ratios": ratios,
        "identical_scores": same,
        "load_average": {"min": min(loads), "median": bc.median(loads), "max": max(loads)},
        "runs": runs,
    }


LABELS = {
    "plain": "(a) plain loop, 1 process",
    "pinned2": "(b) 2 processes, taskset 1 core each",
    "ray1": "(c) hpsearch, Ray, 1 concurrent, MLflow on",
    "ray2": "(c) hpsearch, Ray, 2 concurrent, MLflow on",
    "inprocess": "hpsearch, in-process executor, MLflow off",
}


def markdown(out: dict[str, Any]) -> str:
    rows = []
    for name in VARIANTS:
        v = out["variants"].get(name)
        if v is None:
            continue
        rows.append(
            (
                LABELS[name],
                v["wall_median"],
                " / ".join(f"{w:.1f}" for w in v["walls"]),
                v["trial_seconds_sum_median"],
                f"{100 * v['mlflow_share_median']:.1f} %" if name.startswith("ray") else "",
                v["load_median"],
            )
        )
    ratio_rows = [(k, v) for k, v in out["ratios"].items() if v is not None]
    load = out["load_average"]
    return "\n".join(
        [
            f"{out['trials']} MLP trials on {out['data']} (outer fold 1, inner 3-fold, epoch cap "
            f"{out['epochs_cap']}, early stopping), each variant in fresh process(es); "
            f"{out['repeats']} interleaved repeats, medians. Wall = spawn to exit, minus "
            "hpsearch's outer refit (which the loops do not do). Seconds.",
            "",
            bc.md_table(
                (
                    "variant",
                    "wall (median)",
                    "walls",
                    "sum of trial times",
                    "MLflow share",
                    "load avg",
                ),
                rows,
            ),
            "",
            bc.md_table(("ratio (median of per-repeat ratios)", "value"), ratio_rows),
            "",
            f"Identical per-trial scores: {out['identical_scores']}. MLflow sqlite table "
            f"creation (first use, excluded above): {out['mlflow_table_creation_s']:.2f} s.",
            f"Machine: {out['machine']['cpus']} CPUs ({out['machine']['cpu']}), shared; load "
            f"average during the runs {load['min']:.1f}-{load['max']:.1f} "
            f"(median {load['median']:.1f}).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60, help="epoch cap per fit")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--name", default="bench_parallel", help="results file name")
    parser.add_argument("--child", choices=("plain", "ray1", "ray2", "inprocess"))
    parser.add_argument("--work")
    parser.add_argument("--out")
    parser.add_argument("--ids")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    out = benchmark(
        epochs=args.epochs,
        trials=args.trials,
        repeats=args.repeats,
        variants=variants,
        name=args.name,
    )
    print(out["markdown"])
    print("\n" + "\n".join(out.get("files", [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python
"""Accuracy benchmark on the CIMMYT wheat data: baselines and a tuned MLP on the published folds.

For each of the four traits (grain yield in environments E1-E4), ``outer: all`` over
``wheat.sets`` (the 10-fold assignment of the published comparisons):

* baselines: ridge (GCV), GBLUP (VanRaden G, REML), RKHS (Gaussian kernel, h and λ by inner
  5-fold CV), random forest (500 trees), via :func:`hpsearch.baselines.run.run_baselines`;
* a tuned MLP (unless ``--no-network``): per outer fold a random search of ``--trials``
  configurations of ``search_spaces/mlp.yaml`` with the epoch cap lowered to
  ``--max-epochs`` (early stopping on the inner validation part does the rest), inner
  ``--inner``-fold CV, then one refit on the outer training part and one score on its test part.

Default network budget, and why: 15 random trials × 3 inner folds × ≤ 100 epochs. An MLP
fit on ~360 lines costs ~1-5 s on this machine (measurements-2026-11.md §3-4), so a fold's
search is ~45 fits + 1 refit ≈ 2-4 min, and 4 traits × 10 folds ≈ 1.5-3 h on 2 cores with
the in-process executor (``--executor ray --max-concurrent 2`` gains ~1.3×).

Output (``bench_results/``, gitignored): ``accuracy-<time>.json`` and ``.md`` with every
method's fold-mean r ± sd beside the published numbers (Crossa et al. 2010, Table 3,
10-fold CV) and, with the network, the paired differences network − GBLUP / RKHS with 95 %
t-intervals (and Nadeau–Bengio corrected ones); the run directories go under
``bench_results/accuracy-<time>/``.

    python scripts/bench_accuracy.py --no-network      # baselines only: a few minutes
    python scripts/bench_accuracy.py                   # + the MLP searches: hours
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "bench_results"
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

#: Crossa et al. 2010, Genetics 186:713, Table 3 (10-fold CV, 599 lines × 1279 markers).
PUBLISHED: dict[str, tuple[float, float, float, float]] = {
    "GBLUP (marker BLUP)": (0.480, 0.488, 0.355, 0.464),
    "Bayesian LASSO": (0.518, 0.493, 0.403, 0.457),
    "RKHS": (0.601, 0.494, 0.445, 0.524),
}
#: Our method → the published row it reproduces (the ±0.03 check).
ANCHOR = {"gblup": "GBLUP (marker BLUP)", "rkhs": "RKHS"}
TOLERANCE = 0.03
METHODS = ("ridge", "gblup", "rkhs", "rf")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-network", action="store_true", help="baselines only (minutes)")
    parser.add_argument("--traits", default="1,2,3,4", help="environments to run, e.g. 1,3")
    parser.add_argument("--trials", type=int, default=15, help="random MLP trials per fold")
    parser.add_argument("--inner", type=int, default=3, help="inner k-fold of the MLP search")
    parser.add_argument("--max-epochs", type=int, default=100, help="epoch cap of a fit")
    parser.add_argument("--executor", choices=["inprocess", "ray"], default="inprocess")
    parser.add_argument("--max-concurrent", type=int, default=2, help="trials at once (ray)")
    parser.add_argument("--jobs", type=int, default=1, help="CPU threads of the baselines")
    parser.add_argument("--seed", type=int, default=42, help="search seed (baselines: 0)")
    parser.add_argument("--mlflow", action="store_true", help="also log to bench_results/mlflow.db")
    parser.add_argument("--out", type=Path, default=OUT, help="results folder")
    return parser.parse_args(argv)


def bench_space(folder: Path, max_epochs: int) -> Path:
    """The shipped MLP space with the epoch cap lowered (early stopping still applies)."""
    import yaml

    space = yaml.safe_load((REPO / "search_spaces" / "mlp.yaml").read_text())
    space["parameters"]["epochs"] = {"type": "fixed", "value": max_epochs}
    space["description"] = f"{space.get('description', 'MLP')} (bench: epochs <= {max_epochs})"
    path = folder / "mlp-bench.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def experiment(trait: int, args: argparse.Namespace, folder: Path, space: Path) -> Any:
    """The prepared experiment of one environment (trait index 0..3)."""
    from hpsearch.config import parse_config
    from hpsearch.runner.experiment import prepare

    raw = {
        "name": f"wheat-E{trait + 1}",
        "data": {"genotypes": "wheat.X", "phenotypes": "wheat.Y", "trait": trait},
        "evaluation": {
            "outer": {"fold_file": "wheat.sets", "folds": "all"},
            "inner": {"kfold": args.inner, "seed": 0},
            "metric": "pearson_r",
        },
        "model": "mlp",
        "space": str(space),
        "stages": [{"strategy": "random", "trials": args.trials}],
        "execution": {
            "executor": args.executor,
            "max_concurrent": args.max_concurrent if args.executor == "ray" else 1,
            "cpus_per_trial": 1,
            "threads_per_trial": 1,
        },
        "tracking": {
            "mlflow": bool(args.mlflow),
            "uri": f"sqlite:///{args.out.resolve() / 'mlflow.db'}",
            "experiment": "bench-accuracy",
        },
        "output": str(folder / "runs"),
        "seed": args.seed,
    }
    return prepare(parse_config(raw, source=f"bench_accuracy E{trait + 1}", base_dir=DATA))


def run_network(prepared: Any) -> dict[str, Any]:
    """The MLP search on every outer fold; fold → outer metrics plus the run directory."""
    from hpsearch.runner.experiment import run_experiment, start_run_dir

    run_dir = start_run_dir(prepared)
    observers: list[Any] = []
    if prepared.config.tracking.mlflow:
        from hpsearch.tracking.mlflow_tracker import MlflowTracker

        observers.append(
            MlflowTracker.from_run_dir(
                run_dir.path,
                uri=prepared.config.tracking.uri,
                experiment=prepared.config.tracking.experiment,
            )
        )
    outcome = run_experiment(prepared, run_dir=run_dir, observers=observers)
    folds = {f["fold"]: f["outer_metrics"] or {} for f in outcome.summary["folds"]}
    return {"run_dir": str(run_dir.path), "folds": folds, "summary": outcome.summary}


def pooled_network_r(run_dir: Path) -> float | None:
    """Pearson r over every outer fold's test lines at once (the folds' predictions.tsv)."""
    import numpy as np

    from hpsearch.metrics import score_predictions
    from hpsearch.runner.predictions import PREDICTIONS_FILE, read_predictions

    files = sorted(run_dir.glob(f"fold*/{PREDICTIONS_FILE}"))
    if not files:
        return None
    parts = [read_predictions(f) for f in files]
    observed = np.concatenate([p[1] for p in parts])
    predicted = np.concatenate([p[2] for p in parts])
    value = score_predictions("regression", observed, predicted)["pearson_r"]
    return float(value) if math.isfinite(value) else None


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    import statistics

    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return None, None
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else None


def markdown(result: dict[str, Any]) -> str:
    """Our fold-mean r beside the published numbers, the ±0.03 check, paired differences."""
    from hpsearch.baselines.compare import PairedDifference, comparison_markdown, fmt
    from hpsearch.baselines.compare import markdown_table as table

    traits = result["traits"]
    envs = [f"E{t}" for t in traits]
    lines = [
        "# Accuracy on the CIMMYT wheat data (599 lines × 1279 markers, wheat.sets 10-fold)",
        "",
        f"Run {result['started']} – {result['finished']} ({result['seconds'] / 60:.1f} min) "
        f"on {result['machine']}. Pearson r between predicted and observed grain yield on each "
        "outer test fold; mean ± sd over the 10 folds (fold-mean r, not pooled r). "
        "Hyperparameters chosen on each outer training part only.",
        "",
        "## Fold-mean r, ours vs published (Crossa et al. 2010, Table 3, 10-fold CV)",
        "",
    ]
    rows = []
    for method in result["methods"]:
        cells = [f"{method} (ours)"]
        for t in traits:
            stats = result["per_trait"][str(t)]["methods"].get(method) or {}
            cells.append(f"{fmt(stats.get('mean'))} ± {fmt(stats.get('sd'))}")
        rows.append(cells)
    for name, values in PUBLISHED.items():
        rows.append([f"{name} (published)", *[fmt(values[t - 1]) for t in traits]])
    lines += [table(["method", *envs], rows), ""]
    lines += [
        "## Pooled r (all 10 folds' test lines at once, the other common summary)",
        "",
    ]
    rows = []
    for method in result["methods"]:
        cells = [f"{method} (ours)"]
        for t in traits:
            cells.append(fmt((result["per_trait"][str(t)].get("pooled") or {}).get(method)))
        rows.append(cells)
    if any(result["per_trait"][str(t)].get("network") for t in traits):
        cells = ["tuned MLP (ours)"]
        for t in traits:
            net = result["per_trait"][str(t)].get("network") or {}
            cells.append(fmt(net.get("pooled")))
        rows.append(cells)
    lines += [table(["method", *envs], rows), ""]
    lines += [
        f"## Check: ours within ±{TOLERANCE} of the published figure "
        "(fold-mean r; pooled r in brackets)",
        "",
    ]
    rows = []
    for method, anchor in ANCHOR.items():
        if method not in result["methods"]:
            continue
        cells = [f"{method} vs {anchor}"]
        for t in traits:
            entry = result["per_trait"][str(t)]
            mean = (entry["methods"].get(method) or {}).get("mean")
            if mean is None:
                cells.append("–")
                continue
            delta = mean - PUBLISHED[anchor][t - 1]
            mark = "ok" if abs(delta) <= TOLERANCE + 1e-12 else "OUTSIDE"
            pooled = (entry.get("pooled") or {}).get(method)
            extra = "" if pooled is None else f" [{pooled - PUBLISHED[anchor][t - 1]:+.3f}]"
            cells.append(f"{delta:+.3f} ({mark}){extra}")
        rows.append(cells)
    lines += [table(["ours − published", *envs], rows), ""]
    if any(result["per_trait"][str(t)].get("network") for t in traits):
        lines += ["## Network (tuned MLP) − baseline, paired over the 10 folds", ""]
        for t in traits:
            entry = result["per_trait"][str(t)]
            if not entry.get("network"):
                continue
            pairs = {k: PairedDifference.from_dict(v) for k, v in entry["paired"].items()}
            net = entry["network"]
            lines += [
                f"### E{t}: MLP {fmt(net['mean'])} ± {fmt(net['sd'])} ({net['run_dir']})",
                "",
                comparison_markdown(pairs, metric="pearson_r", network_label="MLP"),
                "",
            ]
        lines.append(
            "A difference under ~0.03 from one 10-fold run is within fold noise on this data "
            "(fold sd of r ≈ 0.08-0.12)."
        )
    else:
        lines.append("(Network part not run: `--no-network`.)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import platform
    import statistics

    args = parse_args(argv)
    if not all((DATA / f"wheat.{ext}").is_file() for ext in ("X", "Y", "sets")):
        print(f"bench_accuracy: the wheat data is not in {DATA}; nothing to do", file=sys.stderr)
        return 0
    try:
        traits = sorted({int(t) for t in args.traits.split(",") if t.strip()})
    except ValueError:
        traits = []
    if not traits or any(t not in (1, 2, 3, 4) for t in traits):
        print(f"bench_accuracy: --traits must list 1..4, got {args.traits!r}", file=sys.stderr)
        return 2
    from hpsearch.baselines.compare import fold_test_train_ratio, paired_comparison
    from hpsearch.baselines.run import run_baselines

    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.out / f"accuracy-{stamp}"
    folder.mkdir()
    space = bench_space(folder, args.max_epochs)
    started = time.time()
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.node() or 'host'}, {platform.processor() or platform.machine()}",
        "traits": traits,
        "methods": list(METHODS),
        "published": {k: list(v) for k, v in PUBLISHED.items()},
        "network_budget": None
        if args.no_network
        else {
            "strategy": "random",
            "trials_per_fold": args.trials,
            "inner_kfold": args.inner,
            "max_epochs": args.max_epochs,
            "executor": args.executor,
            "space": str(space),
        },
        "per_trait": {},
    }
    for t in traits:
        prepared = experiment(t - 1, args, folder, space)
        print(f"E{t}: baselines on {len(prepared.plans)} outer folds", file=sys.stderr)
        report = run_baselines(
            prepared,
            methods=METHODS,
            seed=0,
            mlflow=bool(args.mlflow),
            n_jobs=args.jobs,
            progress=lambda line, t=t: print(f"  E{t} {line}", file=sys.stderr),
        )
        per_method = report.by_method("pearson_r")
        pooled = report.pooled("pearson_r")
        entry: dict[str, Any] = {
            "baselines_run_dir": str(report.run_dir),
            "methods": {},
            "pooled": pooled,
            "fit_seconds": {},
        }
        for method, folds in per_method.items():
            mean, sd = _mean_sd(list(folds.values()))
            entry["methods"][method] = {"mean": mean, "sd": sd, "folds": folds}
            entry["fit_seconds"][method] = sum(
                r.fit_seconds for r in report.results if r.method == method
            )
        if not args.no_network:
            print(f"E{t}: MLP search ({args.trials} trials per fold)", file=sys.stderr)
            network = run_network(prepared)
            net_r = {f: m.get("pearson_r") for f, m in network["folds"].items()}
            mean, sd = _mean_sd(list(net_r.values()))
            entry["network"] = {
                "mean": mean,
                "sd": sd,
                "folds": net_r,
                "run_dir": network["run_dir"],
                "pooled": pooled_network_r(Path(network["run_dir"])),
            }
            pairs = paired_comparison(
                {f: v for f, v in net_r.items() if v is not None},
                {m: per_method[m] for m in ("gblup", "rkhs", "ridge", "rf")},
                test_train_ratio=fold_test_train_ratio(report.to_dict()),
            )
            entry["paired"] = {m: p.to_dict() for m, p in pairs.items()}
        result["per_trait"][str(t)] = entry
        summary = ", ".join(
            f"{m} {v['mean']:.3f}" for m, v in entry["methods"].items() if v["mean"] is not None
        )
        print(f"E{t}: {summary}", file=sys.stderr)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    result["seconds"] = time.time() - started
    result["mean_fit_seconds"] = {
        m: statistics.fmean(result["per_trait"][str(t)]["fit_seconds"][m] for t in traits)
        for m in METHODS
    }
    json_path = args.out / f"accuracy-{stamp}.json"
    json_path.write_text(json.dumps(result, indent=1, default=str))
    md_path = args.out / f"accuracy-{stamp}.md"
    md_path.write_text(markdown(result))
    print(markdown(result))
    print(f"written: {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

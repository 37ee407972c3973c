"""From trials to a short list: near-optimal, diverse configurations, robust across runs.

The guide's advice: "optimizing hyperparameters for all desired marker sets and phenotypes will
be unfeasible. We recommend choosing a few hyperparameter combinations that are near-optimum
across a range of phenotypes / marker sets and that span a diversity of architectures."

* One run: configurations within ``tolerance`` (in the metric's units) of the best inner score,
  chosen greedily so that architectures (model, layers, width bucket, activation, optimizer)
  differ while near-optimal ones remain; filled with the next best when fewer qualify.
* Several runs of the same space (traits, marker sets): every configuration evaluated in all
  runs, plus each run's own picks, ranked by mean normalised rank and by worst-case regret
  (that run's best score minus this configuration's). Only scores that exist are used: a
  configuration a run never evaluated is listed as missing there, never imputed. Feeding the
  file to ``hpsearch run CONFIG --params FILE`` on the other traits fills the gaps honestly.

Scores are inner-CV scores (what the search optimised), never outer-test scores: choosing on
the outer test part would leak it. With several outer folds, a configuration's regret is
averaged over the folds that evaluated it, each against that fold's own best.

The file (YAML or JSON) reads back with :func:`params_stage_from_file`::

    {metric, direction, tolerance, source_runs: [...],
     configurations: [{params, scores: {run: score}, rank, regret, ...}]}
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import ConfigError, SpaceError, StateError

if TYPE_CHECKING:
    from hpsearch.runner.rundir import RunDir
    from hpsearch.space import Space
    from hpsearch.trial import Objective, TrialRecord

FORMATS: tuple[str, ...] = ("yaml", "json")
DEFAULT_TOLERANCE = 0.02
#: Parameters that make an architecture (widths are bucketed to the nearest power of two).
ARCHITECTURE_PARAMS: tuple[str, ...] = (
    "n_layers",
    "units",
    "conv_layers",
    "filters",
    "lstm_layers",
    "lstm_units",
    "activation",
    "optimizer",
)
_BUCKETED = frozenset({"units", "filters", "lstm_units"})
_CLI = "command line"


# -- reading runs ------------------------------------------------------------------------------


@dataclass
class RunView:
    """What the decision commands read from a run directory (no data, no TensorFlow)."""

    run_dir: RunDir
    label: str
    config: dict[str, Any]
    space: Space
    objective: Objective

    @property
    def path(self) -> Path:
        return self.run_dir.path

    @property
    def model(self) -> str:
        return str(self.config.get("model") or "mlp")

    @property
    def trait(self) -> Any:
        return (self.config.get("data") or {}).get("trait")

    def fold_records(self) -> dict[str, list[TrialRecord]]:
        """Every outer fold's journal (all records, failures included), in fold order."""
        return {fold.name: fold.journal.read() for fold in self.run_dir.folds()}


def open_run(path: str | Path, *, label: str | None = None) -> RunView:
    """A run directory's config, frozen space and objective; a StateError if it is not one."""
    from hpsearch.config import DEFAULT_METRIC, read_yaml
    from hpsearch.runner.rundir import RunDir
    from hpsearch.space import load_space
    from hpsearch.tracking.journal import read_json
    from hpsearch.trial import METRIC_DIRECTIONS, Objective

    run_dir = RunDir.open(path)
    raw = read_yaml(run_dir.config_path)
    if not isinstance(raw, dict):
        raise StateError("must be a mapping (a run's config.yaml)", source=str(run_dir.config_path))
    if not run_dir.space_path.is_file():
        raise StateError(
            "must exist (the run's frozen search space)", source=str(run_dir.space_path)
        )
    space = load_space(run_dir.space_path)
    summary = run_dir.read_summary() or {}
    metric = summary.get("metric") or (raw.get("evaluation") or {}).get("metric")
    if not metric:
        data_path = run_dir.path / "data.json"
        task = ((read_json(data_path).get("summary") or {}) if data_path.is_file() else {}).get(
            "task", "regression"
        )
        metric = DEFAULT_METRIC.get(task, "pearson_r")
    if metric not in METRIC_DIRECTIONS:
        raise StateError(
            f"must name a known metric, got {metric!r}", source=str(run_dir.summary_path)
        )
    objective = Objective(metric, METRIC_DIRECTIONS[metric])
    return RunView(run_dir, label or run_dir.path.name, raw, space, objective)


def completed(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Records of trials that finished with a finite score."""
    return [
        r
        for r in records
        if r.result.ok and r.result.score is not None and math.isfinite(r.result.score)
    ]


# -- scoring configurations within one run ------------------------------------------------------


@dataclass
class ConfigScore:
    """One configuration in one run: mean inner score and regret over the folds that ran it."""

    key: str
    params: dict[str, Any]
    score: float
    regret: float
    folds: dict[str, float]
    trial_ids: list[int]
    first: tuple[int, int]  # (fold position, trial id) of its first evaluation, for ties


def regret_of(objective: Objective, best: float, score: float) -> float:
    """How much worse ``score`` is than ``best`` in the metric's units (>= 0)."""
    return max(0.0, (best - score) if objective.maximize else (score - best))


def score_run(run: RunView) -> list[ConfigScore]:
    """Every configuration the run completed, best first (by regret, then score, then order).

    A configuration evaluated twice in a fold (e.g. again by a later stage) gets the mean of
    its scores there; its regret in a fold is against that fold's best configuration.
    """
    by_key: dict[str, dict[str, Any]] = {}
    for position, (fold, records) in enumerate(run.fold_records().items()):
        per_fold: dict[str, list[float]] = {}
        for record in completed(records):
            params = record.result.params
            try:
                key = run.space.key(params)
            except SpaceError as exc:
                raise StateError(
                    f"trial {record.trial_id} must fit the run's space.yaml ({exc})",
                    source=str(run.path / fold / "trials.jsonl"),
                ) from exc
            per_fold.setdefault(key, []).append(float(record.result.score))  # type: ignore[arg-type]
            entry = by_key.setdefault(
                key,
                {
                    "params": run.space.validate(params),
                    "folds": {},
                    "regrets": {},
                    "ids": [],
                    "first": (position, record.trial_id),
                },
            )
            entry["ids"].append(record.trial_id)
        if not per_fold:
            continue
        means = {key: sum(v) / len(v) for key, v in per_fold.items()}
        best = min(means.values(), key=run.objective.loss)
        for key, score in means.items():
            by_key[key]["folds"][fold] = score
            by_key[key]["regrets"][fold] = regret_of(run.objective, best, score)
    out = [
        ConfigScore(
            key=key,
            params=e["params"],
            score=_mean(e["folds"].values()),
            regret=_mean(e["regrets"].values()),
            folds=dict(e["folds"]),
            trial_ids=sorted(e["ids"]),
            first=e["first"],
        )
        for key, e in by_key.items()
    ]
    out.sort(key=lambda c: (c.regret, run.objective.loss(c.score), c.first))
    return out


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def architecture(params: Mapping[str, Any], model: str) -> str:
    """A short architecture key, e.g. ``mlp n_layers=2 units~64 activation=relu
    optimizer=adam``; widths are bucketed to the nearest power of two."""
    parts = [model]
    for name in ARCHITECTURE_PARAMS:
        if name not in params:
            continue
        value = params[name]
        if name in _BUCKETED and isinstance(value, (int, float)) and value > 0:
            parts.append(f"{name}~{2 ** round(math.log2(value))}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def pick_diverse(
    ordered: Sequence[Any], *, top: int, near: Sequence[bool], arch: Sequence[str]
) -> list[int]:
    """Indices of ``top`` entries of ``ordered`` (best first): near-optimal ones with a new
    architecture first, then the other near-optimal ones, then the rest the same way."""
    chosen: list[int] = []
    taken: set[str] = set()
    tiers = [
        [i for i in range(len(ordered)) if near[i]],
        [i for i in range(len(ordered)) if not near[i]],
    ]
    for tier in tiers:
        for diverse_only in (True, False):
            for i in tier:
                if len(chosen) >= top:
                    return chosen
                if i in chosen or (diverse_only and arch[i] in taken):
                    continue
                chosen.append(i)
                taken.add(arch[i])
    return chosen


# -- the export document ------------------------------------------------------------------------


def check_options(*, top: Any, tolerance: Any, fmt: Any = "yaml") -> None:
    """The CLI's option checks, as one-line ConfigErrors naming the option."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfigError.at(_CLI, "--top", "be an integer >= 1", top)
    ok = isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool)
    if not ok or not math.isfinite(tolerance) or tolerance < 0:
        raise ConfigError.at(
            _CLI, "--tolerance", "be a number >= 0 (in the metric's units)", tolerance
        )
    if fmt not in FORMATS:
        raise ConfigError.at(_CLI, "--format", f"be one of {', '.join(FORMATS)}", fmt)


def export_configurations(
    run_dirs: Sequence[str | Path],
    *,
    top: int = 3,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """The export document for one run or several runs of the same space (see module doc)."""
    check_options(top=top, tolerance=tolerance)
    if not run_dirs:
        raise ConfigError.at(_CLI, "RUN_DIR", "name at least one run directory", [])
    runs = _open_runs(run_dirs)
    scored = [score_run(run) for run in runs]
    for run, configs in zip(runs, scored, strict=True):
        if not configs:
            raise StateError(
                "must hold at least one completed trial to export from", source=str(run.path)
            )
    first = runs[0]
    document: dict[str, Any] = {
        "metric": first.objective.metric,
        "direction": first.objective.direction,
        "tolerance": float(tolerance),
        "score": "inner-CV mean (the search's objective), never the outer test",
        "source_runs": [
            {
                "label": run.label,
                "path": str(run.path.resolve()),
                "trait": run.trait,
                "model": run.model,
                "n_configurations": len(configs),
                "best_score": configs[0].score,
            }
            for run, configs in zip(runs, scored, strict=True)
        ],
    }
    if len(runs) == 1:
        document["configurations"] = _single(first, scored[0], top, tolerance)
    else:
        document["configurations"] = _robust(runs, scored, top, tolerance)
    return document


def _open_runs(run_dirs: Sequence[str | Path]) -> list[RunView]:
    runs = [open_run(path) for path in run_dirs]
    labels = [run.label for run in runs]
    if len(set(labels)) < len(labels):  # same folder name in different places: use the paths
        runs = [open_run(path, label=str(Path(path))) for path in run_dirs]
    paths = [run.path.resolve() for run in runs]
    if len(set(paths)) < len(paths):
        raise ConfigError.at(
            _CLI, "RUN_DIR", "name each run directory once", [str(p) for p in paths]
        )
    first = runs[0]
    for run in runs[1:]:
        if run.objective != first.objective:
            raise ConfigError.at(
                str(run.path),
                "metric",
                f"be {first.objective.metric} like {first.label} (scores must be comparable)",
                run.objective.metric,
            )
        if run.space.fingerprint() != first.space.fingerprint():
            raise ConfigError.at(
                str(run.run_dir.space_path),
                None,
                f"be the same search space as {first.run_dir.space_path}",
                "<a different space>",
                "export each run alone, or evaluate one run's export on the others with "
                "'hpsearch run CONFIG --params FILE'",
            )
    return runs


def _single(
    run: RunView, configs: list[ConfigScore], top: int, tolerance: float
) -> list[dict[str, Any]]:
    archs = [architecture(c.params, run.model) for c in configs]
    near = [c.regret <= tolerance + 1e-12 for c in configs]
    chosen = sorted(pick_diverse(configs, top=top, near=near, arch=archs))
    return [
        {
            "params": configs[i].params,
            "scores": {run.label: configs[i].score},
            "rank": i + 1,
            "regret": configs[i].regret,
            "near_optimal": near[i],
            "architecture": archs[i],
            "trial_ids": {run.label: configs[i].trial_ids},
        }
        for i in chosen
    ]


def normalised_ranks(configs: Sequence[ConfigScore]) -> dict[str, float]:
    """Each configuration's rank in its run as 0 (best) .. 1 (worst), ties sharing the mean
    rank; configurations are ordered by regret (the same as by score in a one-fold run)."""
    n = len(configs)
    regrets = [c.regret for c in configs]
    out: dict[str, float] = {}
    for c in configs:
        better = sum(r < c.regret - 1e-12 for r in regrets)
        equal = sum(abs(r - c.regret) <= 1e-12 for r in regrets)
        rank = better + (equal + 1) / 2.0  # 1-based average rank
        out[c.key] = (rank - 1.0) / (n - 1.0) if n > 1 else 0.0
    return out


def _robust(
    runs: list[RunView], scored: list[list[ConfigScore]], top: int, tolerance: float
) -> list[dict[str, Any]]:
    tables = [{c.key: c for c in configs} for configs in scored]
    ranks = [normalised_ranks(configs) for configs in scored]
    in_all = set(tables[0]).intersection(*tables[1:])
    candidates: dict[str, dict[str, Any]] = {}
    order = 0

    def add(key: str, params: dict[str, Any]) -> None:
        nonlocal order
        if key not in candidates:
            candidates[key] = {"params": params, "order": order}
            order += 1

    for key in (c.key for c in scored[0] if c.key in in_all):
        add(key, tables[0][key].params)
    for index, run in enumerate(runs):  # each run's own near-optimal picks
        for entry in _single(run, scored[index], top, tolerance):
            key = run.space.key(entry["params"])
            add(key, tables[index][key].params)
    rows = []
    for key, cand in candidates.items():
        present = [i for i, table in enumerate(tables) if key in table]
        regrets = {runs[i].label: tables[i][key].regret for i in present}
        rows.append(
            {
                "key": key,
                "params": cand["params"],
                "scores": {
                    run.label: (tables[i][key].score if key in tables[i] else None)
                    for i, run in enumerate(runs)
                },
                "regrets": regrets,
                "missing": [runs[i].label for i in range(len(runs)) if i not in present],
                "normalised_rank": _mean(ranks[i][key] for i in present),
                "regret": max(regrets.values()),
                "order": cand["order"],
            }
        )
    rows.sort(key=lambda r: (len(r["missing"]), r["normalised_rank"], r["regret"], r["order"]))
    by_regret = sorted(
        rows, key=lambda r: (len(r["missing"]), r["regret"], r["normalised_rank"], r["order"])
    )
    regret_rank = {r["key"]: i + 1 for i, r in enumerate(by_regret)}
    model = runs[0].model
    archs = [architecture(r["params"], model) for r in rows]
    near = [not r["missing"] and r["regret"] <= tolerance + 1e-12 for r in rows]
    chosen = sorted(pick_diverse(rows, top=top, near=near, arch=archs))
    return [
        {
            "params": rows[i]["params"],
            "scores": rows[i]["scores"],
            "rank": i + 1,
            "regret": rows[i]["regret"],
            "normalised_rank": rows[i]["normalised_rank"],
            "regret_rank": regret_rank[rows[i]["key"]],
            "regrets": rows[i]["regrets"],
            "missing": rows[i]["missing"],
            "near_optimal": near[i],
            "architecture": archs[i],
        }
        for i in chosen
    ]


# -- files ----------------------------------------------------------------------------------------


def render(document: Mapping[str, Any], fmt: str) -> str:
    """The document as YAML or JSON text (JSON is strict: no NaN)."""
    if fmt == "json":
        return json.dumps(document, indent=1, allow_nan=False) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)
    raise ConfigError.at(_CLI, "--format", f"be one of {', '.join(FORMATS)}", fmt)


def params_stage_from_file(path: str | Path, space: Space) -> list[dict[str, Any]]:
    """The configurations of an export file (or a plain list), each validated in ``space``.

    Accepts the export document (``configurations: [{params: {...}, ...}]``), a bare list of
    such entries, or a bare list of parameter mappings. Errors name the file and the entry.
    """
    from hpsearch.config import read_yaml
    from hpsearch.decisions.given import validate_configurations

    source = str(path)
    raw = read_yaml(path, what="params")
    if isinstance(raw, Mapping):
        if "configurations" not in raw:
            raise ConfigError.at(
                source, "configurations", "be given (a list of configurations)", "nothing"
            )
        entries, field_name = raw["configurations"], "configurations"
    else:
        entries, field_name = raw, "configurations"
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        raise ConfigError.at(source, field_name, "be a list of configurations", entries)
    configurations: list[Any] = []
    labels: list[str] = []
    for index, entry in enumerate(entries):
        wrapped = (
            isinstance(entry, Mapping)
            and "params" in entry
            and "params" not in space
            and isinstance(entry["params"], Mapping)
        )
        configurations.append(entry["params"] if wrapped else entry)
        labels.append(f"{field_name}[{index}]" + (".params" if wrapped else ""))
    return validate_configurations(
        space, configurations, source=source, field=field_name, labels=labels
    )


# -- command line -------------------------------------------------------------------------------


def add_export_parser(subparsers: Any) -> None:
    """``hpsearch export RUN_DIR [RUN_DIR ...] --top K [--tolerance T] --format F [-o FILE]``."""
    parser = subparsers.add_parser(
        "export",
        help="near-optimal, diverse configurations of a run (robust ones across several runs)",
        description=(
            "Write the best configurations by inner-CV score: within --tolerance of the best, "
            "preferring different architectures; with several runs of the same space (traits, "
            "marker sets), the configurations that rank well in all of them. The file feeds "
            "back into 'hpsearch run CONFIG --params FILE'."
        ),
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--top", type=int, default=3, help="configurations to export (default 3)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"near-optimal = within this of the best score (default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument("--format", default="yaml", help="yaml (default) or json")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


def cmd_export(args: argparse.Namespace) -> int:
    check_options(top=args.top, tolerance=args.tolerance, fmt=args.format)
    document = export_configurations(args.run_dirs, top=args.top, tolerance=args.tolerance)
    text = render(document, args.format)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    output = Path(args.output)
    if not output.parent.is_dir():
        raise ConfigError.at(_CLI, "--output", "be in an existing folder", str(output))
    output.write_text(text, encoding="utf-8")
    print(summary_lines(document, output))
    return 0


def summary_lines(document: Mapping[str, Any], output: Path | None = None) -> str:
    """A few lines for the console: what was exported and how it ranks."""
    configs = document["configurations"]
    runs = [r["label"] for r in document["source_runs"]]
    lines = []
    if output is not None:
        lines.append(f"{output}: {len(configs)} configuration(s) from {', '.join(runs)}")
    near = sum(bool(c.get("near_optimal")) for c in configs)
    if near < len(configs):
        lines.append(
            f"  {near} of {len(configs)} within tolerance {document['tolerance']}; the others "
            "are the next best (near_optimal: false)"
        )
    for c in configs:
        scores = ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} missing"
            for k, v in c["scores"].items()
        )
        lines.append(
            f"  rank {c['rank']:<3} regret {c['regret']:.4f}  {scores}  [{c['architecture']}]"
        )
    return "\n".join(lines)

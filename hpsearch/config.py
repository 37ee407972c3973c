"""The experiment config: read, checked and resolved before any heavy work starts.

Every problem is reported as one line naming the config file and the key (``stages[1].trials``),
what must hold and what was given, so that a typo costs seconds, not a failed overnight run.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpsearch.errors import ConfigError
from hpsearch.trial import METRIC_DIRECTIONS

TASKS = ("regression", "binary", "multiclass")
DEFAULT_METRIC = {"regression": "pearson_r", "binary": "roc_auc", "multiclass": "accuracy"}
EXECUTORS = ("inprocess", "ray")
PREPROCESS_KEYS = ("scale_markers", "preselect_top_k", "preselect_pvalue", "standardize_target")


@dataclass
class DataConfig:
    genotypes: Path
    phenotypes: Path
    trait: int | str = 0
    task: str | None = None
    genotype_options: dict[str, Any] = field(default_factory=dict)
    phenotype_options: dict[str, Any] = field(default_factory=dict)
    #: text, plink or vcf; detected from the file name when omitted
    genotype_format: str | None = None
    #: fixed effects from the phenotype table: a list of columns or {column: kind}
    covariates: Any = None
    #: marker map (marker, chromosome, position) for map order; PLINK/VCF carry their own
    map: Path | None = None
    #: file (as given), map (chromosome, position: locality for CNN/LSTM) or shuffled (control)
    marker_order: str = "file"
    marker_order_seed: int | None = None


@dataclass
class EvaluationConfig:
    outer: dict[str, Any] = field(default_factory=lambda: {"kfold": 5, "folds": [1]})
    inner: dict[str, Any] = field(default_factory=lambda: {"kfold": 3})
    metric: str | None = None


@dataclass
class StageConfig:
    strategy: str
    trials: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionConfig:
    executor: str = "ray"
    max_concurrent: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None
    time_limit_minutes: float | None = None
    max_consecutive_failures: int = 5
    max_retries: int = 2
    threads_per_trial: int | None = None
    scheduler: str | None = None


@dataclass
class TrackingConfig:
    mlflow: bool = True
    uri: str | None = None
    experiment: str | None = None


@dataclass
class ExperimentConfig:
    """A whole experiment; ``source`` is the config file it came from."""

    name: str
    data: DataConfig
    space: Path
    model: str = "mlp"
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    preprocess: dict[str, Any] = field(default_factory=dict)
    stages: list[StageConfig] = field(
        default_factory=lambda: [StageConfig(strategy="random", trials=20)]
    )
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    output: Path = Path("runs")
    seed: int = 0
    source: str = "<config>"
    base_dir: Path = Path(".")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as strings) for ``config.yaml`` in the run directory."""
        data = asdict(self)
        data.pop("source")
        data.pop("base_dir")

        def plain(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return plain(data)

    def metric_for(self, task: str) -> str:
        return self.evaluation.metric or DEFAULT_METRIC[task]


# -- reading ------------------------------------------------------------------------------


def read_yaml(path: str | Path, *, what: str = "config") -> Any:
    """Safe-load a YAML file; problems become a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError.at(str(path), None, f"be an existing {what} file", "no such file")
    from hpsearch.space.loader import unique_key_loader

    try:  # a key given twice would silently keep only its last value: refused instead
        return yaml.load(path.read_text(), Loader=unique_key_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError.at(str(path), where, "be valid YAML", f"<{problem}>") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError.at(str(path), None, "be a UTF-8 text file", "<binary data>") from exc


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read and check an experiment config, applying CLI overrides (see ``apply_overrides``)."""
    path = Path(path)
    raw = read_yaml(path)
    config = parse_config(raw, source=str(path), base_dir=path.resolve().parent)
    if overrides:
        apply_overrides(config, overrides)
    return config


def parse_config(raw: Any, *, source: str, base_dir: Path) -> ExperimentConfig:
    """Check a config mapping and turn it into an :class:`ExperimentConfig`."""
    c = _Checker(source)
    if raw is None:
        raise ConfigError.at(source, None, "be a mapping of key: value", "<an empty file>")
    top = c.mapping(raw, None)
    c.known(
        top,
        None,
        (
            "name",
            "data",
            "evaluation",
            "preprocess",
            "model",
            "space",
            "stages",
            "execution",
            "tracking",
            "output",
            "seed",
            "strategy",
            "trials",
        ),
    )

    data_raw = c.mapping(c.require(top, "data", None), "data")
    c.known(
        data_raw,
        "data",
        (
            "genotypes",
            "phenotypes",
            "trait",
            "task",
            "genotype_options",
            "phenotype_options",
            "genotype_format",
            "covariates",
            "map",
            "marker_order",
            "marker_order_seed",
        ),
    )
    task = data_raw.get("task", "auto")
    if task not in (*TASKS, "auto", None):
        raise ConfigError.at(source, "data.task", f"be one of {[*TASKS, 'auto']}", task)
    trait = data_raw.get("trait", 0)
    if isinstance(trait, bool) or not isinstance(trait, (int, str)):
        raise ConfigError.at(source, "data.trait", "be a column index or a column name", trait)
    genotype_format = data_raw.get("genotype_format")
    if genotype_format not in (None, "text", "plink", "vcf"):
        raise ConfigError.at(
            source, "data.genotype_format", "be text, plink or vcf", genotype_format
        )
    marker_order = data_raw.get("marker_order", "file")
    if marker_order not in ("file", "map", "shuffled"):
        raise ConfigError.at(source, "data.marker_order", "be file, map or shuffled", marker_order)
    order_seed = data_raw.get("marker_order_seed")
    if order_seed is not None:
        order_seed = c.positive_int(order_seed, "data.marker_order_seed", minimum=0)
    data = DataConfig(
        genotypes=c.genotype_path(c.require(data_raw, "genotypes", "data"), base_dir),
        phenotypes=c.path(c.require(data_raw, "phenotypes", "data"), "data.phenotypes", base_dir),
        trait=trait,
        task=None if task in ("auto", None) else task,
        genotype_options=c.mapping(data_raw.get("genotype_options", {}), "data.genotype_options"),
        phenotype_options=c.mapping(
            data_raw.get("phenotype_options", {}), "data.phenotype_options"
        ),
        genotype_format=genotype_format,
        covariates=data_raw.get("covariates"),
        map=c.path(data_raw["map"], "data.map", base_dir) if data_raw.get("map") else None,
        marker_order=marker_order,
        marker_order_seed=order_seed,
    )

    ev_raw = c.mapping(top.get("evaluation", {}), "evaluation")
    c.known(ev_raw, "evaluation", ("outer", "inner", "metric"))
    evaluation = EvaluationConfig()
    if "outer" in ev_raw:
        outer = ev_raw["outer"]
        evaluation.outer = (
            {"kfold": 5, "folds": "all"}
            if outer == "all"
            else dict(c.mapping(outer, "evaluation.outer"))
        )
        if "fold_file" in evaluation.outer:
            evaluation.outer["fold_file"] = str(
                c.path(evaluation.outer["fold_file"], "evaluation.outer.fold_file", base_dir)
            )
    if "inner" in ev_raw:
        evaluation.inner = dict(c.mapping(ev_raw["inner"], "evaluation.inner"))
    metric = ev_raw.get("metric")
    if metric is not None and metric not in METRIC_DIRECTIONS:
        raise ConfigError.at(
            source,
            "evaluation.metric",
            f"be one of {sorted(METRIC_DIRECTIONS)}",
            metric,
            c.hint(metric, METRIC_DIRECTIONS),
        )
    evaluation.metric = metric

    preprocess = dict(c.mapping(top.get("preprocess", {}), "preprocess"))
    c.known(preprocess, "preprocess", PREPROCESS_KEYS)

    model = top.get("model", "mlp")
    if not isinstance(model, str) or not model:
        raise ConfigError.at(source, "model", "be a model name or 'package.module:function'", model)
    space_value = top.get("space")
    space = (
        c.path(space_value, "space", base_dir)
        if space_value is not None
        else default_space_path(model, base_dir, source)
    )

    stages = _parse_stages(c, top)
    execution = _parse_execution(c, top.get("execution", {}))
    tr_raw = c.mapping(top.get("tracking", {}), "tracking")
    c.known(tr_raw, "tracking", ("mlflow", "uri", "experiment"))
    if tr_raw.get("uri") is not None:
        from hpsearch.tracking.mlflow_tracker import check_tracking_uri

        check_tracking_uri(tr_raw["uri"], source=source, field="tracking.uri")
    tracking = TrackingConfig(
        mlflow=c.boolean(tr_raw.get("mlflow", True), "tracking.mlflow"),
        uri=tr_raw.get("uri"),
        experiment=tr_raw.get("experiment"),
    )
    seed = top.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError.at(source, "seed", "be a non-negative integer", seed)
    name = top.get("name") or Path(source).stem
    if not isinstance(name, str):
        raise ConfigError.at(source, "name", "be a string", name)
    output = c.path(top.get("output", "runs"), "output", Path.cwd(), must_exist=False)
    return ExperimentConfig(
        name=name, data=data, space=space, model=model, evaluation=evaluation,
        preprocess=preprocess, stages=stages, execution=execution, tracking=tracking,
        output=output, seed=seed, source=source, base_dir=base_dir,
    )  # fmt: skip


def _parse_stages(c: _Checker, top: Mapping[str, Any]) -> list[StageConfig]:
    if "stages" in top and ("strategy" in top or "trials" in top):
        raise ConfigError.at(
            c.source, "stages", "be given alone (not with top-level strategy/trials)", "both"
        )
    if "stages" not in top:
        raw_stages = [{"strategy": top.get("strategy", "random"), "trials": top.get("trials", 20)}]
    else:
        raw_stages = top["stages"]
        if not isinstance(raw_stages, list) or not raw_stages:
            raise ConfigError.at(c.source, "stages", "be a non-empty list of stages", raw_stages)
    stages = []
    for i, raw in enumerate(raw_stages):
        where = f"stages[{i}]"
        stage = c.mapping(raw, where)
        c.known(stage, where, ("strategy", "trials", "options"))
        strategy = stage.get("strategy", "random")
        if not isinstance(strategy, str):
            raise ConfigError.at(c.source, f"{where}.strategy", "be a strategy name", strategy)
        stages.append(
            StageConfig(
                strategy=strategy,
                trials=c.positive_int(stage.get("trials", 20), f"{where}.trials"),
                options=dict(c.mapping(stage.get("options", {}), f"{where}.options")),
            )
        )
    return stages


def _parse_execution(c: _Checker, raw: Any) -> ExecutionConfig:
    ex = c.mapping(raw, "execution")
    c.known(ex, "execution", tuple(ExecutionConfig.__dataclass_fields__))
    out = ExecutionConfig()
    executor = ex.get("executor", out.executor)
    if executor not in EXECUTORS:
        raise ConfigError.at(
            c.source,
            "execution.executor",
            f"be one of {list(EXECUTORS)}",
            executor,
            c.hint(executor, EXECUTORS),
        )
    out.executor = executor
    concurrent = ex.get("max_concurrent")
    out.max_concurrent = (
        None if concurrent is None else c.positive_int(concurrent, "execution.max_concurrent")
    )
    out.cpus_per_trial = c.number(ex.get("cpus_per_trial", 1.0), "execution.cpus_per_trial", 0.0)
    out.gpus_per_trial = c.number(ex.get("gpus_per_trial", 0.0), "execution.gpus_per_trial", 0.0)
    out.address = ex.get("address")
    limit = ex.get("time_limit_minutes")
    out.time_limit_minutes = (
        None if limit is None else c.number(limit, "execution.time_limit_minutes", 0.0, strict=True)
    )
    out.max_consecutive_failures = c.positive_int(
        ex.get("max_consecutive_failures", 5), "execution.max_consecutive_failures"
    )
    out.max_retries = c.positive_int(ex.get("max_retries", 2), "execution.max_retries", minimum=0)
    threads = ex.get("threads_per_trial")
    scheduler = ex.get("scheduler")
    if scheduler not in (None, "asha"):
        raise ConfigError.at(c.source, "execution.scheduler", "be asha or absent", scheduler)
    out.scheduler = scheduler
    out.threads_per_trial = (
        None if threads is None else c.positive_int(threads, "execution.threads_per_trial")
    )
    return out


def apply_overrides(config: ExperimentConfig, overrides: Mapping[str, Any]) -> None:
    """Apply CLI overrides (trials, strategy, seed, output, executor, max_concurrent, mlflow)."""
    source = "command line"
    strategy, trials = overrides.get("strategy"), overrides.get("trials")
    if trials is not None and (
        isinstance(trials, bool) or not isinstance(trials, int) or trials < 1
    ):
        raise ConfigError.at(source, "--trials", "be an integer >= 1", trials)
    if strategy is not None:
        from hpsearch.strategies import STRATEGIES

        if not isinstance(strategy, str) or (strategy not in STRATEGIES and ":" not in strategy):
            STRATEGIES.get(str(strategy), source=source, field="--strategy")  # raises, listing
        config.stages = [StageConfig(strategy, trials or config.stages[0].trials)]
    elif trials is not None:
        if len(config.stages) != 1:
            raise ConfigError.at(
                source,
                "--trials",
                "come with --strategy for a multi-stage config",
                f"{len(config.stages)} stages in {config.source}",
            )
        config.stages[0].trials = trials
    if overrides.get("seed") is not None:
        if overrides["seed"] < 0:
            raise ConfigError.at(source, "--seed", "be a non-negative integer", overrides["seed"])
        config.seed = int(overrides["seed"])
    if overrides.get("output") is not None:
        config.output = Path(overrides["output"])
    if overrides.get("executor") is not None:
        if overrides["executor"] not in EXECUTORS:
            raise ConfigError.at(
                source, "--executor", f"be one of {list(EXECUTORS)}", overrides["executor"]
            )
        config.execution.executor = overrides["executor"]
    if overrides.get("max_concurrent") is not None:
        if overrides["max_concurrent"] < 1:
            raise ConfigError.at(
                source, "--max-concurrent", "be an integer >= 1", overrides["max_concurrent"]
            )
        config.execution.max_concurrent = int(overrides["max_concurrent"])
    if overrides.get("mlflow") is not None:
        config.tracking.mlflow = bool(overrides["mlflow"])


def default_space_path(model: str, base_dir: Path, source: str) -> Path:
    """``search_spaces/<model>.yaml`` next to the config, in the working folder, or in the repo."""
    repo_root = Path(__file__).resolve().parents[1]
    for folder in (base_dir, base_dir.parent, Path.cwd(), repo_root):
        candidate = folder / "search_spaces" / f"{model}.yaml"
        if candidate.is_file():
            return candidate
    raise ConfigError.at(
        source,
        "space",
        "be given (no search_spaces/<model>.yaml was found)",
        f"model {model!r} without a space",
    )


class _Checker:
    """Small typed getters that raise ConfigErrors naming ``source`` and the dotted key."""

    def __init__(self, source: str):
        self.source = source

    def hint(self, value: Any, valid: Any) -> str | None:
        close = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1)
        return f"did you mean {close[0]!r}?" if close else None

    def mapping(self, value: Any, where: str | None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError.at(self.source, where, "be a mapping of key: value", value)
        return dict(value)

    def known(
        self, mapping: Mapping[str, Any], where: str | None, allowed: tuple[str, ...]
    ) -> None:
        for key in mapping:
            if key not in allowed:
                field_name = f"{where}.{key}" if where else str(key)
                raise ConfigError.at(
                    self.source,
                    field_name,
                    f"be one of {list(allowed)}",
                    key,
                    self.hint(key, allowed),
                )

    def require(self, mapping: Mapping[str, Any], key: str, where: str | None) -> Any:
        if key not in mapping or mapping[key] in (None, ""):
            raise ConfigError.at(
                self.source, f"{where}.{key}" if where else key, "be given", "nothing"
            )
        return mapping[key]

    def path(self, value: Any, where: str, base_dir: Path, *, must_exist: bool = True) -> Path:
        if not isinstance(value, (str, Path)) or not str(value):
            raise ConfigError.at(self.source, where, "be a file path", value)
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if must_exist and not path.exists():
            raise ConfigError.at(
                self.source, where, "name an existing file", str(value), f"looked for {path}"
            )
        return path

    def genotype_path(self, value: Any, base_dir: Path) -> Path:
        """A genotype file, or a PLINK prefix whose ``.bed`` exists."""
        if isinstance(value, (str, Path)) and str(value):
            path = Path(value).expanduser()
            path = path if path.is_absolute() else base_dir / path
            if not path.exists() and path.with_name(path.name + ".bed").is_file():
                return path
        return self.path(value, "data.genotypes", base_dir)

    def positive_int(self, value: Any, where: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError.at(self.source, where, f"be an integer >= {minimum}", value)
        return value

    def number(self, value: Any, where: str, low: float, *, strict: bool = False) -> float:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or (value <= low if strict else value < low):
            raise ConfigError.at(
                self.source, where, f"be a number {'>' if strict else '>='} {low}", value
            )
        return float(value)

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise ConfigError.at(self.source, where, "be true or false", value)
        return value

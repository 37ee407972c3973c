"""Experiment configs: defaults, relative paths, overrides, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpsearch.config import load_config
from hpsearch.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "g.txt").write_text("0 1\n1 0\n")
    (tmp_path / "p.txt").write_text("0.1\n0.2\n")
    (tmp_path / "s.yaml").write_text("parameters: {units: {type: int, low: 1, high: 4}}\n")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


BASE = "data: {genotypes: g.txt, phenotypes: p.txt}\nspace: s.yaml\n"


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.data.genotypes == tmp_path / "g.txt"
    assert config.space == tmp_path / "s.yaml"
    assert config.name == "exp"
    assert [(s.strategy, s.trials) for s in config.stages] == [("random", 20)]
    assert config.evaluation.inner == {"kfold": 3}
    assert config.metric_for("regression") == "pearson_r"
    assert config.metric_for("binary") == "roc_auc"


def test_stages_and_overrides(tmp_path: Path) -> None:
    text = BASE + "stages:\n  - {strategy: random, trials: 4}\n  - {strategy: grid, trials: 2}\n"
    config = load_config(write(tmp_path, text), {"strategy": "grid", "trials": 7, "seed": 9})
    assert [(s.strategy, s.trials) for s in config.stages] == [("grid", 7)]
    assert config.seed == 9
    with pytest.raises(ConfigError, match="--trials: must come with --strategy"):
        load_config(write(tmp_path, text), {"trials": 3})


def test_outer_all_and_fold_file(tmp_path: Path) -> None:
    (tmp_path / "f.sets").write_text("1\n2\n")
    text = BASE + "evaluation: {outer: {fold_file: f.sets, folds: all}, inner: {holdout: 0.2}}\n"
    config = load_config(write(tmp_path, text))
    assert config.evaluation.outer["fold_file"] == str(tmp_path / "f.sets")
    assert config.evaluation.inner == {"holdout": 0.2}


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("", None, "an empty file"),
        ("data: [1, 2]\n", "data", "mapping"),
        ("data: {genotypes: g.txt}\n", "data.phenotypes", "be given"),
        ("data: {genotypes: nope.txt, phenotypes: p.txt}\n", "data.genotypes", "existing file"),
        (BASE + "stagse: []\n", "stagse", "did you mean 'stages'"),
        (BASE + "stages: []\n", "stages", "non-empty list"),
        (BASE + "stages: [{strategy: random, trials: 0}]\n", "stages[0].trials", ">= 1"),
        (BASE + "stages: [{strategy: random, trials: ten}]\n", "stages[0].trials", "'ten'"),
        (BASE + "evaluation: {metric: pearson}\n", "evaluation.metric", "pearson_r"),
        (BASE + "execution: {executor: slurm}\n", "execution.executor", "inprocess"),
        (BASE + "execution: {max_concurrent: -1}\n", "execution.max_concurrent", ">= 1"),
        (BASE + "data2: 1\n", "data2", "be one of"),
        (BASE + "seed: -4\n", "seed", "non-negative"),
        (BASE + "preprocess: {preselect: 3}\n", "preprocess.preselect", "preselect_top_k"),
        (BASE + "tracking: {mlflow: yes please}\n", "tracking.mlflow", "true or false"),
        ("data: {genotypes: g.txt\n", "line", "valid YAML"),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, field: str | None, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    if field:
        assert f": {field}" in message
    assert fragment in message
    assert "\n" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")


def test_a_key_given_twice_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "data: {genotypes: g.X, phenotypes: p.Y, trait: 0}\n"
        "stages: [{strategy: random, trials: 5}]\n"
        "stages: [{strategy: grid, trials: 50}]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "line 3" in text and "'stages' is given twice" in text


@pytest.mark.parametrize(
    "argv",
    [["run", "x.yaml", "--trials", "abc"], ["nosuch"], ["export"], ["run", "x.yaml", "--bogus"]],
)
def test_command_line_usage_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from hpsearch.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("hpsearch: error: command line: "), err

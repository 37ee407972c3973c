"""The bad-input catalogue: each malformed input gives one clean line, exit code 2, no traceback.

Every case goes through the real command line (``hpsearch validate`` or ``run``) on small files
written here, and checks that the message names the file and the field at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hpsearch.cli import main

N_LINES, N_MARKERS = 24, 12


def write_ok(folder: Path) -> dict[str, Path]:
    """A small, valid experiment: genotypes, phenotypes, folds, space and config."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(N_LINES, N_MARKERS))
    y = np.column_stack([rng.normal(size=N_LINES), rng.integers(0, 2, size=N_LINES)])
    paths = {
        "geno": folder / "geno.txt",
        "pheno": folder / "pheno.txt",
        "sets": folder / "folds.sets",
        "space": folder / "space.yaml",
        "config": folder / "exp.yaml",
    }
    paths["geno"].write_text("\n".join(" ".join(map(str, row)) for row in x) + "\n")
    paths["pheno"].write_text("\n".join(f"{a:.4f} {int(b)}" for a, b in y) + "\n")
    paths["sets"].write_text("\n".join(str(i % 3 + 1) for i in range(N_LINES)) + "\n")
    paths["space"].write_text(
        "parameters:\n"
        "  units: {type: int, low: 2, high: 8}\n"
        "  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}\n"
        "  epochs: 2\n"
    )
    paths["config"].write_text(
        "data: {genotypes: geno.txt, phenotypes: pheno.txt, trait: 0}\n"
        "evaluation:\n"
        "  outer: {fold_file: folds.sets, folds: [1]}\n"
        "  inner: {kfold: 2}\n"
        "space: space.yaml\n"
        "stages: [{strategy: random, trials: 2}]\n"
    )
    return paths


def replace_line(path: Path, index: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[index] = text
    path.write_text("\n".join(lines) + "\n")


def edit_config(old: str, new: str) -> Callable[[dict[str, Path]], None]:
    def apply(paths: dict[str, Path]) -> None:
        text = paths["config"].read_text()
        assert old in text, old
        paths["config"].write_text(text.replace(old, new))

    return apply


def set_space(text: str) -> Callable[[dict[str, Path]], None]:
    def apply(paths: dict[str, Path]) -> None:
        paths["space"].write_text("parameters:\n" + text)

    return apply


# (case id, how to break the valid experiment, the file named in the message, a fragment)
CASES: list[tuple[str, Callable[[dict[str, Path]], None], str, str]] = [
    ("ragged genotype row", lambda p: replace_line(p["geno"], 3, "0 1 0"), "geno.txt", "row 4"),
    (
        "non-numeric genotype",
        lambda p: replace_line(p["geno"], 5, " ".join(["x"] * N_MARKERS)),
        "geno.txt",
        "'x'",
    ),
    (
        "genotype code out of range",
        lambda p: replace_line(p["geno"], 2, " ".join(["7"] * N_MARKERS)),
        "geno.txt",
        "7",
    ),
    (
        "phenotype rows do not match genotype rows",
        lambda p: p["pheno"].write_text("\n".join(p["pheno"].read_text().splitlines()[:-2]) + "\n"),
        "pheno.txt",
        "22",
    ),
    ("missing genotype file", lambda p: p["geno"].unlink(), "exp.yaml", "data.genotypes"),
    ("unknown trait name", edit_config("trait: 0", "trait: yield"), "pheno.txt", "yield"),
    ("trait index out of range", edit_config("trait: 0", "trait: 5"), "pheno.txt", "5"),
    (
        "constant trait",
        lambda p: p["pheno"].write_text("1.0 0\n" * N_LINES),
        "pheno.txt",
        "constant",
    ),
    (
        "all-missing trait",
        lambda p: p["pheno"].write_text("NA 0\n" * N_LINES),
        "pheno.txt",
        "missing",
    ),
    (
        "binary trait with one class",
        lambda p: (
            p["pheno"].write_text("0.5 1\n" * N_LINES),
            edit_config("trait: 0", "trait: 1")(p),
            edit_config("data: {", "data: {task: binary, ")(p),
        ),
        "pheno.txt",
        "class",
    ),
    ("fold file too short", lambda p: p["sets"].write_text("1\n2\n"), "folds.sets", "24"),
    (
        "fold file with a non-integer id",
        lambda p: replace_line(p["sets"], 5, "one"),
        "folds.sets",
        "'one'",
    ),
    (
        "fold asked for that does not exist",
        edit_config("folds: [1]", "folds: [9]"),
        "exp.yaml",
        "evaluation.outer.folds",
    ),
    (
        "space low above high",
        set_space("  units: {type: int, low: 9, high: 2}\n"),
        "space.yaml",
        "units",
    ),
    (
        "space log with low <= 0",
        set_space("  lr: {type: float, low: 0.0, high: 1.0, log: true}\n"),
        "space.yaml",
        "lr",
    ),
    (
        "space empty choices",
        set_space("  act: {type: categorical, choices: []}\n"),
        "space.yaml",
        "act",
    ),
    (
        "space unknown kind",
        set_space("  act: {type: colour, choices: [a]}\n"),
        "space.yaml",
        "colour",
    ),
    (
        "space condition on an unknown parameter",
        set_space("  units: {type: int, low: 1, high: 3, when: {optimiser: [sgd]}}\n"),
        "space.yaml",
        "optimiser",
    ),
    (
        "space non-number bound",
        set_space("  lr: {type: float, low: abc, high: 1.0}\n"),
        "space.yaml",
        "abc",
    ),
    (
        "config unknown key",
        edit_config("space: space.yaml", "space: space.yaml\nstagse: []"),
        "exp.yaml",
        "stagse",
    ),
    (
        "config trials not an integer",
        edit_config("trials: 2", "trials: many"),
        "exp.yaml",
        "stages[0].trials",
    ),
    (
        "unknown strategy",
        edit_config("strategy: random", "strategy: randon"),
        "exp.yaml",
        "did you mean 'random'",
    ),
    (
        "unknown model",
        edit_config("space: space.yaml", "space: space.yaml\nmodel: mpl"),
        "exp.yaml",
        "mlp",
    ),
    (
        "metric that does not suit the task",
        edit_config("inner: {kfold: 2}", "inner: {kfold: 2}\n  metric: roc_auc"),
        "exp.yaml",
        "evaluation.metric",
    ),
    (
        "inner kfold larger than the training part",
        edit_config("inner: {kfold: 2}", "inner: {kfold: 500}"),
        "exp.yaml",
        "kfold",
    ),
]


@pytest.mark.parametrize(("case", "breaker", "file", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clean_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    breaker: Callable[[dict[str, Path]], None],
    file: str,
    fragment: str,
) -> None:
    paths = write_ok(tmp_path)
    assert main(["validate", str(paths["config"])]) == 0, "the unbroken experiment must validate"
    capsys.readouterr()
    breaker(paths)
    code = main(["validate", str(paths["config"])])
    err = capsys.readouterr().err
    assert code == 2, f"{case}: exit code {code}, stderr {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{case}: expected one line, got {err!r}"
    assert "Traceback" not in err
    assert lines[0].startswith("hpsearch: error: ")
    assert file in lines[0], f"{case}: {file!r} not named in {lines[0]!r}"
    assert fragment in lines[0], f"{case}: {fragment!r} not in {lines[0]!r}"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "does-not-exist.yaml"],
        ["show", "no-such-run-dir"],
        ["resume", "no-such-run-dir"],
    ],
)
def test_bad_paths_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code = main([argv[0], str(tmp_path / argv[1])])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert argv[1] in err


def test_bad_override_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = write_ok(tmp_path)
    code = main(["run", str(paths["config"]), "--trials", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--trials" in err and len(err.strip().splitlines()) == 1

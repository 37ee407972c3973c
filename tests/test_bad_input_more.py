"""More of the bad-input catalogue (``tests/test_bad_input.py`` holds the first 25 cases).

Each malformed data file, config, space or command-line argument must end as one line on
stderr, ``hpsearch: error: SOURCE: FIELD: ...``, naming the file (or ``command line``) and the
field, with exit code 2 and no traceback. The last group runs a tiny search first and then gives
bad ``resume`` / ``show`` / ``sync`` / ``ui`` invocations that touch its run directory: every
file of the run (and its MLflow store) must be byte-identical afterwards.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hpsearch.cli import main

N_LINES, N_MARKERS = 24, 12

Breaker = Callable[[dict[str, Path]], None]


def write_ok(folder: Path) -> dict[str, Path]:
    """A small, valid experiment (in-process executor, MLflow in a sqlite file beside it)."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(N_LINES, N_MARKERS))
    y = rng.normal(size=N_LINES)
    paths = {
        name: folder / file
        for name, file in (
            ("geno", "geno.txt"),
            ("pheno", "pheno.txt"),
            ("sets", "folds.sets"),
            ("space", "space.yaml"),
            ("config", "exp.yaml"),
        )
    }
    paths["geno"].write_text("\n".join(" ".join(map(str, row)) for row in x) + "\n")
    paths["pheno"].write_text("\n".join(f"{v:.4f}" for v in y) + "\n")
    paths["sets"].write_text("\n".join(str(i % 3 + 1) for i in range(N_LINES)) + "\n")
    paths["space"].write_text(
        "parameters:\n"
        "  units: {type: int, low: 2, high: 8}\n"
        "  l2: {type: ordinal, values: [0, 1e-5, 1.0e-4]}\n"
        "  epochs: 2\n"
    )
    paths["config"].write_text(
        "name: more\n"
        "data: {genotypes: geno.txt, phenotypes: pheno.txt, trait: 0}\n"
        "evaluation:\n"
        "  outer: {fold_file: folds.sets, folds: [1]}\n"
        "  inner: {kfold: 2}\n"
        "space: space.yaml\n"
        "stages: [{strategy: random, trials: 2}]\n"
        "execution: {executor: inprocess}\n"
        f"tracking: {{uri: 'sqlite:///{folder / 'mlflow.db'}', experiment: more}}\n"
    )
    return paths


def edit(key: str, old: str, new: str) -> Breaker:
    def apply(paths: dict[str, Path]) -> None:
        text = paths[key].read_text()
        assert old in text, old
        paths[key].write_text(text.replace(old, new, 1))

    return apply


def set_space(text: str) -> Breaker:
    def apply(paths: dict[str, Path]) -> None:
        paths["space"].write_text(text)

    return apply


def ids_that_do_not_match(paths: dict[str, Path]) -> None:
    """CSV files with headers and ID columns, but genotype IDs G* and phenotype IDs P*."""
    geno = [line.split() for line in paths["geno"].read_text().splitlines()]
    header = "id," + ",".join(f"m{j}" for j in range(N_MARKERS))
    paths["geno"].write_text(
        "\n".join([header] + [f"G{i}," + ",".join(row) for i, row in enumerate(geno)]) + "\n"
    )
    pheno = paths["pheno"].read_text().splitlines()
    paths["pheno"].write_text(
        "\n".join(["id,yield"] + [f"P{i},{v}" for i, v in enumerate(pheno)]) + "\n"
    )


def directory_instead_of(key: str) -> Breaker:
    def apply(paths: dict[str, Path]) -> None:
        paths[key].unlink()
        paths[key].mkdir()

    return apply


def execution(text: str) -> Breaker:
    return edit("config", "execution: {executor: inprocess}", f"execution: {text}")


# (case id, how to break the valid experiment, what the line must name: file, then fragments)
CASES: list[tuple[str, Breaker, str, tuple[str, ...]]] = [
    # data files
    (
        "CSV headers whose line IDs match none of the phenotype IDs",
        ids_that_do_not_match,
        "pheno.txt",
        ("IDs", "geno.txt"),
    ),
    (
        "binary genotype file",
        lambda p: p["geno"].write_bytes(bytes(range(256)) * 8),
        "geno.txt",
        ("file", "UTF-8"),
    ),
    (
        "gzip-compressed genotypes under a .txt name",
        lambda p: p["geno"].write_bytes(gzip.compress(p["geno"].read_bytes())),
        "geno.txt",
        ("file",),
    ),
    ("directory given as the genotype file", directory_instead_of("geno"), "geno.txt", ("file",)),
    ("directory given as the phenotype file", directory_instead_of("pheno"), "pheno.txt", ()),
    (
        "binary fold file",
        lambda p: p["sets"].write_bytes(b"\x00\x01\xfe\xff" * 16),
        "folds.sets",
        (),
    ),
    # configs
    (
        "unknown key inside execution",
        execution("{executor: inprocess, max_concurent: 2}"),
        "exp.yaml",
        ("execution.max_concurent", "did you mean 'max_concurrent'"),
    ),
    (
        "max_concurrent of the wrong type",
        execution("{executor: inprocess, max_concurrent: two}"),
        "exp.yaml",
        ("execution.max_concurrent", "'two'"),
    ),
    (
        "max_concurrent not a whole number",
        execution("{executor: inprocess, max_concurrent: 1.5}"),
        "exp.yaml",
        ("execution.max_concurrent", "1.5"),
    ),
    (
        "impossible budget: trials 0",
        edit("config", "trials: 2", "trials: 0"),
        "exp.yaml",
        ("stages[0].trials", "got 0"),
    ),
    (
        "negative time limit",
        execution("{executor: inprocess, time_limit_minutes: -1}"),
        "exp.yaml",
        ("execution.time_limit_minutes", "-1"),
    ),
    (
        "outer holdout fraction above 1",
        edit("config", "outer: {fold_file: folds.sets, folds: [1]}", "outer: {holdout: 1.5}"),
        "exp.yaml",
        ("evaluation.outer.holdout", "1.5"),
    ),
    (
        "inner holdout fraction above 1",
        edit("config", "inner: {kfold: 2}", "inner: {holdout: 1.5}"),
        "exp.yaml",
        ("evaluation.inner.holdout", "1.5"),
    ),
    # spaces
    (
        "1e-4 (a string to PyYAML) in the boolean field log",
        set_space("parameters:\n  lr: {type: float, low: 1.0e-4, high: 0.1, log: 1e-4}\n"),
        "space.yaml",
        ("lr.log", "'1e-4'"),
    ),
    (
        "1e-4 as a parameter type",
        set_space("parameters:\n  lr: {type: 1e-4, low: 1.0e-4, high: 0.1}\n"),
        "space.yaml",
        ("lr.type", "'1e-4'"),
    ),
    (
        "int step larger than the range",
        set_space("parameters:\n  units: {type: int, low: 2, high: 8, step: 10}\n"),
        "space.yaml",
        ("units", "step"),
    ),
    (
        "float step larger than the range",
        set_space("parameters:\n  dropout: {type: float, low: 0.0, high: 0.5, step: 0.75}\n"),
        "space.yaml",
        ("dropout", "step"),
    ),
    (
        "duplicate parameter through a YAML merge",
        set_space(
            "parameters:\n"
            "  <<: {units: {type: int, low: 2, high: 8}}\n"
            "  units: {type: int, low: 1, high: 3}\n"
        ),
        "space.yaml",
        ("'units'", "twice"),
    ),
    (
        "duplicate parameter key",
        set_space(
            "parameters:\n"
            "  units: {type: int, low: 2, high: 8}\n"
            "  epochs: 2\n"
            "  units: {type: int, low: 1, high: 3}\n"
        ),
        "space.yaml",
        ("'units'", "line 4"),
    ),
    (
        "tracking uri with a scheme MLflow does not know",
        edit("config", "uri: 'sqlite:///", "uri: 'sqlit:///"),
        "exp.yaml",
        ("tracking.uri", "sqlit:///"),
    ),
    (
        "ordinal values of mixed types",
        set_space("parameters:\n  l2: {type: ordinal, values: [0, 1e-5, one, 1.0e-3]}\n"),
        "space.yaml",
        ("l2.values", "'one'"),
    ),
]


def check_one_line(code: int, err: str, file: str, fragments: tuple[str, ...]) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert code == 2, f"exit code {code}, stderr {err!r}"
    assert len(lines) == 1, f"expected one line, got {err!r}"
    line = lines[0]
    assert line.startswith("hpsearch: error: "), line
    assert file in line, f"{file!r} not named in {line!r}"
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


@pytest.mark.parametrize(("case", "breaker", "file", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clean_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    breaker: Breaker,
    file: str,
    fragments: tuple[str, ...],
) -> None:
    paths = write_ok(tmp_path)
    assert main(["validate", str(paths["config"])]) == 0, "the unbroken experiment must validate"
    capsys.readouterr()
    breaker(paths)
    code = main(["validate", str(paths["config"])])
    check_one_line(code, capsys.readouterr().err, file, fragments)


COMMAND_LINE_CASES: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("--max-concurrent 0", ["--max-concurrent", "0"], ("--max-concurrent", "got 0")),
    ("--max-concurrent -3", ["--max-concurrent", "-3"], ("--max-concurrent", "-3")),
    ("--strategy nosuch", ["--strategy", "nosuch"], ("--strategy", "'nosuch'", "random")),
    ("--seed -1", ["--seed", "-1"], ("--seed",)),
]


@pytest.mark.parametrize(
    ("case", "extra", "fragments"), COMMAND_LINE_CASES, ids=[c[0] for c in COMMAND_LINE_CASES]
)
def test_bad_run_option_is_one_line_naming_the_option(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    extra: list[str],
    fragments: tuple[str, ...],
) -> None:
    paths = write_ok(tmp_path)
    code = main(["run", str(paths["config"]), "--output", str(tmp_path / "runs"), *extra])
    check_one_line(code, capsys.readouterr().err, "command line", fragments)
    assert not (tmp_path / "runs").exists(), "a refused run must not create a run directory"


@pytest.mark.parametrize("command", ["resume", "show", "sync", "ui"])
def test_a_folder_that_is_not_a_run_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    folder = tmp_path / "just-a-folder"
    folder.mkdir()
    (folder / "trials.jsonl").write_text("")  # looks a little like a fold, is not a run
    code = main([command, str(folder)])
    check_one_line(code, capsys.readouterr().err, str(folder), ("run directory",))
    assert sorted(p.name for p in folder.iterdir()) == ["trials.jsonl"]


def test_tolerated_inputs_are_read_as_intended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not errors: a UTF-8 byte-order mark, and a marker column that is missing everywhere
    (kept, imputed as a constant), both validate with the data's true size."""
    paths = write_ok(tmp_path)
    paths["geno"].write_bytes(b"\xef\xbb\xbf" + paths["geno"].read_bytes())
    assert main(["validate", str(paths["config"])]) == 0
    assert f"{N_LINES} lines × {N_MARKERS} markers" in capsys.readouterr().out
    rows = [line.split() for line in paths["geno"].read_text(encoding="utf-8-sig").splitlines()]
    for row in rows:
        row[3] = "NA"
    paths["geno"].write_text("\n".join(" ".join(row) for row in rows) + "\n")
    assert main(["validate", str(paths["config"])]) == 0
    assert f"{N_LINES} lines × {N_MARKERS} markers" in capsys.readouterr().out


# --------------------------------------------------------------------------- an existing run


def snapshot(*roots: Path) -> dict[str, bytes]:
    """Every file under ``roots`` (or the file itself), by path, with its bytes."""
    files: dict[str, bytes] = {}
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file():
                files[str(path)] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A tiny search, run once for the module: 2 trials of 2 epochs, in-process, MLflow on."""
    folder = tmp_path_factory.mktemp("existing-run")
    paths = write_ok(folder)
    assert main(["run", str(paths["config"]), "--output", str(folder / "runs"), "--quiet"]) == 0
    (run_dir,) = (folder / "runs").iterdir()
    assert (run_dir / "fold1" / "trials.jsonl").read_text().count("\n") == 2
    return run_dir, paths


def break_genotypes(paths: dict[str, Path]) -> Callable[[], None]:
    """Make the run's genotype file ragged; return what restores it."""
    original = paths["geno"].read_bytes()
    lines = original.decode().splitlines()
    lines[5] = "0 1"
    paths["geno"].write_text("\n".join(lines) + "\n")
    return lambda: paths["geno"].write_bytes(original)


INVOCATIONS: list[tuple[str, Callable[[Path], list[str]], str, tuple[str, ...]]] = [
    (
        "resume when its data file went bad",
        lambda run: ["resume", str(run), "--quiet"],
        "geno.txt",
        ("row 6",),
    ),
    (
        "resume on the fold folder",
        lambda run: ["resume", str(run / "fold1")],
        "fold1",
        ("run directory",),
    ),
    ("show --top 0", lambda run: ["show", str(run), "--top", "0"], "command line", ("--top",)),
    ("show --top -2", lambda run: ["show", str(run), "--top", "-2"], "command line", ("--top",)),
    (
        "show on the fold folder",
        lambda run: ["show", str(run / "fold1")],
        "fold1",
        ("run directory",),
    ),
    (
        "sync to an experiment name MLflow refuses",
        lambda run: ["sync", str(run), "--experiment", "x" * 501],
        "tracking.experiment",
        ("500",),
    ),
    (
        "sync to a store scheme MLflow does not know",
        lambda run: ["sync", str(run), "--uri", "bogus://u:secret@host/x"],
        "--uri",
        ("MLflow tracking URI", "bogus://***@host/x"),
    ),
    (
        "ui on a port that does not exist",
        lambda run: ["ui", str(run), "--port", "70000"],
        "--port",
        ("65535",),
    ),
]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("case", "argv", "file", "fragments"), INVOCATIONS, ids=[c[0] for c in INVOCATIONS]
)
def test_bad_invocation_leaves_the_run_byte_identical(
    finished_run: tuple[Path, dict[str, Path]],
    capsys: pytest.CaptureFixture[str],
    case: str,
    argv: Callable[[Path], list[str]],
    file: str,
    fragments: tuple[str, ...],
) -> None:
    run_dir, paths = finished_run
    store = paths["config"].parent / "mlflow.db"
    before = snapshot(run_dir, store)
    assert any(name.endswith("trials.jsonl") for name in before) and str(store) in before
    restore = break_genotypes(paths) if "data file" in case else None
    capsys.readouterr()
    try:
        code = main(argv(run_dir))
    finally:
        if restore is not None:
            restore()
    check_one_line(code, capsys.readouterr().err, file, fragments)
    after = snapshot(run_dir, store)
    assert sorted(after) == sorted(before), "files appeared or vanished"
    changed = [name for name in before if before[name] != after[name]]
    assert changed == [], f"{case}: changed {changed}"

"""A breeder's first search: their own PLINK fileset and an IID-keyed phenotype TSV, run as a
new user runs it (``hpsearch validate``, then ``hpsearch run``, as subprocesses).

The data set is made here, not by ``hpsearch simulate``: 300 lines in 3 subpopulations
(Balding-Nichols allele frequencies), 2,000 markers on chromosomes 1-5, ~1 % missing calls,
a trait from 50 QTL with h² = 0.5 plus large ``site`` shifts and an ``age`` slope. The
phenotype TSV is keyed by FID/IID, in another row order, lacks 10 genotyped lines, has 5
lines the .fam does not, and 2 trait values written as NA.

Because site and age are drawn independently of the genotypes, a network that ignores them
cannot correlate with the trait beyond sqrt(var(g) / var(y)) ≈ 0.27; one that uses them
reaches about 0.9. That gap is how the test sees that the covariates reached the network.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.integration

N_LINES, N_MARKERS, N_CHROMOSOMES, N_QTL, H2 = 300, 2000, 5, 50, 0.5
SITE_SHIFT = {"north": -4.0, "valley": 0.0, "coast": 4.0}
AGE_SLOPE = 0.08  # per day; age ~ U(20, 60) days
N_NOT_PHENOTYPED, N_NOT_GENOTYPED, N_NA_TRAIT = 10, 5, 2
TRIALS = 4
#: No function of the markers alone can beat sqrt(var(g) / var(y)) ≈ 0.27 here (site and age
#: are independent of the genotypes), while site + age alone explain about 85 % of var(y).
COVARIATES_USED_R = 0.6


@dataclass(frozen=True)
class BreederData:
    folder: Path
    bed: Path
    tsv: Path
    not_phenotyped: list[str]  # in the .fam, not in the TSV
    not_genotyped: list[str]  # in the TSV, not in the .fam
    na_trait: list[str]  # in both, yield written as NA
    n_lines: int  # lines a search can use


def write_breeder_data(folder: Path, *, seed: int = 2024, bad_ids: bool = False) -> BreederData:
    """A PLINK fileset and a FID/IID phenotype TSV nobody in the project has seen.

    With ``bad_ids`` the TSV writes IIDs as ``W1`` instead of the .fam's ``W0001`` (none match).
    """
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    # Balding-Nichols: subpopulation frequencies drawn around an ancestral frequency (Fst 0.1).
    fst = 0.1
    ancestral = rng.uniform(0.05, 0.95, N_MARKERS)
    a, b = ancestral * (1 - fst) / fst, (1 - ancestral) * (1 - fst) / fst
    freqs = np.clip(rng.beta(a, b, size=(3, N_MARKERS)), 0.01, 0.99)
    population = np.repeat(np.arange(3), N_LINES // 3)
    dosages = rng.binomial(2, freqs[population]).astype(np.int8)

    # 50 QTL with normal effects; genetic values scaled to variance h2 / (1 - h2) of the noise.
    qtl = rng.choice(N_MARKERS, N_QTL, replace=False)
    centred = dosages[:, qtl] - dosages[:, qtl].mean(axis=0)
    genetic = centred @ rng.normal(size=N_QTL)
    genetic = genetic / genetic.std() * math.sqrt(H2 / (1 - H2))
    site = rng.choice(list(SITE_SHIFT), N_LINES)
    age = rng.integers(20, 61, N_LINES)
    yield_ = (
        8.0
        + genetic
        + rng.normal(size=N_LINES)
        + np.array([SITE_SHIFT[s] for s in site])
        + AGE_SLOPE * (age - 40)
    )

    called = dosages.copy()
    called[rng.random(called.shape) < 0.01] = -127  # ~1 % missing calls
    iids = [f"W{i:04d}" for i in range(1, N_LINES + 1)]
    fids = [f"P{p + 1}F{(i % (N_LINES // 3)) // 10 + 1:02d}" for i, p in enumerate(population)]
    per_chromosome = N_MARKERS // N_CHROMOSOMES
    chromosomes = np.repeat(np.arange(1, N_CHROMOSOMES + 1), per_chromosome)
    positions = np.concatenate(
        [np.sort(rng.choice(200_000_000, per_chromosome, replace=False)) for _ in range(5)]
    )
    bed = folder / "trial2024.bed"
    to_bed(
        bed,
        called,
        properties={
            "fid": fids,
            "iid": iids,
            "chromosome": [str(c) for c in chromosomes],
            "sid": [f"snp{j:05d}" for j in range(1, N_MARKERS + 1)],
            "bp_position": positions.tolist(),
        },
    )

    order = rng.permutation(N_LINES)
    left_out = sorted(order[:N_NOT_PHENOTYPED].tolist())
    kept = order[N_NOT_PHENOTYPED:]
    na_rows = set(rng.choice(kept, N_NA_TRAIT, replace=False).tolist())
    shown = (lambda iid: f"W{int(iid[1:])}") if bad_ids else (lambda iid: iid)
    rows = [
        [
            fids[i],
            shown(iids[i]),
            "NA" if i in na_rows else f"{yield_[i]:.3f}",
            str(site[i]),
            str(age[i]),
        ]
        for i in kept.tolist()
    ]
    strangers = [f"W{9000 + k}" for k in range(1, N_NOT_GENOTYPED + 1)]
    for k, iid in enumerate(strangers):
        rows.insert(
            int(rng.integers(0, len(rows))),
            [f"P9F{k:02d}", iid, f"{rng.normal(8, 3):.3f}", "coast", "33"],
        )
    tsv = folder / "phenotypes.tsv"
    tsv.write_text(
        "\n".join("\t".join(row) for row in [["FID", "IID", "yield", "site", "age"], *rows]) + "\n"
    )
    return BreederData(
        folder=folder,
        bed=bed,
        tsv=tsv,
        not_phenotyped=[iids[i] for i in left_out],
        not_genotyped=strangers,
        na_trait=sorted(iids[i] for i in na_rows),
        n_lines=N_LINES - N_NOT_PHENOTYPED - N_NA_TRAIT,
    )


def write_experiment(data: BreederData) -> Path:
    """What the README says a user writes: config next to the data, a small edited space.

    The space is narrowed as a user with a 4-trial budget would narrow it, and so that a
    30-epoch fit can learn the covariates' large effects (learning rate >= 3e-3, L2 on the
    marker weights, patience 10): with learning rates from 1e-3, no L2 and patience 5, three
    of four 30-epoch fits here stopped before the covariate weights had grown (inner r < 0.3).
    """
    space = data.folder / "space.yaml"
    space.write_text(
        "parameters:\n"
        "  optimizer: {type: categorical, choices: [adam, rmsprop]}\n"
        "  learning_rate: {type: float, low: 3.0e-3, high: 2.0e-2, log: true}\n"
        "  batch_size: {type: ordinal, values: [16, 32]}\n"
        "  n_layers: {type: int, low: 1, high: 2}\n"
        "  units: {type: int, low: 16, high: 64, log: true}\n"
        "  activation: {type: categorical, choices: [relu, elu]}\n"
        "  dropout: {type: float, low: 0.0, high: 0.3, step: 0.1}\n"
        "  l2: {type: ordinal, values: [1.0e-3, 1.0e-2]}\n"
        "  epochs: 30\n"
        "  patience: 10\n"
    )
    config = data.folder / "experiment.yaml"
    config.write_text(
        "name: breeder-plink\n"
        "data:\n"
        f"  genotypes: {data.bed.name}\n"
        f"  phenotypes: {data.tsv.name}\n"
        "  trait: yield\n"
        "  covariates: [site, age]\n"
        "evaluation:\n"
        "  outer: {kfold: 3, folds: [1]}\n"
        "  inner: {kfold: 2, seed: 0}\n"
        "  metric: pearson_r\n"
        "model: mlp\n"
        "space: space.yaml\n"
        "stages:\n"
        f"  - {{strategy: random, trials: {TRIALS}}}\n"
        "execution: {executor: ray, max_concurrent: 2, cpus_per_trial: 1}\n"
        f"tracking: {{uri: 'sqlite:///{data.folder / 'mlflow.db'}', experiment: breeder}}\n"
        "seed: 11\n"
    )
    return config


def hpsearch(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """The installed command, in a fresh process, from the user's own folder."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "hpsearch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Session:
    data: BreederData
    validate: subprocess.CompletedProcess[str]
    run: subprocess.CompletedProcess[str]
    run_dir: Path


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """validate, then run, once for the checks below (the search is the slow part)."""
    data = write_breeder_data(tmp_path_factory.mktemp("breeder"))
    config = write_experiment(data)
    checked = hpsearch("validate", config.name, cwd=data.folder)
    assert checked.returncode == 0, checked.stderr
    ran = hpsearch("run", config.name, "--output", "runs", cwd=data.folder)
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run_dir,) = (data.folder / "runs").iterdir()
    return Session(data, checked, ran, run_dir)


def test_validate_reports_the_aligned_data(session: Session) -> None:
    out = session.validate.stdout
    assert f"{session.data.n_lines} lines × {N_MARKERS} markers" in out
    assert "trait 'yield' (regression)" in out


def test_load_report_counts_every_dropped_line(session: Session) -> None:
    report = json.loads((session.run_dir / "data.json").read_text())["load_report"]
    assert report["genotype_format"] == "plink"
    assert report["matched_by"] == "id"
    assert report["genotype_lines_without_phenotype_row"] == N_NOT_PHENOTYPED
    assert report["phenotype_lines_without_genotypes"] == N_NOT_GENOTYPED
    assert report["dropped_missing_trait"] == N_NA_TRAIT
    assert report["lines"] == session.data.n_lines
    # whatever IDs the report lists as examples are the right ones
    assert set(report["genotype_ids_without_phenotype_row"]) <= set(session.data.not_phenotyped)
    assert set(report["phenotype_ids_without_genotypes"]) <= set(session.data.not_genotyped)


def test_drop_report_names_every_dropped_line(session: Session) -> None:
    """A breeder must be able to see WHICH lines fell out, on the console or in the run dir."""
    files = [
        path.read_text()
        for path in session.run_dir.iterdir()
        if path.is_file() and path.suffix in (".json", ".tsv", ".csv", ".txt", ".md", ".yaml")
    ]
    console = [session.validate.stdout, session.validate.stderr]
    seen = "\n".join([*console, session.run.stdout, session.run.stderr, *files])
    data = session.data
    for kind, ids in (
        ("genotyped but not phenotyped", data.not_phenotyped),
        ("phenotyped but not genotyped", data.not_genotyped),
        ("trait NA", data.na_trait),
    ):
        unnamed = [iid for iid in ids if iid not in seen]
        assert not unnamed, f"{kind}: {unnamed} named nowhere"


def test_genotypes_int8_and_covariates_in_the_data_summary(session: Session) -> None:
    data_json = json.loads((session.run_dir / "data.json").read_text())
    summary = data_json["summary"]
    assert summary["genotype_dtype"] == "int8"
    assert summary["genotype_bytes"] == session.data.n_lines * N_MARKERS
    assert summary["n_lines"] == session.data.n_lines
    assert summary["covariates"] == ["site", "age"]
    covariates = data_json["load_report"]["covariates"]
    assert covariates["site"] == {"kind": "categorical", "missing": 0, "levels": 3}
    assert covariates["age"]["kind"] == "numeric"


def test_run_dir_holds_the_trials_and_the_outer_test(session: Session) -> None:
    fold = session.run_dir / "fold1"
    records = [json.loads(line) for line in (fold / "trials.jsonl").read_text().splitlines()]
    assert len(records) == TRIALS
    assert all(r["status"] == "completed" for r in records)
    assert all(math.isfinite(r["score"]) for r in records)
    summary = json.loads((session.run_dir / "summary.json").read_text())
    (only,) = summary["folds"]
    assert only["n_trials"] == TRIALS and only["n_failed"] == 0
    assert math.isfinite(only["outer_metrics"]["pearson_r"])
    assert (fold / "outer.json").is_file()
    assert "outer test: pearson_r" in session.run.stdout

    shown = hpsearch("show", str(session.run_dir), cwd=session.data.folder, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"fold1: {TRIALS} trials (0 failed)" in shown.stdout


def test_mlflow_has_the_parent_and_one_child_per_trial(session: Session) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{session.data.folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("breeder")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == TRIALS
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert math.isfinite(parents[0].data.metrics["outer_pearson_r"])


def test_covariates_reach_the_network(session: Session) -> None:
    """Without site and age no model can pass r ≈ 0.27 on these data; with them ≈ 0.9."""
    summary = json.loads((session.run_dir / "summary.json").read_text())
    outer_r = summary["folds"][0]["outer_metrics"]["pearson_r"]
    assert outer_r > COVARIATES_USED_R, (
        f"outer r {outer_r:.3f}: site/age do not seem to reach the network"
    )


def test_phenotype_ids_matching_no_genotype_line(tmp_path: Path) -> None:
    """A TSV whose IIDs are written W1 instead of W0001: exit 2, one line naming the TSV."""
    data = write_breeder_data(tmp_path, bad_ids=True)
    config = write_experiment(data)
    for command in ("validate", "run"):
        done = hpsearch(command, config.name, cwd=tmp_path, timeout=60)
        assert done.returncode == 2, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (command, done.stderr)
        assert lines[0].startswith("hpsearch: error: ")
        assert data.tsv.name in lines[0]
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()

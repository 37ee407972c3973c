"""``hpsearch inspect``: planted problems are found, the numbers match a by-hand computation,
and the wheat facts of the literature are reproduced."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from hpsearch.data.simulate import MISSING_CODE, simulate, write_simulated
from hpsearch.errors import HpsearchError
from hpsearch.inspection.report import (
    add_inspect_parser,
    cmd_inspect,
    genotype_stats,
    inspect_data,
    phenotype_stats,
)

WHEAT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FIGURES = ("maf_spectrum", "missingness", "pca", "ld_adjacent", "phenotypes", "trait_correlations")


def run_cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="hpsearch")
    add_inspect_parser(parser.add_subparsers(dest="command", required=True))
    try:
        return cmd_inspect(parser.parse_args(list(argv)))
    except HpsearchError as exc:
        print(f"hpsearch: error: {exc}", file=sys.stderr)
        return exc.exit_code


@pytest.fixture
def planted(tmp_path: Path) -> tuple[dict[str, Path], np.ndarray, np.ndarray]:
    """60 simulated lines × 40 markers with a monomorphic marker, two copies of a marker, a
    duplicated line, a missing call and a phenotype outlier."""
    sim = simulate(n_lines=60, n_markers=40, n_traits=2, n_qtl=5, epistasis=0.0, seed=3)
    g = sim.genotypes
    g[:, 3] = 1  # monomorphic
    g[:, 7] = g[:, 5]  # marker 8 duplicates marker 6
    g[:, 30] = g[:, 5]  # ... and so does marker 31
    g[10] = g[2]  # line 11 duplicates line 3
    g[4, 9] = MISSING_CODE
    sim.phenotypes[20, 1] = 9.0  # far out (the others have sd 1)
    paths = write_simulated(sim, tmp_path / "data")
    return paths, g.copy(), sim.phenotypes.copy()


def test_planted_problems_are_reported(planted, tmp_path: Path) -> None:
    paths, g, y = planted
    result = inspect_data(
        genotypes=paths["genotypes"], phenotypes=paths["phenotypes"], out_dir=tmp_path / "out"
    )
    facts = result.facts
    gen = facts["genotype"]
    assert (gen["n_lines"], gen["n_markers"]) == (60, 40)
    assert facts["monomorphic_markers"] == ["m3"]  # a text matrix without header: m0, m1, ...
    assert gen["monomorphic_markers"] == 1
    # By hand: identical polymorphic columns (the simulator's tight linkage may add its own).
    groups: dict[bytes, list[int]] = {}
    for j in range(40):
        if len(set(g[:, j].tolist())) > 1:
            groups.setdefault(g[:, j].tobytes(), []).append(j)
    by_hand = sorted(v for v in groups.values() if len(v) > 1)
    assert [5, 7, 30] in by_hand  # the planted copies
    assert gen["duplicated_marker_groups"] == len(by_hand)
    assert gen["redundant_markers"] == sum(len(v) - 1 for v in by_hand)
    assert ["m5", "m7", "m30"] in facts["duplicated_markers"]
    rows = {}
    for i in range(60):
        rows.setdefault(g[i].tobytes(), []).append(i)
    assert [2, 10] in [v for v in rows.values() if len(v) > 1]
    assert ["row2", "row10"] in facts["duplicated_lines"]
    assert gen["duplicated_line_groups"] == sum(len(v) > 1 for v in rows.values())
    assert gen["missing_fraction"] == pytest.approx(1 / (60 * 40))
    # MAF by hand: 0/1 codes, frequency = mean of the observed calls.
    x = np.where(g == MISSING_CODE, np.nan, g.astype(float))
    p = np.nanmean(x, axis=0)
    maf = np.minimum(p, 1 - p)
    assert gen["maf_below_0.05"] == int((maf < 0.05).sum())
    outliers = [t["outliers"] for t in facts["traits"]]
    assert outliers[0] == [] and [o["line"] for o in outliers[1]] == ["data row 21"]
    assert outliers[1][0]["value"] == pytest.approx(9.0)
    by_hand = np.corrcoef(y[:, 0], y[:, 1])[0, 1]
    assert facts["trait_correlations"]["0"]["1"] == pytest.approx(by_hand, abs=1e-5)

    for name in FIGURES:
        image = imread(result.folder / f"{name}.png")
        assert image.shape[0] > 250 and image.shape[1] > 400, name
    report = (result.folder / "report.md").read_text()
    assert "| monomorphic markers | 1 |" in report
    assert "in FILE order" in report
    assert "Identical lines" in report and "Identical marker columns" in report
    assert "data row 21" in report
    assert json.loads((result.folder / "inspection.json").read_text())["genotype"] == gen
    assert "<img src='pca.png'" in (result.folder / "report.html").read_text()


def test_genotype_statistics_on_tiny_arrays() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 200).astype(np.float32)
    noise = rng.integers(0, 2, (200, 3)).astype(np.float32)
    x = np.column_stack([a, 1 - a, noise, np.full(200, 2.0, dtype=np.float32)])
    stats = genotype_stats(x)
    assert stats.ploidy == 2  # a 2 anywhere means 0/1/2 dosages
    assert stats.monomorphic == [5]
    assert stats.duplicated_markers == []  # 1 - a is perfectly correlated, not identical
    assert stats.adjacent_r2[0] == pytest.approx(1.0)  # a and 1 - a: r = -1
    assert stats.adjacent_r[0] == pytest.approx(-1.0)
    assert np.isnan(stats.adjacent_r2[4])  # the monomorphic neighbour has no r
    assert stats.pc_variance.sum() == pytest.approx(1.0)
    # a and 1 - a make one direction that holds 2 of the 5 standardised markers' variance
    assert stats.pc_variance[0] == pytest.approx(2 / 5, abs=0.05)


def test_phenotype_stats_count_categories_and_skip_id_like_text() -> None:
    import pandas as pd

    from hpsearch.data.phenotypes import PhenotypeTable

    frame = pd.DataFrame(
        {
            "y": pd.Series([1.0, 2.0, np.nan, 4.0] * 6, dtype=float),
            "grp": pd.Series(["a", "b", None, "a"] * 6, dtype=object),
            "name": pd.Series([f"n{i}" for i in range(24)], dtype=object),
        }
    )
    traits, corr = phenotype_stats(PhenotypeTable(frame, has_ids=False, source="t"))
    kinds = {t.name: t for t in traits}
    assert kinds["y"].n == 18 and kinds["y"].n_missing == 6
    assert kinds["y"].mean == pytest.approx(np.mean([1.0, 2.0, 4.0]))
    assert kinds["grp"].kind == "categorical" and kinds["grp"].counts == {"a": 12, "b": 6}
    assert kinds["name"].kind == "text"
    assert corr is None  # a single numeric trait has no correlations


def test_wheat_facts(tmp_path: Path) -> None:
    if not (WHEAT / "wheat.X").is_file():
        pytest.skip("wheat data not found in ../shared/data")
    from hpsearch.data.loading import load_dataset
    from hpsearch.data.phenotypes import read_phenotypes
    from hpsearch.inspection.report import as_float

    data, _ = load_dataset(genotypes=WHEAT / "wheat.X", phenotypes=WHEAT / "wheat.Y", trait=0)
    facts = genotype_stats(as_float(data)).facts()
    assert (facts["n_lines"], facts["n_markers"]) == (599, 1279)
    assert facts["maf_below_0.05"] == 96
    assert facts["pc1_variance"] == pytest.approx(0.113, abs=0.0005)
    assert facts["pcs_for_50_80_95pct"] == {"50%": 24, "80%": 105, "95%": 265}
    assert facts["adjacent_mean_abs_r"] == pytest.approx(0.119, abs=0.001)
    _, corr = phenotype_stats(read_phenotypes(WHEAT / "wheat.Y"))
    assert corr.loc["0", "2"] == pytest.approx(-0.193, abs=0.0005)
    assert corr.loc["1", "2"] == pytest.approx(0.661, abs=0.0005)


def test_cli_config_mode_and_one_line_errors(
    planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths, _, _ = planted
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"name: planted\ndata: {{genotypes: {paths['genotypes']}, phenotypes: "
        f"{paths['phenotypes']}, trait: 1}}\nmodel: mlp\noutput: {tmp_path / 'runs'}\n"
    )
    assert run_cli(["inspect", str(config), "--no-mlflow"]) == 0
    out = capsys.readouterr().out
    assert "60 lines × 40 markers" in out and "monomorphic: 1" in out
    folder = tmp_path / "runs" / "inspection-planted"
    assert json.loads((folder / "inspection.json").read_text())["trait"] == "1"

    geno, pheno = str(paths["genotypes"]), str(paths["phenotypes"])
    cases = {
        "no phenotypes": ["inspect", geno],
        "missing genotype file": ["inspect", geno + ".nope", "--phenotypes", pheno],
        "unknown trait": ["inspect", geno, "--phenotypes", pheno, "--trait", "height"],
        "missing config": ["inspect", str(tmp_path / "none.yaml")],
        "both mlflow flags": ["inspect", str(config), "--mlflow", "--no-mlflow"],
    }
    for why, argv in cases.items():
        assert run_cli(argv) == 2, why
        err = capsys.readouterr().err
        assert err.startswith("hpsearch: error: ") and err.count("\n") == 1, (why, err)

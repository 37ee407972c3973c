"""The simulator: shapes, reproducibility, exact h2, LD, MAF filter, correlation, predictability."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from hpsearch.data.folds import read_fold_file
from hpsearch.data.phenotypes import read_phenotypes
from hpsearch.data.readers import read_genotypes
from hpsearch.data.simulate import MISSING_CODE, simulate, truth, write_simulated
from hpsearch.errors import ConfigError


def test_shapes_dtypes_and_speed():
    start = time.perf_counter()
    sim = simulate()
    elapsed = time.perf_counter() - start
    assert sim.genotypes.shape == (600, 1200) and sim.genotypes.dtype == np.int8
    assert set(np.unique(sim.genotypes).tolist()) == {0, 1}
    assert sim.phenotypes.shape == (600, 2) and sim.phenotypes.dtype == np.float64
    assert sim.genetic_values.shape == (600, 2)
    assert sorted(set(sim.folds.tolist())) == [1, 2, 3, 4, 5]
    assert np.bincount(sim.folds)[1:].tolist() == [120] * 5
    assert len(sim.line_ids) == 600 and len(set(sim.line_ids)) == 600
    assert len(sim.marker_ids) == 1200 and sim.chromosomes.shape == (1200,)
    assert len(sim.qtl["chromosome"]) == 50
    np.testing.assert_allclose(sim.phenotypes.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(sim.phenotypes.std(axis=0), 1.0)
    assert elapsed < 1.0


def test_markers_are_in_map_order():
    sim = simulate(n_lines=50, n_markers=300, seed=1)
    order = np.lexsort((sim.positions, sim.chromosomes))
    np.testing.assert_array_equal(order, np.arange(300))
    assert set(sim.chromosomes.tolist()) == {1, 2, 3, 4, 5}


def test_same_seed_same_data_other_seed_other_data():
    a, b = simulate(n_lines=80, n_markers=200, seed=7), simulate(n_lines=80, n_markers=200, seed=7)
    np.testing.assert_array_equal(a.genotypes, b.genotypes)
    np.testing.assert_array_equal(a.phenotypes, b.phenotypes)
    assert a.qtl == b.qtl
    c = simulate(n_lines=80, n_markers=200, seed=8)
    assert not np.array_equal(a.genotypes, c.genotypes)


@pytest.mark.parametrize("epistasis", [0.0, 0.3])
def test_realised_heritability_hits_the_target(epistasis):
    sim = simulate(
        n_lines=300, n_markers=400, n_traits=3, h2=[0.2, 0.5, 0.8], epistasis=epistasis, seed=3
    )
    realised = sim.genetic_values.var(axis=0) / sim.phenotypes.var(axis=0)
    np.testing.assert_allclose(realised, [0.2, 0.5, 0.8], atol=0.02)
    np.testing.assert_allclose(truth(sim)["h2_realised"], realised, atol=1e-6)


def test_markers_show_ld_within_and_not_across_chromosomes():
    sim = simulate(n_lines=400, n_markers=600, n_chromosomes=3, seed=5)
    r = np.abs(np.corrcoef(sim.genotypes.astype(np.float64), rowvar=False))
    chrom = sim.chromosomes
    adjacent = [r[j, j + 1] for j in range(599) if chrom[j] == chrom[j + 1]]
    across = r[np.ix_(chrom == 1, chrom == 2)]
    assert np.mean(adjacent) > 3 * np.mean(across)
    assert np.mean(across) < 0.1


def test_maf_filter_is_respected():
    for coding, maf_min in (("01", 0.1), ("012", 0.2)):
        sim = simulate(n_lines=200, n_markers=300, coding=coding, maf_min=maf_min, seed=2)
        freq = sim.genotypes.mean(axis=0) / (2 if coding == "012" else 1)
        assert np.minimum(freq, 1 - freq).min() >= maf_min - 1e-12
    dosage = simulate(n_lines=200, n_markers=300, coding="012", seed=2)
    assert set(np.unique(dosage.genotypes).tolist()) == {0, 1, 2}


def test_qtl_are_not_on_the_marker_panel():
    sim = simulate(n_lines=100, n_markers=300, n_qtl=40, seed=6)
    markers = set(zip(sim.chromosomes.tolist(), np.round(sim.positions, 4).tolist(), strict=True))
    qtl = set(zip(sim.qtl["chromosome"], sim.qtl["position_cM"], strict=True))
    assert not markers & qtl and len(qtl) == 40


def test_trait_correlation_sign_follows_the_option():
    for rho in (0.8, -0.8):
        sim = simulate(n_lines=300, n_markers=300, n_traits=2, trait_correlation=rho, seed=11)
        genetic = np.corrcoef(sim.genetic_values, rowvar=False)[0, 1]
        assert np.sign(genetic) == np.sign(rho), (rho, genetic)
        assert abs(genetic) > 0.3


def test_ridge_on_markers_predicts_held_out_lines():
    from sklearn.linear_model import Ridge

    sim = simulate(n_lines=600, n_markers=1200, n_traits=1, h2=0.6, seed=0)
    x = sim.genotypes.astype(np.float64)
    y = sim.phenotypes[:, 0]
    train, test = sim.folds != 1, sim.folds == 1
    model = Ridge(alpha=100.0).fit(x[train], y[train])
    r = np.corrcoef(model.predict(x[test]), y[test])[0, 1]
    assert r > 0.3, r


def test_missing_calls_and_written_files_round_trip(tmp_path):
    sim = simulate(n_lines=60, n_markers=80, coding="012", missing_rate=0.05, n_folds=3, seed=9)
    rate = float((sim.genotypes == MISSING_CODE).mean())
    assert 0.02 < rate < 0.09
    paths = write_simulated(sim, tmp_path / "out", prefix="toy")
    assert {p.name for p in paths.values()} == {
        "toy.X",
        "toy.Y",
        "toy.sets",
        "toy.map",
        "toy.truth.json",
    }
    geno = read_genotypes(paths["genotypes"])
    expected = np.where(sim.genotypes == MISSING_CODE, np.nan, sim.genotypes).astype(np.float32)
    np.testing.assert_array_equal(geno.values, expected)
    pheno = read_phenotypes(paths["phenotypes"])
    np.testing.assert_allclose(pheno.frame.to_numpy(), sim.phenotypes, atol=5e-7)
    assert read_fold_file(paths["folds"], n_rows=60).tolist() == sim.folds.tolist()
    lines = paths["map"].read_text().splitlines()
    assert lines[0] == "marker chrom pos" and len(lines) == 81
    facts = json.loads(paths["truth"].read_text())
    assert facts["h2_target"] == [0.5] * 2 and len(facts["qtl"]["position_cM"]) == 50
    assert np.asarray(facts["genetic_correlation"]).shape == (2, 2)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"h2": 0.0}, "h2"),
        ({"h2": [0.5, 0.5, 0.5]}, "h2"),
        ({"maf_min": 0.5}, "maf_min"),
        ({"coding": "-101"}, "coding"),
        ({"n_traits": 3, "trait_correlation": -0.9}, "trait_correlation"),
        ({"epistasis": 1.0}, "epistasis"),
        ({"n_folds": 1}, "n_folds"),
    ],
)
def test_bad_options_are_config_errors(options, field):
    with pytest.raises(ConfigError, match=f"simulate: {field}:"):
        simulate(n_lines=50, n_markers=50, **options)

"""PLINK .bed/.bim/.fam input, phenotype tables keyed by FID/IID, and the int8 memory path.

The int8 section covers what every int8 input (PLINK, VCF, cached text) relies on: the
preprocessor gives the same markers and values on int8 as on the float version, without
ever making a full-size float copy.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from bed_reader import to_bed

from hpsearch.cli import main
from hpsearch.data.loading import detect_format, load_dataset
from hpsearch.data.plink import is_plink, open_plink, plink_paths, read_plink
from hpsearch.data.preprocess import PreprocessOptions, Preprocessor, count_missing, marker_pvalues
from hpsearch.data.readers import INT8_MISSING, read_genotypes, read_genotypes_cached
from hpsearch.data.simulate import simulate
from hpsearch.errors import ConfigError, DataError

N_LINES, N_MARKERS = 30, 24


def _simulated(seed: int = 3, missing_rate: float = 0.05):
    sim = simulate(
        n_lines=N_LINES,
        n_markers=N_MARKERS,
        n_chromosomes=3,
        coding="012",
        missing_rate=missing_rate,
        seed=seed,
    )
    x = sim.genotypes.copy()
    x[x < 0] = INT8_MISSING
    return sim, x


def write_bed(folder: Path, *, order: np.ndarray | None = None, seed: int = 3) -> dict:
    """A fileset from the simulator (markers written in ``order``), with FIDs by pairs."""
    sim, x = _simulated(seed)
    order = np.arange(N_MARKERS) if order is None else order
    fids = [f"F{i // 2}" for i in range(N_LINES)]
    bed = folder / "geno.bed"
    to_bed(
        bed,
        x[:, order],
        properties={
            "fid": fids,
            "iid": sim.line_ids,
            "sid": [sim.marker_ids[j] for j in order],
            "chromosome": [str(c) for c in sim.chromosomes[order]],
            "bp_position": np.round(sim.positions[order] * 1e4).astype(np.int64),
            "allele_1": ["A"] * N_MARKERS,
            "allele_2": ["G"] * N_MARKERS,
        },
    )
    return {"bed": bed, "sim": sim, "x": x, "order": order, "fids": fids}


# --------------------------------------------------------------------------- reading


def test_bed_round_trip_dosages_ids_and_map(tmp_path):
    made = write_bed(tmp_path)
    geno = read_plink(made["bed"])
    assert geno.values.dtype == np.int8 and geno.values.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(geno.values, made["x"])
    assert geno.missing_code == INT8_MISSING and (geno.values == INT8_MISSING).any()
    assert geno.line_ids == made["sim"].line_ids
    assert geno.marker_ids == made["sim"].marker_ids
    assert geno.chromosomes.tolist() == [str(c) for c in made["sim"].chromosomes]
    expected_bp = np.round(made["sim"].positions * 1e4).astype(np.int64)
    np.testing.assert_array_equal(geno.positions, expected_bp)
    assert geno.info["counted_allele"].startswith("A1")


def test_prefix_and_any_member_name_open_the_same_fileset(tmp_path):
    made = write_bed(tmp_path)
    prefix = tmp_path / "geno"
    for given in (prefix, tmp_path / "geno.bim", tmp_path / "geno.fam"):
        np.testing.assert_array_equal(read_plink(given).values, made["x"])
        assert is_plink(given) and detect_format(given) == "plink"
    assert plink_paths(prefix)[0] == made["bed"]


def test_counting_allele_2_flips_the_dosage_and_keeps_missing(tmp_path):
    made = write_bed(tmp_path)
    a2 = read_plink(made["bed"], counted_allele="A2").values
    x = made["x"]
    observed = x != INT8_MISSING
    np.testing.assert_array_equal(a2[observed], 2 - x[observed])
    assert (a2[~observed] == INT8_MISSING).all()
    with pytest.raises(ConfigError, match="A1 or A2"):
        open_plink(made["bed"], counted_allele="minor")


def test_rows_and_columns_are_read_in_the_order_asked(tmp_path):
    made = write_bed(tmp_path)
    rows, cols = np.array([5, 0, 17]), np.array([3, 20, 1])
    geno = read_plink(made["bed"], rows=rows, columns=cols)
    np.testing.assert_array_equal(geno.values, made["x"][np.ix_(rows, cols)])
    assert geno.line_ids == [made["sim"].line_ids[i] for i in rows]
    assert geno.marker_ids == [made["sim"].marker_ids[j] for j in cols]


def test_missing_member_and_duplicate_iid_are_data_errors(tmp_path):
    made = write_bed(tmp_path)
    (tmp_path / "geno.bim").rename(tmp_path / "other.bim")
    with pytest.raises(DataError, match=r"no geno\.bim"):
        read_plink(made["bed"])
    (tmp_path / "other.bim").rename(tmp_path / "geno.bim")
    fam = tmp_path / "geno.fam"
    lines = fam.read_text().splitlines()
    lines[4] = lines[4].replace(made["sim"].line_ids[4], made["sim"].line_ids[1])
    fam.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        read_plink(made["bed"])
    assert str(info.value).startswith(str(fam)) and "row 5" in str(info.value)


# --------------------------------------------------------------------------- loading


def _pheno_rows(made: dict, skip: int) -> list[tuple[str, str, float]]:
    sim = made["sim"]
    return [
        (made["fids"][i], sim.line_ids[i], float(sim.phenotypes[i, 0]))
        for i in range(N_LINES)
        if i != skip
    ]


def test_plink_with_fid_iid_phenotype_table_matches_by_iid_and_reports_both_sides(tmp_path):
    made = write_bed(tmp_path)
    rows = _pheno_rows(made, skip=7)
    text = "FID\tIID\tyield\n" + "".join(f"{f}\t{i}\t{y:.6f}\n" for f, i, y in rows)
    text += "F99\tNOT_GENOTYPED\t1.0\n"
    pheno = tmp_path / "pheno.tsv"
    pheno.write_text(text)
    data, report = load_dataset(genotypes=made["bed"], phenotypes=pheno, trait="yield")
    kept = [i for i in range(N_LINES) if i != 7]
    assert data.line_ids == [made["sim"].line_ids[i] for i in kept]
    assert data.genotypes.dtype == np.int8 and data.missing_code == INT8_MISSING
    np.testing.assert_array_equal(data.genotypes, made["x"][kept])
    np.testing.assert_allclose(data.target, made["sim"].phenotypes[kept, 0], atol=1e-6)
    assert report["phenotype_id_column"] == "IID" and report["traits_in_file"] == ["yield"]
    assert report["genotype_ids_without_phenotype_row"] == [made["sim"].line_ids[7]]
    assert report["phenotype_ids_without_genotypes"] == ["NOT_GENOTYPED"]
    assert report["genotype_format"] == "plink" and report["genotype_bytes"] == data.genotypes.size
    assert report["counted_allele"].startswith("A1")
    assert report["missing_genotype_fraction"] == pytest.approx(
        float((data.genotypes == INT8_MISSING).mean())
    )
    assert data.file_rows.tolist() == kept


def test_headerless_plink_pheno_file_uses_the_second_field(tmp_path):
    made = write_bed(tmp_path)
    rows = _pheno_rows(made, skip=2)
    pheno = tmp_path / "pheno.txt"
    pheno.write_text("".join(f"{f} {i} {y:.6f} {-y:.6f}\n" for f, i, y in rows))
    data, report = load_dataset(genotypes=tmp_path / "geno", phenotypes=pheno, trait=1)
    kept = [i for i in range(N_LINES) if i != 2]
    np.testing.assert_allclose(data.target, -made["sim"].phenotypes[kept, 0], atol=1e-6)
    assert report["traits_in_file"] == ["0", "1"] and "FID IID" in report["phenotype_id_column"]


def test_numeric_iids_are_matched_as_text(tmp_path):
    x = np.array([[0, 1], [2, 1], [1, 0], [0, 0]], dtype=np.int8)
    to_bed(tmp_path / "g.bed", x, properties={"iid": ["001", "002", "003", "004"]})
    pheno = tmp_path / "p.csv"
    pheno.write_text("IID,y\n003,3.5\n001,1.5\n004,4.5\n")
    data, _ = load_dataset(genotypes=tmp_path / "g.bed", phenotypes=pheno, trait="y")
    assert data.line_ids == ["001", "003", "004"]
    np.testing.assert_array_equal(data.target, [1.5, 3.5, 4.5])
    np.testing.assert_array_equal(data.genotypes, x[[0, 2, 3]])


def test_text_options_are_rejected_for_plink(tmp_path):
    made = write_bed(tmp_path)
    pheno = tmp_path / "p.tsv"
    pheno.write_text("IID\ty\n" + "".join(f"{i}\t1.{k}\n" for k, i in enumerate("ab")))
    with pytest.raises(ConfigError, match=r"exp.yaml: data.genotype_options.coding"):
        load_dataset(
            genotypes=made["bed"],
            phenotypes=pheno,
            trait="y",
            genotype_options={"coding": "012"},
            source="exp.yaml",
        )


def test_bim_map_orders_the_columns_once(tmp_path):
    scrambled = np.random.default_rng(5).permutation(N_MARKERS)
    made = write_bed(tmp_path, order=scrambled)
    pheno = tmp_path / "p.tsv"
    rows = _pheno_rows(made, skip=-1)
    pheno.write_text("IID\ty\n" + "".join(f"{i}\t{y}\n" for _, i, y in rows))
    data, report = load_dataset(
        genotypes=made["bed"], phenotypes=pheno, trait="y", marker_order_kind="map"
    )
    # The simulator's markers are numbered in map order: sorting by the .bim recovers them.
    assert data.marker_ids == made["sim"].marker_ids
    np.testing.assert_array_equal(data.genotypes, made["x"])
    assert report["marker_map"] == "plink" and report["marker_order"] == "map"
    as_file, _ = load_dataset(genotypes=made["bed"], phenotypes=pheno, trait="y")
    np.testing.assert_array_equal(as_file.genotypes, made["x"][:, scrambled])


def test_hpsearch_validate_accepts_a_bed_with_an_iid_keyed_tsv(tmp_path, capsys):
    made = write_bed(tmp_path)
    rows = _pheno_rows(made, skip=0)
    (tmp_path / "pheno.tsv").write_text(
        "FID\tIID\tgy\n" + "".join(f"{f}\t{i}\t{y:.6f}\n" for f, i, y in rows)
    )
    (tmp_path / "space.yaml").write_text(
        "parameters:\n  units: {type: int, low: 2, high: 8}\n  epochs: 2\n"
    )
    config = tmp_path / "exp.yaml"
    config.write_text(
        "data: {genotypes: geno.bed, phenotypes: pheno.tsv, trait: gy}\n"
        "evaluation:\n  outer: {kfold: 3, folds: [1]}\n  inner: {kfold: 2}\n"
        "space: space.yaml\n"
        "stages: [{strategy: random, trials: 2}]\n"
    )
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"{N_LINES - 1} lines × {N_MARKERS} markers; trait 'gy'" in out


# --------------------------------------------------------------------------- int8 path


def _as_float(x8: np.ndarray) -> np.ndarray:
    xf = x8.astype(np.float32)
    xf[x8 < 0] = np.nan
    return xf


def _int8_xy(n: int, m: int, seed: int = 0, missing: float = 0.03):
    rng = np.random.default_rng(seed)
    x8 = rng.integers(0, 3, (n, m)).astype(np.int8)
    x8[:, 5] = 1  # a monomorphic marker
    x8[rng.random((n, m)) < missing] = INT8_MISSING
    signal = np.where(x8[:, :4] < 0, 1, x8[:, :4]).astype(np.float64) @ [1.0, -0.7, 0.5, 0.3]
    return x8, signal + rng.normal(size=n)


@pytest.mark.parametrize(
    "options",
    [
        {"preselect_top_k": 15},
        {"preselect_pvalue": 0.2, "scale_markers": True},
        {"scale_markers": True},
    ],
)
def test_preprocessor_on_int8_equals_the_float_version(options):
    x8, y = _int8_xy(90, 60)
    order = np.random.default_rng(1).permutation(90)
    train, test = np.sort(order[:60]), np.sort(order[60:])
    opts = PreprocessOptions(**options)
    on_float = Preprocessor(opts, "regression").fit(_as_float(x8)[train], y[train])
    on_int8 = Preprocessor(opts, "regression").fit(x8[train], y[train])
    np.testing.assert_array_equal(on_int8.selected_, on_float.selected_)
    for part in (train, test):
        a = on_int8.transform(x8[part])
        b = on_float.transform(_as_float(x8)[part])
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # rows= reads the same rows from the whole matrix, without a row copy.
    by_rows = Preprocessor(opts, "regression").fit(x8, y[train], rows=train)
    np.testing.assert_array_equal(by_rows.selected_, on_float.selected_)
    np.testing.assert_allclose(
        by_rows.transform(x8, rows=test), on_float.transform(_as_float(x8)[test]), atol=1e-6
    )


def test_marker_pvalues_accept_int8_in_chunks(monkeypatch):
    from hpsearch.data import preprocess

    x8, y = _int8_xy(70, 40)
    expected = marker_pvalues(_as_float(x8), y, "regression")
    monkeypatch.setattr(preprocess, "_CODED_CELLS_PER_CHUNK", 70 * 3)
    np.testing.assert_allclose(marker_pvalues(x8, y, "regression"), expected, rtol=1e-12)
    classes = (y > np.median(y)).astype(int) + (y > np.quantile(y, 0.8)).astype(int)
    np.testing.assert_allclose(
        marker_pvalues(x8, classes, "multiclass"),
        marker_pvalues(_as_float(x8), classes, "multiclass"),
        rtol=1e-12,
    )
    assert count_missing(x8) == int((x8 < 0).sum())


def test_int8_preprocessing_never_makes_a_full_size_float_copy():
    """2000 × 20000 int8 (40 MB): fit + transform peak must stay under 2 × that + a little.

    A float64 copy of the matrix alone would be 320 MB, a float32 one 160 MB.
    """
    x8, y = _int8_xy(2000, 20000, seed=1, missing=0.01)
    rows = np.arange(0, 2000, 2)
    options = PreprocessOptions(preselect_top_k=2000)
    tracemalloc.start()
    try:
        pre = Preprocessor(options, "regression").fit(x8, y[rows], rows=rows)
        x_train = pre.transform(x8, rows=rows)
        x_valid = pre.transform(x8[1::2])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x_train.shape == (1000, 2000) and x_valid.shape == (1000, 2000)
    assert peak < 2 * x8.nbytes + 8_000_000, f"peak {peak / 1e6:.1f} MB"


def test_text_matrix_as_int8_and_as_a_cached_memory_map(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("L1 0 1 NA\nL2 1 2 0\nL3 2 0 1\n")
    floats = read_genotypes(path)
    as_int8 = read_genotypes(path, dtype="int8")
    assert as_int8.values.dtype == np.int8 and as_int8.line_ids == ["L1", "L2", "L3"]
    np.testing.assert_array_equal(_as_float(as_int8.values), floats.values)
    cache = tmp_path / "cache"
    first = read_genotypes_cached(path, cache_dir=cache)
    second = read_genotypes_cached(path, cache_dir=cache)
    assert first.info["cache_hit"] is False and second.info["cache_hit"] is True
    assert isinstance(second.values, np.memmap) and not second.values.flags.writeable
    np.testing.assert_array_equal(second.values, as_int8.values)
    assert second.line_ids == ["L1", "L2", "L3"]
    path.write_text("L1 2 1 NA\nL2 1 2 0\nL3 2 0 1\n")  # an edit makes a new cache
    assert read_genotypes_cached(path, cache_dir=cache).values[0, 0] == 2
    with pytest.raises(ConfigError, match="coding: continuous"):
        read_genotypes(path, dtype="int8", coding="continuous")


def test_int8_text_errors_name_the_row_in_any_chunk(tmp_path, monkeypatch):
    from hpsearch.data import readers

    monkeypatch.setattr(readers, "_CELLS_PER_CHUNK", 6)  # two rows per chunk
    path = tmp_path / "g.txt"
    path.write_text("0 1 2\n1 1 1\n2 2 0\n0 7 1\n")
    with pytest.raises(DataError, match=r"row 4, column 2: must be one of 0, 1, 2"):
        read_genotypes(path, dtype="int8")
    path.write_text("0 1 2\n1 1 1\n2 2 0\nL4 0 1\n")
    with pytest.raises(DataError, match="row 4"):
        read_genotypes(path, dtype="int8", id_column=False)


def test_cached_text_loads_as_a_memory_map_when_every_line_is_kept(tmp_path):
    sim, x = _simulated(seed=4, missing_rate=0.02)
    rows = ["\t".join(["id", *sim.marker_ids])]
    for line, values in zip(sim.line_ids, x, strict=True):
        rows.append("\t".join([line, *("NA" if v < 0 else str(v) for v in values)]))
    geno = tmp_path / "g.tsv"
    geno.write_text("\n".join(rows) + "\n")
    pheno = tmp_path / "p.tsv"
    values = sim.phenotypes[:, 0]
    pheno.write_text(
        "id\ty\n" + "".join(f"{i}\t{v}\n" for i, v in zip(sim.line_ids, values, strict=True))
    )
    data, report = load_dataset(
        genotypes=geno,
        phenotypes=pheno,
        trait="y",
        genotype_options={"cache": True},
        cache_dir=tmp_path / "cache",
    )
    assert report["memory_mapped"] is True and isinstance(data.genotypes, np.memmap)
    np.testing.assert_array_equal(data.genotypes, x)
    assert data.missing_code == INT8_MISSING and data.summary()["missing_genotypes"] == int(
        (x < 0).sum()
    )


@pytest.mark.integration
def test_a_trial_on_loaded_int8_genotypes_scores_like_on_floats(tmp_path):
    """fit_and_score takes the int8 matrix as loaded (no float conversion by the caller)."""
    from dataclasses import replace

    from hpsearch.data.dataset import FoldPlan, Split
    from hpsearch.models import get_builder
    from hpsearch.training import fit_and_score
    from hpsearch.trial import Objective

    made = write_bed(tmp_path)
    pheno = tmp_path / "p.tsv"
    rows = _pheno_rows(made, skip=-1)
    pheno.write_text("IID\ty\n" + "".join(f"{i}\t{y}\n" for _, i, y in rows))
    data, _ = load_dataset(genotypes=made["bed"], phenotypes=pheno, trait="y")
    assert data.genotypes.dtype == np.int8
    order = np.random.default_rng(0).permutation(N_LINES)
    plan = FoldPlan(
        outer=Split(np.sort(order[6:]), np.sort(order[:6]), "outer"),
        inner=(Split(np.sort(order[12:]), np.sort(order[6:12]), "inner0"),),
    )
    params = {"units": 8, "n_layers": 1, "epochs": 4, "preselect_top_k": 10, "batch_size": 8}
    objective = Objective("mse", "minimize")
    on_int8 = fit_and_score(get_builder("mlp"), params, data, plan, objective, seed=3)
    floats = replace(data, genotypes=_as_float(data.genotypes), missing_code=None)
    on_float = fit_and_score(get_builder("mlp"), params, floats, plan, objective, seed=3)
    assert on_int8.error is None and on_float.error is None
    assert on_int8.score == pytest.approx(on_float.score, rel=1e-5)

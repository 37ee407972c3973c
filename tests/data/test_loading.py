"""load_dataset: alignment by ID or row order, dropped lines, task detection, errors."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.data.loading import load_dataset
from hpsearch.errors import ConfigError, DataError


def test_match_by_id_keeps_genotype_order_and_reports_both_sides(write):
    geno = write("g.txt", "L1 0 1\nL2 1 1\nL3 2 0\nL4 0 0\n")
    pheno = write("y.csv", "id,y\nL4,4.0\nL9,9.0\nL2,NA\nL1,1.5\nL3,3.0\n")
    data, report = load_dataset(genotypes=geno, phenotypes=pheno, trait="y")
    assert data.line_ids == ["L1", "L3", "L4"]
    assert data.file_rows.tolist() == [0, 2, 3]
    np.testing.assert_array_equal(data.target, [1.5, 3.0, 4.0])
    np.testing.assert_array_equal(data.genotypes, [[0, 1], [2, 0], [0, 0]])
    assert report["matched_by"] == "id" and report["matched"] == 4
    assert report["phenotype_lines_without_genotypes"] == 1
    assert report["dropped_missing_trait"] == 1 and report["lines"] == 3
    assert data.source["genotypes"] == str(geno) and data.source["phenotypes"] == str(pheno)
    assert data.marker_ids == ["m0", "m1"] and data.task == "regression" and data.trait == "y"


def test_row_order_alignment_drops_missing_and_names_rows(write):
    geno = write("g.txt", "0 1\n1 1\n2 0\n1 0\n")
    pheno = write("y.txt", "0.5\nNA\n1.5\n2.25\n")
    data, report = load_dataset(genotypes=geno, phenotypes=pheno, trait=0)
    assert data.line_ids == ["row0", "row2", "row3"] and data.file_rows.tolist() == [0, 2, 3]
    assert report["matched_by"] == "row order" and report["dropped_missing_trait"] == 1
    assert data.genotypes.dtype == np.float32 and data.target.dtype == np.float64


def test_genotype_ids_with_positional_phenotypes(write):
    geno = write("g.txt", "a 0 1\nb 1 1\n")
    data, _ = load_dataset(genotypes=geno, phenotypes=write("y.txt", "1\n2\n"), trait=0)
    assert data.line_ids == ["a", "b"]


def test_binary_labels_are_detected_and_encoded(write):
    geno = write("g.txt", "0 1\n1 1\n2 0\n1 0\n")
    pheno = write("y.txt", "S\nR\nS\nR\n")
    data, report = load_dataset(genotypes=geno, phenotypes=pheno, trait=0)
    assert data.task == "binary" and data.classes == ["R", "S"]
    assert data.target.tolist() == [1, 0, 1, 0] and report["class_counts"] == {"R": 2, "S": 2}
    assert data.n_outputs == 1


def test_row_count_mismatch(write):
    geno = write("g.txt", "0 1\n1 1\n2 0\n")
    pheno = write("y.txt", "1\n2\n")
    with pytest.raises(DataError) as info:
        load_dataset(genotypes=geno, phenotypes=pheno, trait=0)
    text = str(info.value)
    assert text.startswith(str(pheno)) and f"as many rows as {geno} (3), got 2" in text


def test_no_common_ids_names_both_files(write):
    geno = write("g.txt", "L1 0 1\nL2 1 1\n")
    pheno = write("y.txt", "X1 1\nX2 2\n")
    with pytest.raises(DataError) as info:
        load_dataset(genotypes=geno, phenotypes=pheno, trait=0)
    text = str(info.value)
    assert str(geno) in text and str(pheno) in text and "line IDs" in text


def test_unknown_reader_option_and_task(write):
    geno, pheno = write("g.txt", "0 1\n"), write("y.txt", "1\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: data.genotype_options.delim"):
        load_dataset(
            genotypes=geno,
            phenotypes=pheno,
            trait=0,
            genotype_options={"delim": ","},
            source="exp.yaml",
        )
    with pytest.raises(ConfigError, match=r"data\.task"):
        load_dataset(genotypes=geno, phenotypes=pheno, trait=0, task="ranking")


def test_reader_options_are_passed_through(write):
    geno = write("g.txt", "-1 1\n0 1\n")
    pheno = write("y.txt", "1\n2\n")
    data, _ = load_dataset(
        genotypes=geno, phenotypes=pheno, trait=0, genotype_options={"coding": "-101"}
    )
    np.testing.assert_array_equal(data.genotypes, [[0, 2], [1, 2]])


def test_constant_trait_after_alignment(write):
    geno = write("g.txt", "0 1\n1 1\n")
    pheno = write("y.txt", "1.2\n1.2\n")
    with pytest.raises(DataError, match="must vary"):
        load_dataset(genotypes=geno, phenotypes=pheno, trait=0)


@pytest.mark.wheat
def test_wheat_loads_aligned(wheat_dir):
    data, report = load_dataset(
        genotypes=wheat_dir / "wheat.X", phenotypes=wheat_dir / "wheat.Y", trait=2
    )
    assert (data.n_lines, data.n_markers) == (599, 1279)
    column = np.loadtxt(wheat_dir / "wheat.Y")[:, 2]
    np.testing.assert_allclose(data.target, column, rtol=0, atol=1e-12)
    assert data.task == "regression" and report["task_detected"] is True
    assert data.file_rows.tolist() == list(range(599))

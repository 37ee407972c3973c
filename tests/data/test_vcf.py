"""VCF GT calls → int8 ALT dosages: the cyvcf2 codes, missing calls, multi-allelic sites."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.data.loading import detect_format, load_dataset
from hpsearch.data.readers import INT8_MISSING
from hpsearch.data.vcf import is_vcf, read_vcf, vcf_samples
from hpsearch.errors import DataError

pytest.importorskip("cyvcf2")

M = INT8_MISSING
HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1>\n##contig=<ID=2>\n##contig=<ID=10>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD\n"
)
# One record per line; the expected ALT dosages of samples A-D follow each record.
RECORDS = [
    ("10\t500\trs1\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1\t1/1\t./.", [0, 1, 2, M]),
    ("1\t200\trs2\tC\tT,G\t.\tPASS\t.\tGT\t0/1\t1/2\t0/0\t2/2", None),  # multi-allelic
    ("2\t300\t.\tG\tA\t.\tPASS\t.\tGT\t0|1\t1|0\t./1\t.", [1, 1, M, M]),  # phased, half-missing
    ("1\t50\trs4\tT\tC\t.\tPASS\t.\tGT\t1\t0\t.\t1/1", [2, 0, M, 2]),  # haploid calls
    ("2\t100\trs5\tA\tT\t.\tPASS\t.\tGT\t1/0\t0/0\t0/0\t1|1", [1, 0, 0, 2]),
]


@pytest.fixture
def vcf(tmp_path):
    path = tmp_path / "calls.vcf"
    path.write_text(HEADER + "".join(record + "\n" for record, _ in RECORDS))
    return path


def expected() -> np.ndarray:
    return np.array([d for _, d in RECORDS if d is not None], dtype=np.int8).T


def test_gt_calls_become_alt_dosages_and_multiallelic_sites_are_counted(vcf):
    geno = read_vcf(vcf)
    assert geno.values.dtype == np.int8 and geno.values.shape == (4, 4)
    np.testing.assert_array_equal(geno.values, expected())
    assert geno.line_ids == ["A", "B", "C", "D"]
    assert geno.marker_ids == ["rs1", "2:300", "rs4", "rs5"]
    assert geno.chromosomes.tolist() == ["10", "2", "1", "2"]
    assert geno.positions.tolist() == [500, 300, 50, 100]
    assert geno.info["multiallelic_skipped"] == 1 and geno.info["vcf_sites"] == 5
    assert geno.info["counted_allele"].startswith("ALT")
    assert geno.missing_code == INT8_MISSING


def test_rows_keep_only_the_samples_asked_for_in_that_order(vcf):
    geno = read_vcf(vcf, rows=np.array([3, 1]))
    np.testing.assert_array_equal(geno.values, expected()[[3, 1]])
    assert geno.line_ids == ["D", "B"] and vcf_samples(vcf) == ["A", "B", "C", "D"]


def test_many_sites_fill_several_blocks(tmp_path, monkeypatch):
    from hpsearch.data import vcf as vcf_module

    monkeypatch.setattr(vcf_module, "_BLOCK_MARKERS", 2)
    rng = np.random.default_rng(0)
    dosages = rng.integers(0, 3, (3, 7))
    calls = {0: "0/0", 1: "0/1", 2: "1/1"}
    lines = [
        f"1\t{10 * (j + 1)}\tm{j}\tA\tC\t.\tPASS\t.\tGT\t"
        + "\t".join(calls[int(d)] for d in dosages[:, j])
        for j in range(7)
    ]
    path = tmp_path / "many.vcf"
    path.write_text(
        HEADER.replace("\tD\n", "\n").replace("##contig=<ID=2>\n", "") + "\n".join(lines) + "\n"
    )
    geno = read_vcf(path)
    np.testing.assert_array_equal(geno.values, dosages)


def test_format_detection_and_unreadable_files(tmp_path, vcf):
    assert is_vcf("x.vcf.gz") and is_vcf("x.BCF") and not is_vcf("x.txt")
    assert detect_format(vcf) == "vcf"
    with pytest.raises(DataError, match="must exist"):
        read_vcf(tmp_path / "nope.vcf")
    bad = tmp_path / "bad.vcf"
    bad.write_text("this is not a vcf\n")
    with pytest.raises(DataError) as info:
        read_vcf(bad)
    assert str(info.value).startswith(str(bad))


def test_loading_a_vcf_matches_samples_and_sorts_by_chrom_pos(tmp_path, vcf):
    pheno = tmp_path / "p.csv"
    pheno.write_text("IID,y\nD,4.5\nB,2.25\nZ,9.0\nA,1.5\n")
    data, report = load_dataset(genotypes=vcf, phenotypes=pheno, trait="y", marker_order_kind="map")
    assert data.line_ids == ["A", "B", "D"] and data.target.tolist() == [1.5, 2.25, 4.5]
    # Sorted by chromosome (1 < 2 < 10 numerically), then position.
    assert data.marker_ids == ["rs4", "rs5", "2:300", "rs1"]
    order = [2, 3, 1, 0]
    np.testing.assert_array_equal(data.genotypes, expected()[np.ix_([0, 1, 3], order)])
    assert report["multiallelic_skipped"] == 1 and report["genotype_format"] == "vcf"
    assert report["phenotype_ids_without_genotypes"] == ["Z"]
    assert report["genotype_ids_without_phenotype_row"] == ["C"]

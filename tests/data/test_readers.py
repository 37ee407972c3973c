"""Genotype reader: layout detection, codings, and one clear error per malformed input."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hpsearch.data import readers
from hpsearch.data.readers import read_genotypes, sniff_table
from hpsearch.errors import ConfigError, DataError


def _error(path, **options) -> str:
    with pytest.raises(DataError) as info:
        read_genotypes(path, **options)
    text = str(info.value)
    assert text.startswith(str(path)), text  # every message names the file first
    return text


def test_whitespace_matrix_with_tabs_blank_lines_and_trailing_spaces(write):
    path = write("g.txt", "0 1  2\n\n1\t0 1 \n  2 2 0\n")
    geno = read_genotypes(path)
    np.testing.assert_array_equal(geno.values, [[0, 1, 2], [1, 0, 1], [2, 2, 0]])
    assert geno.values.dtype == np.float32
    assert geno.line_ids is None and geno.marker_ids is None
    assert geno.source == str(path)


def test_csv_with_header_and_id_column(write):
    path = write("g.csv", "line,snpA,snpB\nL1,0,1\nL2,NA,2\nL3,1,0\n")
    geno = read_genotypes(path)
    assert geno.line_ids == ["L1", "L2", "L3"]
    assert geno.marker_ids == ["snpA", "snpB"]
    assert np.isnan(geno.values[1, 0]) and geno.values[1, 1] == 2


def test_header_without_id_column(write):
    geno = read_genotypes(write("g.txt", "a b c\n0 1 2\n1 1 1\n"))
    assert geno.marker_ids == ["a", "b", "c"] and geno.line_ids is None
    assert geno.values.shape == (2, 3)


def test_id_column_without_header(write):
    geno = read_genotypes(write("g.txt", "L1 0 1\nL2 1 1\n"))
    assert geno.line_ids == ["L1", "L2"] and geno.marker_ids is None
    np.testing.assert_array_equal(geno.values, [[0, 1], [1, 1]])


def test_r_style_header_one_name_short_implies_ids(write):
    geno = read_genotypes(write("g.txt", "m1 m2\nL1 0 1\nL2 2 1\n"))
    assert geno.line_ids == ["L1", "L2"] and geno.marker_ids == ["m1", "m2"]


def test_id_column_found_in_a_row_after_the_peeked_ones(write):
    rows = [f"{i} 0 1" for i in range(1, 30)] + ["X30 1 1"]
    geno = read_genotypes(write("g.txt", "\n".join(rows) + "\n"))
    assert geno.line_ids is not None and geno.line_ids[-1] == "X30"
    assert geno.values.shape == (30, 2)


def test_numeric_first_column_is_a_marker(write):
    geno = read_genotypes(write("g.txt", "1 0 1\n0 1 1\n"))
    assert geno.line_ids is None and geno.values.shape == (2, 3)


def test_explicit_options_override_detection(write):
    path = write("g.txt", "1 0 1\n2 1 1\n")
    geno = read_genotypes(path, id_column=True, header=False)
    assert geno.line_ids == ["1", "2"] and geno.values.shape == (2, 2)
    semicolon = read_genotypes(write("g2.txt", "0;1\n1;.\n"), sep=";")
    assert np.isnan(semicolon.values[1, 1])


def test_missing_codes_default_and_custom(write):
    geno = read_genotypes(write("g.txt", "NA 1 -9\n. nan 0\n"))
    assert np.isnan(geno.values).sum() == 4
    custom = read_genotypes(write("g2.txt", "? 1\n0 1\n"), missing=["?"])
    assert np.isnan(custom.values[0, 0])


def test_all_missing_row_is_allowed(write):
    geno = read_genotypes(write("g.txt", "0 1\nNA NA\n"))
    assert np.isnan(geno.values[1]).all()


def test_codings(write):
    minus = read_genotypes(write("a.txt", "-1 0 1\n1 NA -1\n"), coding="-101")
    np.testing.assert_array_equal(minus.values[0], [0, 1, 2])
    assert np.isnan(minus.values[1, 1]) and minus.values[1, 2] == 0
    cont = read_genotypes(write("b.txt", "0.37 1.9\n2 0\n"), coding="continuous")
    assert cont.values[0, 0] == pytest.approx(0.37)


@pytest.mark.parametrize("bad", ["3", "-1", "0.5"])
def test_out_of_range_code_names_row_column_and_coding(write, bad):
    path = write("g.txt", f"0 1 2\n1 {bad} 0\n")
    text = _error(path)
    assert "row 2, column 2" in text and "coding" in text and "continuous" in text


def test_continuous_rejects_infinity(write):
    text = _error(write("g.txt", "0 1\n1 inf\n"), coding="continuous")
    assert "row 2, column 2" in text and "finite" in text


def test_unknown_coding_is_a_config_error(write):
    with pytest.raises(ConfigError, match="coding"):
        read_genotypes(write("g.txt", "0 1\n"), coding="dosage")


def test_missing_file(tmp_path):
    text = _error(tmp_path / "nope.X")
    assert "file" in text and "exist" in text


@pytest.mark.parametrize("content", ["", "\n\n   \n"])
def test_empty_file(write, content):
    assert "empty" in _error(write("g.txt", content))


def test_ragged_row_names_the_row_and_both_counts(write):
    text = _error(write("g.txt", "0 1 1 0\n1 1 0 0\n1 1 0\n0 0 0 0\n"))
    assert "row 3: must have 4 values like row 1, got 3" in text


def test_ragged_row_with_a_longer_line_in_csv(write):
    text = _error(write("g.csv", "0,1\n1,1\n1,0,1\n"))
    assert "row 3" in text and "got 3" in text


def test_non_numeric_value_names_row_column_and_token(write):
    text = _error(write("g.txt", "0 1 1\n1 1 0\n\n1 0 x\n"))
    assert "row 4, column 3" in text and "'x'" in text and "missing code" in text


def test_non_numeric_value_found_in_a_late_chunk(write, monkeypatch):
    monkeypatch.setattr(readers, "_CELLS_PER_CHUNK", 6)
    rows = ["0 1 1"] * 40 + ["1 0 ?"] + ["0 0 0"] * 5
    text = _error(write("g.txt", "\n".join(rows) + "\n"))
    assert "row 41, column 3" in text and "'?'" in text


def test_non_numeric_after_an_id_column(write):
    text = _error(write("g.txt", "L1 0 1\nL2 1 y\n"))
    assert "row 2, column 3" in text


def test_duplicate_line_id(write):
    text = _error(write("g.txt", "L1 0 1\nL2 1 1\nL1 0 0\n"))
    assert "row 3, column 1" in text and "'L1'" in text and "unique" in text


def test_zero_lines_and_zero_markers(write):
    assert "data row" in _error(write("g.txt", "a b c\n"), header=True)
    assert "marker" in _error(write("g2.txt", "L1\nL2\n"), id_column=True)


def test_header_length_mismatch(write):
    text = _error(write("g.txt", "a b c d\n0 1\n1 1\n"), header=True)
    assert "header" in text and "got 4" in text


def test_sniff_reports_layout(write):
    layout = sniff_table(write("g.csv", "id,a,b\nx,1,2\ny,3,4\n"))
    assert layout.sep == "," and layout.header == ["id", "a", "b"]
    assert layout.id_column is True and layout.n_fields == 3
    assert layout.row_lines.tolist() == [2, 3]


@pytest.mark.wheat
def test_wheat_x_loads_quickly_with_the_right_shape(wheat_dir):
    times = []
    for _ in range(2):
        start = time.perf_counter()
        geno = read_genotypes(wheat_dir / "wheat.X")
        times.append(time.perf_counter() - start)
    assert geno.values.shape == (599, 1279) and geno.values.dtype == np.float32
    assert set(np.unique(geno.values).tolist()) == {0.0, 1.0}
    assert geno.line_ids is None and geno.marker_ids is None
    assert min(times) < 1.0


def test_unnamed_first_header_column_is_an_index(write):
    geno = read_genotypes(write("g.csv", ",m1,m2\n0,1,0\n1,0,2\n"))
    assert geno.line_ids == ["0", "1"] and geno.marker_ids == ["m1", "m2"]

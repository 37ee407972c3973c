"""Phenotype tables, trait selection, task detection and target encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpsearch.data.phenotypes import detect_task, encode_target, read_phenotypes, select_trait
from hpsearch.errors import ConfigError, DataError


def test_no_header_no_ids_names_columns_by_position(write):
    table = read_phenotypes(write("y.txt", "1.5 -0.2\n0.3 NA\n-1.1 0.7\n"))
    assert table.traits == ["0", "1"] and not table.has_ids and not table.has_header
    assert isinstance(table.frame.index, pd.RangeIndex)
    assert np.isnan(table.frame["1"].iloc[1]) and table.frame["0"].dtype == np.float64


def test_csv_with_header_ids_and_a_label_column(write):
    table = read_phenotypes(write("y.csv", "line,yield,rust\nA,1.0,R\nB,NA,S\nC,2.5,NA\n"))
    assert table.has_ids and table.frame.index.tolist() == ["A", "B", "C"]
    assert table.traits == ["yield", "rust"]
    assert table.frame["rust"].tolist() == ["R", "S", None]


def test_first_row_of_repeated_labels_is_data_not_a_header(write):
    table = read_phenotypes(write("y.txt", "L1 R\nL2 S\nL3 R\nL4 S\n"))
    assert table.has_ids and len(table.frame) == 4 and table.traits == ["0"]


def test_ids_without_header_shift_the_trait_positions(write):
    table = read_phenotypes(write("y.txt", "L1 0.1 5\nL2 0.2 6\n"))
    assert table.traits == ["0", "1"]
    assert select_trait(table, 1).values.tolist() == [5.0, 6.0]


def test_duplicate_phenotype_id_is_an_error(write):
    path = write("y.txt", "L1 0.1\nL1 0.2\n")
    with pytest.raises(DataError, match=r"row 2, column 1.*'L1'") as info:
        read_phenotypes(path)
    assert str(info.value).startswith(str(path))


def test_select_trait_by_position_name_and_digit_string(write):
    table = read_phenotypes(write("y.csv", "id,a,b\nx,1,NA\ny,2,3\nz,NA,4\n"))
    by_name = select_trait(table, "b")
    assert by_name.name == "b" and by_name.kept.tolist() == [False, True, True]
    assert by_name.n_dropped == 1
    assert select_trait(table, 0).name == "a"
    assert select_trait(table, "1").name == "b"
    plain = read_phenotypes(write("y.txt", "1 2 3 4\n5 6 7 8\n"))
    assert select_trait(plain, "3").values.tolist() == [4.0, 8.0]
    assert select_trait(plain, 3).values.tolist() == [4.0, 8.0]


def test_unknown_trait_lists_traits_and_the_closest_name(write):
    path = write("y.csv", "id,yield,height\nx,1,2\ny,2,3\n")
    table = read_phenotypes(path)
    with pytest.raises(DataError) as info:
        select_trait(table, "yeild")
    text = str(info.value)
    assert text.startswith(str(path)) and "trait" in text
    assert "'height'" in text and "did you mean 'yield'" in text


def test_trait_index_out_of_range(write):
    path = write("y.txt", "1 2\n3 4\n")
    with pytest.raises(DataError, match=r"trait: must be a column position 0\.\.1.*got 5"):
        select_trait(read_phenotypes(path), 5)


def test_all_missing_trait(write):
    path = write("y.txt", "1 NA\n3 NA\n")
    with pytest.raises(DataError, match=r"trait '1'.*all values missing") as info:
        select_trait(read_phenotypes(path), 1)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (np.linspace(-1, 1, 50), "regression"),
        (np.array([0.5, 1.5, 0.5, 2.0]), "regression"),
        (np.arange(11.0), "regression"),
        (np.array([0.0, 1.0, 1.0, np.nan, 0.0]), "binary"),
        (np.array(["R", "S", "R", None], dtype=object), "binary"),
        (np.array([1.0, 2.0, 3.0, 5.0, 1.0]), "multiclass"),
        (np.array(["a", "b", "c"], dtype=object), "multiclass"),
    ],
)
def test_detect_task(values, task):
    assert detect_task(values) == task


def test_encode_regression_and_its_errors():
    target, classes = encode_target(np.array([1.0, 2.0, 4.0]), "regression", source="y", field="t")
    assert target.dtype == np.float64 and classes is None
    with pytest.raises(DataError, match=r"y: t: must vary .*all values = 1\.2"):
        encode_target(np.array([1.2, 1.2, 1.2]), "regression", source="y", field="t")
    with pytest.raises(DataError, match="numeric"):
        encode_target(np.array(["a", "b"], dtype=object), "regression", source="y", field="t")


def test_encode_binary_sorts_classes_and_rejects_one_class():
    target, classes = encode_target(
        np.array(["S", "R", "S"], dtype=object), "binary", source="y", field="t"
    )
    assert classes == ["R", "S"] and target.tolist() == [1, 0, 1] and target.dtype == np.int64
    numeric, labels = encode_target(np.array([2.0, 1.0, 2.0]), "binary", source="y", field="t")
    assert labels == [1, 2] and numeric.tolist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"y: t: must have two classes.*only 'R'"):
        encode_target(np.array(["R", "R"], dtype=object), "binary", source="y", field="t")
    with pytest.raises(DataError, match="multiclass"):
        encode_target(np.array([1.0, 2.0, 3.0]), "binary", source="y", field="t")


def test_encode_multiclass():
    target, classes = encode_target(
        np.array([3.0, 1.0, 2.0, 3.0]), "multiclass", source="y", field="t"
    )
    assert classes == [1, 2, 3] and target.tolist() == [2, 0, 1, 2]
    with pytest.raises(DataError, match="at least two classes"):
        encode_target(np.array([1.0, 1.0]), "multiclass", source="y", field="t")
    with pytest.raises(ConfigError, match="task"):
        encode_target(np.array([1.0, 2.0]), "ordinal", source="y", field="t")


@pytest.mark.wheat
def test_wheat_y(wheat_dir):
    table = read_phenotypes(wheat_dir / "wheat.Y")
    assert table.frame.shape == (599, 4) and not table.has_ids
    column = select_trait(table, 3)
    assert column.n_dropped == 0 and detect_task(column.values) == "regression"
    assert abs(float(np.mean(column.values))) < 1e-6

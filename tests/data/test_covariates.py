"""Covariates: specs, one-hot levels learnt on training rows only, standardisation, loading."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.data.covariates import (
    CovariateEncoder,
    CovariateSpec,
    encode_covariates,
    parse_covariates,
    with_covariates,
)
from hpsearch.data.loading import load_dataset
from hpsearch.errors import ConfigError, DataError


def raw(rows: list[tuple]) -> np.ndarray:
    out = np.empty((len(rows), len(rows[0])), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


def test_parse_covariates_forms_and_errors():
    assert parse_covariates(None) == []
    assert parse_covariates(["sex", "env"]) == [CovariateSpec("sex"), CovariateSpec("env")]
    assert parse_covariates({"env": "categorical", "age": "numeric"}) == [
        CovariateSpec("env", "categorical"),
        CovariateSpec("age", "numeric"),
    ]
    assert parse_covariates(["sex", {"env": "categorical"}])[1].kind == "categorical"
    with pytest.raises(ConfigError, match=r"exp.yaml: data.covariates.env: must be one of"):
        parse_covariates({"env": "ordinal"}, source="exp.yaml")
    with pytest.raises(ConfigError, match="once"):
        parse_covariates(["sex", "sex"])
    with pytest.raises(ConfigError, match="list of phenotype columns"):
        parse_covariates("sex")


def test_one_hot_levels_come_from_the_training_rows_only():
    train = raw([("M", "E1"), ("F", "E2"), ("F", "E1")])
    encoder = CovariateEncoder(["sex", "env"], ["categorical", "categorical"]).fit(train)
    assert encoder.feature_names_ == ["sex=F", "sex=M", "env=E1", "env=E2"]
    np.testing.assert_array_equal(
        encoder.transform(train), [[0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0]]
    )
    # E3 appears only outside the training rows: no column for it, the row is all zeros there.
    held_out = raw([("M", "E3"), (None, "E2")])
    out = encoder.transform(held_out)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [0, 0, 0, 1]])


def test_numeric_covariates_use_training_mean_and_sd_and_missing_is_the_mean():
    train = raw([(1.0,), (3.0,), (np.nan,), (5.0,)])
    encoder = CovariateEncoder(["age"], ["numeric"]).fit(train)
    mean, sd = 3.0, np.std([1.0, 3.0, 5.0])
    np.testing.assert_allclose(
        encoder.transform(raw([(7.0,), (np.nan,), (3.0,)]))[:, 0],
        [(7.0 - mean) / sd, 0.0, 0.0],
        rtol=1e-6,
    )
    constant = CovariateEncoder(["age"], ["numeric"]).fit(raw([(2.0,), (2.0,)]))
    np.testing.assert_allclose(constant.transform(raw([(4.0,)])), [[2.0]])


def test_encoder_misuse():
    encoder = CovariateEncoder(["a"], ["numeric"])
    with pytest.raises(RuntimeError, match="fit"):
        encoder.transform(raw([(1.0,)]))
    with pytest.raises(ValueError, match="lines × 1"):
        encoder.fit(raw([(1.0, 2.0)]))
    with pytest.raises(ValueError, match="numeric or categorical"):
        CovariateEncoder(["a"], ["auto"])


def test_with_covariates_for_networks_and_baselines():
    x = np.ones((3, 4, 1), dtype=np.float32)
    cov = np.arange(6, dtype=np.float32).reshape(3, 2)
    both = with_covariates(x, cov)
    assert isinstance(both, list) and both[0] is x and both[1].shape == (3, 2)
    flat = with_covariates(x, cov, mode="concat")
    assert flat.shape == (3, 6) and flat[:, 4:].tolist() == cov.tolist()
    assert with_covariates(x, None) is x
    with pytest.raises(ValueError, match="rows"):
        with_covariates(x, cov[:2])


def _files(write):
    geno = write("g.txt", "L1 0 1\nL2 1 1\nL3 2 0\nL4 0 0\nL5 1 2\n")
    pheno = write(
        "p.tsv",
        "IID\tsex\tenv\tage\ty\n"
        "L1\tM\t1\t30\t1.5\n"
        "L2\tF\t2\tNA\t2.5\n"
        "L3\tF\t1\t40\t3.25\n"
        "L4\tNA\t3\t50\t0.5\n"
        "L5\tM\t2\t20\tNA\n",
    )
    return geno, pheno


def test_loaded_covariates_are_aligned_with_the_lines_and_kinds_detected(write):
    geno, pheno = _files(write)
    data, report = load_dataset(
        genotypes=geno,
        phenotypes=pheno,
        trait="y",
        covariates=["sex", {"env": "categorical"}, "age"],
    )
    assert data.line_ids == ["L1", "L2", "L3", "L4"]  # L5 dropped: no trait value
    assert data.covariate_names == ["sex", "env", "age"]
    assert data.covariate_kinds == ["categorical", "categorical", "numeric"]
    assert data.covariates[:, 0].tolist() == ["M", "F", "F", None]
    assert data.covariates[:, 1].tolist() == ["1", "2", "1", "3"]  # numbers read as labels
    assert report["covariates"]["sex"] == {"kind": "categorical", "missing": 1, "levels": 2}
    assert report["covariates"]["age"] == {"kind": "numeric", "missing": 1}
    encoder, (train, test) = encode_covariates(data, np.array([0, 1]), np.array([2, 3]))
    assert encoder.feature_names_ == ["sex=F", "sex=M", "env=1", "env=2", "age"]
    np.testing.assert_array_equal(train[:, :4], [[0, 1, 1, 0], [1, 0, 0, 1]])
    # age: training mean is 30 (L2 is missing), so L2 gets 0 and L3 (40) a positive value.
    assert train[1, 4] == 0.0 and test[0, 4] > 0
    np.testing.assert_array_equal(test[1, :4], [0, 0, 0, 0])  # missing sex, unseen env 3


def test_covariate_errors_name_the_file(write):
    geno, pheno = _files(write)
    with pytest.raises(DataError, match="name columns of the phenotype table") as info:
        load_dataset(genotypes=geno, phenotypes=pheno, trait="y", covariates=["herd"])
    assert str(info.value).startswith(str(pheno))
    with pytest.raises(DataError, match="not include the trait"):
        load_dataset(genotypes=geno, phenotypes=pheno, trait="y", covariates=["y"])
    with pytest.raises(DataError, match="hold numbers"):
        load_dataset(genotypes=geno, phenotypes=pheno, trait="y", covariates={"sex": "numeric"})


def test_no_covariates_means_none_everywhere(write):
    geno, pheno = _files(write)
    data, report = load_dataset(genotypes=geno, phenotypes=pheno, trait="y")
    assert data.covariates is None and "covariates" not in report
    assert encode_covariates(data, np.array([0]), np.array([1])) == (None, [None, None])

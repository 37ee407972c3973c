"""Folds: k-fold ids, fold files, and plans whose inner splits never touch outer test rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.data.dataset import FoldPlan, GenomicData
from hpsearch.data.folds import kfold_ids, outer_plans, read_fold_file
from hpsearch.data.loading import load_dataset
from hpsearch.errors import ConfigError, DataError


def _data(n: int = 40, *, task: str = "regression", seed: int = 0, **extra) -> GenomicData:
    rng = np.random.default_rng(seed)
    if task == "regression":
        target = rng.normal(size=n)
    else:
        target = (np.arange(n) % (2 if task == "binary" else 3)).astype(np.int64)
        rng.shuffle(target)
    return GenomicData(
        genotypes=rng.integers(0, 2, (n, 5)).astype(np.float32),
        target=target,
        task=task,
        trait="t",
        line_ids=[f"L{i}" for i in range(n)],
        marker_ids=[f"m{j}" for j in range(5)],
        classes=None if task == "regression" else list(range(int(target.max()) + 1)),
        **extra,
    )


def _check_plan(plan: FoldPlan, n: int) -> None:
    """Outer parts partition the rows; inner parts stay inside outer.train, away from test."""
    outer = plan.outer
    assert np.intersect1d(outer.train, outer.valid).size == 0
    assert np.union1d(outer.train, outer.valid).size <= n
    for split in plan.inner:
        assert np.intersect1d(split.train, outer.valid).size == 0
        assert np.intersect1d(split.valid, outer.valid).size == 0
        assert np.isin(split.train, outer.train).all() and np.isin(split.valid, outer.train).all()
        assert np.intersect1d(split.train, split.valid).size == 0


def test_kfold_ids_are_balanced_and_reproducible():
    ids = kfold_ids(23, 5, seed=3)
    assert sorted(set(ids.tolist())) == [1, 2, 3, 4, 5]
    assert sorted(np.bincount(ids)[1:].tolist()) == [4, 4, 5, 5, 5]
    np.testing.assert_array_equal(ids, kfold_ids(23, 5, seed=3))
    assert not np.array_equal(ids, kfold_ids(23, 5, seed=4))


@pytest.mark.parametrize("k", [1, 24, True])
def test_kfold_ids_rejects_bad_k(k):
    with pytest.raises(ConfigError, match="kfold"):
        kfold_ids(23, k, seed=0)


def test_stratified_kfold_keeps_every_class_in_every_fold():
    labels = np.array([0] * 30 + [1] * 10)
    ids = kfold_ids(40, 5, seed=1, stratify=labels)
    for fold in range(1, 6):
        assert set(labels[ids == fold].tolist()) == {0, 1}
        assert set(labels[ids != fold].tolist()) == {0, 1}


def test_read_fold_file_one_column(write):
    folds = read_fold_file(write("f.sets", "1\n2\n2\n3\n"), n_rows=4)
    assert folds.tolist() == [1, 2, 2, 3] and folds.dtype == np.int64


def test_read_fold_file_two_columns_matches_ids(write):
    path = write("f.txt", "id fold\nB 2\nA 1\nC 3\nZ 9\n")
    assert read_fold_file(path, line_ids=["A", "B", "C"]).tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="'D'"):
        read_fold_file(path, line_ids=["A", "D"])


def test_fold_file_errors_name_file_and_field(write, tmp_path):
    short = write("short.sets", "1\n2\n")
    with pytest.raises(DataError) as info:
        read_fold_file(short, n_rows=3)
    assert str(info.value).startswith(str(short))
    assert "rows: must have one fold id per genotype row (3)" in str(info.value)
    bad = write("bad.sets", "1\n2\n1.5\n")
    with pytest.raises(DataError, match=r"row 3: must be an integer fold id, got '1\.5'"):
        read_fold_file(bad)
    word = write("word.sets", "1\n2\nthree\n")
    with pytest.raises(DataError, match=r"row 3: .*'three'"):
        read_fold_file(word)
    with pytest.raises(DataError, match="exist"):
        read_fold_file(tmp_path / "none.sets")
    with pytest.raises(DataError, match="two columns"):
        read_fold_file(write("two.txt", "A 1\nB 2\n"))


def test_fold_file_plans_follow_file_rows(write, tmp_path):
    # 6 genotype rows; rows 1 and 4 were dropped for a missing phenotype.
    write("f.sets", "1\n1\n2\n2\n3\n3\n")
    data = _data(4, file_rows=np.array([0, 2, 3, 5]), source={"genotype_rows": 6})
    plans = outer_plans(data, {"fold_file": "f.sets"}, {"holdout": 0.5}, seed=0, base_dir=tmp_path)
    assert [p.outer.name for p in plans] == ["fold1", "fold2", "fold3"]
    assert [p.outer.valid.tolist() for p in plans] == [[0], [1, 2], [3]]
    for plan in plans:
        _check_plan(plan, 4)
    with pytest.raises(DataError, match=r"genotype row \(6\)"):
        outer_plans(
            _data(4, file_rows=np.arange(4), source={"genotype_rows": 6}),
            {"fold_file": write("g.sets", "1\n2\n1\n2\n")},
            {"kfold": 2},
            seed=0,
            base_dir=tmp_path,
        )


def test_selected_folds_and_absent_folds(write, tmp_path):
    write("f.sets", "\n".join(str(i % 4 + 1) for i in range(40)) + "\n")
    plans = outer_plans(
        _data(), {"fold_file": "f.sets", "folds": [3, 1]}, {"kfold": 3}, seed=0, base_dir=tmp_path
    )
    assert [p.outer.name for p in plans] == ["fold1", "fold3"]
    with pytest.raises(ConfigError, match=r"evaluation\.outer\.folds.*\[7\]"):
        outer_plans(
            _data(),
            {"fold_file": "f.sets", "folds": [1, 7]},
            {"kfold": 3},
            seed=0,
            base_dir=tmp_path,
        )


def test_kfold_and_holdout_outer_plans():
    data = _data(50)
    plans = outer_plans(data, {"kfold": 5, "seed": 2}, {"kfold": 4}, seed=0, base_dir=Path("."))
    assert len(plans) == 5 and all(len(p.inner) == 4 for p in plans)
    tests = np.concatenate([p.outer.valid for p in plans])
    assert sorted(tests.tolist()) == list(range(50))  # every line tested exactly once
    for plan in plans:
        _check_plan(plan, 50)
        assert [s.name for s in plan.inner] == ["inner1", "inner2", "inner3", "inner4"]
    (hold,) = outer_plans(data, {"holdout": 0.2}, {"holdout": 0.25}, seed=1, base_dir=Path("."))
    assert hold.outer.name == "holdout" and hold.outer.valid.size == 10
    assert hold.inner[0].valid.size == 10 and hold.inner[0].name == "inner1"
    _check_plan(hold, 50)


def test_stratified_plans_keep_both_classes_everywhere():
    data = _data(60, task="binary", seed=5)
    for outer in ({"kfold": 5}, {"holdout": 0.3}):
        for inner in ({"kfold": 3}, {"holdout": 0.3}):
            for plan in outer_plans(data, outer, inner, seed=0, base_dir=Path(".")):
                for split in (plan.outer, *plan.inner):
                    assert set(data.target[split.train].tolist()) == {0, 1}
                    assert set(data.target[split.valid].tolist()) == {0, 1}


@pytest.mark.parametrize(
    ("outer", "inner", "field"),
    [
        ({"kfold": 5, "shuffle": True}, {"kfold": 3}, "evaluation.outer.shuffle"),
        ({"holdout": 0.2, "folds": [1]}, {"kfold": 3}, "evaluation.outer.folds"),
        ({"kfold": 5, "holdout": 0.2}, {"kfold": 3}, "evaluation.outer"),
        ({}, {"kfold": 3}, "evaluation.outer"),
        ({"kfold": 5}, {"kfold": 3, "repeats": 2}, "evaluation.inner.repeats"),
        ({"kfold": 5}, {"holdout": 1.5}, "evaluation.inner.holdout"),
        ({"kfold": 1}, {"kfold": 3}, "evaluation.outer.kfold"),
        ({"kfold": 5}, {"kfold": 100}, "evaluation.inner.kfold"),
        ({"kfold": 5, "folds": "some"}, {"kfold": 3}, "evaluation.outer.folds"),
    ],
)
def test_bad_evaluation_mappings_name_the_key(outer, inner, field):
    with pytest.raises(ConfigError) as info:
        outer_plans(_data(), outer, inner, seed=0, base_dir=Path("."), source="exp.yaml")
    assert str(info.value).startswith(f"exp.yaml: {field}:")


@pytest.mark.wheat
def test_wheat_sets_reproduce_published_fold_sizes(wheat_dir):
    data, _ = load_dataset(
        genotypes=wheat_dir / "wheat.X", phenotypes=wheat_dir / "wheat.Y", trait=0
    )
    plans = outer_plans(data, {"fold_file": "wheat.sets"}, {"kfold": 5}, seed=0, base_dir=wheat_dir)
    sizes = [p.outer.valid.size for p in plans]
    assert sizes == [57, 50, 61, 73, 52, 68, 51, 64, 63, 60]
    for plan in plans:
        _check_plan(plan, 599)

"""Paired network-vs-baseline comparison over folds, and reading it from run directories."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hpsearch.baselines.compare import PairedDifference, compare_run_dirs, paired_comparison
from hpsearch.baselines.run import run_baselines
from hpsearch.config import load_config
from hpsearch.errors import ConfigError, StateError
from hpsearch.runner.experiment import prepare

NETWORK = {"fold1": 0.55, "fold2": 0.48, "fold3": 0.61, "fold4": 0.40, "fold5": 0.52}
GBLUP = {"fold1": 0.50, "fold2": 0.49, "fold3": 0.55, "fold4": 0.41, "fold5": 0.47}


def test_paired_t_interval_matches_scipy() -> None:
    result = paired_comparison(NETWORK, {"gblup": GBLUP})["gblup"]
    a = np.array([NETWORK[f] for f in GBLUP])
    b = np.array([GBLUP[f] for f in GBLUP])
    d = a - b
    assert result.mean == pytest.approx(d.mean())
    assert result.sd == pytest.approx(d.std(ddof=1))
    assert result.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high))
    assert (result.wins, result.losses, result.ties) == (3, 2, 0)
    assert result.network_mean == pytest.approx(a.mean())
    assert result.corrected_ci_low is None


def test_nadeau_bengio_correction_widens_the_interval() -> None:
    ratio = 1 / 9  # 10-fold CV: n_test / n_train
    plain = paired_comparison(NETWORK, {"g": GBLUP})["g"]
    corrected = paired_comparison(NETWORK, {"g": GBLUP}, test_train_ratio=ratio)["g"]
    n = len(GBLUP)
    widen = math.sqrt((1 / n + ratio) / (1 / n))
    half = (plain.ci_high - plain.ci_low) / 2
    assert corrected.corrected_ci_high - corrected.mean == pytest.approx(half * widen)
    t = corrected.mean / (corrected.sd * math.sqrt(1 / n + ratio))
    assert corrected.corrected_p_value == pytest.approx(2 * stats.t.sf(abs(t), n - 1))
    assert corrected.corrected_p_value > plain.p_value


def test_missing_folds_direction_and_bad_options() -> None:
    partial = {"fold1": 0.5, "fold2": float("nan"), "fold9": 0.3}
    result = paired_comparison(NETWORK, {"rf": partial})["rf"]
    assert result.folds == ("fold1",) and math.isnan(result.sd) and math.isnan(result.ci_low)
    lower_is_better = paired_comparison(
        {"a": 0.8, "b": 0.9}, {"m": {"a": 0.9, "b": 0.9}}, direction="minimize"
    )["m"]
    assert (lower_is_better.wins, lower_is_better.losses, lower_is_better.ties) == (1, 0, 1)
    with pytest.raises(ConfigError, match="direction"):
        paired_comparison(NETWORK, {}, direction="up")
    with pytest.raises(ConfigError, match="confidence"):
        paired_comparison(NETWORK, {}, confidence=95)


def _fake_network_run(folder: Path, config_from: Path, values: dict[str, float]) -> Path:
    """A finished network run directory: its config and a summary.json with outer metrics."""
    folder.mkdir()
    shutil.copy(config_from / "config.yaml", folder / "config.yaml")
    summary = {
        "metric": "pearson_r",
        "folds": [{"fold": f, "outer_metrics": {"pearson_r": v}} for f, v in values.items()],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_compare_run_dirs_reads_both_runs(experiment, tmp_path: Path) -> None:
    prepared = prepare(load_config(experiment()))
    report = run_baselines(prepared, methods="ridge,gblup", mlflow=False)
    assert report.run_dir is not None
    net = {"fold1": 0.7, "fold2": 0.6, "fold3": 0.65}
    network_dir = _fake_network_run(tmp_path / "net", report.run_dir, net)
    results, text = compare_run_dirs(network_dir, report.run_dir)
    ridge = report.by_method()["ridge"]
    expected = np.mean([net[f] - ridge[f] for f in net])
    assert results["ridge"].mean == pytest.approx(expected)
    assert results["ridge"].corrected_ci_low is not None  # n_test / n_train known
    assert "| ridge | 3 |" in text and "| gblup | 3 |" in text and "Nadeau–Bengio" in text

    other = tmp_path / "other"
    _fake_network_run(other, report.run_dir, net)
    config = (other / "config.yaml").read_text().replace("sim.sets", "other.sets")
    (other / "config.yaml").write_text(config)
    with pytest.raises(StateError, match="paired folds need the same outer split"):
        compare_run_dirs(other, report.run_dir)
    with pytest.raises(StateError, match=r"summary\.json"):
        compare_run_dirs(tmp_path, report.run_dir)


def test_results_round_trip_through_json() -> None:
    result = paired_comparison(NETWORK, {"g": GBLUP, "one": {"fold1": 0.5}}, test_train_ratio=0.25)
    for item in result.values():
        back = PairedDifference.from_dict(json.loads(json.dumps(item.to_dict())))
        assert back.folds == item.folds and back.wins == item.wins
        for key in ("mean", "sd", "ci_low", "corrected_p_value"):
            a, b = getattr(back, key), getattr(item, key)
            assert (a is None and b is None) or a == b or (math.isnan(a) and math.isnan(b))


def test_command_prints_the_comparison_with_a_network_run(
    experiment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    import yaml

    from hpsearch.baselines.run import add_parser, cmd_baseline

    config_path = experiment()
    network = tmp_path / "network-run"
    network.mkdir()
    (network / "config.yaml").write_text(yaml.safe_dump(load_config(config_path).to_dict()))
    folds = [{"fold": f"fold{k}", "outer_metrics": {"pearson_r": 0.9}} for k in (1, 2, 3)]
    (network / "summary.json").write_text(json.dumps({"folds": folds}))
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    argv = ["baseline", str(config_path), "--methods", "ridge", "--no-mlflow", "--quiet"]
    args = parser.parse_args([*argv, "--compare", str(network)])
    assert cmd_baseline(args) == 0
    out = capsys.readouterr().out
    assert "| ridge | 3 | 0.900 |" in out and "3 / 0 / 0" in out

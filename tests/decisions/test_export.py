"""``hpsearch export``: near-optimal diverse picks, robust ranking across runs, the file format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hpsearch.decisions.export import (
    add_export_parser,
    architecture,
    cmd_export,
    export_configurations,
    params_stage_from_file,
    render,
)
from hpsearch.errors import ConfigError, SpaceError
from hpsearch.space import IntParam, Space


def test_one_run_prefers_near_optimal_diverse_architectures(make_run, params_of) -> None:
    a = params_of(64, learning_rate=1e-3)
    b = params_of(70, learning_rate=2e-3)  # same architecture as a (units bucket 64)
    c = params_of(64, activation="tanh")
    d = params_of(128, n_layers=2)
    e = params_of(16, optimizer="sgd")
    trials = [(e, 0.40), (b, 0.495), (a, 0.50), (d, 0.485), (c, 0.49), (params_of(32), None)]
    run = make_run("r1", {"fold1": trials})

    doc = export_configurations([run], top=3, tolerance=0.02)
    picked = doc["configurations"]
    assert [p["params"] for p in picked] == [a, c, d]  # b skipped: a's architecture is taken
    assert [p["rank"] for p in picked] == [1, 3, 4]
    assert [p["regret"] for p in picked] == pytest.approx([0.0, 0.01, 0.015])
    assert all(p["near_optimal"] for p in picked)
    assert picked[0]["scores"] == {"r1": 0.50}
    assert doc["metric"] == "pearson_r" and doc["direction"] == "maximize"
    assert doc["source_runs"][0]["n_configurations"] == 5  # the failed trial is not a candidate

    five = export_configurations([run], top=5, tolerance=0.02)["configurations"]
    assert [p["params"] for p in five] == [a, b, c, d, e]
    assert [p["near_optimal"] for p in five] == [True, True, True, True, False]

    strict = export_configurations([run], top=2, tolerance=0.0)["configurations"]
    assert [p["params"] for p in strict] == [a, c]  # beyond tolerance, diversity still first
    assert [p["near_optimal"] for p in strict] == [True, False]


def test_architecture_key_buckets_widths() -> None:
    base = {"n_layers": 2, "activation": "relu", "optimizer": "adam", "learning_rate": 0.1}
    assert architecture({**base, "units": 60}, "mlp") == architecture({**base, "units": 70}, "mlp")
    assert architecture({**base, "units": 60}, "mlp") != architecture({**base, "units": 128}, "mlp")
    assert "learning_rate" not in architecture(base, "mlp")


def test_minimised_metric_regret_is_score_minus_best(make_run, params_of) -> None:
    run = make_run(
        "mse", {"fold1": [(params_of(8), 1.30), (params_of(64), 1.00), (params_of(256), 1.10)]},
        metric="mse",
    )  # fmt: skip
    picked = export_configurations([run], top=3, tolerance=0.5)["configurations"]
    assert [p["params"]["units"] for p in picked] == [64, 256, 8]
    assert [p["regret"] for p in picked] == pytest.approx([0.0, 0.10, 0.30])


def test_several_outer_folds_average_the_regret_against_each_folds_best(
    make_run, params_of
) -> None:
    a, b, c = params_of(8), params_of(64), params_of(256)
    run = make_run(
        "two", {"fold1": [(a, 0.60), (b, 0.50)], "fold2": [(b, 0.30), (c, 0.20), (a, 0.28)]}
    )
    picked = export_configurations([run], top=3, tolerance=1.0)["configurations"]
    by_units = {p["params"]["units"]: p for p in picked}
    # a: regrets 0 (fold1) and 0.02 (fold2) -> 0.01; b: 0.10 and 0 -> 0.05; c: 0.10 (fold2 only)
    assert by_units[8]["regret"] == pytest.approx(0.01)
    assert by_units[64]["regret"] == pytest.approx(0.05)
    assert by_units[256]["regret"] == pytest.approx(0.10)
    assert by_units[8]["scores"]["two"] == pytest.approx((0.60 + 0.28) / 2)
    assert [p["rank"] for p in picked] == [1, 2, 3]


def test_two_runs_rank_by_mean_normalised_rank_and_worst_regret(make_run, params_of) -> None:
    c1 = params_of(8)
    c2 = params_of(32, activation="tanh")
    c3 = params_of(64, n_layers=2)
    c4 = params_of(128, optimizer="sgd")
    c5 = params_of(256, n_layers=3)  # only in run A
    run_a = make_run("A", {"fold1": [(c1, 0.50), (c2, 0.48), (c3, 0.40), (c4, 0.45), (c5, 0.49)]})
    run_b = make_run("B", {"fold1": [(c1, 0.30), (c2, 0.35), (c3, 0.33), (c4, 0.20)]})

    doc = export_configurations([run_a, run_b], top=5, tolerance=0.02)
    rows = {p["params"]["units"]: p for p in doc["configurations"]}
    assert set(rows) == {8, 32, 64, 128, 256}
    # By hand. Run A order: c1 .50, c5 .49, c2 .48, c4 .45, c3 .40 -> normalised ranks
    # 0, 1/4, 2/4, 3/4, 1. Run B order: c2 .35, c3 .33, c1 .30, c4 .20 -> 0, 1/3, 2/3, 1.
    expected_rank = {
        8: (0 + 2 / 3) / 2,
        32: (0.5 + 0) / 2,
        64: (1 + 1 / 3) / 2,
        128: (0.75 + 1) / 2,
    }
    expected_rank[256] = 0.25
    expected_regret = {8: 0.05, 32: 0.02, 64: 0.10, 128: 0.15, 256: 0.01}
    for units, row in rows.items():
        assert row["normalised_rank"] == pytest.approx(expected_rank[units]), units
        assert row["regret"] == pytest.approx(expected_regret[units]), units
    # Complete configurations first (c5 lacks run B), then by mean normalised rank.
    assert [rows[u]["rank"] for u in (32, 8, 64, 128, 256)] == [1, 2, 3, 4, 5]
    assert [rows[u]["regret_rank"] for u in (32, 8, 64, 128, 256)] == [1, 2, 3, 4, 5]
    assert rows[256]["missing"] == ["B"] and rows[256]["scores"] == {"A": 0.49, "B": None}
    assert rows[8]["scores"] == {"A": 0.50, "B": 0.30}
    assert rows[8]["regrets"] == pytest.approx({"A": 0.0, "B": 0.05})
    assert [r["near_optimal"] for r in doc["configurations"]] == [True, False, False, False, False]
    assert [r["label"] for r in doc["source_runs"]] == ["A", "B"]


def test_runs_must_share_metric_and_space(make_run, params_of) -> None:
    a = make_run("a", {"fold1": [(params_of(8), 0.5)]})
    b = make_run("b", {"fold1": [(params_of(8), 1.2)]}, metric="mse")
    with pytest.raises(ConfigError, match="metric: must be pearson_r"):
        export_configurations([a, b])
    other = Space([IntParam("units", 8, 256)])
    c = make_run("c", {"fold1": [({"units": 8}, 0.5)]}, space=other)
    with pytest.raises(ConfigError, match="same search space"):
        export_configurations([a, c])


def test_exported_file_feeds_back_as_given_configurations(
    make_run, params_of, space, tmp_path: Path
) -> None:
    from hpsearch.strategies import make_strategy
    from hpsearch.strategies.testing import drive

    trials = [(params_of(8), 0.3), (params_of(64, optimizer="sgd"), 0.5), (params_of(16), 0.45)]
    run = make_run("r", {"fold1": trials})
    doc = export_configurations([run], top=3, tolerance=0.5)
    for fmt in ("yaml", "json"):
        path = tmp_path / f"exported.{fmt}"
        path.write_text(render(doc, fmt))
        configs = params_stage_from_file(path, space)
        assert configs == [p["params"] for p in doc["configurations"]]
        for params in configs:
            assert space.validate(params) == params
        strategy = make_strategy(
            "hpsearch.decisions.given:GivenConfigurations", space,
            options={"configurations": configs},
        )  # fmt: skip
        asked = drive(strategy, 10)
        assert [s.params for s in asked] == configs
        assert [s.tags["given_index"] for s in asked] == [0, 1, 2]
        assert strategy.finished


def test_params_file_errors_name_the_file_and_entry(space, params_of, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    bad = {**params_of(8), "unitz": 3}
    path.write_text(yaml.safe_dump({"configurations": [{"params": params_of(8)}, {"params": bad}]}))
    with pytest.raises(SpaceError) as info:
        params_stage_from_file(path, space)
    assert str(info.value).startswith(f"{path}: configurations[1].params.unitz: must name")
    assert "\n" not in str(info.value)

    path.write_text(yaml.safe_dump([params_of(8), {**params_of(8), "units": 999}]))
    with pytest.raises(SpaceError, match=r"configurations\[1\]\.units"):
        params_stage_from_file(path, space)

    path.write_text(yaml.safe_dump([params_of(8), {**params_of(8), "epochs": 50}]))
    with pytest.raises(ConfigError, match=r"configurations\[1\]: must be a configuration not"):
        params_stage_from_file(path, space)

    path.write_text(yaml.safe_dump({"metric": "pearson_r"}))
    with pytest.raises(ConfigError, match="configurations: must be given"):
        params_stage_from_file(path, space)

    path.write_text("configurations: [a, b")
    with pytest.raises(ConfigError, match="must be valid YAML"):
        params_stage_from_file(path, space)

    with pytest.raises(ConfigError, match="must be an existing params file"):
        params_stage_from_file(tmp_path / "nope.yaml", space)

    path.write_text(yaml.safe_dump([params_of(8), params_of(32)]))  # a bare list is fine
    assert [c["units"] for c in params_stage_from_file(path, space)] == [8, 32]


def test_cli_writes_the_file_and_errors_are_one_line(
    make_run, params_of, cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run("r", {"fold1": [(params_of(8), 0.3), (params_of(64), 0.5)]})
    assert cli(["export", str(run), "--top", "2"], add_export_parser, cmd_export) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert [c["params"]["units"] for c in doc["configurations"]] == [64, 8]

    out = tmp_path / "best.json"
    argv = ["export", str(run), "--top", "1", "--format", "json", "-o", str(out)]
    assert cli(argv, add_export_parser, cmd_export) == 0
    assert json.loads(out.read_text())["configurations"][0]["params"]["units"] == 64
    assert "rank 1" in capsys.readouterr().out

    cases = {
        "missing run dir": ["export", str(tmp_path / "nowhere")],
        "unknown format": ["export", str(run), "--format", "xml"],
        "K < 1": ["export", str(run), "--top", "0"],
        "negative tolerance": ["export", str(run), "--tolerance", "-1"],
        "folder of -o missing": ["export", str(run), "-o", str(tmp_path / "no" / "x.yaml")],
    }
    for why, argv in cases.items():
        assert cli(argv, add_export_parser, cmd_export) == 2, why
        err = capsys.readouterr().err
        assert err.startswith("hpsearch: error: ") and err.count("\n") == 1, (why, err)

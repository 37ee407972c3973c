"""Issue 5's check on the real wheat data: ``export`` across the four traits writes a file that
``hpsearch run --params`` accepts and evaluates exactly.

Four real searches (one per environment E1-E4: outer fold 1 of ``wheat.sets``, inner 2-fold,
3 random MLP configurations with a 4-epoch cap, in-process, MLflow off), then the CLI's
``export`` over the four run directories, then ``run --params`` on trait 1 with that file.
Skipped where ``../shared/data`` is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hpsearch.cli import main
from hpsearch.runner.rundir import RunDir

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all((DATA / f"wheat.{ext}").is_file() for ext in ("X", "Y", "sets")),
        reason="the wheat data (../shared/data) is not here",
    ),
]


def _config(folder: Path, trait: int, space: Path) -> Path:
    path = folder / f"E{trait + 1}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": f"wheat-E{trait + 1}",
                "data": {
                    "genotypes": str(DATA / "wheat.X"),
                    "phenotypes": str(DATA / "wheat.Y"),
                    "trait": trait,
                },
                "evaluation": {
                    "outer": {"fold_file": str(DATA / "wheat.sets"), "folds": [1]},
                    "inner": {"kfold": 2, "seed": 0},
                    "metric": "pearson_r",
                },
                "model": "mlp",
                "space": str(space),
                "stages": [{"strategy": "random", "trials": 3}],
                "execution": {"executor": "inprocess", "threads_per_trial": 1},
                "tracking": {"mlflow": False},
                "output": str(folder / "runs"),
                "seed": 7,
            }
        )
    )
    return path


def _run_dir(runs: Path, name: str) -> Path:
    (found,) = [p for p in runs.iterdir() if p.name.startswith(f"{name}-")]
    return found


def test_export_across_the_four_traits_feeds_run_params(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = yaml.safe_load((Path(__file__).resolve().parents[2] / "search_spaces" / "mlp.yaml")
                           .read_text())  # fmt: skip
    space["parameters"]["epochs"] = {"type": "fixed", "value": 4}
    space["parameters"]["units"] = {"type": "int", "low": 8, "high": 32, "log": True}
    space_path = tmp_path / "mlp-small.yaml"
    space_path.write_text(yaml.safe_dump(space, sort_keys=False))
    runs = tmp_path / "runs"
    run_dirs = []
    for trait in range(4):
        assert main(["run", str(_config(tmp_path, trait, space_path)), "--quiet"]) == 0
        run_dirs.append(_run_dir(runs, f"wheat-E{trait + 1}"))
    capsys.readouterr()

    exported = tmp_path / "robust.yaml"
    argv = ["export", *map(str, run_dirs), "--top", "2", "-o", str(exported)]
    assert main(argv) == 0
    doc = yaml.safe_load(exported.read_text())
    configurations = doc["configurations"]
    assert 1 <= len(configurations) <= 2
    text = exported.read_text()
    for run_dir in run_dirs:  # every trait's run is named, with a score for each config
        assert run_dir.name in text

    given = _config(tmp_path, 0, space_path)
    assert main(["run", str(given), "--params", str(exported), "--quiet"]) == 0
    evaluated = sorted(runs.glob("wheat-E1-*"))[-1]
    assert evaluated != run_dirs[0]
    records = RunDir.open(evaluated).fold("fold1").journal.read()
    assert all(r.result.ok for r in records)
    assert sorted(json.dumps(r.result.params, sort_keys=True) for r in records) == sorted(
        json.dumps(c["params"], sort_keys=True) for c in configurations
    )

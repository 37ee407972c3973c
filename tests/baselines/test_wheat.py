"""GBLUP and RKHS on the real wheat data with the published 10-fold split (wheat.sets).

Published anchors for environment 1 (Crossa et al. 2010, Table 3; 10-fold CV): marker BLUP
0.480, RKHS 0.601. The project's own reproduction on wheat.sets (ridge ≡ GBLUP, inner CV)
gave 0.511 and the Gaussian kernel 0.574 (shared/reference/genomic-prediction-literature.md
§2). Fold-to-fold sd of r is ~0.11 here, so the standard error of a 10-fold mean is ~0.035.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hpsearch.baselines.run import run_baselines
from hpsearch.config import parse_config
from hpsearch.runner.experiment import prepare

pytestmark = pytest.mark.wheat


def test_gblup_and_rkhs_reproduce_the_published_accuracy_on_trait_1(
    wheat_dir: Path, tmp_path: Path
) -> None:
    raw = {
        "name": "wheat-e1",
        "data": {"genotypes": "wheat.X", "phenotypes": "wheat.Y", "trait": 0},
        "evaluation": {"outer": {"fold_file": "wheat.sets", "folds": "all"}},
        "output": str(tmp_path),
        "tracking": {"mlflow": False},
    }
    prepared = prepare(parse_config(raw, source="wheat test", base_dir=wheat_dir))
    assert len(prepared.plans) == 10
    report = run_baselines(prepared, methods="gblup,rkhs", seed=0, run_dir=tmp_path / "t")
    summary = report.summary()
    gblup = summary["gblup"]["pearson_r"]["mean"]
    rkhs = summary["rkhs"]["pearson_r"]["mean"]
    assert summary["gblup"]["pearson_r"]["n_folds"] == 10
    assert abs(rkhs - 0.601) <= 0.03, f"RKHS fold-mean r {rkhs:.3f} vs published 0.601"
    # GBLUP: within ±0.03 of the reproduction (0.511) and within one standard error of a
    # 10-fold mean (0.035) of the published 0.480; see the note in the module docstring.
    assert abs(gblup - 0.511) <= 0.03, f"GBLUP fold-mean r {gblup:.3f} vs reproduced 0.511"
    assert abs(gblup - 0.480) <= 0.035, f"GBLUP fold-mean r {gblup:.3f} vs published 0.480"
    assert rkhs > gblup  # the kernel's known edge on environment 1

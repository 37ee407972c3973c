"""Shared fixtures: where the real wheat data lives (skipped cleanly when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WHEAT_DIR = Path(os.environ.get("HPSEARCH_WHEAT_DIR", REPO.parent / "shared" / "data"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def wheat_available() -> bool:
    return all((WHEAT_DIR / f"wheat.{ext}").is_file() for ext in ("X", "Y", "sets"))


@pytest.fixture
def wheat_dir() -> Path:
    if not wheat_available():
        pytest.skip(f"wheat data not found in {WHEAT_DIR}")
    return WHEAT_DIR

"""Shared fixtures for the data tests: small file writers and the real wheat data (if present)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WHEAT_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to ``tmp_path/name`` and return the path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def wheat_dir() -> Path:
    """The shared wheat data directory; the test is skipped when it is absent."""
    if not (WHEAT_DIR / "wheat.X").is_file():
        pytest.skip("wheat data not found in ../shared/data")
    return WHEAT_DIR

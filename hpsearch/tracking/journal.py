"""The append-only trial journal (``trials.jsonl``) and atomic JSON files.

The journal is the source of truth of a search: one JSON line per finished trial, flushed and
fsynced before the strategy's state moves on, so that a killed driver loses at most the trials
that were still running. A torn last line (a kill during the write) is ignored on reading.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hpsearch.errors import StateError
from hpsearch.trial import TrialRecord


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync it, then rename over ``path``."""
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=False))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file in the same folder, fsync it, then rename over
    ``path``: a reader sees the old file or the new one, never half of it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Read a JSON file written by hpsearch; a damaged one is a StateError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise StateError("must exist", source=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise StateError(
            f"must be valid JSON ({exc.msg} at line {exc.lineno})", source=str(path)
        ) from exc


class Journal:
    """Append-only ``trials.jsonl`` of :class:`TrialRecord` lines."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: TrialRecord) -> None:
        line = json.dumps(record.to_dict(), sort_keys=True, allow_nan=False)
        with self.path.open("a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def __iter__(self) -> Iterator[TrialRecord]:
        return iter(self.read())

    def read(self) -> list[TrialRecord]:
        """All complete records; a torn final line (a kill mid-write) is dropped."""
        if not self.path.exists():
            return []
        records = []
        lines = self.path.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(TrialRecord.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                if number == len(lines):
                    break  # torn last line
                raise StateError(
                    f"line {number} must be a trial record ({exc})", source=str(self.path)
                ) from exc
        return records

    def repair(self) -> None:
        """Cut a torn last line so that the next append starts on a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as handle:
                handle.truncate(keep)

"""Tiny user builders for the fault catalogue, named in configs as ``tests_builders:NAME``.

They live beside the chaos tests and reach ``hpsearch`` (and its Ray workers) through
``PYTHONPATH``, exactly as a user's own ``package.module:function`` builder would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Folder where :func:`slow_pid` notes the process that builds each model (set by the test).
PID_DIR_ENV = "HPSEARCH_CHAOS_PID_DIR"


def explode(
    params: Mapping[str, Any], *, input_shape: tuple[int, ...], n_outputs: int, task: str
) -> Any:
    """The shipped MLP, except that ``boom: true`` raises (a bug in a user's builder)."""
    if params.get("boom"):
        raise RuntimeError("boom: this builder fails on purpose")
    from hpsearch.models.mlp import build

    return build(params, input_shape=input_shape, n_outputs=n_outputs, task=task)


def slow_pid(
    params: Mapping[str, Any], *, input_shape: tuple[int, ...], n_outputs: int, task: str
) -> Any:
    """The shipped MLP, after writing this process's id and the trial's params to a file and
    sleeping ``builder_sleep`` seconds: a window in which a test can SIGKILL the worker."""
    folder = os.environ.get(PID_DIR_ENV)
    if folder:
        note = Path(folder) / f"{os.getpid()}-{time.time_ns()}.json"
        tmp = note.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "params": dict(params)}, sort_keys=True))
        tmp.replace(note)
    time.sleep(float(params.get("builder_sleep", 0.0)))
    from hpsearch.models.mlp import build

    return build(params, input_shape=input_shape, n_outputs=n_outputs, task=task)

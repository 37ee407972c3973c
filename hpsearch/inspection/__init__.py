"""Data inspection before a search (``hpsearch inspect``): see :mod:`hpsearch.inspection.report`.

Nothing is imported here: the CLI imports :mod:`hpsearch.inspection.report` to build its parser,
and that module keeps numpy, pandas and matplotlib inside its functions.
"""

from __future__ import annotations

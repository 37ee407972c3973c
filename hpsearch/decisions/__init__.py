"""From trials to decisions: replicate finalists over seeds, export near-optimal configurations.

* :mod:`hpsearch.decisions.replicate` — ``hpsearch replicate``: the best configurations of each
  outer fold retrained with several seeds (the influence of initial values);
* :mod:`hpsearch.decisions.export` — ``hpsearch export``: near-optimal, diverse configurations
  of a run, or robust ones across runs (traits, marker sets), as a YAML/JSON file that
* :mod:`hpsearch.decisions.given` — the "given" strategy — evaluates again, unchanged
  (``hpsearch run CONFIG --params FILE``).

Nothing heavy is imported here: the CLI imports these modules to build its parser.
"""

from __future__ import annotations

"""Live progress on the terminal: one line per finished trial and a bar per stage (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hpsearch.runner.rundir import FoldDir
from hpsearch.runner.search import FoldOutcome
from hpsearch.trial import TrialRecord


def format_params(params: dict[str, Any], limit: int = 8) -> str:
    """``key=value`` pairs, floats to 3 significant digits, cut after ``limit`` entries."""
    parts = []
    for key, value in list(params.items())[:limit]:
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    if len(params) > limit:
        parts.append("…")
    return " ".join(parts)


class ProgressReporter:
    """A :class:`~hpsearch.runner.search.SearchObserver` that prints to stderr."""

    def __init__(self, metric: str, *, console: Console | None = None, quiet: bool = False):
        self.metric = metric
        self.console = console or Console(stderr=True, highlight=False)
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: Any = None

    def on_fold_start(self, fold: str, fold_dir: FoldDir, records: list[TrialRecord]) -> None:
        if records and not self.quiet:
            self.console.print(f"[bold]{fold}[/]: resuming with {len(records)} finished trials")

    def on_stage_start(self, fold: str, stage: int, strategy: str, budget: int, done: int) -> None:
        self._stop_bar()
        if self.quiet:
            return
        self.console.print(
            f"[bold]{fold}[/] stage {stage} · {strategy} · {done}/{budget} trials done"
        )
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn(f"{fold} {strategy}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[best]}"),
                console=self.console,
                transient=True,
            )
            self._task = self._progress.add_task("", total=budget, completed=done, best="")
            self._progress.start()

    def on_trial(self, fold: str, record: TrialRecord, best: TrialRecord | None) -> None:
        if self.quiet:
            return
        result = record.result
        if result.ok:
            outcome = f"{self.metric}={result.score:.4f}"
        else:
            outcome = f"[red]failed[/] ({result.error})"
        best_text = f"best {best.result.score:.4f} (#{best.trial_id})" if best else "no best yet"
        line = (
            f"  trial {record.trial_id:>4} {outcome} · {result.duration_s:.1f}s · {best_text}"
            f"  [dim]{format_params(result.params)}[/]"
        )
        if self._progress is not None:
            self._progress.console.print(line, soft_wrap=True)
            self._progress.update(self._task, advance=1, best=best_text)
        else:
            self.console.print(line, soft_wrap=True)

    def on_fold_end(self, fold: str, outcome: FoldOutcome) -> None:
        self._stop_bar()

    def _stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

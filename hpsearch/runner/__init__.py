"""Running a search: the trial context, executors, the per-fold search loop and the run folder."""

"""Where trials are recorded: the run directory's journal (always) and MLflow (optional)."""

"""The national portal's public Decision 766 scoreboard (``/api/v1/reporting/evaluation/...``)."""

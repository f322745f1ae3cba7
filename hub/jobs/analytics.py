"""The ``analytics_export`` DAG's task and ``hub analytics export``: write a day into the warehouse.

The day's facts come from the hub store of ``HUB_STORE_URL``, its results from the reconciliation
report the daily run (or ``hub reconcile``) wrote under ``var/reports/<day>/``; a day not yet
reconciled gets its facts and a log line saying its results are missing, and its next export after
the reconciliation adds them (re-running a day replaces it).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date
from typing import Any

from hub.analytics.catalog import open_catalog
from hub.analytics.export import export_day
from hub.paths import reports_dir
from hub.store import hub_store
from quality.reconcile.engine import DEFAULT_MEMORY_LIMIT

log = logging.getLogger(__name__)


def reconciliation_of(day: date) -> dict[str, Any] | None:
    """The day's reconciliation document, or None when the day has not been reconciled."""
    path = reports_dir(day.isoformat()) / "reconciliation.json"
    if not path.is_file():
        log.warning("no reconciliation report for %s (%s): its results are not exported this time", day, path)
        return None
    return json.loads(path.read_text(encoding="utf-8"))


# The days before the exported one whose facts are written again with it: a dossier is counted in
# its intake day, and its later versions (finished, result returned) must reach the warehouse.
DEFAULT_REFRESH_DAYS = 30


def refresh_days() -> int:
    """``HUB_WAREHOUSE_REFRESH_DAYS`` or :data:`DEFAULT_REFRESH_DAYS` (a bad value is an error, not a default)."""
    text = os.environ.get("HUB_WAREHOUSE_REFRESH_DAYS")
    if text is None:
        return DEFAULT_REFRESH_DAYS
    if not text.strip().isdigit():
        raise ValueError(f"HUB_WAREHOUSE_REFRESH_DAYS={text!r} is not a number of days (0 or more)")
    return int(text)


def export(day_text: str) -> dict[str, Any]:
    """Export ``day_text`` (``2026-11-20``) and refresh the days before it in the configured
    warehouse; the summary the task returns."""
    day = date.fromisoformat(day_text)
    memory_limit = os.environ.get("HUB_RECONCILE_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    return export_day(
        open_catalog(),
        hub_store().db,
        day,
        reconciliation_of(day),
        refresh_days=refresh_days(),
        memory_limit=memory_limit,
    )

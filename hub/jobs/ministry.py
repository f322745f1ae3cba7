"""One function per task of the ``ministry_exchange`` DAG : build what the step
needs, run it inside :func:`hub.jobs.common.recorded` so every exchange reaches the message log, return
counts and references (batch ids, windows) small enough for XComs.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from hub.jobs.common import recorded, write_report
from hub.jobs.quality import new_run_id, stored_gate
from hub.pipeline import ministry_exchange as exchange
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import MinistryPushes, hub_store
from mappings.code_tables import load_code_tables
from mappings.sources import CITY_SOURCE

log = logging.getLogger(__name__)
STATUS_BATCH_SIZE = 200  # status calls per mapped task: one round trip each


def plan_push(partner: str, run_id: str | None = None) -> list[str]:
    """Plan the interconnected city dossiers for ``partner``; return the push batch ids. The gate's
    validations are stored under ``run_id``."""
    gate = stored_gate(hub_store(), run_id or new_run_id())
    report = exchange.plan_push(hub_store(), gate, partner, source=CITY_SOURCE)
    log.info(
        "%s: %d candidates %s, %d push batches", partner, report.considered, dict(report.decisions), len(report.batches)
    )
    return report.batches


def push(client: exchange.Pusher, partner: str, batch_id: str) -> dict[str, Any]:
    with recorded(client, batch_id):
        report = exchange.push_batch(
            hub_store(), client, partner, batch_id, tables=load_code_tables(), policy=RedeliveryPolicy.from_env()
        )
    log.info("%s batch %s: %d dossiers, %s", partner, batch_id, report.dossiers, dict(report.outcomes))
    return exchange.as_dict(report)


def plan_status(partner: str) -> list[str]:
    """Batch the pushed dossiers the ministry has not finished with."""
    return MinistryPushes(hub_store()).assign_status_batches(partner, STATUS_BATCH_SIZE)


def check_status(client: exchange.Pusher, partner: str, batch_id: str) -> dict[str, Any]:
    with recorded(client, batch_id):
        report = exchange.check_statuses(hub_store(), client, exchange.MINISTRIES[partner], batch_id)
    log.info("%s status batch %s: %s", partner, batch_id, exchange.as_dict(report))
    return exchange.as_dict(report)


def plan_pull(partner: str, start: datetime, end: datetime) -> list[str]:
    """The pull-back windows of the data interval (widened back to the watermark)."""
    spans = exchange.plan_pull(hub_store(), exchange.MINISTRIES[partner], start, end)
    log.info("%s pull-back: %d windows %s", partner, len(spans), spans)
    return spans


def pull(client: Any, partner: str, window: str, run_id: str | None = None) -> dict[str, Any]:
    """Pull one window back through the gate; its validations are stored under ``run_id``."""
    ministry = exchange.MINISTRIES[partner]
    gate = stored_gate(hub_store(), run_id or new_run_id())
    with recorded(client, f"{ministry.source}-{window}"):
        report = exchange.pull_window(hub_store(), client, ministry, window, gate)
    log.info("%s pull-back %s: %s", partner, window, exchange.as_dict(report))
    return exchange.as_dict(report)


def close_pull(partner: str, end: datetime, reports: list[dict[str, Any]]) -> dict[str, Any]:
    result = exchange.close_pull(hub_store(), exchange.MINISTRIES[partner], end, list(reports))
    return {"partner": partner, **result}


def summarize(run_id: str | None, pulls: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the run's per-ministry counts under var/reports/ministry/ (and latest.json); fail the
    task if any ministry's counts do not add up."""
    store = hub_store()
    by_partner = {p["partner"]: p for p in pulls}
    ministries = {
        partner: exchange.ministry_summary(store, exchange.MINISTRIES[partner], by_partner[partner])
        for partner in sorted(by_partner)
    }
    summary = {
        "run_id": run_id,
        "ministries": ministries,
        "identity_holds": all(m["identity_holds"] for m in ministries.values()),
    }
    path = write_report("ministry", run_id, summary)
    log.info("ministry summary: %s", json.dumps({p: (m["push"], m["pull_back"]) for p, m in ministries.items()}))
    if not summary["identity_holds"]:
        raise RuntimeError(f"ministry counts do not add up: {json.dumps(ministries, default=str)}")
    return {**summary, "summary_path": str(path)}

"""The ``citizen_notifications`` DAG's tasks: plan the day's events, push them to iHaNoi in batches, summarise."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from adapters.ihanoi.client import PARTNER, IHaNoiClient
from hub.jobs.common import recorded, write_report
from hub.pipeline import citizen_notifications
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import hub_store
from hub.store.notifications import NotificationCounts

log = logging.getLogger(__name__)


def plan_notifications() -> list[str]:
    """Queue the notifications of what changed since the last plan; return the batch ids due now."""
    report = citizen_notifications.plan(hub_store())
    log.info(
        "citizen notifications: %d dossier versions and %d parcels read, events %s, %d without a reachable "
        "applicant; %d notifications queued, %d batches due",
        report.dossiers_considered,
        report.parcels_considered,
        dict(report.events),
        report.no_recipient,
        report.queued,
        len(report.batches),
    )
    return report.batches


def deliver_notifications(client: IHaNoiClient, batch_id: str) -> dict[str, Any]:
    """Push one batch, every exchange kept in the message log."""
    with recorded(client, batch_id):
        report = citizen_notifications.deliver(hub_store(), client, batch_id, policy=RedeliveryPolicy.from_env())
    log.info("batch %s: %d notifications, %s", batch_id, report.messages, dict(report.outcomes))
    return {"batch_id": batch_id, "messages": report.messages, "outcomes": dict(report.outcomes)}


def summarize_notifications(run_id: str | None) -> dict[str, Any]:
    """Every notification by outcome (sent + pending + refused = planned), as JSON under var/reports/notifications/."""
    by_state = hub_store().outbox.counts(PARTNER).get(citizen_notifications.OPERATION, {})
    counts = NotificationCounts.of(by_state)
    summary: dict[str, Any] = {"run_id": run_id, "counts": asdict(counts), "by_state": by_state}
    summary["identity_holds"] = counts.holds
    summary["summary_path"] = str(write_report("notifications", run_id, summary))
    log.info("citizen notifications: %s", summary["counts"])
    if not summary["identity_holds"]:
        raise RuntimeError(f"notification counts do not add up: {by_state}")
    return summary

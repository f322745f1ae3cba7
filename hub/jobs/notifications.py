"""The ``citizen_notifications`` DAG's tasks: plan the day's events, push them to iHaNoi in batches, summarise."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from adapters.ihanoi.client import PARTNER, IHaNoiClient
from hub.jobs.common import recorded, write_report
from hub.pipeline import citizen_notifications
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import hub_store
from hub.store.notifications import NotificationCounts

log = logging.getLogger(__name__)


DEFAULT_MAX_AGE_DAYS = 7  # a week-old event is no longer news on a phone; HUB_NOTIFY_MAX_AGE_DAYS changes it


def max_age() -> timedelta:
    """How old an event may be when the hub first sees it and still be told (``HUB_NOTIFY_MAX_AGE_DAYS``)."""
    text = os.environ.get("HUB_NOTIFY_MAX_AGE_DAYS", str(DEFAULT_MAX_AGE_DAYS))
    try:
        days = float(text)
    except ValueError:
        raise ValueError(f"HUB_NOTIFY_MAX_AGE_DAYS must be a number of days, not {text!r}") from None
    if days <= 0:
        raise ValueError(f"HUB_NOTIFY_MAX_AGE_DAYS must be positive, not {text!r}")
    return timedelta(days=days)


def plan_notifications(as_of: datetime) -> list[str]:
    """Queue the notifications of what changed since the last plan; return the batch ids due now.

    ``as_of`` is the run's moment (its logical date, or when it ran): events older than
    :func:`max_age` before it are recorded as too old, not sent. A run for a past day (a backfill,
    the demo's day) measures from that day, not from the wall clock."""
    report = citizen_notifications.plan(hub_store(), not_before=as_of - max_age())
    log.info(
        "citizen notifications: %d dossier versions and %d parcels read, events %s, %d without a reachable "
        "applicant; %d notifications queued, %d too old to tell (recorded, not sent), %d batches due",
        report.dossiers_considered,
        report.parcels_considered,
        dict(report.events),
        report.no_recipient,
        report.queued,
        report.too_old,
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
    """Every notification by outcome (sent + pending + refused + too old = planned), as JSON under
    var/reports/notifications/."""
    by_operation = hub_store().outbox.counts(PARTNER)
    by_state = by_operation.get(citizen_notifications.OPERATION, {})
    too_old = sum(by_operation.get(citizen_notifications.TOO_OLD, {}).values())
    counts = NotificationCounts.of(by_state, too_old)
    summary: dict[str, Any] = {"run_id": run_id, "counts": asdict(counts), "by_state": by_state}
    summary["identity_holds"] = counts.holds
    summary["summary_path"] = str(write_report("notifications", run_id, summary))
    log.info("citizen notifications: %s", summary["counts"])
    if not summary["identity_holds"]:
        raise RuntimeError(f"notification counts do not add up: {by_state}, {too_old} too old")
    return summary

"""The ``national_portal_sync`` DAG's tasks: plan through the quality gate, deliver in batches, summarise."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from adapters.national_portal.client import NationalPortalClient
from hub.jobs.common import recorded, write_report
from hub.jobs.quality import build_data_docs, new_run_id, stored_gate
from hub.observability import events
from hub.pipeline import portal_sync
from hub.pipeline.portal_outcomes import resolve_unknown_outcomes
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.pipeline.summary import sync_summary
from hub.store import hub_store
from mappings.sources import CITY_SOURCE
from signing.config import hub_identity

log = logging.getLogger(__name__)
DeliveryStep = Callable[..., portal_sync.DeliveryReport]


def plan_portal_sync(run_id: str | None = None) -> list[str]:
    """Plan the sync and return the dossier batch ids (what the delivery tasks map over). Every
    batch's validation is stored under ``run_id``; a schema drift fails the task (nothing planned
    from the drifted page), and the Data Docs are built once at the end."""
    gate = stored_gate(hub_store(), run_id or new_run_id())
    started = hub_store().db.now()
    report = portal_sync.plan(hub_store(), gate, source=CITY_SOURCE)
    events.quarantined_since(hub_store(), CITY_SOURCE, started)
    log.info(
        "planned %d dossier versions: %s; %d messages queued (%d superseded) in %d batches",
        report.considered,
        dict(report.dispositions),
        report.messages_queued,
        report.superseded,
        len(report.dossier_batches),
    )
    build_data_docs()
    return report.dossier_batches


def deliver_portal_dossiers(client: NationalPortalClient, batch_id: str) -> dict[str, Any]:
    signed_batches = partial(portal_sync.deliver_dossiers, batch_signer=hub_identity())
    return _deliver(signed_batches, client, batch_id, "dossiers")


def plan_portal_progress() -> list[str]:
    return portal_sync.plan_progress(hub_store())


def deliver_portal_progress(client: NationalPortalClient, batch_id: str) -> dict[str, Any]:
    return _deliver(portal_sync.deliver_progress, client, batch_id, "progress entries")


def _deliver(step: DeliveryStep, client: NationalPortalClient, batch_id: str, what: str) -> dict[str, Any]:
    """Send one batch; before and after it, resolve the portal requests a killed run left with an
    unknown outcome (``portal_outcomes``): lookups first, a resend's settlement after."""
    store = hub_store()
    with recorded(client, batch_id):
        resolved = resolve_unknown_outcomes(store, client)
        report = step(store, client, batch_id, source=CITY_SOURCE, policy=RedeliveryPolicy.from_env())
        resolved += resolve_unknown_outcomes(store, client)
    log.info("batch %s: %d messages, %d %s, %s", batch_id, report.messages, report.records, what, dict(report.outcomes))
    if resolved:
        log.info("batch %s: resolved %d portal requests whose outcome was unknown", batch_id, resolved)
    return {
        "batch_id": batch_id,
        "messages": report.messages,
        "records": report.records,
        "outcomes": dict(report.outcomes),
        "unknown_outcomes_resolved": resolved,
    }


def summarize_portal_sync(run_id: str | None) -> dict[str, Any]:
    """Write the run's summary as JSON under var/reports/sync/ and return it."""
    summary = sync_summary(hub_store(), source=CITY_SOURCE, partner=portal_sync.PARTNER)
    summary["run_id"] = run_id
    summary["summary_path"] = str(write_report("sync", run_id, summary))
    log.info("sync summary: %s", json.dumps(summary["counts"]))
    if not summary["identity_holds"]:
        raise RuntimeError(f"counts do not add up: {summary['counts']}")
    return summary

"""The ``national_portal_sync`` DAG's tasks: plan through the quality gate, deliver in batches, summarise."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from adapters.national_portal.client import NationalPortalClient
from adapters.partners import pools
from hub.jobs.common import recorded, write_report
from hub.jobs.quality import build_data_docs, keep_validations, new_run_id, stored_gate
from hub.observability import events
from hub.pipeline import portal_sync
from hub.pipeline.portal_outcomes import resolve_unknown_outcomes
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.pipeline.summary import sync_summary
from hub.store import WHOLE, Partition, hub_store, partitions
from mappings.sources import CITY_SOURCE
from signing.config import hub_identity

log = logging.getLogger(__name__)
DeliveryStep = Callable[..., portal_sync.DeliveryReport]
PLAN_PARTITIONS_ENV = "HUB_PLAN_PARTITIONS"


def plan_portal_sync(run_id: str | None = None) -> list[str]:
    """Plan the whole sync in this task and return the dossier batch ids (what the delivery tasks
    map over): :func:`plan_portal_partition` over the one partition, then :func:`batch_portal_sync`."""
    return batch_portal_sync([_plan(WHOLE, run_id or new_run_id())])


def plan_partitions() -> list[list[int]]:
    """The plan's partitions as ``[index, count]`` (what the DAG maps the plan task over): as many
    as ``HUB_PLAN_PARTITIONS`` says, by default the ``national_portal`` pool's slots -- the
    workers the delivery tasks that follow use (a partner's pool is named as the partner)."""
    setting = os.environ.get(PLAN_PARTITIONS_ENV)
    if setting and not (setting.isdigit() and int(setting) >= 1):
        raise ValueError(f"{PLAN_PARTITIONS_ENV}={setting!r}: give the number of plan partitions, a whole number >= 1")
    count = int(setting) if setting else pools()[portal_sync.PARTNER].slots
    return [[p.index, p.count] for p in partitions(count)]


def plan_portal_partition(partition: Sequence[int], run_id: str | None = None) -> dict[str, Any]:
    """Plan one partition (``[index, count]``; several task instances at once) and keep its
    validations for the Data Docs; returns its report, which :func:`batch_portal_sync` adds up."""
    report = _plan(Partition(*partition), run_id or new_run_id())
    keep_validations()
    return report


def _plan(partition: Partition, run_id: str) -> dict[str, Any]:
    """Every batch's validation is stored under ``run_id``; a schema drift fails the task (nothing
    planned from the drifted page)."""
    gate = stored_gate(hub_store(), run_id)
    started = hub_store().db.now()
    report = portal_sync.plan_partition(hub_store(), gate, source=CITY_SOURCE, partition=partition)
    log.info(
        "partition %s: planned %d dossier versions: %s; %d messages queued (%d superseded)",
        partition,
        report.considered,
        dict(report.dispositions),
        report.messages_queued,
        report.superseded,
    )
    return {
        "partition": [partition.index, partition.count],
        "started": started.isoformat(),
        "considered": report.considered,
        "dispositions": dict(report.dispositions),
        "messages_queued": report.messages_queued,
        "superseded": report.superseded,
    }


def batch_portal_sync(reports: Iterable[dict[str, Any]]) -> list[str]:
    """After every partition: log what they planned together and what they quarantined, batch the
    queued messages, build the Data Docs once; returns the dossier batch ids."""
    reports = list(reports)
    if reports:
        started = min(datetime.fromisoformat(r["started"]) for r in reports)
        events.quarantined_since(hub_store(), CITY_SOURCE, started)
    dispositions: Counter[str] = Counter()
    for r in reports:
        dispositions.update(r["dispositions"])
    batches = portal_sync.batch_plan(hub_store())
    log.info(
        "planned %d dossier versions in %d partitions: %s; %d messages queued (%d superseded) in %d batches",
        sum(r["considered"] for r in reports),
        len(reports),
        dict(dispositions),
        sum(r["messages_queued"] for r in reports),
        sum(r["superseded"] for r in reports),
        len(batches),
    )
    build_data_docs()
    return batches


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

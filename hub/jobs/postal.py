"""One function per task of the ``postal_dispatch`` and ``postal_tracking`` DAGs :
build what the step needs, run it inside :func:`hub.jobs.common.recorded` so every call to a carrier
reaches the message log, return counts and batch ids small enough for XComs. ``client`` is a
carrier client (``adapters.postal.carrier.Carrier``) with its transport, as the hooks build it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from typing import Any

from hub.jobs.common import recorded, write_report
from hub.jobs.quality import new_run_id, stored_gate
from hub.observability import metrics
from hub.pipeline import postal_dispatch, postal_tracking
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import hub_store
from mappings.sources import CITY_SOURCE

log = logging.getLogger(__name__)
DELIVERY_DAYS_ENV = "HUB_POSTAL_DELIVERY_DAYS"


def delivery_days() -> int:
    """Working days a result may take to arrive before it is flagged overdue (``HUB_POSTAL_DELIVERY_DAYS``)."""
    return int(os.environ.get(DELIVERY_DAYS_ENV, postal_dispatch.DEFAULT_DELIVERY_DAYS))


def plan_dispatch(carriers: list[str], run_id: str | None = None) -> dict[str, list[str]]:
    """Plan every ready result; return the order batch ids per carrier (each carrier present). The
    gate's validations of the planned orders are stored under ``run_id``."""
    gate = stored_gate(hub_store(), run_id or new_run_id())
    report = postal_dispatch.plan_dispatch(hub_store(), gate, source=CITY_SOURCE)
    log.info(
        "postal dispatch: %d candidates, %s, %d not ready; quarantined by rule %s; batches %s",
        report.considered,
        dict(report.decisions),
        report.not_ready,
        dict(report.rules),
        {carrier: len(ids) for carrier, ids in report.batches.items()},
    )
    unknown = set(report.batches) - set(carriers)
    if unknown:
        raise RuntimeError(f"dispatch desks name carriers this DAG does not serve: {sorted(unknown)}")
    return {carrier: report.batches.get(carrier, []) for carrier in carriers}


def place(client: Any, batch_id: str, run_id: str | None = None) -> dict[str, Any]:
    """Place one batch; the gate's validations of the carrier's replies are stored under ``run_id``."""
    gate = stored_gate(hub_store(), run_id or new_run_id())
    with recorded(client, batch_id):
        report = postal_dispatch.place_batch(
            hub_store(),
            client,
            batch_id,
            gate=gate,
            policy=RedeliveryPolicy.from_env(),
            delivery_days=delivery_days(),
        )
    log.info("%s batch %s: %d results, %s", client.name, batch_id, report.results, dict(report.outcomes))
    return postal_dispatch.as_dict(report)


def summarize_dispatch(run_id: str | None) -> dict[str, Any]:
    """Write where every ready result stands under var/reports/postal_dispatch/; fail unless
    ready = ordered + pending + quarantined."""
    summary = {"run_id": run_id, **postal_dispatch.dispatch_summary(hub_store())}
    summary["summary_path"] = str(write_report("postal_dispatch", run_id, summary))
    log.info("postal dispatch summary: %s", json.dumps(summary["dispatch"]))
    if not summary["identity_holds"]:
        raise RuntimeError(f"postal dispatch counts do not add up: {summary['dispatch']}")
    return summary


def track(client: Any) -> dict[str, Any]:
    with recorded(client, f"postal-track-{client.name}"):
        report = postal_tracking.track_carrier(hub_store(), client)
    log.info("%s tracking: %s", client.name, asdict(report))
    return asdict(report)


def summarize_tracking(run_id: str | None, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the run's tracking counts under var/reports/postal_tracking/ (the carriers' poll reports
    beside the delivery states, overdue orders and anomalies)."""
    polls = [r for r in reports if r]  # a failed poll task left no report
    summary = {"run_id": run_id, "polls": polls, **postal_tracking.tracking_summary(hub_store())}
    summary["summary_path"] = str(write_report("postal_tracking", run_id, summary))
    log.info("postal tracking summary: %s", json.dumps(summary["delivery"]))
    metrics.postal_delivery(summary["delivery"])
    return summary

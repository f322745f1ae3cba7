"""One function per task of the ``population_verify`` DAG : build what the step
needs, run it inside :func:`hub.jobs.common.recorded` so every SOAP exchange reaches the message log,
return counts and batch ids small enough for XComs -- never personal data.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from adapters.population_db.client import PopulationDbClient
from hub.jobs.common import recorded, write_report
from hub.pipeline import population_verify
from hub.store import hub_store
from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ
from mappings.sources import CITY_SOURCE

log = logging.getLogger(__name__)


def plan() -> list[str]:
    """Mark the citizen dossiers to verify; return the batch ids the verify tasks map over."""
    report = population_verify.plan(hub_store(), source=CITY_SOURCE)
    log.info(
        "population: %d dossier versions considered, %d to verify, %d kept their verdict; %d batches",
        report.considered,
        report.to_verify,
        report.carried,
        len(report.batches),
    )
    return report.batches


def verify(client: PopulationDbClient, batch_id: str) -> dict[str, Any]:
    """Verify one batch; an untrusted reply (or any non-retryable error) fails the task after the
    batch's other results are stored and its exchanges logged."""
    with recorded(client, batch_id):
        report = population_verify.verify_batch(
            hub_store(),
            client,
            batch_id,
            source=CITY_SOURCE,
            tables=load_code_tables(),
            today=datetime.now(VN_TZ).date(),
        )
    log.info("population batch %s: %d checks, %s", batch_id, report.checks, dict(report.outcomes))
    return {"batch_id": batch_id, "checks": report.checks, "outcomes": dict(report.outcomes)}


def summarize(run_id: str | None) -> dict[str, Any]:
    """Write the run's counts under var/reports/population/ (and latest.json); fail if they do not add up."""
    summary = {**population_verify.summary(hub_store(), source=CITY_SOURCE), "run_id": run_id}
    path = write_report("population", run_id, summary)
    log.info("population summary: %s", json.dumps(summary["counts"]))
    if not summary["identity_holds"]:
        raise RuntimeError(f"population counts do not add up: {summary['counts']}")
    return {**summary, "summary_path": str(path)}

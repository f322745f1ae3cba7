"""One function per DAG task: build what the step needs, run it, return a small JSON-able result.

DAG files stay wiring only and call these with clients their Airflow hooks built; the demo,
the benchmark and the tests call the same functions, so there is one code path whether or not
a scheduler is involved. Results are references and counts (batch ids, numbers), never data:
they travel as XComs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Protocol

from adapters.city_system.client import CitySystemClient
from adapters.national_portal.client import NationalPortalClient
from adapters.transport import HttpTransport
from hub.jobs_quality import build_data_docs, new_run_id, stored_gate
from hub.observability import events
from hub.observability.logging import correlated
from hub.paths import store_url, var_dir
from hub.pipeline import portal_sync
from hub.pipeline.extract import CITY_SOURCE, extract_city_dossiers
from hub.pipeline.message_log import ExchangeRecorder
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.pipeline.summary import sync_summary
from hub.store import HubStore
from signing.config import hub_identity

log = logging.getLogger(__name__)
DeliveryStep = Callable[..., portal_sync.DeliveryReport]


@lru_cache(maxsize=4)
def store_for(url: str) -> HubStore:
    """One engine (connection pool) per process and URL; the schema is created on first use."""
    store = HubStore(url)
    store.create_schema()
    return store


def hub_store() -> HubStore:
    return store_for(store_url())


class HasTransport(Protocol):
    """Any partner client: what the message log hooks into is its transport."""

    transport: HttpTransport


@contextmanager
def recorded(client: HasTransport, batch_id: str | None) -> Iterator[None]:
    """Keep every exchange the block makes in the message log, written once at the end.

    The transport is shared per process; an Airflow task owns its process, so swapping the hook
    for the task's duration cannot mix two tasks' exchanges.
    """
    recorder = ExchangeRecorder(batch_id)
    previous, client.transport.on_exchange = client.transport.on_exchange, recorder
    try:
        with correlated(batch_id=batch_id):
            yield
    finally:
        client.transport.on_exchange = previous
        # One seal per batch: a signature over the Merkle root of the entries just appended.
        hub_store().log_exchanges(recorder.entries, seal=hub_identity())
        events.exchanges(recorder.entries)


def extract(client: CitySystemClient, start: datetime, end: datetime) -> dict[str, Any]:
    with recorded(client, None):
        result = extract_city_dossiers(client, hub_store(), start, end)
    log.info(
        "extracted %d city records (%d new versions, %d unchanged) for %s .. %s",
        result.records,
        result.new_versions,
        result.unchanged,
        result.window_from,
        result.window_to,
    )
    return {
        **asdict(result),
        "window_from": result.window_from.isoformat(),
        "window_to": result.window_to.isoformat(),
    }


def plan_portal_sync(run_id: str | None = None) -> list[str]:
    """Plan the sync and return the dossier batch ids (what the delivery tasks map over). Every
    batch's validation is stored under ``run_id``; a schema drift fails the task (nothing planned
    from the drifted page), and the Data Docs are built once at the end."""
    gate = stored_gate(hub_store(), run_id or new_run_id())
    started = hub_store().now()
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
    with recorded(client, batch_id):
        report = step(hub_store(), client, batch_id, source=CITY_SOURCE, policy=RedeliveryPolicy.from_env())
    log.info("batch %s: %d %s, %s", batch_id, report.messages, what, dict(report.outcomes))
    return {"batch_id": batch_id, "messages": report.messages, "outcomes": dict(report.outcomes)}


def summarize_portal_sync(run_id: str | None) -> dict[str, Any]:
    """Write the run's summary as JSON under var/reports/sync/ and return it."""
    summary = sync_summary(hub_store(), source=CITY_SOURCE, partner=portal_sync.PARTNER)
    summary["run_id"] = run_id
    summary["summary_path"] = str(write_report("sync", run_id, summary))
    log.info("sync summary: %s", json.dumps(summary["counts"]))
    if not summary["identity_holds"]:
        raise RuntimeError(f"counts do not add up: {summary['counts']}")
    return summary


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")


def write_report(kind: str, run_id: str | None, report: dict[str, Any]) -> Path:
    """Write a run's report as ``var/reports/<kind>/<run id>.json`` and as ``latest.json`` beside it."""
    folder = var_dir() / "reports" / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id or 'manual')}.json"
    _write_json(path, report)
    _write_json(folder / "latest.json", report)
    return path

"""The hub's alerts: what went wrong, where, and what the numbers were -- as one JSON document.

Three situations raise an alert (``docs/operations.md`` says what to do about each):

- ``task_failed``: a task of a hub DAG failed for good (retries spent); says which DAG, task,
  run and try, and the exception -- e.g. an untrusted partner reply or refused credentials.
- ``deadline_missed``: a sync DAG run was still not done at its Airflow Deadline Alert.
- ``quarantine_growth``: a run quarantined more new dossiers than ``HUB_ALERT_QUARANTINE_GROWTH``
  (default 50): usually a changed code table or a partner sending malformed data.
- ``sync_lag``: the oldest undelivered message is older than ``HUB_ALERT_SYNC_LAG_MINUTES``
  (default 120): the portal has been down or refusing for that long.

The Airflow side (``dags/common.py``) turns callback contexts into :class:`Alert`s with
:func:`from_context` and posts them with :func:`send` to the webhook URL of an Airflow Connection.
Every document is masked (``mappings.masking``) as a whole, just before it leaves: exception
texts and reasons quote partner replies, which may carry ID or phone numbers.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from hub.observability import metrics
from hub.pipeline.portal_sync import PARTNER
from hub.pipeline.summary import sync_summary
from hub.store import HubStore, hub_store
from hub.store.database import utc
from mappings.masking import mask_personal_data
from mappings.sources import CITY_SOURCE

log = logging.getLogger(__name__)
EXAMPLES = 10


@dataclass(frozen=True)
class Alert:
    kind: str
    summary: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The JSON body a webhook receives, personal numbers masked."""
        body = {
            "alert": self.kind,
            "summary": self.summary,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "details": self.details,
            "raised_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return json.loads(mask_personal_data(json.dumps(body, ensure_ascii=False, default=str)))


@dataclass(frozen=True)
class Thresholds:
    quarantine_growth: int = 50
    sync_lag: timedelta = timedelta(minutes=120)

    @classmethod
    def from_env(cls) -> Thresholds:
        return cls(
            quarantine_growth=int(os.environ.get("HUB_ALERT_QUARANTINE_GROWTH", cls.quarantine_growth)),
            sync_lag=timedelta(minutes=float(os.environ.get("HUB_ALERT_SYNC_LAG_MINUTES", 120))),
        )


def _field(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]``: Airflow hands objects to callbacks, dicts to the triggerer."""
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def from_context(kind: str, context: Mapping[str, Any]) -> Alert:
    """An alert from an Airflow callback context (task or DAG callback, or a missed deadline)."""
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = _field(dag_run, "dag_id") or _field(context.get("dag"), "dag_id")
    run_id = context.get("run_id") or _field(dag_run, "run_id") or _field(dag_run, "dag_run_id")
    task_id = _field(ti, "task_id")
    details: dict[str, Any] = {}
    exception = context.get("exception")
    if exception is not None:
        details["exception"] = f"{type(exception).__name__}: {exception}"
    if ti is not None:
        details["try_number"] = _field(ti, "try_number")
        details["map_index"] = _field(ti, "map_index")
    if context.get("reason"):
        details["reason"] = context["reason"]
    deadline = context.get("deadline")
    if deadline:
        details["deadline"] = _field(deadline, "deadline_time")
    where = f"{dag_id}.{task_id}" if task_id else str(dag_id)
    why = details.get("exception") or details.get("reason") or "no reason given"
    if kind == "deadline_missed":
        summary = f"{dag_id} run {run_id} was not finished by its deadline {details.get('deadline')}"
    else:
        summary = f"{where} failed in run {run_id}: {why}"
    return Alert(kind, summary, dag_id, run_id, task_id, details)


def watch(
    store: HubStore,
    *,
    source: str,
    partner: str,
    thresholds: Thresholds,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> list[Alert]:
    """After a run: send the gauges of where dossiers stand, and the alerts the numbers call for.

    Growth is counted as quarantine entries first seen since the previous watch (a store
    watermark named ``alerts:quarantine:<source>``), so neither an old backlog nor a re-run
    alerts again, whatever the runs' logical dates; the first watch ever sees the whole backlog.
    """
    checked_at = store.db.now()
    watermark = f"alerts:quarantine:{source}"
    since = store.staging.watermark(watermark) or datetime.min.replace(tzinfo=UTC)
    summary = sync_summary(store, source=source, partner=partner)
    metrics.record_counts(partner, summary["counts"])
    metrics.oldest_pending(partner, summary["oldest_pending_seconds"])
    open_entries = store.quarantine.open_entries(source)
    new = [e for e in open_entries if utc(e["first_seen"]) >= since]
    store.staging.advance_watermark(watermark, checked_at)
    alerts: list[Alert] = []
    if len(new) > thresholds.quarantine_growth:
        alerts.append(
            Alert(
                "quarantine_growth",
                f"{len(new)} quarantine entries of {source} are new since the last check "
                f"(threshold {thresholds.quarantine_growth})",
                dag_id,
                run_id,
                details={
                    "new_entries": len(new),
                    "open_entries": len(open_entries),
                    "threshold": thresholds.quarantine_growth,
                    "by_rule": dict(Counter(e["rule"] for e in new).most_common()),
                    "examples": [e["dossier_no"] for e in new[:EXAMPLES]],
                },
            )
        )
    lag = summary["oldest_pending_seconds"]
    if lag is not None and lag > thresholds.sync_lag.total_seconds():
        alerts.append(
            Alert(
                "sync_lag",
                f"the oldest message waiting for {partner} is {timedelta(seconds=lag)} old "
                f"(threshold {thresholds.sync_lag})",
                dag_id,
                run_id,
                details={
                    "oldest_pending_seconds": lag,
                    "threshold_seconds": thresholds.sync_lag.total_seconds(),
                    "pending": summary["counts"]["pending"],
                    "outbox": summary["outbox"],
                },
            )
        )
    return alerts


def send(url: str | None, alert: Alert, *, timeout: float = 10.0) -> None:
    """POST the alert; without a webhook configured it is only logged (masked, as every log line)."""
    log.warning("ALERT %s: %s", alert.kind, alert.summary)
    if not url:
        log.warning("no alert webhook configured (Connection hub_alerts): alert %s only logged", alert.kind)
        return
    response = requests.post(url, json=alert.document(), timeout=timeout)
    response.raise_for_status()


def watch_portal_sync(*, dag_id: str | None, run_id: str | None) -> list[Alert]:
    """:func:`watch` for the city -> national portal sync."""
    return watch(
        hub_store(),
        source=CITY_SOURCE,
        partner=PARTNER,
        thresholds=Thresholds.from_env(),
        dag_id=dag_id,
        run_id=run_id,
    )

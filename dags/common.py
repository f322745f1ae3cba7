"""What every hub DAG shares: owner, retries, alerts, the assets that chain them, the pools.

Installed with the project (so the scheduler, workers and tests import the same module) and free
of heavy imports, so parsing
a DAG file stays cheap.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.lineage.entities import Table
from airflow.sdk import Asset, AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference
from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from adapters import partners

TIMEZONE = pendulum.timezone("Asia/Ho_Chi_Minh")
START_DATE = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)

# Alerts are posted as JSON to this Connection's URL (e.g. AIRFLOW_CONN_HUB_ALERTS=https://chat.example/hook);
# without it they are only logged. What each alert means: hub/observability/alerts.py.
ALERTS_CONN_ID = "hub_alerts"


def alert_webhook_url(conn_id: str = ALERTS_CONN_ID) -> str | None:
    try:
        return BaseHook.get_connection(conn_id).get_uri()
    except AirflowNotFoundException:
        return None


class HubAlertNotifier(BaseNotifier):
    """Posts a hub alert built from the callback's context (which DAG, task, run, and why).

    Sync for task failure callbacks (they run where the task ran); async for Deadline Alerts,
    which the triggerer awaits with the run's context.
    """

    def __init__(self, kind: str = "task_failed", conn_id: str = ALERTS_CONN_ID, context: Any = None) -> None:
        super().__init__(context=context)
        self.kind = kind
        self.conn_id = conn_id

    def notify(self, context: Any) -> None:
        from hub.observability import alerts

        alerts.send(alert_webhook_url(self.conn_id), alerts.from_context(self.kind, context))

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)


def watch_portal_sync(context: Any) -> None:
    """Success callback of the portal sync: gauges of where dossiers stand, growth and lag alerts."""
    from hub.observability import alerts

    found = alerts.watch_portal_sync(dag_id=context["dag"].dag_id, run_id=context.get("run_id"))
    for alert in found:
        alerts.send(alert_webhook_url(), alert)


DEFAULT_ARGS = {
    "owner": "hub-data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    # Runs once the retries are spent, so one alert per real failure.
    "on_failure_callback": HubAlertNotifier(),
}


def sync_deadline() -> dict[str, Any]:
    """The sync DAGs' Deadline Alert, when ``HUB_SYNC_DEADLINE_MINUTES`` is set (production).

    A run not finished that many minutes after it was queued makes the triggerer post a
    ``deadline_missed`` alert. Off by default because in Airflow 3.3.2 ``dag.test()`` and
    ``airflow dags test`` crash when a run with a deadline succeeds (apache/airflow#73428),
    which is how the demo and the tests run the DAGs.
    """
    minutes = os.environ.get("HUB_SYNC_DEADLINE_MINUTES")
    if not minutes:
        return {}
    alert = DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=int(minutes)),
        callback=AsyncCallback(HubAlertNotifier, kwargs={"kind": "deadline_missed"}),
        name="sync_deadline",
    )
    return {"deadline": alert}


# Spread into @dag(...) of the sync DAGs.
EXTRACT_OBSERVABILITY: dict[str, Any] = sync_deadline()
PORTAL_SYNC_OBSERVABILITY: dict[str, Any] = {**sync_deadline(), "on_success_callback": watch_portal_sync}

# Staged city dossiers: the extract DAG updates it, the portal sync is scheduled on it.
CITY_DOSSIERS_STAGED = Asset(name="city_dossiers_staged", uri="hubstore://staging/city_dossiers")
# What the portal acknowledged: the reconciliation DAGs are scheduled on it.
PORTAL_SYNCED = Asset(name="national_portal_synced", uri="hubstore://delivery/national_portal")
# Dossiers pulled back from ministry systems (staged with their origin) and pushes settled:
# the reconciliation DAGs are scheduled on it too.
MINISTRY_EXCHANGED = Asset(name="ministry_exchanged", uri="hubstore://staging/ministry_dossiers")
# A period reconciled and its report written (var/reports/<period>/).
RECONCILED = Asset(name="reconciled", uri="hubstore://reports/reconciliation")
# A day written into the analytics warehouse (Iceberg tables of the hub_analytics namespace).
WAREHOUSE_EXPORTED = Asset(name="analytics_warehouse", uri="iceberg://hub/hub_analytics")

# Lineage (OpenLineage events through the provider): the systems data comes from and goes to,
# as task inlets/outlets. A Table becomes an OpenLineage dataset named <database>.<name> in the
# namespace <cluster>, so ministries and engineers can see which source fed which delivery.
CITY_DOSSIER_RECORDS = Table(cluster="hanoi-city-dossier-system", database="api", name="ho_so")
HUB_CITY_STAGING = Table(cluster="hanoi-dossier-hub", database="staging", name="city_dossiers")
HUB_OUTBOX = Table(cluster="hanoi-dossier-hub", database="outbox", name="national_portal")
PORTAL_DOSSIERS = Table(cluster="dvcqg-national-portal", database="lgsp", name="DongBoHoSoMC")
PORTAL_PROGRESS = Table(cluster="dvcqg-national-portal", database="lgsp", name="CapNhatTienDoHoSoMC")
POPULATION_REGISTER = Table(cluster="csdl-dan-cu", database="lgsp", name="population_register")
HUB_POPULATION_CHECKS = Table(cluster="hanoi-dossier-hub", database="staging", name="population_check")
HUB_CITIZEN_NOTIFICATIONS = Table(cluster="hanoi-dossier-hub", database="outbox", name="ihanoi")
IHANOI_NOTIFICATIONS = Table(cluster="ihanoi-citizen-app", database="api", name="notifications")
HUB_RECONCILIATION_REPORTS = Table(cluster="hanoi-dossier-hub", database="reports", name="reconciliation")


def warehouse_table(name: str) -> Table:
    """A table of the analytics warehouse (``hub.analytics.tables``): ``hub_analytics.<name>``."""
    return Table(cluster="hanoi-dossier-hub-warehouse", database="hub_analytics", name=name)


def ministry_system(partner: str) -> Table:
    """A ministry's system: ``ministry-<partner>``/``lgsp.<partner>``."""
    return Table(cluster=f"ministry-{partner}", database="lgsp", name=partner)


def ministry_staging(partner: str) -> Table:
    """Where the dossiers pulled back from a ministry are staged (source ``ministry:<partner>``)."""
    return Table(cluster="hanoi-dossier-hub", database="staging", name=f"ministry_{partner}")


def partner_pool(partner_id: str) -> str:
    """The pool capping concurrent calls to a partner across all workers: named as the partner, sized
    in its registry entry (adapters/partners.py, from which ``hub airflow-init`` creates the pools). A
    partner declared without a pool is refused here, at parse time, rather than leaving its tasks
    queued on a pool that does not exist."""
    if partners.partner(partner_id).pool is None:
        raise ValueError(f"partner {partner_id!r} has no pool in adapters/partners.py")
    return partner_id


def partner_client(partner_id: str) -> Any:
    """The partner's client from its Airflow Connection (cached per worker process). Call it inside a
    task: it imports the hook and the partner's client, which parsing a DAG file must not."""
    from adapters.hooks import PartnerHook

    return PartnerHook(partner_id).get_client()


CITY_SYSTEM_POOL = partner_pool("city_system")
NATIONAL_PORTAL_POOL = partner_pool("national_portal")

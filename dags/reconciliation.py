"""Reconcile the counts and write the reports officials read: ``reconcile_daily`` and ``reconcile_quarterly``.

Both run after the portal sync and the ministry exchange have updated their assets, and on a
clock in any case, so a period with no sync still gets its report (saying why the counts
differ). Each first fetches the portal's export of the period (what the portal holds, so a
dossier it lost or one that reached it from ministry software shows), and, optionally, the portal's public
Decision 766 scoreboard (never failing the run when that public API is down) and the payment platform's
transaction lists (the same: a period without them checks no payment), then reconciles the city's
dossiers against it, what the portal acknowledged and what the ministries processed, lists every
difference by dossier, checks the accounting identities and KPIs, and writes HTML, CSV, JSON and
a signed PDF under ``var/reports/<period>/``.

- ``reconcile_daily``: the Hanoi day that ended before the run (01:30 Hanoi time); beside it,
  ``check_portal_catalogue`` compares the portal's catalogue with the city's code tables
  (``hub catalogue check`` by hand).
- ``reconcile_quarterly``: the quarter holding that day -- quarter to date after each sync, so the
  quarterly figures are never a surprise, and the whole quarter at 03:00 on the first day of the
  next. This is the report that used to be trimmed by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from dags.common import (
    DEFAULT_ARGS,
    MINISTRY_EXCHANGED,
    NATIONAL_PORTAL_POOL,
    PORTAL_SYNCED,
    RECONCILED,
    START_DATE,
    TIMEZONE,
    partner_client,
    partner_pool,
)


def _optional(source: str, period: str, fetch: Callable[[], dict]) -> dict:
    """``fetch()``, or -- when ``source`` is down or its Connection missing -- a note saying so: an
    optional source never fails the reconciliation, whose report then says it was not available."""
    try:
        return fetch()
    except Exception as exc:
        logging.getLogger(__name__).warning("%s was not available: %s", source, exc)
        return {"period": period, "available": False, "reason": str(exc)}


def reconciliation_dag(dag_id: str, kind: str, cron: str) -> None:
    @dag(
        dag_id=dag_id,
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(cron, timezone=TIMEZONE),
            assets=(PORTAL_SYNCED & MINISTRY_EXCHANGED),
        ),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["hub", "reconciliation", "report", kind],
        doc_md=__doc__,
    )
    def reconciliation() -> None:
        @task(pool=NATIONAL_PORTAL_POOL)
        def fetch_portal_snapshot(logical_date=None, run_after=None) -> dict:
            from hub.jobs import reconcile as jobs_reconcile

            period = jobs_reconcile.period_before(logical_date or run_after, kind)
            return jobs_reconcile.fetch_portal_snapshot(partner_client("national_portal"), period)

        @task(pool=partner_pool("portal_scoreboard"))
        def fetch_portal_scoreboard(logical_date=None, run_after=None) -> dict:
            # Optional: the public scoreboard being down (or its Connection missing) never fails the
            # reconciliation; the report then says the scoreboard was not available.
            from hub.jobs import reconcile as jobs_reconcile

            period = jobs_reconcile.period_before(logical_date or run_after, kind)
            fetch = jobs_reconcile.fetch_portal_scoreboard
            board = "the portal's scoreboard"
            return _optional(board, period, lambda: fetch(partner_client("portal_scoreboard"), period))

        @task(pool=partner_pool("payment_platform"))
        def fetch_platform_payments(logical_date=None, run_after=None) -> dict:
            # Optional too: without the platform's lists the report checks no payment and the
            # online-payment KPI keeps the dossiers' word (basis "facts"), saying so.
            from hub.jobs import payments as jobs_payments
            from hub.jobs import reconcile as jobs_reconcile

            period = jobs_reconcile.period_before(logical_date or run_after, kind)
            fetch = jobs_payments.fetch_platform_payments
            return _optional("the payment platform", period, lambda: fetch(partner_client("payment_platform"), period))

        @task(outlets=[RECONCILED])
        def reconcile(logical_date=None, run_after=None) -> dict:
            from hub.jobs import reconcile as jobs_reconcile

            return jobs_reconcile.reconcile_and_report(jobs_reconcile.period_before(logical_date or run_after, kind))

        @task(pool=NATIONAL_PORTAL_POOL)
        def check_portal_catalogue() -> dict:
            # Beside the reconciliation, not before it: a drifted catalogue row is the code tables'
            # to fix (report in var/reports/catalogue/), not a reason to withhold the day's report.
            from hub.jobs import catalogue as jobs_catalogue

            return jobs_catalogue.check_portal_catalogue(partner_client("national_portal"))

        [fetch_portal_snapshot(), fetch_portal_scoreboard(), fetch_platform_payments()] >> reconcile()
        if kind == "day":
            check_portal_catalogue()

    reconciliation()


reconciliation_dag("reconcile_daily", "day", "30 1 * * *")
reconciliation_dag("reconcile_quarterly", "quarter", "0 3 1 1,4,7,10 *")

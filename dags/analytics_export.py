"""Write the reconciled day into the analytics warehouse: ``analytics_export``.

Runs once the day's dossiers are staged and its reconciliation written (the staged and reconciled
assets), and on a clock after the daily reconciliation in any case. It writes the day's
de-identified dossier facts and the reconciliation's verdict and figures as Apache Iceberg tables
(``hub_analytics.dossier_facts``, ``reconciliation_day``, ``reconciliation_figure``), replacing the
day if it was written before, and reads them back to check they count what the hub counts
(``hub.analytics``; by hand: ``hub analytics export --day``). Lineage: from the hub's staging (city
and every ministry's pull-back) and the reconciliation reports to the warehouse tables.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from adapters import partners
from dags.common import (
    CITY_DOSSIERS_STAGED,
    DEFAULT_ARGS,
    HUB_CITY_STAGING,
    HUB_RECONCILIATION_REPORTS,
    RECONCILED,
    START_DATE,
    TIMEZONE,
    WAREHOUSE_EXPORTED,
    ministry_staging,
    warehouse_table,
)

WAREHOUSE_TABLES = ("dossier_facts", "reconciliation_day", "reconciliation_figure")


@dag(
    dag_id="analytics_export",
    schedule=AssetOrTimeSchedule(
        # After reconcile_daily's 01:30 run, so a day with no sync is still written.
        timetable=CronTriggerTimetable("0 3 * * *", timezone=TIMEZONE),
        assets=(CITY_DOSSIERS_STAGED & RECONCILED),
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "analytics", "warehouse"],
    doc_md=__doc__,
)
def analytics_export() -> None:
    @task(
        inlets=[HUB_CITY_STAGING, *(ministry_staging(p) for p in partners.ministries()), HUB_RECONCILIATION_REPORTS],
        outlets=[*(warehouse_table(name) for name in WAREHOUSE_TABLES), WAREHOUSE_EXPORTED],
    )
    def export_day(logical_date=None, run_after=None) -> dict:
        from hub.jobs import analytics as jobs_analytics
        from hub.jobs import reconcile as jobs_reconcile

        return jobs_analytics.export(jobs_reconcile.period_before(logical_date or run_after, "day"))

    export_day()


analytics_export()

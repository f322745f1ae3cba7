"""Publish the month's open data on the city data portal (CKAN): ``open_data_publish``.

At 05:00 Hanoi time on the 2nd of each month -- after the first day's reconciliation has run over
the last day of the month before -- publish that month: counts by agency, procedure and channel,
on-time rates and the Decision 766 KPIs, small cells hidden, as CSV, JSON and a DCAT description
(``hub.jobs.open_data``; ``hub open-data publish --month 2026-11`` by hand). A re-run patches the
same package and resources: the portal never holds a month twice.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, dag, task

from dags.common import DEFAULT_ARGS, START_DATE, TIMEZONE, partner_client, partner_pool

PARTNER = "city_data_portal"


@dag(
    dag_id="open_data_publish",
    schedule=CronTriggerTimetable("0 5 2 * *", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "open-data", "report"],
    doc_md=__doc__,
)
def open_data_publish() -> None:
    @task(pool=partner_pool(PARTNER))
    def publish_month(logical_date=None, run_after=None) -> dict:
        from hub.jobs import open_data as jobs_open_data

        month = jobs_open_data.month_before(logical_date or run_after)
        return jobs_open_data.publish_month(partner_client(PARTNER), month)

    publish_month()


open_data_publish()

"""Extract the city dossier system's changes for each day into the hub's staging area.

Incremental: reads the records changed in the data interval (widened back to the watermark
if earlier runs were missed), stages new versions by content hash, and updates the
``city_dossiers_staged`` asset that schedules the national-portal sync.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from dags.common import (
    CITY_DOSSIER_RECORDS,
    CITY_DOSSIERS_STAGED,
    CITY_SYSTEM_POOL,
    DEFAULT_ARGS,
    EXTRACT_OBSERVABILITY,
    HUB_CITY_STAGING,
    START_DATE,
    TIMEZONE,
    partner_client,
)


@dag(
    dag_id="city_dossiers_extract",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    **EXTRACT_OBSERVABILITY,
    tags=["hub", "city-system", "extract"],
    doc_md=__doc__,
)
def city_dossiers_extract() -> None:
    @task(pool=CITY_SYSTEM_POOL, inlets=[CITY_DOSSIER_RECORDS], outlets=[CITY_DOSSIERS_STAGED, HUB_CITY_STAGING])
    def extract(data_interval_start=None, data_interval_end=None) -> dict:
        from hub.jobs.extract import extract

        return extract(partner_client("city_system"), data_interval_start, data_interval_end)

    extract()


city_dossiers_extract()

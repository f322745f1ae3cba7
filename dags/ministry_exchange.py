"""Exchange dossiers with ministry systems: one task group per ministry.

- ``civil_status`` (Ministry of Justice, SOAP): push the city's interconnected ("liên thông")
  civil-status dossiers (``dangKyHoTich``, idempotent), follow their status (``traTrangThaiHoSo``)
  until registered, and pull back the registrations made on the ministry's own software
  (``dsHoSoDangKy``).
- ``business_registration`` (REST): pull back the dossiers processed on the national business
  registration system (``danhSachHoSo``, windows of at most 5 days). Nothing is pushed: these
  dossiers never pass through the city system.

Mapped tasks run over batches (push and status batches of up to 200 dossiers, pull-back windows),
never over records, each capped by its ministry's pool. A summary writes
``var/reports/ministry/latest.json`` and fails the run if a ministry's counts do not add up.

Schedule: daily data intervals (Asia/Ho_Chi_Minh), like the city extract, rather than on the
``city_dossiers_staged`` asset. The pull-back needs a period of days and the ministries list by
day; asset-triggered runs have no data interval to give it. The push does not depend on the
interval: it takes every staged city dossier not yet planned, so a dossier the extract stages
after this run's push is pushed by the next run -- late by a day at most, never lost. A missed or
incomplete day is read again: the pull-back widens back to its watermark.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, TaskGroup, TriggerRule, dag, task

from adapters import partners
from dags.common import (
    DEFAULT_ARGS,
    HUB_CITY_STAGING,
    MINISTRY_EXCHANGED,
    START_DATE,
    TIMEZONE,
    ministry_staging,
    ministry_system,
    partner_client,
    partner_pool,
)


def _ministry_group(partner: str):
    """One ministry's tasks (a push and its status follow-up only where the registry says the hub
    pushes to it); returns the group and the pull-back totals the summary reads."""
    pool = partner_pool(partner)
    with TaskGroup(group_id=partner) as group:
        if partners.partner(partner).pushes:

            @task
            def plan_push() -> list[str]:
                from hub.jobs import ministry as jobs_ministry

                return jobs_ministry.plan_push(partner)

            @task(pool=pool, inlets=[HUB_CITY_STAGING], outlets=[ministry_system(partner)])
            def push(batch_id: str) -> dict:
                from hub.jobs import ministry as jobs_ministry

                return jobs_ministry.push(partner_client(partner), partner, batch_id)

            @task(trigger_rule=TriggerRule.NONE_FAILED)
            def plan_status() -> list[str]:
                from hub.jobs import ministry as jobs_ministry

                return jobs_ministry.plan_status(partner)

            @task(pool=pool)
            def check_status(batch_id: str) -> dict:
                from hub.jobs import ministry as jobs_ministry

                return jobs_ministry.check_status(partner_client(partner), partner, batch_id)

            pushed = push.expand(batch_id=plan_push())
            status_batches = plan_status()
            pushed >> status_batches
            check_status.expand(batch_id=status_batches)

        @task
        def plan_pull(data_interval_start=None, data_interval_end=None) -> list[str]:
            from hub.jobs import ministry as jobs_ministry

            return jobs_ministry.plan_pull(partner, data_interval_start, data_interval_end)

        @task(pool=pool, inlets=[ministry_system(partner)], outlets=[ministry_staging(partner)])
        def pull(window: str, run_id=None) -> dict:
            from hub.jobs import ministry as jobs_ministry

            return jobs_ministry.pull(partner_client(partner), partner, window, run_id)

        @task
        def close_pull(reports: list[dict], data_interval_end=None, run_id=None) -> dict:
            from hub.jobs import ministry as jobs_ministry

            return jobs_ministry.close_pull(partner, data_interval_end, reports, run_id)

        pulled = close_pull(pull.expand(window=plan_pull()))
    return group, pulled


@dag(
    dag_id="ministry_exchange",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "ministry", "exchange"],
    doc_md=__doc__,
)
def ministry_exchange() -> None:
    @task(trigger_rule=TriggerRule.NONE_FAILED, outlets=[MINISTRY_EXCHANGED])
    def summarize(pulls: list[dict], run_id=None) -> dict:
        from hub.jobs import ministry as jobs_ministry

        return jobs_ministry.summarize(run_id, list(pulls))

    groups = [_ministry_group(partner) for partner in partners.ministries()]
    summary = summarize([pulled for _, pulled in groups])
    for group, _ in groups:  # the summary also waits for each group's push and status tasks
        group >> summary


ministry_exchange()

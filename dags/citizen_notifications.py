"""Tell citizens on iHaNoi what became of their dossier: received, documents to add, result ready,
and for results sent home by post, parcel handed to the carrier, delivered or returned.

Runs when city or ministry dossiers are staged, and every hour in any case (parcel states move
with the postal tracking, which runs on its own clock). Plans the events since the last run into
the outbox -- one message per event occurrence, so re-running queues nothing twice; an event older
than ``HUB_NOTIFY_MAX_AGE_DAYS`` before the run is recorded as too old, not sent -- then pushes
them as mapped tasks limited by the ``ihanoi`` pool and writes a summary whose counts add up:
planned = sent + pending + refused + too old. An iHaNoi outage leaves notifications pending with
backoff; the next run sends them.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule, dag, task

from dags.common import (
    CITY_DOSSIERS_STAGED,
    DEFAULT_ARGS,
    HUB_CITIZEN_NOTIFICATIONS,
    IHANOI_NOTIFICATIONS,
    MINISTRY_EXCHANGED,
    START_DATE,
    TIMEZONE,
    partner_client,
    partner_pool,
)


@dag(
    dag_id="citizen_notifications",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("10 * * * *", timezone=TIMEZONE),
        assets=(CITY_DOSSIERS_STAGED | MINISTRY_EXCHANGED),
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "ihanoi", "notifications"],
    doc_md=__doc__,
)
def citizen_notifications() -> None:
    @task(outlets=[HUB_CITIZEN_NOTIFICATIONS])
    def plan(logical_date=None, run_after=None) -> list[str]:
        from hub.jobs import notifications

        return notifications.plan_notifications(logical_date or run_after)

    @task(pool=partner_pool("ihanoi"), inlets=[HUB_CITIZEN_NOTIFICATIONS], outlets=[IHANOI_NOTIFICATIONS])
    def deliver(batch_id: str) -> dict:
        from hub.jobs import notifications

        return notifications.deliver_notifications(partner_client("ihanoi"), batch_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summarize(run_id=None) -> dict:
        from hub.jobs import notifications

        return notifications.summarize_notifications(run_id)

    deliver.expand(batch_id=plan()) >> summarize()


citizen_notifications()

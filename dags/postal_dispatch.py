"""Send dossier results home by post: one carrier order per ready result.

Runs when new city dossiers are staged and every hour in any case, so results left pending by a
carrier outage are retried without waiting for the next extract. Plans every result the city
marks ready for postal return (address checked; bad ones quarantined with the rule), then places
the orders as mapped tasks over batches of up to 100 results, one task group per carrier in the
carrier's pool. Each order carries the result's reference (``<dossier no>/KQ``) as the carrier's
idempotency key, so a re-run creates nothing new. The summary writes
``var/reports/postal_dispatch/latest.json`` and fails the run unless
results ready = ordered + pending + quarantined.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, TaskGroup, TriggerRule, dag, task

from adapters import partners
from dags.common import CITY_DOSSIERS_STAGED, DEFAULT_ARGS, START_DATE, TIMEZONE, partner_client, partner_pool

# Carriers the hub orders from (adapters/partners.py): each has a pool and an Airflow Connection named after it.
CARRIERS = partners.carriers()


@dag(
    dag_id="postal_dispatch",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("15 * * * *", timezone=TIMEZONE), assets=CITY_DOSSIERS_STAGED
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "postal", "dispatch"],
    doc_md=__doc__,
)
def postal_dispatch() -> None:
    @task
    def plan(run_id=None) -> dict[str, list[str]]:
        from hub.jobs import postal as jobs_postal

        return jobs_postal.plan_dispatch(list(CARRIERS), run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summarize(run_id=None) -> dict:
        from hub.jobs import postal as jobs_postal

        return jobs_postal.summarize_dispatch(run_id)

    planned = plan()
    summary = summarize()
    for carrier in CARRIERS:
        with TaskGroup(group_id=carrier) as group:

            @task
            def batches(planned: dict[str, list[str]], carrier: str = carrier) -> list[str]:
                return planned[carrier]

            @task(pool=partner_pool(carrier))
            def place(batch_id: str, carrier: str = carrier, run_id=None) -> dict:
                from hub.jobs import postal as jobs_postal

                return jobs_postal.place(partner_client(carrier), batch_id, run_id)

            place.expand(batch_id=batches(planned))
        group >> summary


postal_dispatch()

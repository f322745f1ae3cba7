"""Follow every placed postal order to delivery, return or cancellation.

Every 30 minutes, per carrier (in the carrier's pool): poll the orders not yet in a final state
in pages of 100 (``track``: full histories), keep the events beside those the webhook receiver
stored (``hub webhooks serve``; one row per status however it arrived), re-derive each order's
canonical delivery state by carrier time, keep illegal transitions as anomalies, and flag orders
past their delivery deadline (``HUB_POSTAL_DELIVERY_DAYS`` working days, default 3). Polling is
what fills the gaps lost callbacks leave. A carrier outage keeps what the callbacks said and the
run stays green; the summary goes to ``var/reports/postal_tracking/latest.json``.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, TriggerRule, dag, task

from adapters import partners
from dags.common import DEFAULT_ARGS, START_DATE, TIMEZONE, partner_client, partner_pool

# Carriers followed (adapters/partners.py): each has a pool and an Airflow Connection named after it.
CARRIERS = partners.carriers()


@dag(
    dag_id="postal_tracking",
    schedule=CronTriggerTimetable("*/30 * * * *", timezone=TIMEZONE),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "postal", "tracking"],
    doc_md=__doc__,
)
def postal_tracking() -> None:
    @task(trigger_rule=TriggerRule.ALL_DONE)  # a carrier's failed poll still leaves a report of the others
    def summarize(polls: list[dict], run_id=None) -> dict:
        from hub.jobs import postal as jobs_postal

        return jobs_postal.summarize_tracking(run_id, list(polls))

    polls = []
    for carrier in CARRIERS:

        @task(task_id=f"track_{carrier}", pool=partner_pool(carrier))
        def track(carrier: str = carrier) -> dict:
            from hub.jobs import postal as jobs_postal

            return jobs_postal.track(partner_client(carrier))

        polls.append(track())
    summarize(polls)


postal_tracking()

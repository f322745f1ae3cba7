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

from dags.common import DEFAULT_ARGS, START_DATE, TIMEZONE

# Carriers followed; each has a pool named after it (config/pools.json) and a hook (adapters/hooks.py).
CARRIERS = ("vnpost", "viettel_post")


def _client(carrier: str):
    """The carrier's client, from its Airflow Connection (cached per worker process)."""
    from adapters import hooks

    return {"vnpost": hooks.VNPostHook, "viettel_post": hooks.ViettelPostHook}[carrier]().get_client()


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

        @task(task_id=f"track_{carrier}", pool=carrier)
        def track(carrier: str = carrier) -> dict:
            from hub.jobs import postal as jobs_postal

            return jobs_postal.track(_client(carrier))

        polls.append(track())
    summarize(polls)


postal_tracking()

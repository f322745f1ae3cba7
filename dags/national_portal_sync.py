"""Sync staged city dossiers to the national public-service portal (DVCQG).

Runs whenever new city dossiers are staged. Plans (quality gate, diff against what the portal
acknowledged, outbox) as mapped tasks over disjoint partitions of the staged dossiers (several
workers at once), batches what they queued, then delivers ``DongBoHoSoMC`` batches and ``CapNhatTienDoHoSoMC``
progress entries as mapped tasks limited by the ``national_portal`` pool, and writes a summary
whose counts add up: extracted = delivered + pending + quarantined + out of scope.
Re-running sends nothing twice: every message has an idempotency key and an outbox state.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, task

from dags.common import (
    CITY_DOSSIERS_STAGED,
    DEFAULT_ARGS,
    HUB_CITY_STAGING,
    HUB_OUTBOX,
    NATIONAL_PORTAL_POOL,
    PORTAL_DOSSIERS,
    PORTAL_PROGRESS,
    PORTAL_SYNC_OBSERVABILITY,
    PORTAL_SYNCED,
    START_DATE,
    partner_client,
)


@dag(
    dag_id="national_portal_sync",
    schedule=[CITY_DOSSIERS_STAGED],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    **PORTAL_SYNC_OBSERVABILITY,
    tags=["hub", "national-portal", "sync"],
    doc_md=__doc__,
)
def national_portal_sync() -> None:
    @task
    def partitions() -> list[list[int]]:
        from hub.jobs import portal

        return portal.plan_partitions()

    @task(inlets=[HUB_CITY_STAGING], outlets=[HUB_OUTBOX])
    def plan(partition: list[int], run_id=None) -> dict:
        from hub.jobs import portal

        return portal.plan_portal_partition(partition, run_id)

    @task(outlets=[HUB_OUTBOX])
    def batch(reports: list[dict]) -> list[str]:
        from hub.jobs import portal

        return portal.batch_portal_sync(reports)

    @task(pool=NATIONAL_PORTAL_POOL, inlets=[HUB_OUTBOX], outlets=[PORTAL_DOSSIERS])
    def deliver_dossiers(batch_id: str) -> dict:
        from hub.jobs import portal

        return portal.deliver_portal_dossiers(partner_client("national_portal"), batch_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def plan_progress() -> list[str]:
        from hub.jobs import portal

        return portal.plan_portal_progress()

    @task(pool=NATIONAL_PORTAL_POOL, inlets=[HUB_OUTBOX], outlets=[PORTAL_PROGRESS])
    def deliver_progress(batch_id: str) -> dict:
        from hub.jobs import portal

        return portal.deliver_portal_progress(partner_client("national_portal"), batch_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED, outlets=[PORTAL_SYNCED])
    def summarize(run_id=None) -> dict:
        from hub.jobs import portal

        return portal.summarize_portal_sync(run_id)

    planned = batch(plan.expand(partition=partitions()))
    delivered = deliver_dossiers.expand(batch_id=planned)
    progress_batches = plan_progress()
    delivered >> progress_batches
    progressed = deliver_progress.expand(batch_id=progress_batches)
    progressed >> summarize()


national_portal_sync()

"""Verify the applicants of newly staged citizen dossiers against the population database.

Runs whenever new city dossiers are staged. Plans (citizen dossiers whose current version has no
verification yet, plus those an outage left pending), verifies them in batches as mapped tasks
limited by the ``population_db`` pool -- one audited register call per applicant, the ID masked
in every log line -- and writes a summary whose counts add up:
candidates = match + mismatch + not found + invalid + pending. Mismatches, unknown IDs and
identities that cannot be asked about are quarantined with a reason; a register outage leaves
dossiers pending for the next run; an untrusted reply fails its task.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, task

from dags.common import (
    CITY_DOSSIERS_STAGED,
    DEFAULT_ARGS,
    HUB_CITY_STAGING,
    HUB_POPULATION_CHECKS,
    POPULATION_REGISTER,
    START_DATE,
    partner_client,
    partner_pool,
)

# Concurrent batch tasks calling the register.
POPULATION_DB_POOL = partner_pool("population_db")


@dag(
    dag_id="population_verify",
    schedule=[CITY_DOSSIERS_STAGED],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hub", "population-db", "verify", "personal-data"],
    doc_md=__doc__,
)
def population_verify() -> None:
    @task
    def plan() -> list[str]:
        from hub.jobs import population as jobs_population

        return jobs_population.plan()

    @task(pool=POPULATION_DB_POOL, inlets=[HUB_CITY_STAGING, POPULATION_REGISTER], outlets=[HUB_POPULATION_CHECKS])
    def verify(batch_id: str) -> dict:
        from hub.jobs import population as jobs_population

        return jobs_population.verify(partner_client("population_db"), batch_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summarize(run_id=None) -> dict:
        from hub.jobs import population as jobs_population

        return jobs_population.summarize(run_id)

    verify.expand(batch_id=plan()) >> summarize()


population_verify()

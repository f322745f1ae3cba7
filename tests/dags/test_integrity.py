"""Every DAG parses, carries what operators rely on, and keeps parsing cheap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import partners

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {
    "citizen_notifications",
    "city_dossiers_extract",
    "national_portal_sync",
    "ministry_exchange",
    "population_verify",
    "postal_dispatch",
    "postal_tracking",
    "reconcile_daily",
    "reconcile_quarterly",
    "analytics_export",
    "open_data_publish",
}
# Loading these at parse time would slow every scheduler loop; tasks import them lazily.
HEAVY = ("great_expectations", "pandas", "zeep", "lxml", "hub", "adapters", "mappings", "quality", "sandbox")
# ... except the partner registry, which the DAGs read at parse time (task groups, carriers, pools)
# and which is held below to importing nothing heavy itself.
REGISTRY = ("adapters", "adapters.partners")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag) -> None:
    assert set(dagbag.dag_ids) == EXPECTED


def test_every_dag_has_owner_retries_and_tags(dagbag) -> None:
    for dag_id in dagbag.dag_ids:
        dag = dagbag.dags[dag_id]
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} does not retry"


def test_no_dag_catches_up_so_a_first_start_fires_no_backlog(dagbag) -> None:
    """`make up` on a fresh metadata DB runs each DAG's latest interval only, never one run per
    interval since START_DATE (issue 18: eight runs at once, 16-day durations in the grid)."""
    assert {dag_id for dag_id in dagbag.dag_ids if dagbag.dags[dag_id].catchup} == set()


def test_portal_tasks_use_the_partner_pool(dagbag) -> None:
    dag = dagbag.dags["national_portal_sync"]
    assert {t.task_id: t.pool for t in dag.tasks if t.task_id.startswith("deliver")} == {
        "deliver_dossiers": "national_portal",
        "deliver_progress": "national_portal",
    }


def test_ministry_tasks_are_grouped_per_ministry_and_call_through_its_pool(dagbag) -> None:
    dag = dagbag.dags["ministry_exchange"]
    pools = partners.pools()
    calling = {t.task_id: t.pool for t in dag.tasks if t.task_id.split(".")[-1] in ("push", "check_status", "pull")}
    assert calling == {
        "civil_status.push": "civil_status",
        "civil_status.check_status": "civil_status",
        "civil_status.pull": "civil_status",
        "business_registration.pull": "business_registration",
        "driving_licence.pull": "driving_licence",
        "land_registration.pull": "land_registration",
        "unemployment_benefit.pull": "unemployment_benefit",
        "certification.pull": "certification",
    }
    assert set(calling.values()) <= set(pools)
    assert all(t.is_mapped for t in dag.tasks if t.task_id in calling)  # mapped over batches and windows
    assert set(dag.task_group.children) == {*partners.ministries(), "summarize"}


def test_population_verify_maps_over_batches_in_its_pool_on_the_staged_asset(dagbag) -> None:
    dag = dagbag.dags["population_verify"]
    pools = partners.pools()
    verify = dag.get_task("verify")
    assert verify.pool == "population_db" in pools and verify.is_mapped
    assert verify.retries >= 1 and verify.retry_exponential_backoff
    assert [a.name for a in dag.timetable.asset_condition.objects] == ["city_dossiers_staged"]


def imported_by(statement: str, prelude: str = "") -> list[str]:
    """Modules of HEAVY (or Airflow) that running ``statement`` in a fresh interpreter imports."""
    watched = (*HEAVY, "airflow")
    probe = (
        f"import sys, runpy, json; sys.path.insert(0, {str(DAGS)!r}); {prelude} before = set(sys.modules);"
        f"{statement}; new = set(sys.modules) - before;"
        f"print(json.dumps(sorted(m for m in new if m.split('.')[0] in {watched!r})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_parsing_imports_nothing_heavy(dag_file: str) -> None:
    new = imported_by(f"runpy.run_path({str(DAGS / dag_file)!r})", prelude="import airflow.sdk;")
    assert [m for m in new if m.split(".")[0] in HEAVY and m not in REGISTRY] == []


def test_the_registry_the_dags_read_imports_nothing_heavy() -> None:
    assert [m for m in imported_by("import adapters.partners") if m not in REGISTRY] == []

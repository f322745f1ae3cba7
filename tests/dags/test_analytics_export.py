"""``analytics_export`` through Airflow (``dag.test()`` on the migrated SQLite metadata DB): the
reconciled day lands in the warehouse the Iceberg configuration names, once however often it runs,
as many dossiers as the hub counted; its lineage runs from the hub's staging to the warehouse tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.analytics.catalog import open_catalog
from hub.analytics.export import hub_counts
from hub.analytics.query import facts_by_source, run_query
from hub.analytics.tables import TABLES
from hub.jobs import reconcile as jobs_reconcile
from hub.store import hub_store
from tests.hub.analytics.conftest import DAY, city_records, ministry_records, stage_day  # noqa: F401

pytestmark = pytest.mark.timeout(600)
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def configured_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store of its own and the ``hub`` catalog configured as production configures it: pyiceberg's
    environment variables (here a SQL catalog; a REST catalog and object store take the same road)."""
    root = tmp_path / "warehouse"
    root.mkdir()
    monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__HUB__TYPE", "sql")
    monkeypatch.setenv("PYICEBERG_CATALOG__HUB__URI", f"sqlite:///{root / 'catalog.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__HUB__WAREHOUSE", root.as_uri())
    return root


def test_the_dag_writes_the_reconciled_day_once_as_the_hub_counts_it(
    dagbag,
    configured_warehouse: Path,
    city_records: list,  # noqa: F811
    ministry_records: list,  # noqa: F811
) -> None:
    stage_day(hub_store(), city_records, ministry_records)
    report = jobs_reconcile.reconcile_and_report(DAY.isoformat())
    hub = hub_counts({"sources": report["sources"]})
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)

    for _ in range(2):  # a re-run replaces the day
        run = dagbag.dags["analytics_export"].test(logical_date=day_end)
        assert run.state == "success", f"analytics_export ended {run.state}"
        catalog = open_catalog()
        assert facts_by_source(catalog, DAY) == hub and sum(hub.values()) > 200
        _, [(verdict, days)] = run_query(catalog, "SELECT any_value(verdict), count(*) FROM reconciliation_day")
        assert (verdict, days) == (report["verdict"]["status"], 1)
    assert (configured_warehouse / "catalog.db").is_file()  # the configured catalog, not var/'s default


def test_the_export_names_its_lineage_from_staging_and_reports_to_the_warehouse_tables(dagbag) -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from adapters import partners

    lineage = OperatorLineage()
    ExtractorManager().extract_inlets_and_outlets(lineage, dagbag.dags["analytics_export"].get_task("export_day"))
    assert {(d.namespace, d.name) for d in lineage.inputs} == {
        ("hanoi-dossier-hub", "staging.city_dossiers"),
        ("hanoi-dossier-hub", "reports.reconciliation"),
        *(("hanoi-dossier-hub", f"staging.ministry_{p}") for p in partners.ministries()),
    }
    tables = {(d.namespace, d.name) for d in lineage.outputs if d.namespace == "hanoi-dossier-hub-warehouse"}
    assert tables == {("hanoi-dossier-hub-warehouse", f"hub_analytics.{spec.name}") for spec in TABLES}


def test_the_export_runs_on_the_staged_and_reconciled_assets(dagbag) -> None:
    condition = dagbag.dags["analytics_export"].timetable.asset_condition
    assert {a.name for a in condition.objects} == {"city_dossiers_staged", "reconciled"}

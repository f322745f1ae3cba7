"""A day written into the warehouse: counted as the hub counts it, once however often it runs,
its facts those the hub extracted, its reconciliation's results beside them, nobody's personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from hub.analytics.export import export_day, hub_counts, write_facts
from hub.analytics.query import day_filter, facts_by_source, run_query
from hub.analytics.tables import FACTS, ensure_tables
from hub.pipeline.extract import staged_record
from hub.store import HubStore
from mappings.code_tables import load_code_tables
from mappings.facts import city_facts
from mappings.sources import CITY_SOURCE
from quality.reconcile import Period, reconcile
from tests.hub.analytics.conftest import CIVIL_STATUS, DAY
from tests.support.warehouse_files import personal_data_found, personal_values


def _reconciled(store: HubStore, day: date = DAY) -> dict[str, Any]:
    return reconcile(store.db, Period.parse(day.isoformat())).to_dict()


def _live_files(catalog: Catalog, name: str = FACTS) -> int:
    return len(list(catalog.load_table(f"hub_analytics.{name}").scan().plan_files()))


def test_the_warehouse_counts_each_dossier_of_the_day_once_as_the_hub_does(staged: HubStore, catalog: Catalog) -> None:
    document = _reconciled(staged)
    summary = export_day(catalog, staged.db, DAY, document)

    hub = hub_counts(document)
    assert hub[CITY_SOURCE] > 200 and hub[CIVIL_STATUS] == 3
    assert summary["warehouse"] == hub == facts_by_source(catalog, DAY)
    assert summary["matches_hub"] is True and summary["facts_written"] == sum(hub.values())
    _, [(rows, distinct)] = run_query(
        catalog, "SELECT count(*), count(DISTINCT (source, dossier_no)) FROM dossier_facts"
    )
    assert rows == distinct == sum(hub.values())


def test_a_day_exported_again_replaces_itself(staged: HubStore, catalog: Catalog) -> None:
    document = _reconciled(staged)
    export_day(catalog, staged.db, DAY, document)
    first = facts_by_source(catalog, DAY)
    files = _live_files(catalog)

    export_day(catalog, staged.db, DAY, document)
    assert facts_by_source(catalog, DAY) == first and _live_files(catalog) == files
    assert _live_files(catalog, "reconciliation_day") == 1


def test_the_next_days_export_refreshes_the_days_before_with_their_dossiers_newer_versions(
    staged: HubStore, catalog: Catalog, city_records: list[dict[str, Any]]
) -> None:
    export_day(catalog, staged.db, DAY, _reconciled(staged))
    first = facts_by_source(catalog, DAY)
    # The next day the city returns a result: a new version of a dossier of DAY is staged.
    open_one = next(r for r in city_records if r["trang_thai"] == "DA_CO_KET_QUA")
    returned = {**open_one, "trang_thai": "DA_TRA_KET_QUA", "cap_nhat_luc": "2026-11-21T09:00:00+07:00"}
    staged.staging.stage(CITY_SOURCE, [staged_record(returned)], "city-batch-2")
    status = f"SELECT status FROM dossier_facts WHERE dossier_no = '{returned['ma_ho_so']}'"
    next_day = date(2026, 11, 21)

    export_day(catalog, staged.db, next_day, _reconciled(staged, next_day), refresh_days=0)
    assert run_query(catalog, status)[1] == [(9,)]  # processed, result not yet returned: DAY was left alone
    export_day(catalog, staged.db, next_day, _reconciled(staged, next_day), refresh_days=1)
    assert run_query(catalog, status)[1] == [(10,)]  # returned, once
    assert facts_by_source(catalog, DAY) == first


def test_another_day_is_left_as_it_was(staged: HubStore, catalog: Catalog, city_records: list[dict[str, Any]]) -> None:
    export_day(catalog, staged.db, DAY, _reconciled(staged))
    before = facts_by_source(catalog, DAY)
    other = date(2026, 11, 21)
    export_day(catalog, staged.db, other, _reconciled(staged, other))  # nothing staged that day
    assert facts_by_source(catalog, DAY) == before and facts_by_source(catalog, other) == {}
    _, days = run_query(catalog, "SELECT day, verdict FROM reconciliation_day ORDER BY day")
    assert [d for d, _ in days] == [DAY, other] and days[1][1] == "no_data"


def test_the_facts_are_those_the_hub_extracted(
    staged: HubStore, catalog: Catalog, city_records: list[dict[str, Any]], ministry_records: list[dict[str, Any]]
) -> None:
    export_day(catalog, staged.db, DAY, None)
    facts = {
        (row["source"], row["dossier_no"]): row
        for row in catalog.load_table(f"hub_analytics.{FACTS}").scan(row_filter=day_filter(DAY)).to_arrow().to_pylist()
    }
    tables = load_code_tables()
    finished = next(r for r in city_records if r["ngay_ket_thuc_xu_ly"] and r["ngay_hen_tra"])
    expected = city_facts(finished, tables)
    row = facts[(CITY_SOURCE, finished["ma_ho_so"])]
    assert row["agency"] == finished["don_vi_xu_ly"] and row["procedure_code"] == expected.procedure_code
    assert (row["status"], row["channel"]) == (expected.status, expected.channel)
    assert (row["received_at"], row["due_at"], row["finished_at"]) == (
        expected.received_at,
        expected.due_at,
        expected.finished_at,
    )
    assert row["on_time"] == (expected.finished_at <= expected.due_at)
    assert (row["digitised"], row["paid_online"], row["vneid_verified"], row["return_by_post"]) == (
        expected.digitised,
        expected.paid_online,
        expected.vneid_verified,
        expected.return_by_post,
    )
    assert row["fee_payable"] == expected.fee_payable and row["has_facts"] is True
    ministry = facts[(CIVIL_STATUS, ministry_records[0]["MaHoSo"])]
    assert (ministry["status"], ministry["vneid_verified"], ministry["paid_online"], ministry["digitised"]) == (
        10,
        True,
        True,
        True,
    )
    assert ministry["received_at"] == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)  # 08:15 in Hanoi


def test_the_reconciliation_results_of_the_day_sit_beside_its_facts(staged: HubStore, catalog: Catalog) -> None:
    document = _reconciled(staged)
    export_day(catalog, staged.db, DAY, document)
    export_day(catalog, staged.db, DAY, document)  # twice: still one verdict, one row per figure

    _, [(verdict, differing, holds)] = run_query(
        catalog, "SELECT verdict, differing_dossiers, identities_hold FROM reconciliation_day"
    )
    assert (verdict, differing, holds) == (
        document["verdict"]["status"],
        document["verdict"]["differing_dossiers"],
        document["verdict"]["identities_hold"],
    )
    _, figures = run_query(catalog, "SELECT kind, identity, figure, value FROM reconciliation_figure")
    assert len(figures) == len(set((k, i, f) for k, i, f, _ in figures))
    by_key = {(k, i, f): v for k, i, f, v in figures}
    assert by_key[("source", None, CITY_SOURCE)] == hub_counts(document)[CITY_SOURCE]
    assert {k: v for (kind, _, k), v in by_key.items() if kind == "class"} == document["counts"]
    for identity in document["identities"]:
        assert by_key[("identity_gap", identity["key"], "left_minus_right")] == identity["left"] - identity["right"]
        assert by_key[("identity_term", identity["key"], identity["left_term"])] == identity["left"]


def test_the_day_is_written_page_by_page(staged: HubStore, catalog: Catalog) -> None:
    """Small pages and files: the same rows, in one data file per ``rows_per_file`` rows."""
    table = ensure_tables(catalog)[FACTS]
    written = write_facts(table, staged.db, DAY, DAY, batch_rows=16, rows_per_file=50)
    assert written == sum(facts_by_source(catalog, DAY).values()) > 200
    assert _live_files(catalog) >= written // 50


def test_no_file_of_the_warehouse_holds_anybodys_personal_data(
    staged: HubStore,
    catalog: Catalog,
    warehouse: Path,
    city_records: list[dict[str, Any]],
    ministry_records: list[dict[str, Any]],
) -> None:
    export_day(catalog, staged.db, DAY, _reconciled(staged))
    export_day(catalog, staged.db, DAY, _reconciled(staged))  # files of the replaced snapshot too
    values = personal_values(city_records + ministry_records)
    assert len(values) > 500  # names, IDs, phones, e-mails, addresses, birth dates of the day
    assert {p.suffix for p in warehouse.rglob("*") if p.is_file()} >= {".parquet", ".avro", ".json"}
    assert personal_data_found(warehouse, values) == {}


@pytest.mark.parametrize("value", ["Phạm Văn Tiến", "001062786533"])
def test_the_scan_finds_personal_data_where_a_table_holds_it(catalog: Catalog, warehouse: Path, value: str) -> None:
    """The scanner reads through Parquet's compression and Avro's deflate (a name in column
    statistics lands in the manifests): a warehouse that held a name would be caught."""
    catalog.create_namespace("leak")
    schema = pa.schema([pa.field("applicant", pa.string())])
    table = catalog.create_table("leak.people", schema)
    table.append(pa.Table.from_pylist([{"applicant": value}], schema=schema))
    found = personal_data_found(warehouse, [value])
    assert {Path(path).suffix for path in found} >= {".parquet", ".avro"}

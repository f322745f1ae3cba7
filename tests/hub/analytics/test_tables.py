"""The warehouse's tables: created at the current schema version, older ones evolved by adding columns."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from hub.analytics import tables
from hub.analytics.tables import FACTS, FACTS_TABLE, SCHEMA_VERSION, VERSION_PROPERTY, ensure_tables, table_version


def test_a_new_warehouse_gets_every_table_at_the_current_version_partitioned_by_month(catalog: Catalog) -> None:
    created = ensure_tables(catalog)
    assert set(created) == {"dossier_facts", "reconciliation_day", "reconciliation_figure"}
    assert {table_version(t) for t in created.values()} == {SCHEMA_VERSION}
    facts = created[FACTS]
    assert facts.schema().column_names == [c.name for c in FACTS_TABLE.columns(SCHEMA_VERSION)]
    (field,) = facts.spec().fields
    assert (facts.schema().find_column_name(field.source_id), str(field.transform)) == ("received_at", "month")
    (field,) = created["reconciliation_day"].spec().fields
    assert created["reconciliation_day"].schema().find_column_name(field.source_id) == "day"


def test_no_personal_column_in_any_table(catalog: Catalog) -> None:
    names = {name for t in ensure_tables(catalog).values() for name in t.schema().column_names}
    personal = {"applicant_key", "id_number", "name", "phone", "email", "address", "birth_date", "payload"}
    assert names & personal == set()
    assert "dossier_no" in names  # the case's reference is kept: it names an agency, a day and a sequence


def test_an_old_table_gets_the_new_columns_and_its_rows_read_null_in_them(catalog: Catalog) -> None:
    old = tables.create_table(catalog, FACTS_TABLE, version=1)
    row = {
        "dossier_no": "000.00.12.H26-261120-0001",
        "source": "city",
        "day": date(2026, 11, 20),
        "received_at": datetime(2026, 11, 20, 2, tzinfo=UTC),
        "status": 4,
        "paid_online": True,
    }
    old.append(pa.Table.from_pylist([row], schema=old.schema().as_arrow()))
    added = [c.name for c in FACTS_TABLE.versions[2]]
    assert set(added).isdisjoint(old.schema().column_names)

    evolved = ensure_tables(catalog)[FACTS]

    assert evolved.properties[VERSION_PROPERTY] == str(SCHEMA_VERSION)
    assert evolved.schema().column_names[-len(added) :] == added
    (read,) = evolved.scan().to_arrow().to_pylist()
    assert {name: read[name] for name in added} == dict.fromkeys(added)
    assert (read["dossier_no"], read["status"], read["paid_online"]) == (row["dossier_no"], 4, True)
    assert ensure_tables(catalog)[FACTS].schema() == evolved.schema()  # evolved once, not at every call


def test_a_table_newer_than_this_hub_is_refused_rather_than_written(catalog: Catalog) -> None:
    table = tables.create_table(catalog, FACTS_TABLE)
    table.transaction().set_properties({VERSION_PROPERTY: str(SCHEMA_VERSION + 1)}).commit_transaction()
    with pytest.raises(RuntimeError, match="newer than this hub"):
        ensure_tables(catalog)

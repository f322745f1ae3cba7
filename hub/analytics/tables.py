"""The warehouse's tables, their partitioning and their versioned schema evolution.

Three tables in the ``hub_analytics`` namespace:

- ``dossier_facts``: one row per dossier of a day and source (the city, each ministry's pull-back),
  the facts the hub already extracted into ``dossier_facts`` (``hub.store.facts``) and no more.
  The dossier number is kept: it is the administration's reference of a case, not a person's
  (it names an agency, a day and a sequence), and analysts need it to follow a dossier into the
  reconciliation's differences. Nothing that identifies the applicant is: no name, ID number,
  phone, e-mail, address or birth date, and not even the ID's digest the store keeps for matching
  (``applicant_key``: a 12-digit ID's SHA-256 is reversed by trying them all).
- ``reconciliation_day``: the verdict of each day's reconciliation, one row per day.
- ``reconciliation_figure``: that day's figures, one row each: dossiers per source, each identity's
  terms and gap, dossiers per difference class and per flag.

Every table is partitioned by month -- the facts by the month of the received date, as analysts
slice them; the reconciliation tables by the month of the day -- so a query for a month reads that
month's files, and a day's export only touches its own files (``hub.analytics.export``).

Schema evolution is versioned: :data:`SCHEMA_VERSION` is the version this code writes, each
version's columns are listed in :data:`VERSIONS`, and a table records its version in the table
property ``hub.schema-version``. :func:`ensure_tables` creates missing tables at the current
version and brings older ones up with ``update_schema().add_column`` -- columns are only ever added,
never retyped or dropped, so readers of an older version keep working and rows written before a
column existed read NULL in it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import MonthTransform
from pyiceberg.types import (
    BooleanType,
    DateType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

NAMESPACE = "hub_analytics"
FACTS = "dossier_facts"
RECONCILIATION_DAY = "reconciliation_day"
RECONCILIATION_FIGURE = "reconciliation_figure"
VERSION_PROPERTY = "hub.schema-version"


@dataclass(frozen=True)
class Column:
    name: str
    type: IcebergType
    doc: str
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: its columns per schema version and the column its month partition is on."""

    name: str
    versions: dict[int, tuple[Column, ...]]
    month_of: str
    doc: str

    def columns(self, version: int) -> tuple[Column, ...]:
        return tuple(c for v in sorted(self.versions) if v <= version for c in self.versions[v])


FACTS_TABLE = TableSpec(
    FACTS,
    {
        1: (
            Column("dossier_no", StringType(), "the dossier's number (agency-YYMMDD-sequence)", required=True),
            Column("source", StringType(), "city, or ministry:<partner> for a ministry's pull-back", required=True),
            Column("day", DateType(), "the day the hub counts the dossier in (its number's day)", required=True),
            Column("agency", StringType(), "the handling agency's code"),
            Column("procedure_code", StringType(), "MaTTHC"),
            Column("channel", IntegerType(), "KenhThucHien"),
            Column("status", IntegerType(), "TrangThaiHoSo"),
            Column("received_at", TimestamptzType(), "received (NgayTiepNhan)"),
            Column("due_at", TimestamptzType(), "due (NgayHenTra)"),
            Column("finished_at", TimestamptzType(), "finished (NgayKetThucXuLy)"),
            Column("on_time", BooleanType(), "finished <= due; NULL without both dates"),
            Column("digitised", BooleanType(), "a submitted component was digitised"),
            Column("paid_online", BooleanType(), "fees paid online (DuocThanhToanTrucTuyen 1 or 2)"),
            Column("vneid_verified", BooleanType(), "filed from a VNeID-verified account"),
            Column("return_by_post", BooleanType(), "result returned by post"),
            Column("has_facts", BooleanType(), "the staged version carried facts; without, every fact is NULL"),
        ),
        # Version 2: the denominators of the Decision 766 KPIs, so the warehouse computes them as the
        # reconciliation does (e.g. paid online / fee payable).
        2: (
            Column("submitted_via_portal", BooleanType(), "filed on the national portal (NoiNopHoSo)"),
            Column("fee_payable", BooleanType(), "a fee above 0 (the online-payment KPI's denominator)"),
            Column("identified", BooleanType(), "the applicant carries an identifier (not the identifier)"),
            Column("consulted_databases", IntegerType(), "national databases consulted"),
            Column("result_coded", BooleanType(), "an electronic result with a code and a link"),
        ),
    },
    month_of="received_at",
    doc="De-identified facts of the hub's dossiers, one row per dossier, day and source.",
)
RECONCILIATION_DAY_TABLE = TableSpec(
    RECONCILIATION_DAY,
    {
        1: (
            Column("day", DateType(), "the reconciled day", required=True),
            Column("verdict", StringType(), "no_data, reconciled, explained or not_reconciled", required=True),
            Column("generated_at", TimestamptzType(), "when the reconciliation ran"),
            Column("differing_dossiers", LongType(), "dossiers listed as differing"),
            Column("largest_class", StringType(), "the difference class with most dossiers"),
            Column("identities_hold", BooleanType(), "every accounting identity holds"),
            Column("portal_basis", StringType(), "export (the portal's own listing) or acknowledged"),
        ),
    },
    month_of="day",
    doc="The verdict of each day's reconciliation.",
)
RECONCILIATION_FIGURE_TABLE = TableSpec(
    RECONCILIATION_FIGURE,
    {
        1: (
            Column("day", DateType(), "the reconciled day", required=True),
            Column("kind", StringType(), "source, identity_term, identity_gap, class or flag", required=True),
            Column("identity", StringType(), "the identity a term or gap belongs to"),
            Column("figure", StringType(), "the source, term or class", required=True),
            Column("value", LongType(), "dossiers (a gap: left - right, 0 when the identity holds)", required=True),
        ),
    },
    month_of="day",
    doc="The figures of each day's reconciliation: sources, identity terms and gaps, classes, flags.",
)
TABLES = (FACTS_TABLE, RECONCILIATION_DAY_TABLE, RECONCILIATION_FIGURE_TABLE)
SCHEMA_VERSION = max(v for spec in TABLES for v in spec.versions)


def schema(spec: TableSpec, version: int = SCHEMA_VERSION) -> Schema:
    fields = [
        NestedField(i, c.name, c.type, required=c.required, doc=c.doc)
        for i, c in enumerate(spec.columns(version), start=1)
    ]
    return Schema(*fields)


def partition_spec(spec: TableSpec, table_schema: Schema) -> PartitionSpec:
    source = table_schema.find_field(spec.month_of)
    return PartitionSpec(PartitionField(source.field_id, 1000, MonthTransform(), f"{spec.month_of}_month"), spec_id=0)


def identifier(spec: TableSpec) -> str:
    return f"{NAMESPACE}.{spec.name}"


def create_table(catalog: Catalog, spec: TableSpec, version: int = SCHEMA_VERSION) -> Table:
    """``spec``'s table at ``version`` (an older one only to test the evolution from it)."""
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(NAMESPACE)
    table_schema = schema(spec, version)
    return catalog.create_table(
        identifier(spec),
        table_schema,
        partition_spec=partition_spec(spec, table_schema),
        properties={VERSION_PROPERTY: str(version), "comment": spec.doc},
    )


def table_version(table: Table) -> int:
    return int(table.properties.get(VERSION_PROPERTY, "1"))


def evolve(table: Table, spec: TableSpec) -> list[str]:
    """Add the columns of the versions after ``table``'s, in one commit; returns their names.

    A table of a newer version than this code knows is refused: writing it would drop the newer
    columns' values from the rows rewritten.
    """
    current = table_version(table)
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"{table.name()} is at schema version {current}, newer than this hub's {SCHEMA_VERSION}: upgrade the hub"
        )
    added = [c for v in sorted(spec.versions) if v > current for c in spec.versions[v]]
    if current == SCHEMA_VERSION:
        return []
    with table.transaction() as tx:
        with tx.update_schema() as update:
            for column in added:
                # Added columns are optional: the rows already written have no value for them.
                update.add_column(column.name, column.type, doc=column.doc)
        tx.set_properties({VERSION_PROPERTY: str(SCHEMA_VERSION)})
    return [c.name for c in added]


def ensure_tables(catalog: Catalog) -> dict[str, Table]:
    """Every warehouse table, created at the current version or evolved up to it."""
    tables = {}
    for spec in TABLES:
        try:
            table = catalog.load_table(identifier(spec))
        except NoSuchTableError:
            table = create_table(catalog, spec)
        else:
            if evolve(table, spec):
                table = catalog.load_table(identifier(spec))
        tables[spec.name] = table
    return tables

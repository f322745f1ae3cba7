"""Read the warehouse back with DuckDB: what ``hub analytics``, the demo and the tests check it by.

Each table is read through its Iceberg scan (pyiceberg plans the files from the table's metadata,
pruned by the filter's partitions and column statistics) as a stream of Arrow batches that DuckDB
consumes -- the same rows Spark, Trino or DuckDB's own ``iceberg_scan`` would read, without the
extension download ``iceberg_scan`` needs (the hub reaches no network at run time). A registered
scan is read once: a query names each table once (a self-join goes through a CTE).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import duckdb
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, GreaterThanOrEqual, LessThanOrEqual

from hub.analytics.tables import FACTS, NAMESPACE, TABLES
from quality.reconcile.engine import DEFAULT_MEMORY_LIMIT, connect_duckdb
from quality.reconcile.model import Period


def day_filter(day: date) -> BooleanExpression:
    return EqualTo("day", day.isoformat())


def days_filter(first: date, last: date) -> BooleanExpression:
    """``first`` .. ``last``, both included."""
    return (
        day_filter(first)
        if first == last
        else And(GreaterThanOrEqual("day", first.isoformat()), LessThanOrEqual("day", last.isoformat()))
    )


def month_filter(year: int, month: int) -> BooleanExpression:
    period = Period.month(year, month)
    return days_filter(period.first, period.last)


@contextmanager
def warehouse_db(
    catalog: Catalog, row_filter: BooleanExpression | None = None, *, names: tuple[str, ...] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB with the warehouse tables ``names`` (default: all) registered under their names,
    each the scan of its rows matching ``row_filter`` (on ``day``, which every table has)."""
    with (
        tempfile.TemporaryDirectory(prefix="hub-warehouse-") as spill,
        connect_duckdb(DEFAULT_MEMORY_LIMIT, spill) as db,
    ):
        for spec in TABLES:
            if names is None or spec.name in names:
                scan = catalog.load_table(f"{NAMESPACE}.{spec.name}").scan(row_filter=row_filter or AlwaysTrue())
                db.register(spec.name, scan.to_arrow_batch_reader())
        yield db


def facts_by_source(catalog: Catalog, day: date) -> dict[str, int]:
    """The day's dossiers per source (city, ministry:<partner>) as the warehouse holds them."""
    with warehouse_db(catalog, day_filter(day), names=(FACTS,)) as db:
        return dict(db.execute(f"SELECT source, count(*) FROM {FACTS} GROUP BY 1 ORDER BY 1").fetchall())


def counts_by_agency_status(catalog: Catalog, row_filter: BooleanExpression) -> list[tuple[str, int | None, int]]:
    """Dossiers per agency and status (``TrangThaiHoSo``; None without facts), agencies by code."""
    with warehouse_db(catalog, row_filter, names=(FACTS,)) as db:
        sql = f"SELECT coalesce(agency, ''), status, count(*) FROM {FACTS} GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST"
        return db.execute(sql).fetchall()


def run_query(catalog: Catalog, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """An analyst's SQL over the warehouse tables it names; the column names and the rows."""
    named = tuple(spec.name for spec in TABLES if re.search(rf"\b{spec.name}\b", sql))
    with warehouse_db(catalog, names=named) as db:
        result = db.execute(sql)
        return [d[0] for d in result.description], result.fetchall()

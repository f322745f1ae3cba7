"""Write a day into the warehouse: the day's dossier facts and its reconciliation's results.

Nothing is computed anew. The facts are the rows the reconciliation itself loads for the day
(``quality.reconcile.engine.loaded_store``: the store's ``dossier_facts`` beside each current version,
dated by the number's day as the reconciliation dates them), so the warehouse's dossiers per source
are the report's by construction, and ``day`` means the same in both. The results are those of the
day's reconciliation document (``reconciliation.json`` of ``hub reconcile``/``reconcile_daily``).

Memory: the store is read as Arrow batches into DuckDB (spilling under its limit, as the
reconciliation does) and the facts leave DuckDB as Arrow batches, appended in files of at most
``rows_per_file`` rows, so neither a day nor a year is ever held whole in Python.

Re-runs write nothing twice: each table's rows of the day are deleted and the new ones appended
in one Iceberg transaction (one commit), so a day exported twice holds the same rows, and a reader
sees either the old day or the new one, never both or neither. A day's files hold only that day,
so the delete drops whole files instead of rewriting a month.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from hub.analytics.catalog import describe
from hub.analytics.query import days_filter, facts_by_source
from hub.analytics.tables import FACTS, RECONCILIATION_DAY, RECONCILIATION_FIGURE, ensure_tables
from mappings.sources import CITY_SOURCE, PULLBACK_PREFIX
from quality.reconcile.engine import DEFAULT_MEMORY_LIMIT, loaded_store
from quality.reconcile.load import StoreDatabase
from quality.reconcile.model import Period

log = logging.getLogger(__name__)

ROWS_PER_FILE = 250_000

# Each warehouse fact from the reconciliation's ``dossier`` table (quality.reconcile.load). A row
# without facts (a version staged without them) reads NULL in every fact, not "no".
_FLAGS = (
    "digitised",
    "paid_online",
    "vneid_verified",
    "return_by_post",
    "submitted_via_portal",
    "fee_payable",
    "identified",
    "consulted_databases",
    "result_coded",
)
FACT_SQL: dict[str, str] = {
    "dossier_no": "dossier_no",
    "source": "source",
    "day": "day",
    "agency": "agency",
    "procedure_code": "procedure",
    "channel": "channel",
    "status": "status",
    "received_at": "received",
    "due_at": "due",
    "finished_at": "finished",
    "on_time": "finished <= due",
    "has_facts": "has_facts",
    **{flag: f"CASE WHEN has_facts THEN {flag} END" for flag in _FLAGS},
}


def _chunks(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """``batches`` regrouped into tables of about ``rows`` rows (one data file each)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(held)
            held, count = [], 0
    if count:
        yield pa.Table.from_batches(held)


def replace_days(table: Table, first: date, last: date, chunks: Iterable[pa.Table]) -> int:
    """The table's rows of ``first`` .. ``last`` replaced by ``chunks`` in one commit; the rows written.

    Chunks are cast to the table's Arrow schema (naive UTC times become ``timestamptz``, required
    columns non-null), so a value of the wrong type fails here, before anything is committed.
    """
    target = table.schema().as_arrow()
    written = 0
    with table.transaction() as tx, warnings.catch_warnings():
        # A day's first export deletes nothing, which pyiceberg warns about: expected here.
        warnings.filterwarnings("ignore", "Delete operation did not match any records")
        tx.delete(days_filter(first, last))
        for chunk in chunks:
            tx.append(chunk.select(target.names).cast(target))
            written += chunk.num_rows
    return written


def write_facts(
    table: Table,
    store: StoreDatabase,
    first: date,
    last: date,
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    batch_rows: int = 65_536,
    rows_per_file: int = ROWS_PER_FILE,
) -> int:
    """Replace the facts of ``first`` .. ``last`` in ``table`` with the store's dossiers of those
    days, as they stand now; the rows written."""
    columns = ", ".join(f"{FACT_SQL[name]} AS {name}" for name in table.schema().column_names)
    with loaded_store(store, Period(first, last), memory_limit, None, batch_rows, read_streams=1) as db:
        reader = db.sql(
            f"SELECT {columns} FROM dossier WHERE in_period ORDER BY day, agency, dossier_no, source"
        ).to_arrow_reader(batch_rows)
        return replace_days(table, first, last, _chunks(reader, rows_per_file))


def reconciliation_rows(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A day's reconciliation document as the warehouse's verdict row and figure rows."""
    day = date.fromisoformat(document["period"]["first"])
    verdict = document["verdict"]
    verdict_row = {
        "day": day,
        "verdict": verdict["status"],
        "generated_at": datetime.fromisoformat(document["generated_at"]),
        "differing_dossiers": verdict["differing_dossiers"],
        "largest_class": verdict["largest_class"],
        "identities_hold": verdict["identities_hold"],
        "portal_basis": document["compared"]["portal_basis"],
    }
    figures = [
        {"kind": "source", "identity": None, "figure": s["source"], "value": s["dossiers"]} for s in document["sources"]
    ]
    for identity in document["identities"]:
        figures += [
            {"kind": "identity_term", "identity": identity["key"], "figure": term, "value": value}
            for term, value in identity["terms"].items()
        ]
        gap = identity["left"] - identity["right"]
        figures.append(
            {"kind": "identity_gap", "identity": identity["key"], "figure": "left_minus_right", "value": gap}
        )
    figures += [{"kind": "class", "identity": None, "figure": k, "value": n} for k, n in document["counts"].items()]
    figures += [{"kind": "flag", "identity": None, "figure": k, "value": n} for k, n in document["flags"].items()]
    return verdict_row, [{"day": day, **row} for row in figures]


def write_reconciliation(tables: Mapping[str, Table], document: Mapping[str, Any]) -> int:
    """Replace the day's verdict and figures with ``document``'s; the figures written."""
    verdict_row, figures = reconciliation_rows(document)
    day = verdict_row["day"]
    for name, rows in ((RECONCILIATION_DAY, [verdict_row]), (RECONCILIATION_FIGURE, figures)):
        table = tables[name]
        replace_days(table, day, day, [pa.Table.from_pylist(rows, schema=table.schema().as_arrow())])
    return len(figures)


def hub_counts(document: Mapping[str, Any]) -> dict[str, int]:
    """The reconciliation's dossiers per staged source (city and each ministry) -- what the
    warehouse's facts of the day must equal."""
    return {
        s["source"]: s["dossiers"]
        for s in document["sources"]
        if s["source"] == CITY_SOURCE or s["source"].startswith(PULLBACK_PREFIX)
    }


def export_day(
    catalog: Catalog,
    store: StoreDatabase,
    day: date,
    document: Mapping[str, Any] | None,
    *,
    refresh_days: int = 0,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> dict[str, Any]:
    """Write ``day``'s facts and, when ``document`` (its reconciliation) is given, its results;
    then read the facts back and compare them with the reconciliation's dossiers per source.

    ``refresh_days``: the days before ``day`` whose facts are written again with it (in the same
    load and commit), so the versions staged since -- a dossier finished, its result returned --
    reach the warehouse: a dossier's facts change for weeks after the day it is counted in.
    """
    tables = ensure_tables(catalog)
    first = day - timedelta(days=refresh_days)
    written = write_facts(tables[FACTS], store, first, day, memory_limit=memory_limit)
    figures = write_reconciliation(tables, document) if document is not None else None
    warehouse = facts_by_source(catalog, day)
    hub = hub_counts(document) if document is not None else None
    # A source the period has no dossier of is listed by the report with 0, and absent from the warehouse.
    matches = None if hub is None else {k: v for k, v in hub.items() if v} == warehouse
    summary = {
        "day": day.isoformat(),
        "refreshed_from": first.isoformat(),
        "catalog": describe(catalog),
        "facts_written": written,
        "warehouse": warehouse,
        "hub": hub,
        "matches_hub": matches,
        "reconciliation": None if document is None else document["verdict"]["status"],
        "figures_written": figures,
    }
    log.info(
        "warehouse %s (facts from %s): %d facts written, the day's %s; reconciliation %s; equal to the hub's: %s",
        day,
        first,
        written,
        ", ".join(f"{k} {v}" for k, v in warehouse.items()) or "none",
        summary["reconciliation"] or "not exported (no report for the day)",
        matches,
    )
    return summary

"""Copy the columns reconciliation needs from the hub store into DuckDB, in bounded batches.

DuckDB's sqlite/postgres scanners would read the store directly, but they are extensions
downloaded at first use, and this hub runs where only the package registries are reachable.
So the store is read through its own SQLAlchemy engine with a streaming cursor (a server-side
cursor on PostgreSQL), ``batch_rows`` rows at a time, and each batch is appended to a DuckDB
table as a DataFrame: Python holds one batch, DuckDB holds the rest in its own columnar storage
and spills to disk under its memory limit. Payloads are never read, so no personal data enters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa

from hub.store import HubStore
from hub.store import schema as t
from hub.store.store import utc
from quality.reconcile.model import Period

# Dossier numbers are {agency}-{YYMMDD}-{NNNN}: the agency and the intake day, read in SQL.
_AGENCY = "split_part(dossier_no, '-', 1)"
_NUMBER_DAY = "try_strptime(split_part(dossier_no, '-', 2), '%y%m%d')::DATE"

_DDL = """
CREATE TABLE city (dossier_no VARCHAR, content_hash VARCHAR, agency VARCHAR, in_period BOOLEAN);
CREATE TABLE ministry (source VARCHAR, dossier_no VARCHAR, content_hash VARCHAR, agency VARCHAR, in_period BOOLEAN);
CREATE TABLE delivery (dossier_no VARCHAR, state VARCHAR, content_hash VARCHAR, acked_hash VARCHAR);
CREATE TABLE quarantine (dossier_no VARCHAR, rule VARCHAR);
"""


def _naive_utc(value: datetime | None) -> datetime | None:
    """DuckDB compares plain timestamps without the ICU time-zone extension; the store writes UTC."""
    moment = utc(value)
    return None if moment is None else moment.replace(tzinfo=None)


def _copy(
    db: duckdb.DuckDBPyConnection,
    store: HubStore,
    query: sa.Select[Any],
    convert: Callable[[Sequence[Any]], tuple[Any, ...]],
    insert: str,
    *,
    batch_rows: int,
    params: dict[str, Any] | None = None,
) -> None:
    """Run ``insert`` (which reads the view ``batch``) once per ``batch_rows`` rows of ``query``."""
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
        columns = list(result.keys())
        for rows in result.partitions():
            db.register("batch", pd.DataFrame([convert(row) for row in rows], columns=columns))
            db.execute(insert, params)
            db.unregister("batch")


def _as_is(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(row)


def _with_naive_time(row: Sequence[Any]) -> tuple[Any, ...]:
    return (*row[:-1], _naive_utc(row[-1]))


def load_store(
    db: duckdb.DuckDBPyConnection,
    store: HubStore,
    *,
    city_source: str,
    ministry_prefix: str,
    partner: str,
    period: Period,
    batch_rows: int,
) -> None:
    """Create and fill ``city``, ``ministry``, ``delivery`` and ``quarantine`` in ``db``.

    Every city and ministry dossier is kept (with ``in_period``), not just the period's: whether a
    ministry dossier is also the city's must not depend on which day each side dated it.
    """
    db.execute(_DDL)
    start, end = period.utc_bounds
    in_period = (
        f"coalesce({_NUMBER_DAY} BETWEEN $first AND $last, source_updated_at >= $start AND source_updated_at < $end, "
        "false)"
    )
    bounds = {"first": period.first, "last": period.last, "start": start, "end": end}
    cur = t.dossier_current
    city = sa.select(cur.c.dossier_no, cur.c.content_hash, cur.c.source_updated_at).where(cur.c.source == city_source)
    _copy(
        db,
        store,
        city,
        _with_naive_time,
        f"INSERT INTO city SELECT dossier_no, content_hash, {_AGENCY}, {in_period} FROM batch",
        batch_rows=batch_rows,
        params=bounds,
    )
    ministry = sa.select(cur.c.source, cur.c.dossier_no, cur.c.content_hash, cur.c.source_updated_at).where(
        cur.c.source.startswith(ministry_prefix)
    )
    _copy(
        db,
        store,
        ministry,
        _with_naive_time,
        f"INSERT INTO ministry SELECT source, dossier_no, content_hash, {_AGENCY}, {in_period} FROM batch",
        batch_rows=batch_rows,
        params=bounds,
    )
    dlv = t.delivery
    delivery = sa.select(dlv.c.dossier_no, dlv.c.state, dlv.c.content_hash, dlv.c.acked_hash).where(
        dlv.c.partner == partner, dlv.c.source == city_source
    )
    _copy(db, store, delivery, _as_is, "INSERT INTO delivery SELECT * FROM batch", batch_rows=batch_rows)
    q = t.quarantine
    quarantine = sa.select(q.c.dossier_no, q.c.rule).where(q.c.source == city_source, q.c.resolved_at.is_(None))
    _copy(db, store, quarantine, _as_is, "INSERT INTO quarantine SELECT * FROM batch", batch_rows=batch_rows)

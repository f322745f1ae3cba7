"""A columnar copy of the store's facts that reconciliation reads, kept up to date between runs.

Why: reading a year's facts out of the store (SQLite or PostgreSQL, row by row into Arrow) is most
of a year's reconciliation, and from one day to the next almost none of it changed. The copy is a
DuckDB file holding ``load.STORE_TABLES`` -- every period, typed -- that each run first brings up
to date by re-reading only the rows written since the copy's newest row, then leaves attached
for the run to read in place, through ``load.period_views`` as a run without the copy reads the
session's tables.

What "changed" means, per table: every row the reconciliation reads carries the time of the
transaction that last wrote it -- ``dossier_current.staged_at`` (its facts are written in the same
transaction), ``delivery.updated_at``, ``postal_order.updated_at``, ``quarantine.last_seen`` or
``resolved_at`` -- so a row written since the copy's newest stamp is re-read and replaces its copy
by key. A stamp is taken when a writer starts, not when it commits, so a transaction still open
while the copy was refreshed may commit rows older than the copy's newest: every refresh re-reads
``OVERLAP`` before it, and re-reading a row is harmless. The portal's export is replaced whole per
period by each fetch, so a period's rows are re-read when its ``fetched_at`` differs.

The copy is never trusted blindly. It is rebuilt from the store when asked (``rebuild``), when it
is missing or unreadable, when it was built by another layout or from another store (identity:
the SQLite file's inode, PostgreSQL's database and table oids) or from another store schema (the
columns of the tables read), and when after a refresh its row counts are not the store's (rows
deleted from the store, a store restored from a backup, rows missed) or its newest stamp is newer
than the store's. A rebuild is written beside the copy and renamed over it, and a refresh is one
DuckDB transaction, so a run that dies leaves the previous copy.

Concurrency: DuckDB lets one process open a file for writing and refuses the others outright, so
the runs queue on an exclusive ``fcntl.flock`` of ``<copy>.lock`` instead (``locked``); each holds
it while it refreshes the copy and through its compare, which reads the file in place, and
releases it once its DuckDB has closed the file, for the next.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from quality.reconcile.load import (
    STORE_TABLES,
    ReadScope,
    StoreDatabase,
    StoreRead,
    adbc_connect,
    copy_store,
    create_store_tables,
    literal,
    only_adbc,
    period_views,
    store_reads,
    text_time,
)

OVERLAP = timedelta(minutes=15)
"""How long before the copy's newest stamp each refresh re-reads: longer than a store write
transaction lasts between taking its time and committing (batches commit in seconds)."""
LAYOUT = "3"  # of ``load.STORE_TABLES``: a copy written by another layout is rebuilt
_ROUNDS = 3  # refreshes that may each find rows committed meanwhile before the copy is rebuilt
_STORE_TABLES = ("dossier_current", "dossier_facts", "delivery", "quarantine", "postal_order", "portal_snapshot")
_SCHEMA = "columnar"  # the copy's name while attached to the session's DuckDB
_BUILD = "columnar_build"
_STAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass
class Refresh:
    """What bringing the copy up to date did: rebuilt (and why), or the rows re-read per table."""

    rebuilt: str | None = None
    rows: dict[str, int] = field(default_factory=dict)


def load_from_copy(
    db: duckdb.DuckDBPyConnection,
    store: StoreDatabase,
    path: Path,
    scope: ReadScope,
    *,
    rebuild: bool = False,
    overlap: timedelta | None = None,
) -> Refresh:
    """``load.period_views`` over the columnar copy at ``path``, attached to ``db`` once it is up to
    date (``overlap``: ``OVERLAP`` unless given). The caller holds ``locked(path)`` until ``db`` is
    closed: the views read the file."""
    overlap = OVERLAP if overlap is None else overlap
    refresh = _up_to_date(db, store, path, scope, rebuild, overlap)
    period_views(db, _SCHEMA, scope)
    return refresh


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of the copy at ``path`` (runs in other processes and threads wait)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _up_to_date(
    db: duckdb.DuckDBPyConnection,
    store: StoreDatabase,
    path: Path,
    scope: ReadScope,
    rebuild: bool,
    overlap: timedelta,
) -> Refresh:
    """Leave the copy attached as ``_SCHEMA``, refreshed or rebuilt."""
    dialect = store.engine.dialect.name
    reads = store_reads(dialect, scope.partner)
    snapshot_period, batch_rows, parts = scope.snapshot_period, scope.batch_rows, scope.parts
    only_adbc(store)
    with closing(adbc_connect(store.url)) as conn:
        identity = {
            "layout": LAYOUT,
            "store": _identity(conn, store.url, dialect),
            "schema": _fingerprint(conn, dialect),
            "partner": scope.partner,
        }
    reason = "asked" if rebuild else _attach(db, path, identity)
    if reason is None:
        db.execute("BEGIN TRANSACTION")
        try:
            refresh = Refresh()
            reason = _refresh(db, store, reads, refresh, batch_rows, parts, overlap)
            if reason is None:
                _refresh_snapshot(db, store, reads["portal"], snapshot_period, refresh, batch_rows, parts)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if reason is None:
            db.execute("COMMIT")
            return refresh
        db.execute("ROLLBACK")
        db.execute(f"DETACH {_SCHEMA}")
    refresh = Refresh(reason, _build(db, store, path, identity, reads, batch_rows, parts))
    db.execute(f"ATTACH {literal(str(path))} AS {_SCHEMA}")
    _refresh_snapshot(db, store, reads["portal"], snapshot_period, refresh, batch_rows, parts)
    return refresh


def _attach(db: duckdb.DuckDBPyConnection, path: Path, identity: dict[str, str]) -> str | None:
    """Attach the copy; why it must be rebuilt instead (it is then detached), or None."""
    if not path.exists():
        return "no copy yet"
    try:
        db.execute(f"ATTACH {literal(str(path))} AS {_SCHEMA}")
    except duckdb.Error as error:
        return f"unreadable copy ({type(error).__name__})"
    try:
        kept = dict(db.execute(f"SELECT key, value FROM {_SCHEMA}.meta").fetchall())
    except duckdb.Error:
        kept = {}
    differs = sorted(key for key, value in identity.items() if kept.get(key) != value)
    if not differs:
        return None
    db.execute(f"DETACH {_SCHEMA}")
    return f"{', '.join(differs)} changed"


def _identity(conn: Any, url: str, dialect: str) -> str:
    """Which store this is: a store replaced by another (a new file, tables dropped and created
    again) is another store even at the same URL."""
    parsed = sa.engine.make_url(url)
    if dialect == "sqlite":
        stat = os.stat(parsed.database or "")
        return f"sqlite {os.path.realpath(parsed.database or '')} {stat.st_dev}:{stat.st_ino}"
    oids = ", ".join(f"to_regclass('{table}')::oid::text" for table in _STORE_TABLES)
    with closing(conn.cursor()) as cur:
        cur.execute(
            f"SELECT concat_ws(' ', (SELECT oid::text FROM pg_database WHERE datname = current_database()), {oids})"
        )
        (oids_text,) = cur.fetchone()
    return f"{parsed.render_as_string(hide_password=True)} {oids_text}"


def _fingerprint(conn: Any, dialect: str) -> str:
    """The declared columns of the store tables read: a column added (``hub.store.facts``) rebuilds the copy."""
    tables = ", ".join(literal(table) for table in _STORE_TABLES)
    if dialect == "postgresql":
        sql = (
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = current_schema() AND table_name IN ({tables}) ORDER BY 1, ordinal_position"
        )
    else:
        sql = (
            "SELECT t.name, c.name, c.type FROM sqlite_master t, pragma_table_info(t.name) c "
            f"WHERE t.name IN ({tables}) ORDER BY 1, c.cid"
        )
    with closing(conn.cursor()) as cur:
        cur.execute(sql)
        columns = "\n".join(" ".join(map(str, row)) for row in cur.fetchall())
    return hashlib.sha256(columns.encode()).hexdigest()


def _build(
    db: duckdb.DuckDBPyConnection,
    store: StoreDatabase,
    path: Path,
    identity: dict[str, str],
    reads: dict[str, StoreRead],
    batch_rows: int,
    parts: int,
) -> dict[str, int]:
    """Write the copy from the whole store beside ``path``, then rename it over ``path``; the rows read."""
    building = path.with_name(path.name + ".building")
    for stale in (building, building.with_name(building.name + ".wal")):
        stale.unlink(missing_ok=True)
    db.execute(f"ATTACH {literal(str(building))} AS {_BUILD}")
    try:
        create_store_tables(db, _BUILD)
        db.execute(f"CREATE TABLE {_BUILD}.meta (key VARCHAR, value VARCHAR)")
        db.executemany(f"INSERT INTO {_BUILD}.meta VALUES (?, ?)", list(identity.items()))
        stamped = [(reads[table], "TRUE") for table in STORE_TABLES if reads[table].stamp is not None]
        rows = copy_store(db, _BUILD, store, stamped, batch_rows=batch_rows, parts=parts, replace=False)
        db.execute(f"CHECKPOINT {_BUILD}")
    finally:
        db.execute(f"DETACH {_BUILD}")
    path.with_name(path.name + ".wal").unlink(missing_ok=True)  # a stale log must not replay onto the new copy
    os.replace(building, path)
    return {table: count for table, (count, _) in rows.items()}


def _refresh(
    db: duckdb.DuckDBPyConnection,
    store: StoreDatabase,
    reads: dict[str, StoreRead],
    refresh: Refresh,
    batch_rows: int,
    parts: int,
    overlap: timedelta,
) -> str | None:
    """Re-read each stamped table's rows written since its newest copied row (less ``overlap``) until
    the copy counts the store's rows; why the copy must be rebuilt instead, or None."""
    dialect = store.engine.dialect.name
    for read in (reads[table] for table in STORE_TABLES if reads[table].stamp is not None):
        for _ in range(_ROUNDS):
            ((newest,),) = db.execute(f"SELECT max(stamp) FROM {_SCHEMA}.{read.table}").fetchall()
            since = "TRUE" if newest is None else _since(read, newest - overlap, dialect)
            rows = copy_store(db, _SCHEMA, store, [(read, since)], batch_rows=batch_rows, parts=parts, replace=True)
            count, read_newest = rows[read.table]
            refresh.rows[read.table] = refresh.rows.get(read.table, 0) + count
            # The rows stamped at the copy's newest are re-read unless the store lost them (or more).
            if newest is not None and (read_newest is None or read_newest < newest):
                return f"{read.table}: the store's newest row is older than the copy's"
            held = _store_count(store, read)
            ((copied,),) = db.execute(f"SELECT count(*) FROM {_SCHEMA}.{read.table}").fetchall()
            if copied > held:
                return f"{read.table}: the copy holds rows the store no longer has"
            if copied == held:
                break
        else:
            return f"{read.table}: the copy kept missing rows of the store"
    return None


def _since(read: StoreRead, moment: datetime, dialect: str) -> str:
    """``read``'s rows stamped at ``moment`` or later (the store keeps UTC; SQLite as text)."""
    text = moment.strftime(_STAMP_FORMAT)
    if dialect == "postgresql":
        return f"{read.stamp} >= TIMESTAMPTZ '{text}+00'"
    return f"{read.stamp} >= '{text}'"


def _store_count(store: StoreDatabase, read: StoreRead) -> int:
    """The store's rows in ``read``'s scope (counted from an index where one answers it)."""
    with closing(adbc_connect(store.url)) as conn, closing(conn.cursor()) as cur:
        cur.execute(f"SELECT count(*) FROM {read.driving} WHERE {read.counted}")
        (count,) = cur.fetchone()
    return int(count)


def _refresh_snapshot(
    db: duckdb.DuckDBPyConnection,
    store: StoreDatabase,
    read: StoreRead,
    period: str | None,
    refresh: Refresh,
    batch_rows: int,
    parts: int,
) -> None:
    """Replace the copy of ``period``'s portal export when the store holds another fetch of it."""
    if period is None:
        return
    dialect = store.engine.dialect.name
    where = f"s.period = {literal(period)}"
    with closing(adbc_connect(store.url)) as conn, closing(conn.cursor()) as cur:
        cur.execute(f"SELECT {text_time('s.fetched_at', dialect)} FROM portal_snapshot s WHERE {where} LIMIT 1")
        fetched = cur.fetchone()
    kept = db.execute(f"SELECT fetched_at FROM {_SCHEMA}.portal WHERE period = $p LIMIT 1", {"p": period}).fetchall()
    if (fetched[0] if fetched else None) == (kept[0][0] if kept else None):
        return
    db.execute(f"DELETE FROM {_SCHEMA}.portal WHERE period = $p", {"p": period})
    rows = copy_store(db, _SCHEMA, store, [(read, where)], batch_rows=batch_rows, parts=parts, replace=False)
    refresh.rows["portal"] = rows["portal"][0]

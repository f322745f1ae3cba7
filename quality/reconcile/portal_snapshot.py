"""The portal side of reconciliation: what the national portal's export says it holds for a period.

Without it the hub can only count what the portal acknowledged to the hub, so a dossier the
portal lost, or one that reached it by another road (ministry software), stays invisible. The
snapshot is kept per reconciliation period (its label) and replaced whole by each fetch, so a
report always compares the city with one consistent reading of the portal. It is written with
SQLAlchemy (one bulk insert) and read into DuckDB over ADBC as Arrow batches, like the rest of
the store (``load.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import sqlalchemy as sa

from hub.store import HubStore
from hub.store.schema import portal_snapshot
from quality.reconcile.load import adbc_connect
from quality.reconcile.model import HANOI


@dataclass(frozen=True)
class PortalSnapshot:
    """Which fetch the reconciliation compared with, for the document."""

    period: str
    fetched_at: str
    dossiers: int


def replace_snapshot(store: HubStore, period: str, held: Iterable[tuple[str, int, str]], fetched_at: datetime) -> int:
    """Replace the period's snapshot with ``held`` (dossier number, status, portal update time) in
    one transaction, so a reader sees the old snapshot or the new one, never a mix."""
    rows = [
        {"period": period, "dossier_no": no, "status": status, "portal_updated_at": updated, "fetched_at": fetched_at}
        for no, status, updated in held
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.delete(portal_snapshot).where(portal_snapshot.c.period == period))
        if rows:
            conn.execute(sa.insert(portal_snapshot), rows)
    return len(rows)


def load_snapshot(db: duckdb.DuckDBPyConnection, store: HubStore, period: str) -> PortalSnapshot | None:
    """Create ``portal (dossier_no, status)`` in ``db`` from the period's snapshot (empty when none
    was fetched) and say which fetch it is, or None when the portal side was never fetched."""
    db.execute("CREATE TABLE portal (dossier_no VARCHAR, status INTEGER)")
    quoted = period.replace("'", "''")
    where = f"WHERE period = '{quoted}'"
    with closing(adbc_connect(store.url)) as conn, closing(conn.cursor()) as cur:
        cur.execute(f"SELECT count(*), max(fetched_at) FROM portal_snapshot {where}")
        count, fetched_at = cur.fetchone()
        if not count:
            return None
        cur.execute(f"SELECT dossier_no, status FROM portal_snapshot {where}")
        reader = cur.fetch_record_batch()
        db.register("portal_batches", reader)
        try:
            # ADBC's SQLite driver types an empty result's columns as integers: cast back.
            db.execute("INSERT INTO portal SELECT dossier_no::VARCHAR, status::INTEGER FROM portal_batches")
        finally:
            db.unregister("portal_batches")
    # PostgreSQL gives a datetime, SQLite the store's UTC as text: shown like ``generated_at``.
    moment = fetched_at if isinstance(fetched_at, datetime) else datetime.fromisoformat(fetched_at)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return PortalSnapshot(period, moment.astimezone(HANOI).isoformat(timespec="seconds"), int(count))

"""The portal side of reconciliation: what the national portal's export says it holds for a period.

Without it the hub can only count what the portal acknowledged to the hub, so a dossier the
portal lost, or one that reached it by another road (ministry software), stays invisible. The
snapshot is kept per reconciliation period (its label) and replaced whole by each fetch, so a
report always compares the city with one consistent reading of the portal. It is written with
SQLAlchemy (one bulk insert) and read into DuckDB over ADBC as Arrow batches with the rest of
the store (``load.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from hub.store.schema import portal_snapshot
from quality.reconcile.load import StoreDatabase
from quality.reconcile.model import HANOI


@dataclass(frozen=True)
class PortalSnapshot:
    """Which fetch the reconciliation compared with, for the document."""

    period: str
    fetched_at: str
    dossiers: int


def replace_snapshot(
    store: StoreDatabase, period: str, held: Iterable[tuple[str, int, str]], fetched_at: datetime
) -> int:
    """Replace the period's snapshot with ``held`` (dossier number, status, portal update time) in
    one transaction, so a reader sees the old snapshot or the new one, never a mix."""
    rows = [
        {"period": period, "dossier_no": no, "status": status, "portal_updated_at": updated, "fetched_at": fetched_at}
        for no, status, updated in held
    ]
    with store.db.engine.begin() as conn:
        conn.execute(sa.delete(portal_snapshot).where(portal_snapshot.c.period == period))
        if rows:
            conn.execute(sa.insert(portal_snapshot), rows)
    return len(rows)


def fetched_snapshot(store: StoreDatabase, period: str) -> datetime | None:
    """When the portal's export for ``period`` was last fetched, or None when it never was (the
    reconciliation then has no portal side beyond what the portal acknowledged to the hub)."""
    # Every row of a fetch carries its time (``replace_snapshot``), so one row says it: no scan.
    with store.db.engine.connect() as conn:
        fetched_at = conn.execute(
            sa.select(portal_snapshot.c.fetched_at).where(portal_snapshot.c.period == period).limit(1)
        ).scalar()
    if fetched_at is None:
        return None
    # SQLite hands back the store's UTC without its zone.
    return fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)


def snapshot_read(period: str, fetched_at: datetime, dossiers: int) -> PortalSnapshot:
    """The fetch a reconciliation compared with, as the document shows it (Hanoi time)."""
    return PortalSnapshot(period, fetched_at.astimezone(HANOI).isoformat(timespec="seconds"), dossiers)

"""The portal side of reconciliation: what the national portal's export says it holds for a period.

Without it the hub can only count what the portal acknowledged to the hub, so a dossier the
portal lost, or one that reached it by another road (ministry software), stays invisible. The
snapshot is kept per reconciliation period (its label) and replaced whole by each fetch, so a
report always compares the city with one consistent reading of the portal. It is written with
SQLAlchemy by the store (one bulk insert) and read into DuckDB over ADBC as Arrow batches with the rest of
the store (``load.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from quality.reconcile.load import StoreDatabase
from quality.reconcile.model import HANOI

# Typed, so SQLite's stored text comes back as a datetime as it does from PostgreSQL.
_FETCHED_AT = sa.text("SELECT fetched_at FROM portal_snapshot WHERE period = :period LIMIT 1").columns(
    sa.column("fetched_at", sa.DateTime(timezone=True))
)


@dataclass(frozen=True)
class PortalSnapshot:
    """Which fetch the reconciliation compared with, for the document."""

    period: str
    fetched_at: str
    dossiers: int


def fetched_snapshot(store: StoreDatabase, period: str) -> datetime | None:
    """When the portal's export for ``period`` was last fetched, or None when it never was (the
    reconciliation then has no portal side beyond what the portal acknowledged to the hub)."""
    # Every row of a fetch carries its time (the store's ``PortalSnapshots.replace``), so one row
    # says it: no scan. The table is read by name, as ``load.py`` reads the others.
    with store.engine.connect() as conn:
        fetched_at = conn.execute(_FETCHED_AT, {"period": period}).scalar()
    if fetched_at is None:
        return None
    # SQLite hands back the store's UTC without its zone.
    return fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)


def snapshot_read(period: str, fetched_at: datetime, dossiers: int) -> PortalSnapshot:
    """The fetch a reconciliation compared with, as the document shows it (Hanoi time)."""
    return PortalSnapshot(period, fetched_at.astimezone(HANOI).isoformat(timespec="seconds"), dossiers)

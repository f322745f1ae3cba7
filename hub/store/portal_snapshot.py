"""The portal's export as last fetched, per reconciliation period (read by ``quality.reconcile``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from hub.store.database import Database
from hub.store.schema import portal_snapshot


class PortalSnapshots:
    """One snapshot per period, replaced whole by each fetch."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, period: str, held: Iterable[tuple[str, int, str]], fetched_at: datetime) -> int:
        """Replace the period's snapshot with ``held`` (dossier number, status, portal update time) in
        one transaction, so a reader sees the old snapshot or the new one, never a mix."""
        rows = [
            {
                "period": period,
                "dossier_no": no,
                "status": status,
                "portal_updated_at": updated,
                "fetched_at": fetched_at,
            }
            for no, status, updated in held
        ]
        with self._db.engine.begin() as conn:
            conn.execute(sa.delete(portal_snapshot).where(portal_snapshot.c.period == period))
            if rows:
                conn.execute(sa.insert(portal_snapshot), rows)
        return len(rows)

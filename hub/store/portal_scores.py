"""The portal's Decision 766 scoreboard as last fetched, per scoreboard period (read by the report)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hub.store.database import Database
from hub.store.schema import portal_scores


@dataclass(frozen=True)
class Score:
    """One figure of the scoreboard: a department's score in one indicator (``total`` or a group)."""

    department_code: str
    department_name: str
    indicator: str
    score: float | None
    max_score: float
    source: str  # the endpoint it came from


class PortalScores:
    """One scoreboard per period, replaced whole by each fetch."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, period: str, scores: Iterable[Score], fetched_at: datetime) -> int:
        """Replace the period's figures in one transaction (a reader sees the old set or the new one)."""
        rows = [{"period": period, "fetched_at": fetched_at, **vars(score)} for score in scores]
        with self._db.engine.begin() as conn:
            conn.execute(sa.delete(portal_scores).where(portal_scores.c.period == period))
            if rows:
                conn.execute(sa.insert(portal_scores), rows)
        return len(rows)

    def fetched_at(self, period: str) -> datetime | None:
        """When the period was last fetched, or None if it never was (the job's cache check)."""
        with self._db.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.max(portal_scores.c.fetched_at)).where(portal_scores.c.period == period)
            ).scalar()

    def of_period(self, period: str) -> list[Score]:
        columns = [portal_scores.c[name] for name in Score.__dataclass_fields__]
        query = sa.select(*columns).where(portal_scores.c.period == period)
        with self._db.engine.connect() as conn:
            rows = conn.execute(query.order_by(portal_scores.c.department_code, portal_scores.c.indicator)).all()
        return [Score(*row) for row in rows]

"""Validation results of the quality gate on the hub store (table ``validation_result``).

Written in one bulk insert per validated batch, read back per run: what the reconciliation report
shows beside the Data Docs link, and what proves a batch passed through the gate at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.store import HubStore


class ValidationResults:
    def __init__(self, store: HubStore) -> None:
        self.db = store.db

    def record(
        self,
        run_id: str,
        dataset: str,
        suite: str,
        batch_id: str,
        validated_at: datetime,
        expectations: Sequence[Any],
    ) -> None:
        """``expectations``: objects with ``rule, expectation, evaluated, failed, success``."""
        if not expectations:
            return
        rows = [
            {
                "run_id": run_id,
                "dataset": dataset,
                "suite": suite,
                "batch_id": batch_id,
                "rule": e.rule,
                "expectation": e.expectation,
                "evaluated": e.evaluated,
                "failed": e.failed,
                "success": e.success,
                "validated_at": validated_at,
            }
            for e in expectations
        ]
        with self.db.engine.begin() as conn:
            conn.execute(sa.insert(t.validation_result), rows)

    def for_run(self, run_id: str) -> list[dict[str, Any]]:
        """Per dataset and rule: batches, rows evaluated and failed, batches that failed it."""
        r = t.validation_result
        query = (
            sa.select(
                r.c.dataset,
                r.c.suite,
                r.c.rule,
                sa.func.count().label("batches"),
                sa.func.sum(r.c.evaluated).label("evaluated"),
                sa.func.sum(r.c.failed).label("failed"),
                sa.func.sum(sa.case((r.c.success, 0), else_=1)).label("failed_batches"),
            )
            .where(r.c.run_id == run_id)
            .group_by(r.c.dataset, r.c.suite, r.c.rule)
            .order_by(r.c.dataset, r.c.rule)
        )
        with self.db.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

"""The plan split over partitions planned at once (the DAG's mapped ``plan`` tasks): a generated day
gets the very dispositions, quarantine rows (rules and reasons) and outbox messages the whole plan
gives it, two records sharing a number are both held, and a re-run plans and queues nothing."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.jobs.quality import stored_gate
from hub.pipeline import portal_sync
from hub.pipeline.extract import staged_record
from hub.pipeline.summary import sync_summary
from hub.store import HubStore, partitions
from hub.store import schema as t
from mappings.sources import CITY_SOURCE
from sandbox.city_system.generator import generate

pytestmark = pytest.mark.timeout(600)
DAY = date(2026, 11, 20)
TWINS = 3  # records that carry another record's number under ids of their own


def _stage_day(store: HubStore) -> set[str]:
    """A generated day with its defects, then records reusing three of its numbers; returns those numbers."""
    records = generate(DAY, 0.05, 11).records
    twins = [
        {**copy.deepcopy(r), "id": 9_000_000 + i, "trich_yeu": "bản ghi khác"} for i, r in enumerate(records[:TWINS])
    ]
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "extract-1")
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in twins], "extract-2")
    return {r["ma_ho_so"] for r in twins}


def _outcome(store: HubStore) -> dict[str, Any]:
    """What a plan leaves behind, without times and row ids."""
    dlv, ob = t.delivery, t.outbox
    with store.db.engine.connect() as conn:
        dispositions = set(conn.execute(sa.select(dlv.c.dossier_no, dlv.c.content_hash, dlv.c.state, dlv.c.reason)))
        messages = set(
            conn.execute(
                sa.select(ob.c.idempotency_key, ob.c.operation, ob.c.dossier_no, ob.c.content_hash, ob.c.state)
            )
        )
    quarantine = {(e["dossier_no"], e["rule"], e["reason"], e["occurrences"]) for e in store.quarantine.open_entries()}
    return {"dispositions": dispositions, "messages": messages, "quarantine": quarantine}


def _plan_in_partitions(url: str, count: int) -> list[portal_sync.PlanReport]:
    """Every partition at once, each with a store (engine) of its own, as mapped tasks have."""

    def one(partition: Any) -> portal_sync.PlanReport:
        store = HubStore(url)
        try:
            gate = stored_gate(store, f"run-partition-{partition.index}")
            return portal_sync.plan_partition(store, gate, source=CITY_SOURCE, partition=partition, page_size=150)
        finally:
            store.db.engine.dispose()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, partitions(count)))


def test_partitions_planned_at_once_give_the_whole_plans_outcome(store: HubStore, tmp_path: Path) -> None:
    whole = HubStore(f"sqlite:///{tmp_path / 'whole.db'}")
    whole.create_schema()
    shared = _stage_day(whole)
    assert _stage_day(store) == shared
    whole_report = portal_sync.plan(whole, stored_gate(whole, "run-whole"), source=CITY_SOURCE, page_size=150)

    reports = _plan_in_partitions(store.db.url, 3)

    assert all(r.considered for r in reports)  # every partition had dossiers to plan
    assert sum(r.considered for r in reports) == whole_report.considered
    assert sum((r.dispositions for r in reports), start=portal_sync.Counter()) == whole_report.dispositions
    assert _outcome(store) == _outcome(whole)
    held = {(e["dossier_no"].partition("#")[0], e["rule"]) for e in store.quarantine.open_entries()}
    assert {(n, portal_sync.SHARED_NUMBER_RULE) for n in shared} <= held
    # Both records of a shared number are held: the number's own key and the twin's.
    twins = [e for e in store.quarantine.open_entries() if e["rule"] == portal_sync.SHARED_NUMBER_RULE]
    assert len(twins) == 2 * TWINS

    batches = portal_sync.batch_plan(store)
    counts = sync_summary(store, source=CITY_SOURCE, partner=portal_sync.PARTNER)["counts"]
    assert (
        counts["extracted"] == counts["delivered"] + counts["pending"] + counts["quarantined"] + counts["out_of_scope"]
    )
    assert len(batches) == len(portal_sync.batch_plan(whole)) > 0

    planned = _outcome(store)
    again = _plan_in_partitions(store.db.url, 3)  # a re-run: nothing left to plan, nothing queued twice
    assert [(r.considered, r.messages_queued) for r in again] == [(0, 0)] * 3
    assert _outcome(store) == planned
    whole.db.engine.dispose()

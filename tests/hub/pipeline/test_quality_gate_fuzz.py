"""Hostile city records through the quality gate (issue 17, item 8): whatever values a city record
carries -- NUL, lone surrogates, numbers where text belongs, nested junk -- the portal plan places
every record (planned for the portal, quarantined under a named rule with a reason, or out of
scope), never crashes and never loses one.

Each example is a batch of records, each a valid record with one to three fields (top level or the
applicant's) replaced by hostile JSON (:mod:`tests.support.hostile`, shared with the receiver's fuzz).
Seeded (``derandomize``); ``HUB_FUZZ_CASES`` sets the number of records (``make chaos`` runs more).
"""

from __future__ import annotations

import copy
import os
from itertools import count
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.jobs.quality import stored_gate
from hub.pipeline import portal_sync
from hub.pipeline.extract import staged_record
from hub.pipeline.summary import sync_summary
from hub.store import HubStore
from mappings.sources import CITY_SOURCE
from tests.support.factories import RECORD
from tests.support.hostile import JSON

RECORDS_PER_BATCH = 25
CASES = int(os.environ.get("HUB_FUZZ_CASES", "300"))
TOP_FIELDS = sorted(k for k in RECORD if k not in ("id", "ma_ho_so"))
APPLICANT_FIELDS = sorted(RECORD["chu_ho_so"])
_batches = count(1)


@st.composite
def hostile_record(draw: st.DrawFn) -> dict:
    record = copy.deepcopy(RECORD)
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            record[draw(st.sampled_from(TOP_FIELDS))] = draw(JSON)
        elif isinstance(record["chu_ho_so"], dict):
            record["chu_ho_so"][draw(st.sampled_from(APPLICANT_FIELDS))] = draw(JSON)
    return record


@settings(
    max_examples=max(CASES // RECORDS_PER_BATCH, 4),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(records=st.lists(hostile_record(), min_size=RECORDS_PER_BATCH, max_size=RECORDS_PER_BATCH))
def test_every_hostile_record_is_placed_with_a_reason(tmp_path: Path, records: list[dict]) -> None:
    batch = next(_batches)
    store = HubStore(f"sqlite:///{tmp_path / f'fuzz-{batch}.db'}")
    store.create_schema()
    try:
        for i, record in enumerate(records, start=1):
            record.update(id=i, ma_ho_so=f"000.00.12.H26-261120-{i:04d}")
        store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], f"extract-fuzz-{batch}")
        portal_sync.plan(store, stored_gate(store, f"run-fuzz-{batch}"), source=CITY_SOURCE)
        summary = sync_summary(store, source=CITY_SOURCE, partner=portal_sync.PARTNER)
        counts = summary["counts"]
        assert counts["extracted"] == len(records) and counts["unaccounted"] == 0, counts
        assert summary["identity_holds"]
        entries = store.quarantine.open_entries()
        assert len(entries) == counts["quarantined"]
        assert all(entry["rule"] and entry["reason"] for entry in entries)
    finally:
        store.db.engine.dispose()

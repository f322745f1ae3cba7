"""The GX gate inside the portal plan, on both stores: a schema drift stops the batch with nothing
lost or marked, a re-run after the fix plans everything, and every validation is stored."""

from __future__ import annotations

import copy

import pytest

from hub.jobs.quality import stored_gate
from hub.pipeline import portal_sync
from hub.pipeline.summary import sync_summary
from hub.store import HubStore, StagedRecord
from hub.store.validation import ValidationResults
from mappings.sources import CITY_SOURCE
from quality.rules import SchemaDriftError
from signing.digests import content_hash
from tests.support.factories import RECORD


def _records(n: int, **changes: object) -> list[dict]:
    records = []
    for i in range(1, n + 1):
        record = copy.deepcopy(RECORD)
        record.update(id=i, ma_ho_so=f"000.00.12.H26-261120-{i:04d}", **changes)
        records.append(record)
    return records


def _stage(store: HubStore, records: list[dict], batch_id: str) -> None:
    staged = [StagedRecord(r["ma_ho_so"], content_hash(r), r, None) for r in records]
    store.staging.stage(CITY_SOURCE, staged, batch_id)


def _counts(store: HubStore) -> dict[str, int]:
    return sync_summary(store, source=CITY_SOURCE, partner=portal_sync.PARTNER)["counts"]


def test_schema_drift_stops_the_plan_and_a_rerun_after_the_fix_plans_everything(store: HubStore) -> None:
    drifted = [{("ma_thu_tuc" if k == "ma_tthc" else k): v for k, v in r.items()} for r in _records(3)]
    _stage(store, drifted, "extract-1")
    gate = stored_gate(store, "run-drift")
    with pytest.raises(SchemaDriftError, match=r"city_dossiers.*ma_tthc"):
        portal_sync.plan(store, gate, source=CITY_SOURCE)
    counts = _counts(store)
    assert counts["extracted"] == counts["unaccounted"] == 3  # nothing quarantined, queued or delivered
    assert store.quarantine.open_entries() == []

    fixed = _records(3, ma_tthc="9.999999")
    fixed[0]["ma_tthc"] = fixed[1]["ma_tthc"] = RECORD["ma_tthc"]
    _stage(store, fixed, "extract-2")
    portal_sync.plan(store, gate, source=CITY_SOURCE)
    counts = _counts(store)
    assert counts["unaccounted"] == 0
    assert counts["pending"] + counts["out_of_scope"] == 2 and counts["quarantined"] == 1
    (entry,) = store.quarantine.open_entries()
    assert (entry["dossier_no"], entry["rule"]) == ("000.00.12.H26-261120-0003", "procedure.known_on_date")
    assert "9.999999" in entry["reason"]

    stored = {(r["dataset"], r["rule"]): r for r in ValidationResults(store).for_run("run-drift")}
    assert stored[("city_dossiers", "procedure.known_on_date")]["failed"] == 1
    assert stored[("city_dossiers", "procedure.known_on_date")]["evaluated"] == 3
    if counts["pending"]:
        assert stored[("portal_payloads", "portal.status_known")]["evaluated"] == counts["pending"]


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("trich_yeu", "Cấp giấy\x00 phép", "U+0000"),  # NUL: PostgreSQL's text and JSONB refuse it
        ("ho_ten", "Nguyễn \ud800 An", "U+D800"),  # a lone surrogate: not encodable as UTF-8
    ],
)
def test_characters_postgresql_refuses_are_quarantined_alike_on_both_stores(
    store: HubStore, field: str, value: str, named: str
) -> None:
    from hub.pipeline.extract import staged_record

    records = _records(3)
    (records[1]["chu_ho_so"] if field == "ho_ten" else records[1])[field] = value
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "extract-nul")
    portal_sync.plan(store, stored_gate(store, "run-nul"), source=CITY_SOURCE)
    counts = _counts(store)
    assert counts["extracted"] == 3 and counts["unaccounted"] == 0
    assert counts["quarantined"] == 1
    (entry,) = store.quarantine.open_entries()
    assert (entry["dossier_no"], entry["rule"]) == (records[1]["ma_ho_so"], "text.storable")
    assert field in entry["reason"] and named in entry["reason"]

"""Population checks and the lookup audit on the hub store (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.population_db.client import AuditRecord
from hub.pipeline.extract import staged_record
from hub.store import CheckResult, HubStore, LookupAuditLog, PlannedCheck, PopulationChecks
from hub.store.population import QUARANTINE_SOURCE, Outcome
from hub.store.records import QuarantineItem
from mappings.sources import CITY_SOURCE
from tests.support.factories import RECORD


def citizen(number: str, loai: str = "CONG_DAN", **changes: object) -> dict:
    record = copy.deepcopy(RECORD)
    record["ma_ho_so"] = number
    record["chu_ho_so"].update(loai=loai, ngay_sinh="1990-04-17")
    record.update(changes)
    return record


def stage(store: HubStore, *records: dict) -> dict[str, str]:
    staged = [staged_record(r) for r in records]
    store.staging.stage(CITY_SOURCE, staged, "b")
    return {s.dossier_no: s.content_hash for s in staged}


def plan_all(checks: PopulationChecks) -> list[str]:
    for page in checks.iter_candidates(CITY_SOURCE, 100):
        checks.record_plan(CITY_SOURCE, [PlannedCheck(c.dossier_no, c.content_hash, "d", "*****345") for c in page])
    return checks.assign_batches(CITY_SOURCE, 2)


def test_only_citizen_dossiers_with_an_id_are_candidates(store: HubStore) -> None:
    stage(
        store,
        citizen("A-1"),
        citizen("A-2", loai="DOANH_NGHIEP"),
        citizen("A-3", chu_ho_so={**RECORD["chu_ho_so"], "so_giay_to": None}),
        citizen("A-4", loai="KHAC"),
    )
    checks = PopulationChecks(store)
    assert [c.dossier_no for page in checks.iter_candidates(CITY_SOURCE, 10) for c in page] == ["A-1"]
    assert checks.counts(CITY_SOURCE)["candidates"] == 1


def test_plan_claim_settle_is_idempotent_and_keeps_one_row_per_dossier(store: HubStore) -> None:
    hashes = stage(store, citizen("B-1"), citizen("B-2"), citizen("B-3"))
    checks = PopulationChecks(store)
    batches = plan_all(checks)
    assert len(batches) == 2 and checks.counts(CITY_SOURCE)["pending"] == 3
    claimed = [c for b in batches for c in checks.claim_batch(b)]
    assert sorted(c.dossier_no for c in claimed) == ["B-1", "B-2", "B-3"] and claimed[0].payload["ma_ho_so"]

    mismatch = QuarantineItem(QUARANTINE_SOURCE, "B-2", "population.mismatch", "birth date differs", hashes["B-2"], {})
    results = [
        CheckResult("B-1", hashes["B-1"], Outcome.MATCH, request_id="r1"),
        CheckResult(
            "B-2", hashes["B-2"], Outcome.MISMATCH, ("NgayThangNamSinh",), "differs", "r2", quarantine=mismatch
        ),
        CheckResult("B-3", hashes["B-3"], Outcome.PENDING, error="RetryableError: HTTP 503"),
    ]
    checks.settle(CITY_SOURCE, results)
    checks.settle(CITY_SOURCE, results[:2])  # a repeated settlement changes nothing but the timestamps
    counts = checks.counts(CITY_SOURCE)
    assert (counts["candidates"], counts["match"], counts["mismatch"], counts["pending"]) == (3, 1, 1, 1)
    assert checks.check_of(CITY_SOURCE, "B-2")["mismatched"] == "NgayThangNamSinh"
    assert checks.check_of(CITY_SOURCE, "B-3")["last_error"] == "RetryableError: HTTP 503"
    assert [e["dossier_no"] for e in store.quarantine.open_entries(QUARANTINE_SOURCE)] == ["B-2"]

    # Next run: only the pending one is batched again; the settled ones are not candidates.
    assert [c.dossier_no for b in plan_all(checks) for c in checks.claim_batch(b)] == ["B-3"]

    # A corrected version verified as a match closes the dossier's population quarantine.
    new = stage(store, citizen("B-2", trich_yeu="đã sửa ngày sinh"))
    (batch,) = plan_all(checks)
    checks.settle(CITY_SOURCE, [CheckResult("B-2", new["B-2"], Outcome.MATCH)])
    assert store.quarantine.open_entries(QUARANTINE_SOURCE) == [] and checks.counts(CITY_SOURCE)["match"] == 2
    # A result for a version that is no longer current is dropped.
    checks.settle(CITY_SOURCE, [CheckResult("B-2", hashes["B-2"], Outcome.NOT_FOUND)])
    assert checks.check_of(CITY_SOURCE, "B-2")["outcome"] == "match" and batch


def test_a_carried_plan_keeps_the_verdict_for_the_new_version(store: HubStore) -> None:
    first = stage(store, citizen("C-1"))
    checks = PopulationChecks(store)
    plan_all(checks)
    checks.settle(CITY_SOURCE, [CheckResult("C-1", first["C-1"], Outcome.NOT_FOUND, reason="no citizen")])
    second = stage(store, citizen("C-1", trang_thai="DA_TRA_KET_QUA"))
    checks.record_plan(CITY_SOURCE, [PlannedCheck("C-1", second["C-1"], "d", "*****345", carried=True)])
    row = checks.check_of(CITY_SOURCE, "C-1")
    assert (row["content_hash"], row["outcome"], row["reason"]) == (second["C-1"], "not_found", "no citizen")
    assert checks.counts(CITY_SOURCE)["not_found"] == 1 and checks.assign_batches(CITY_SOURCE, 10) == []


def test_the_audit_log_appends_every_lookup_with_masked_subject(store: HubStore) -> None:
    log = LookupAuditLog(store, "population-b1")
    at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    for source, outcome in (("partner", "match"), ("cache", "match"), ("failed", "RetryableError")):
        log.write(
            AuditRecord(
                at,
                "population_db",
                "XacThucThongTinCongDan",
                "D-1",
                "xác thực người nộp hồ sơ",
                "000.00.00.H26",
                "canbo.01",
                f"req-{source}",
                "*********345",
                "ab" * 32,
                source,
                outcome,
            )
        )
    records = PopulationChecks(store).audit_records(dossier_no="D-1")
    assert [r["source"] for r in records] == ["partner", "cache", "failed"]
    assert records[0]["at"] == at and records[0]["batch_id"] == "population-b1" and records[0]["officer"] == "canbo.01"
    assert PopulationChecks(store).audit_records(subject_digest="ab" * 32) == records
    assert PopulationChecks(store).lookup_counts() == {"partner": 1, "cache": 1, "failed": 1}


def test_the_database_refuses_to_rewrite_or_delete_the_audit_log(store: HubStore) -> None:
    LookupAuditLog(store, "population-b1").write(
        AuditRecord(
            datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
            "population_db",
            "XacThucThongTinCongDan",
            "D-1",
            "xác thực người nộp hồ sơ",
            "000.00.00.H26",
            "canbo.01",
            "req-1",
            "*********345",
            "ab" * 32,
            "partner",
            "match",
        )
    )
    for statement in (
        "UPDATE population_lookup_audit SET officer = 'someone.else'",
        "DELETE FROM population_lookup_audit",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    (kept,) = PopulationChecks(store).audit_records(dossier_no="D-1")
    assert kept["officer"] == "canbo.01"

"""The population_verify pipeline against the real SOAP sandbox over loopback: verdicts by seeded
fate, quarantine with named fields, the audit log, masking, outages, untrusted replies, re-runs."""

from __future__ import annotations

import logging
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapters.errors import UntrustedReply
from hub.pipeline import population_verify as pv
from hub.pipeline.extract import staged_record
from hub.store import HubStore, PopulationChecks
from hub.store.population import QUARANTINE_SOURCE
from mappings.code_tables import load_code_tables
from mappings.sources import CITY_SOURCE
from sandbox.city_system.generator import GeneratedDay, generate
from signing.pki import DevPki
from tests.support.population_sandbox import DAY, SCALE, Sandbox, population_client, start

pytestmark = pytest.mark.timeout(300)

OUTCOME_OF_FATE = {"match": "match", "name_diacritics": "mismatch", "birth_date": "mismatch", "not_found": "not_found"}


@pytest.fixture(scope="module")
def day() -> GeneratedDay:
    return generate(DAY, SCALE, 0)


@pytest.fixture
def sandbox(tmp_path: Path, dev_pki: DevPki) -> Iterator[Sandbox]:
    running = start(tmp_path, dev_pki)
    yield running
    running.server.stop()


def stage(store: HubStore, records: list[dict]) -> None:
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "city-test")


def citizens(day: GeneratedDay) -> dict[str, dict]:
    """The generated CONG_DAN dossiers with an ID, by number (what the pipeline must consider)."""
    return {
        r["ma_ho_so"]: r for r in day.records if r["chu_ho_so"]["loai"] == "CONG_DAN" and r["chu_ho_so"]["so_giay_to"]
    }


def run(store: HubStore, client, **options) -> list[pv.BatchReport]:
    batches = pv.plan(store, source=CITY_SOURCE, batch_size=25).batches
    tables = load_code_tables()
    return [pv.verify_batch(store, client, b, source=CITY_SOURCE, tables=tables, today=DAY, **options) for b in batches]


def test_a_day_verifies_by_seeded_fate_with_audit_and_masking(
    store: HubStore, sandbox: Sandbox, dev_pki: DevPki, day: GeneratedDay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    people = citizens(day)
    # One ID loses a digit on the way (the city generator's bad_citizen_id defect, made sure of here).
    garbled = next(iter(people))
    applicant = people[garbled]["chu_ho_so"]
    people[garbled] = {**people[garbled], "chu_ho_so": {**applicant, "so_giay_to": applicant["so_giay_to"][:-1]}}
    stage(store, [*day.records, people[garbled]])
    # Applicant defects (the generator's and this one) are not in the register and never sent to it.
    fates = {a["ma_ho_so"]: a for a in sandbox.applicants() if a["ma_ho_so"] in people and a["ma_ho_so"] != garbled}
    invalid = {n for n in people if n not in fates}

    reports = run(store, population_client(sandbox, dev_pki))
    assert len(reports) > 1 and sum(r.checks for r in reports) == len(people)

    summary = pv.summary(store, source=CITY_SOURCE)
    counts = summary["counts"]
    expected = Counter(OUTCOME_OF_FATE[a["fate"]] for a in fates.values())
    assert counts["candidates"] == len(people)
    assert (counts["match"], counts["mismatch"], counts["not_found"]) == (
        expected["match"],
        expected["mismatch"],
        expected["not_found"],
    )
    assert counts["mismatch_diacritics_only"] == sum(a["fate"] == "name_diacritics" for a in fates.values())
    assert counts["invalid"] == len(invalid) and counts["pending"] == 0 and summary["identity_holds"]
    assert min(expected.values()) > 0

    # Officers see the result on each dossier; NFD names from the city match once normalised.
    checks = PopulationChecks(store)
    nfd = [a for a in fates.values() if a["fate"] == "match" and unicodedata.is_normalized("NFC", a["ho_ten"]) is False]
    assert nfd and all(checks.check_of(CITY_SOURCE, a["ma_ho_so"])["outcome"] == "match" for a in nfd)
    birth = next(a for a in fates.values() if a["fate"] == "birth_date")
    row = checks.check_of(CITY_SOURCE, birth["ma_ho_so"])
    assert (row["outcome"], row["mismatched"]) == ("mismatch", "NgayThangNamSinh") and row["checked_at"]

    # Mismatches and unknown IDs are quarantined with the fields named and the ID masked.
    entries = {e["dossier_no"]: e for e in store.quarantine.open_entries(QUARANTINE_SOURCE)}
    assert Counter(e["rule"] for e in entries.values()) == {
        "population.mismatch": expected["mismatch"],
        "population.not_found": expected["not_found"],
        "population.invalid_identity": len(invalid),
    }
    assert "differing fields: NgayThangNamSinh" in entries[birth["ma_ho_so"]]["reason"]
    assert "*********" + birth["so_dinh_danh"][-3:] in entries[birth["ma_ho_so"]]["reason"]
    diacritics = next(a for a in fates.values() if a["fate"] == "name_diacritics")
    assert "differs only in diacritics" in entries[diacritics["ma_ho_so"]]["reason"]
    assert store.quarantine.open_entries(CITY_SOURCE) == []  # the portal's quarantine is not touched

    # One audit row per register call -- one call per applicant: the hub compares, the register only
    # answers -- each with the purpose and the masked ID, never the full one.
    audit = checks.audit_records()
    received = sandbox.received()
    assert len([r for r in audit if r["source"] == "partner"]) == len(received) == len(fates)
    assert all(r["purpose"].startswith(pv.PURPOSE) and r["subject"].startswith("*********") for r in audit)
    ids = {a["so_dinh_danh"] for a in sandbox.applicants()} | {r["chu_ho_so"]["so_giay_to"] for r in people.values()}
    assert not [i for r in audit for value in r.values() for i in ids if i in str(value)]
    logged = caplog.text
    assert "population" in logged and not [i for i in ids if i in logged]


def test_a_rerun_verifies_nothing_twice_and_a_new_version_keeps_its_verdict(
    store: HubStore, sandbox: Sandbox, dev_pki: DevPki, day: GeneratedDay
) -> None:
    stage(store, day.records)
    client = population_client(sandbox, dev_pki)
    run(store, client)
    calls, before = sandbox.calls(), pv.summary(store, source=CITY_SOURCE)["counts"]
    assert run(store, client) == []
    assert sandbox.calls() == calls

    # The city moves a dossier on (new version, same applicant): no new lookup, same verdict.
    number, record = next(iter(citizens(day).items()))
    stage(store, [{**record, "trang_thai": "DA_TRA_KET_QUA", "cap_nhat_luc": "2026-11-21T09:00:00+07:00"}])
    assert pv.plan(store, source=CITY_SOURCE).carried == 1 and sandbox.calls() == calls
    assert pv.summary(store, source=CITY_SOURCE)["counts"] == before
    # A corrected applicant (other name) is a new identity: verified again.
    applicant = {**record["chu_ho_so"], "ho_ten": "Phạm Thị Khác"}
    stage(store, [{**record, "chu_ho_so": applicant, "cap_nhat_luc": "2026-11-21T10:00:00+07:00"}])
    assert len(run(store, client)) == 1 and sandbox.calls() > calls
    row = PopulationChecks(store).check_of(CITY_SOURCE, number)
    assert row["outcome"] in ("mismatch", "invalid", "not_found")


def test_an_outage_leaves_dossiers_pending_and_a_later_run_verifies_them(
    store: HubStore, sandbox: Sandbox, dev_pki: DevPki, day: GeneratedDay
) -> None:
    stage(store, day.records)
    client = population_client(sandbox, dev_pki, breaker_threshold=1000)
    sandbox.faults(error_rate=1.0)
    run(store, client)
    down = pv.summary(store, source=CITY_SOURCE)["counts"]
    assert down["match"] == down["mismatch"] == down["not_found"] == 0
    assert down["pending"] == down["candidates"] - down["invalid"] > 0
    failed = PopulationChecks(store).audit_records()
    assert failed and {r["source"] for r in failed} == {"failed"}

    sandbox.faults(error_rate=0.0)
    run(store, client)
    up = pv.summary(store, source=CITY_SOURCE)
    assert up["counts"]["pending"] == 0 and up["identity_holds"]
    assert up["counts"]["match"] + up["counts"]["mismatch"] + up["counts"]["not_found"] == down["pending"]


def test_an_untrusted_reply_fails_the_batch_and_leaves_its_dossiers_pending(
    store: HubStore, sandbox: Sandbox, dev_pki: DevPki, day: GeneratedDay
) -> None:
    stage(store, day.records)
    (batch, *_) = pv.plan(store, source=CITY_SOURCE, batch_size=1000).batches
    requests.post(f"{sandbox.url}/sandbox/signing", json={"reply_mode": "tampered"}, timeout=5).raise_for_status()
    with pytest.raises(UntrustedReply, match="reply refused"):
        pv.verify_batch(
            store, population_client(sandbox, dev_pki), batch, source=CITY_SOURCE, tables=load_code_tables(), today=DAY
        )
    counts = pv.summary(store, source=CITY_SOURCE)["counts"]
    assert counts["match"] == counts["mismatch"] == counts["not_found"] == 0
    assert counts["pending"] + counts["invalid"] == counts["candidates"]
    assert {e["rule"] for e in store.quarantine.open_entries(QUARANTINE_SOURCE)} <= {"population.invalid_identity"}
    assert sandbox.calls() <= pv.CONCURRENCY  # it stopped asking once a reply could not be trusted

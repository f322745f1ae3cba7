"""The GX suites of the other datasets (portal payloads, ministry pull-backs, postal orders), the
validation results in the store and the Data Docs."""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hub.store import HubStore
from hub.store.validation import ValidationResults
from mappings.city_system import to_canonical
from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ
from mappings.national_portal import to_dong_bo_ho_so
from quality.expectations.datasets import MINISTRY_PULLBACKS, PORTAL_PAYLOADS, POSTAL_ORDERS, POSTAL_REPLIES
from quality.expectations.offline_docs import INDEX_ROWS
from quality.gate import QualityGate
from quality.rules import SchemaDriftError
from tests.support.factories import RECORD

TABLES = load_code_tables()
PAYLOAD = to_dong_bo_ho_so(to_canonical(RECORD, TABLES), TABLES)
BUSINESS_ITEM = {  # canonical pull-back records (mappings.ministry_records): the ministry's own number
    "MaHoSo": "226112000001",
    "MaHoSoMotCua": None,
    "MaTTHC": "1.009972",
    "DonViXuLy": "000.00.12.H26",
    "TrangThaiHoSo": "4",
    "NgayNopHoSo": "20261120093000",
}
CIVIL_ITEM = {**BUSINESS_ITEM, "MaHoSo": "126112000011", "MaHoSoMotCua": "000.00.12.H26-261120-0001"}
ORDER = {
    "dossier_no": "000.00.12.H26-261120-0001",
    "carrier": "vnpost",
    "receiver_province_code": "01",
    "receiver_commune_code": "00004",
}
REPLY = {
    "dossier_no": "000.00.12.H26-261120-0001",
    "carrier": "vnpost",
    "order_id": "VN-0001",
    "created_at": datetime(2026, 11, 21, 9, 0, tzinfo=VN_TZ),
}


@pytest.fixture(scope="module")
def gate() -> QualityGate:
    return QualityGate(TABLES)


def _assert_one_rule_each(gate: QualityGate, dataset: str, good: dict, broken: list[tuple[dict, str, str]]) -> None:
    """Good rows around every broken one, one validation; each broken row names exactly its rule."""
    rows = [good]
    for row, _, _ in broken:
        rows += [row, good]
    outcome = gate.check(dataset, rows)
    assert outcome.passed == list(range(0, len(rows), 2))
    for i, (_, rule, words) in enumerate(broken):
        violations = outcome.failed[2 * i + 1]
        assert [v.rule for v in violations] == [rule], (rule, violations)
        assert words in violations[0].reason, (rule, violations[0].reason)


def test_portal_payload_suite(gate: QualityGate) -> None:
    decomposed = unicodedata.normalize("NFD", PAYLOAD["ChuHoSo"])
    _assert_one_rule_each(
        gate,
        PORTAL_PAYLOADS,
        PAYLOAD,
        [
            ({**PAYLOAD, "MaHoSo": "000.00.12.H26/261120/0001"}, "portal.dossier_no_format", "sai định dạng"),
            ({**PAYLOAD, "NgayHenTra": "18/12/2026"}, "portal.date_format.NgayHenTra", "18/12/2026"),
            ({**PAYLOAD, "TrangThaiHoSo": 11}, "portal.status_known", "11"),
            ({**PAYLOAD, "KenhThucHien": 4}, "portal.channel_known", "4"),
            ({**PAYLOAD, "LoaiDoiTuong": 0}, "portal.applicant_type_known", "0"),
            ({**PAYLOAD, "HinhThuc": 2}, "portal.delivery_known", "2"),
            ({**PAYLOAD, "ChuHoSo": decomposed}, "portal.nfc.ChuHoSo", "NFC"),
        ],
    )


@pytest.mark.parametrize("good", [BUSINESS_ITEM, CIVIL_ITEM], ids=["business_registration", "civil_status"])
def test_ministry_pullback_suite(gate: QualityGate, good: dict) -> None:
    _assert_one_rule_each(
        gate,
        MINISTRY_PULLBACKS,
        good,
        [
            ({**good, "NgayNopHoSo": "hôm qua"}, "pullback.submitted_at_readable", "hôm qua"),
            ({**good, "MaHoSo": " "}, "pullback.number_present", "MaHoSo"),
            ({**good, "MaHoSoMotCua": "000.00.12-261120-0001"}, "dossier_no.format", "QCVN"),
            ({**good, "MaTTHC": "9.999999"}, "procedure.known_on_date", "9.999999"),
            ({**good, "DonViXuLy": "000.00.99.H26"}, "agency.known_on_date", "000.00.99.H26"),
        ],
    )


def test_postal_order_suite(gate: QualityGate) -> None:
    _assert_one_rule_each(
        gate,
        POSTAL_ORDERS,
        ORDER,
        [
            ({**ORDER, "dossier_no": "HS-1"}, "dossier_no.format", "HS-1"),
            ({**ORDER, "receiver_province_code": "001"}, "postal.receiver_province_code", "001"),
            ({**ORDER, "receiver_commune_code": "4"}, "postal.receiver_commune_code", "'4'"),
        ],
    )


def test_a_duplicated_postal_order_id_in_the_carriers_replies_is_named_on_both_rows(gate: QualityGate) -> None:
    other = {**REPLY, "order_id": "VN-0009", "dossier_no": "000.00.12.H26-261120-0002"}
    outcome = gate.check(POSTAL_REPLIES, [REPLY, other, dict(REPLY)])
    assert outcome.passed == [1]
    assert {p: [v.rule for v in vs] for p, vs in outcome.failed.items()} == {
        0: ["postal.order_id_unique"],
        2: ["postal.order_id_unique"],
    }


@pytest.mark.parametrize(
    ("dataset", "row", "dropped"),
    [
        (PORTAL_PAYLOADS, PAYLOAD, "NgayTiepNhan"),
        (MINISTRY_PULLBACKS, BUSINESS_ITEM, "DonViXuLy"),
        (POSTAL_ORDERS, ORDER, "receiver_commune_code"),
        (POSTAL_REPLIES, REPLY, "order_id"),
    ],
)
def test_schema_drift_stops_the_batch(gate: QualityGate, dataset: str, row: dict, dropped: str) -> None:
    batch = [{k: v for k, v in row.items() if k != dropped}] * 3
    with pytest.raises(SchemaDriftError) as raised:
        gate.check(dataset, batch)
    assert (raised.value.dataset, raised.value.missing) == (dataset, [dropped])


def test_validation_results_are_stored_per_expectation(store: HubStore) -> None:
    results = ValidationResults(store)
    batches: list[str] = []

    def keep(batch_id: str, v: Any) -> None:
        batches.append(batch_id)
        results.record("run-1", v.dataset, v.suite, batch_id, v.validated_at, v.expectations)

    gate = QualityGate(TABLES, on_validation=keep)
    bad = copy.deepcopy(RECORD)
    bad["ma_tthc"] = "9.999999"
    gate.split([RECORD, bad, RECORD])
    gate.check(POSTAL_ORDERS, [ORDER])
    rows = {(r["dataset"], r["rule"]): r for r in results.for_run("run-1")}
    assert len(batches) == 2
    assert rows[("city_dossiers", "procedure.known_on_date")] | {} == {
        "dataset": "city_dossiers",
        "suite": rows[("city_dossiers", "procedure.known_on_date")]["suite"],
        "rule": "procedure.known_on_date",
        "batches": 1,
        "evaluated": 3,
        "failed": 1,
        "failed_batches": 1,
    }
    assert rows[("city_dossiers", "abstract.max_length")]["failed"] == 0
    assert rows[("postal_orders", "postal.receiver_commune_code")]["evaluated"] == 1
    assert results.for_run("another-run") == []


def test_data_docs_are_built_without_personal_numbers(gate: QualityGate, tmp_path: Path) -> None:
    from quality.expectations.runner import build_data_docs

    bad = copy.deepcopy(RECORD)
    bad["chu_ho_so"]["so_giay_to"] = "003090012345"
    gate.split([RECORD, bad])
    index = build_data_docs(tmp_path / "data_docs")
    assert index == tmp_path / "data_docs" / "index.html"
    assert index.name == "index.html" and index.is_file()
    pages = list(Path(index.parent).rglob("*.html"))
    assert any("city_dossiers" in p.read_text(encoding="utf-8") for p in pages)
    assert not any("003090012345" in p.read_text(encoding="utf-8") for p in pages)


def test_data_docs_list_every_kept_validation_and_fetch_nothing(gate: QualityGate, tmp_path: Path) -> None:
    """The demo's Data Docs once listed no suite and no validation (the last build ran in a task
    that validated nothing) and loaded their styles and scripts from CDNs."""
    from quality.expectations.runner import build_data_docs

    gate.split([RECORD])
    index = build_data_docs(tmp_path / "data_docs", kept=tmp_path / "kept")
    kept = list((tmp_path / "kept").rglob("*.json"))
    assert kept and all("003090012345" not in k.read_text(encoding="utf-8") for k in kept)
    text = index.read_text(encoding="utf-8")
    assert 'href="expectations/city_dossiers.html"' in text
    listed = re.findall(r'href="(validations/[^"]+)"', text)
    # The index lists the INDEX_ROWS newest (this test process may have validated more by now).
    assert len(listed) >= min(len(kept), INDEX_ROWS) and all((index.parent / link).is_file() for link in listed)
    for page in index.parent.rglob("*.html"):
        assert not re.search(
            r"""(?:src|href)="https?://(?!greatexpectations\.io/newsletter)|url\(\s*'?https?:""",
            page.read_text(encoding="utf-8"),
        ), page


def test_a_partition_keeps_its_validations_masked_for_the_task_that_builds_the_docs(
    gate: QualityGate, tmp_path: Path
) -> None:
    """Each plan partition is a task of its own: what it validated reaches the Data Docs only
    through the kept files, and those never show a full number."""
    from quality.expectations.runner import build_data_docs, keep_validations

    bad = copy.deepcopy(RECORD)
    bad["chu_ho_so"]["so_giay_to"] = "003090012345"
    gate.split([RECORD, bad])
    kept = tmp_path / "kept"
    count = keep_validations(kept)
    files = list(kept.rglob("*.json"))
    assert count >= 1 and len(files) == count
    assert all("003090012345" not in f.read_text(encoding="utf-8") for f in files)
    index = build_data_docs(tmp_path / "data_docs", kept=kept)
    listed = re.findall(r'href="(validations/[^"]+)"', index.read_text(encoding="utf-8"))
    assert len(listed) >= min(count, INDEX_ROWS)


def test_a_build_reads_only_the_newest_kept_validations_and_counts_them_all(
    gate: QualityGate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A year of runs keeps thousands of validations: a build lists (and renders) the newest
    INDEX_ROWS, says how many there are, and leaves older pages as earlier builds wrote them."""
    from quality.expectations import offline_docs, runner

    gate.split([RECORD])
    kept = tmp_path / "kept"
    runner.keep_validations(kept)
    count = len(list(kept.rglob("*.json")))
    assert count >= 2
    monkeypatch.setattr(runner, "INDEX_ROWS", 1)
    monkeypatch.setattr(offline_docs, "INDEX_ROWS", 1)

    text = runner.build_data_docs(tmp_path / "data_docs", kept=kept).read_text(encoding="utf-8")

    assert len(re.findall(r'href="(validations/[^"]+)"', text)) == 1
    assert f"The 1 newest of {count} validations are listed" in text

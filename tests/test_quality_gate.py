"""The quality gate: each broken rule is named with a readable reason; good records go on."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import pytest

from mappings.code_tables import load_code_tables
from mappings.dossier import Dossier
from quality.gate import QualityGate, Violation
from tests.factories import RECORD


@pytest.fixture(scope="module")
def gate() -> QualityGate:
    return QualityGate(load_code_tables())


def _with(**changes: object) -> dict:
    record = copy.deepcopy(RECORD)
    record.update(changes)
    return record


def _rules(gate: QualityGate, record: dict) -> set[str]:
    outcome = gate.split([record])
    return {v.rule for v in outcome.failed.get(0, [])}


def test_a_valid_record_passes(gate: QualityGate) -> None:
    outcome = gate.split([RECORD])
    assert outcome.failed == {}
    assert [d.dossier_no for _, d in outcome.passed] == [RECORD["ma_ho_so"]]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"ma_ho_so": "000.00.12.H26-261120-00A1"}, "dossier_no.format"),
        ({"ma_ho_so": "000.00.12.H26-261118-0001"}, "dossier_no.format"),  # date differs from submission
        ({"ma_tthc": "9.999999"}, "procedure.known_on_date"),
        ({"don_vi_xu_ly": "000.00.99.H26"}, "agency.known_on_date"),
        ({"ngay_tiep_nhan": "2026-11-18T09:00:00+07:00"}, "dates.received_after_submitted"),
        ({"ngay_hen_tra": "2026-11-20T08:00:00+07:00"}, "dates.due_after_received"),
        ({"trich_yeu": "x" * 1001}, "abstract.max_length"),
        ({"trang_thai": "DA_TRA_KET_QUA"}, "status.finished_needs_finish_date"),
        ({"trang_thai": "KHONG_CO"}, "city.unknown_local_state"),
        ({"ngay_nop": "20/11/2026"}, "city.malformed_datetime"),
    ],
)
def test_each_broken_rule_is_named(gate: QualityGate, changes: dict, rule: str) -> None:
    assert rule in _rules(gate, _with(**changes))


def test_applicant_rules(gate: QualityGate) -> None:
    nameless = copy.deepcopy(RECORD)
    nameless["chu_ho_so"]["ho_ten"] = "  "
    assert "applicant.name_required" in _rules(gate, nameless)
    foreign = copy.deepcopy(RECORD)
    foreign["chu_ho_so"]["so_giay_to"] = "003090012345"  # 003 is not a province code
    outcome = gate.split([foreign])
    (violation,) = [v for v in outcome.failed[0] if v.rule == "applicant.citizen_id_structure"]
    assert "003090012345" not in violation.reason  # the full ID never appears in a reason
    assert "345" in violation.reason


def test_every_record_lands_on_exactly_one_side(gate: QualityGate) -> None:
    records = [RECORD, _with(ma_tthc="9.999999"), RECORD, _with(trich_yeu="x" * 2000)]
    outcome = gate.split(records)
    assert sorted([p for p, _ in outcome.passed] + list(outcome.failed)) == [0, 1, 2, 3]
    assert set(outcome.failed) == {1, 3}


class _NoBusinessOnSunday:
    """A batch-level check, standing in for a GX suite run over the whole batch."""

    def violations(self, dossiers: Sequence[Dossier]) -> Mapping[int, list[Violation]]:
        return {
            i: [Violation("batch.sunday", "nộp vào Chủ nhật")]
            for i, d in enumerate(dossiers)
            if d.submitted_at.weekday() == 6
        }


def test_batch_checks_see_only_mapped_records_and_report_by_original_position() -> None:
    gate = QualityGate(load_code_tables(), batch_checks=[_NoBusinessOnSunday()])
    sunday = _with(
        ma_ho_so="000.00.12.H26-261122-0001",
        ngay_nop="2026-11-22T09:00:00+07:00",
        ngay_tiep_nhan="2026-11-22T09:30:00+07:00",
    )
    outcome = gate.split([_with(ma_tthc="9.999999"), RECORD, sunday])
    assert {p: [v.rule for v in vs] for p, vs in outcome.failed.items()} == {
        0: ["procedure.known_on_date"],
        2: ["batch.sunday"],
    }
    assert [p for p, _ in outcome.passed] == [1]

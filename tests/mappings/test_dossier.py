import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from mappings.dossier import VN_TZ, Dossier, Fee, ProcessingStep

SUBMITTED = datetime(2026, 11, 20, 8, 15, tzinfo=VN_TZ)


def dossier(**overrides) -> Dossier:
    fields = {
        "dossier_no": "000.00.12.H26-261120-0001",
        "procedure_code": "1.009972",
        "procedure_name": "Cấp giấy phép xây dựng",
        "field_code": "XD",
        "channel": 2,
        "applicant_name": "Nguyễn Văn An",
        "applicant_type": 1,
        "applicant_id_no": "001090012345",
        "phone": "0912345678",
        "email": "an@example.vn",
        "submitted_at": SUBMITTED,
        "received_at": None,
        "due_at": None,
        "finished_at": None,
        "returned_at": None,
        "local_state": "MOI_NOP",
        "status": 1,
        "abstract": "Xin cấp phép xây dựng nhà ở",
        "handling_agency": "000.00.12.H26",
        "return_by_post": False,
        "paid_online": True,
        "documents": [],
        "fees": [],
        "results": [],
        "history": [],
        "updated_at": SUBMITTED,
    }
    return Dossier(**(fields | overrides))


def test_datetimes_are_normalised_to_hanoi_time():
    d = dossier(submitted_at=datetime(2026, 11, 20, 1, 15, tzinfo=UTC))
    assert d.submitted_at == SUBMITTED
    assert d.submitted_at.tzinfo is VN_TZ
    assert d.submitted_at.hour == 8
    other = dossier(received_at=datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=9))))
    assert other.received_at.isoformat() == "2026-11-20T08:00:00+07:00"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValidationError, match="timezone"):
        dossier(submitted_at=datetime(2026, 11, 20, 8, 15))


def test_text_is_normalised_to_nfc():
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hường")
    d = dossier(applicant_name=nfd, abstract=nfd)
    assert d.applicant_name == "Nguyễn Thị Hường"
    assert unicodedata.is_normalized("NFC", d.abstract)
    assert len(d.applicant_name) < len(nfd)


def test_model_is_frozen_and_closed():
    d = dossier()
    with pytest.raises(ValidationError):
        d.status = 2
    with pytest.raises(ValidationError, match="Extra inputs"):
        dossier(source="city")


@pytest.mark.parametrize(("field", "value"), [("channel", 4), ("applicant_type", 0), ("status", 11)])
def test_codes_must_be_in_range(field, value):
    with pytest.raises(ValidationError, match=field):
        dossier(**{field: value})


def test_nested_models_validate_too():
    step = ProcessingStep(
        seq=1,
        handler_name="Trần B",
        handler_title="Chuyên viên",
        department="Phòng Cấp phép",
        handled_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        content="Tiếp nhận",
        local_state="DA_TIEP_NHAN",
        status=2,
        started_at=None,
        due_at=None,
    )
    d = dossier(history=[step], fees=[Fee(code="LP1", name="Lệ phí", amount=50000)])
    assert d.history[0].handled_at.isoformat() == "2026-11-20T09:00:00+07:00"
    with pytest.raises(ValidationError, match=r"history\.0\.status"):
        dossier(history=[step.model_dump() | {"status": 0}])


def test_json_round_trip_keeps_the_dossier():
    d = dossier()
    assert Dossier.model_validate_json(d.model_dump_json()) == d

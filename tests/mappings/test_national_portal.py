from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ, Dossier, Fee, ProcessingStep, ResultDocument, SubmittedDocument
from mappings.errors import MappingError
from mappings.national_portal import (
    ABSTRACT_MAX_CHARS,
    PORTAL_DATE_FORMAT,
    format_portal_date,
    parse_portal_date,
    to_dong_bo_ho_so,
    to_progress_entries,
)

TABLES = load_code_tables()
AT = datetime(2026, 11, 20, 8, 15, 0, tzinfo=VN_TZ)
PROGRESS_KEYS = {
    "MaHoSo", "NguoiXuLy", "ChucDanh", "ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy", "TrangThai",
    "NgayBatDau", "NgayKetThucTheoQuyDinh",
}  # fmt: skip


def step(seq: int, status: int, at: datetime) -> ProcessingStep:
    return ProcessingStep(
        seq=seq,
        handler_name="Đỗ Minh Châu",
        handler_title="Chuyên viên",
        department="Phòng Hộ tịch",
        handled_at=at,
        content=f"Bước {seq}",
        local_state="DANG_XU_LY",
        status=status,
        started_at=at,
        due_at=None,
    )


def dossier(**overrides) -> Dossier:
    fields = {
        "dossier_no": "000.01.60.H26-261120-0042",
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "field_code": "HT",
        "channel": 1,
        "applicant_name": "Trần Thị Hoa",
        "applicant_type": 1,
        "applicant_id_no": None,
        "phone": None,
        "email": None,
        "submitted_at": AT,
        "received_at": AT,
        "due_at": AT + timedelta(days=1),
        "finished_at": AT + timedelta(hours=3),
        "returned_at": AT + timedelta(hours=4),
        "local_state": "DA_TRA_KET_QUA",
        "status": 10,
        "abstract": "Đăng ký khai sinh cho con",
        "handling_agency": "000.01.60.H26",
        "return_by_post": False,
        "paid_online": True,
        "documents": [
            SubmittedDocument(code="TK", name="Tờ khai", url="https://f.example/tk", digitised=True, reused=True)
        ],
        "fees": [Fee(code="LP", name="Lệ phí đăng ký khai sinh", amount=0)],
        "results": [ResultDocument(code="GKS", name="Giấy khai sinh", url="https://f.example/gks")],
        "history": [step(3, 10, AT + timedelta(hours=4)), step(1, 2, AT), step(2, 9, AT + timedelta(hours=3))],
        "updated_at": AT,
    }
    return Dossier(**(fields | overrides))


def test_portal_dates_are_hanoi_local_time():
    assert format_portal_date(AT) == "20261120081500"
    assert format_portal_date(datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC)) == "20261120065959"
    assert format_portal_date(datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=9)))) == "20261120080000"
    assert format_portal_date(None) == ""
    assert PORTAL_DATE_FORMAT == "%Y%m%d%H%M%S"


def test_naive_datetime_cannot_be_formatted():
    with pytest.raises(ValueError, match="naive"):
        format_portal_date(datetime(2026, 11, 20, 8, 15))


def test_parse_portal_date():
    parsed = parse_portal_date("20261120081500")
    assert parsed == AT and parsed.utcoffset() == timedelta(hours=7)
    assert parse_portal_date("") is None


@pytest.mark.parametrize(
    "s",
    [
        "2026112008150",
        "202611200815000",
        "2026-11-20 08:15",
        "20261320081500",
        "20261120250000",
        " 20261120081500",
        "２０２６１１２００８１５００",
    ],
)
def test_malformed_portal_dates_are_refused(s):
    with pytest.raises(ValueError):
        parse_portal_date(s)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)))
def test_portal_date_round_trip(dt):
    text = format_portal_date(dt)
    assert len(text) == 14 and text.isdigit()
    assert parse_portal_date(text) == dt.replace(microsecond=0)


def test_dong_bo_ho_so_sends_codes_and_flags_as_strings_and_names_from_the_code_tables():
    payload = to_dong_bo_ho_so(dossier(), TABLES)
    for key in ("KenhThucHien", "LoaiDoiTuong", "TrangThaiHoSo", "HinhThuc", "DuocThanhToanTrucTuyen"):
        assert type(payload[key]) is str, key
    assert (payload["SoGiayToChuHoSo"], payload["SoDienThoai"], payload["Email"]) == ("", "", "")
    assert payload["NgayKetThucXuLy"] == "20261120111500"
    assert payload["NgayTra"] == "20261120121500"
    assert payload["DuocThanhToanTrucTuyen"] == "1"  # paid online, gateway unknown: as T-S sends it
    assert payload["DonViXuLy"] == "Phường Hoàn Kiếm" and payload["TenLinhVuc"] == "Hộ tịch"
    assert payload["TaiLieuNop"][0]["DuocSoHoa"] == "1" and payload["TaiLieuNop"][0]["DuocTaiSuDung"] == "1"
    assert payload["TaiLieuNop"][0]["DuongDanTaiTepTin"] == "https://f.example/tk"
    assert payload["HoSoCoThanhPhanSoHoa"] == "1"
    assert payload["DanhSachLePhi"] == [
        {
            "TenPhiLePhi": "Lệ phí đăng ký khai sinh",
            "MaPhiLePhi": "LP",
            "HinhThucThu": "1",
            "Gia": "0",
            "LoaiPhiLePhi": "1",
        }
    ]


def test_an_agency_the_code_tables_cannot_name_is_a_mapping_error():
    with pytest.raises(MappingError) as err:
        to_dong_bo_ho_so(dossier(handling_agency="999.99.99.H26"), TABLES)
    assert err.value.rule == "portal.agency_unknown"


@pytest.mark.parametrize(("by_post", "expected"), [(True, "1"), (False, "0")])
def test_hinh_thuc_says_whether_the_result_goes_by_post(by_post, expected):
    assert to_dong_bo_ho_so(dossier(return_by_post=by_post), TABLES)["HinhThuc"] == expected


def test_abstract_limit_is_exactly_1000_characters():
    assert ABSTRACT_MAX_CHARS == 1000
    exact = "ữ" * ABSTRACT_MAX_CHARS  # characters, not UTF-8 bytes
    assert to_dong_bo_ho_so(dossier(abstract=exact), TABLES)["TrichYeuHoSo"] == exact
    with pytest.raises(MappingError) as err:
        to_dong_bo_ho_so(dossier(abstract=exact + "a"), TABLES)
    assert err.value.rule == "portal.abstract_too_long"
    assert "1001" in err.value.message


def test_progress_entries_follow_step_order():
    entries = to_progress_entries(dossier())
    assert all(set(e) == PROGRESS_KEYS for e in entries)
    assert [e["TrangThai"] for e in entries] == ["2", "9", "10"]
    assert [e["ThoiDiemXuLy"] for e in entries] == ["20261120081500", "20261120111500", "20261120121500"]
    assert {e["MaHoSo"] for e in entries} == {"000.01.60.H26-261120-0042"}
    assert entries[0]["NgayKetThucTheoQuyDinh"] == ""
    assert to_progress_entries(dossier(history=[])) == []

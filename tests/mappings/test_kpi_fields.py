"""The Decision 766 fields: a city record with known values becomes the expected canonical dossier and
facts; a portal-shaped pull-back gives the same facts, with codes as strings or (older senders) numbers."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from mappings.city_system import to_canonical
from mappings.code_tables import SUFFIX_ENV, CodeTables, load_code_tables
from mappings.dossier import VN_TZ, ApplicantIdentifier
from mappings.errors import MappingError
from mappings.facts import DossierFacts, city_facts, portal_facts
from tests.support.factories import RECORD

CITIZEN_ID = "001090012345"


@pytest.fixture(scope="module")
def tables() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(SUFFIX_ENV, raising=False)
        yield load_code_tables()


def _kpi_record(**overrides: Any) -> dict[str, Any]:
    """RECORD filed on the national portal from a VNeID account, paid there, the population database
    consulted, its result issued with the procedure's result code."""
    r = copy.deepcopy(RECORD)
    r["chu_ho_so"]["dinh_danh"] = [{"loai": "CAN_CUOC", "so": CITIZEN_ID}]
    r["ket_qua"][0]["ma_giay_to_ket_qua"] = "KQ.1.009972"
    r.update(
        thanh_toan_truc_tuyen=True,
        noi_nop="CONG_DVCQG",
        tai_khoan_xac_thuc_vneid=True,
        cong_thanh_toan="CONG_DVCQG",
        csdl_khai_thac=["1"],
        ma_tai_khoan_dvcqg="48213377",
        ngay_tu_choi=None,
        ghi_chu="Đề nghị bổ sung thành phần hồ sơ",
    )
    r.update(overrides)
    return r


def test_a_record_with_known_values_becomes_the_expected_canonical_dossier(tables: CodeTables) -> None:
    d = to_canonical(_kpi_record(), tables)

    assert (d.submitted_via_portal, d.vneid_verified, d.paid_online, d.payment_gateway) == (
        True,
        True,
        True,
        "national_portal",
    )
    assert d.applicant_identifiers == [ApplicantIdentifier(kind="citizen_id", number=CITIZEN_ID)]
    assert CITIZEN_ID not in repr(d.applicant_identifiers)  # the identifier's repr masks the number
    assert d.consulted_databases == ["1"]
    assert (d.portal_account_id, d.note, d.rejected_at) == ("48213377", "Đề nghị bổ sung thành phần hồ sơ", None)
    assert [r.result_code for r in d.results] == ["KQ.1.009972"]


def test_the_city_gateway_a_refusal_time_and_other_identifiers(tables: CodeTables) -> None:
    r = _kpi_record(
        noi_nop="CONG_DVC_THANH_PHO", cong_thanh_toan="CONG_THANH_PHO", ngay_tu_choi="2026-11-20T10:15:00+07:00"
    )
    r["chu_ho_so"]["dinh_danh"] = [{"loai": "HO_CHIEU", "so": "C1234567"}, {"loai": "MA_SO_THUE", "so": "0101234567"}]

    d = to_canonical(r, tables)

    assert (d.submitted_via_portal, d.payment_gateway) == (False, "city")
    assert [i.kind for i in d.applicant_identifiers] == ["passport", "tax_code"]
    assert d.rejected_at == datetime(2026, 11, 20, 10, 15, tzinfo=VN_TZ)


def test_a_record_staged_before_the_fields_existed_maps_with_the_defaults(tables: CodeTables) -> None:
    d = to_canonical(copy.deepcopy(RECORD), tables)

    assert (d.submitted_via_portal, d.vneid_verified, d.payment_gateway, d.portal_account_id, d.note) == (
        False,
        False,
        None,
        None,
        None,
    )
    assert (d.applicant_identifiers, d.consulted_databases, d.rejected_at) == ([], [], None)
    assert [r.result_code for r in d.results] == [None]


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"noi_nop": "ZALO"}, "city.unknown_submission_place"),
        ({"cong_thanh_toan": "MOMO"}, "city.unknown_payment_gateway"),
        ({"tai_khoan_xac_thuc_vneid": "yes"}, "city.invalid_record"),
        ({"csdl_khai_thac": [1]}, "city.invalid_record"),
        ({"ngay_tu_choi": "20/11/2026"}, "city.malformed_datetime"),
    ],
)
def test_values_outside_the_contract_are_refused_by_rule(
    tables: CodeTables, overrides: dict[str, Any], rule: str
) -> None:
    with pytest.raises(MappingError) as raised:
        to_canonical(_kpi_record(**overrides), tables)
    assert raised.value.rule == rule


def test_an_unknown_identifier_kind_is_refused_without_repeating_the_number(tables: CodeTables) -> None:
    r = _kpi_record()
    r["chu_ho_so"]["dinh_danh"] = [{"loai": "BANG_LAI", "so": CITIZEN_ID}]

    with pytest.raises(MappingError) as raised:
        to_canonical(r, tables)

    assert raised.value.rule == "city.unknown_identifier_kind"
    assert CITIZEN_ID not in str(raised.value)


KPI_FACTS = {
    "submitted_via_portal": True,
    "vneid_verified": True,
    "fee_payable": True,
    "identified": True,
    "consulted_databases": 1,
    "result_coded": True,
}
ABSENT = {
    "submitted_via_portal": False,
    "vneid_verified": False,
    "fee_payable": False,
    "identified": False,
    "consulted_databases": 0,
    "result_coded": False,
}


def _kpi_part(facts: DossierFacts) -> dict[str, Any]:
    return {key: getattr(facts, key) for key in KPI_FACTS}


def test_city_facts_of_the_known_record(tables: CodeTables) -> None:
    facts = city_facts(_kpi_record(), tables)

    assert _kpi_part(facts) == KPI_FACTS
    assert (facts.paid_online, facts.digitised, facts.channel) == (True, True, 2)


def test_city_facts_need_a_fee_above_zero_and_a_coded_result_with_a_link(tables: CodeTables) -> None:
    r = _kpi_record(le_phi=[{"ma": "LP1", "ten": "Lệ phí", "so_tien": 0}], csdl_khai_thac=["1", "1", ""])
    r["ket_qua"][0]["url"] = ""

    facts = city_facts(r, tables)

    assert (facts.fee_payable, facts.result_coded, facts.consulted_databases) == (False, False, 1)
    assert _kpi_part(city_facts(copy.deepcopy(RECORD), tables)) == ABSENT | {"fee_payable": True}


PULLBACK = {
    "MaHoSo": "000.00.01.H26-261120-0001",
    "MaTTHC": "2.001610",
    "KenhThucHien": "2",
    "TrangThaiHoSo": "10",
    "NgayTiepNhan": "20261120090000",
    "NgayHenTra": "20261125170000",
    "NgayKetThucXuLy": "20261121100000",
    "HinhThuc": "0",
    "NoiNopHoSo": "1",
    "HoSoCoThanhPhanSoHoa": "1",
    "TaiKhoanDuocXacThucVoiVNeID": "1",
    "DuocThanhToanTrucTuyen": "2",
    "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": CITIZEN_ID}],
    "DSKetNoiCSDL": [{"MaCSDL": "1"}, {"MaCSDL": "7"}],
    "TaiLieuNop": [{"DuocSoHoa": "0"}],
    "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": "50000"}],
    "DanhSachGiayToKetQua": [{"MaGiayToKetQua": "KQ.2.001610", "DuongDanTepTinKetQua": "https://ketqua.example/1.pdf"}],
}


def test_portal_facts_read_the_ledger_fields_sent_as_strings() -> None:
    facts = portal_facts(PULLBACK)

    assert _kpi_part(facts) == KPI_FACTS | {"consulted_databases": 2}
    assert (facts.status, facts.channel, facts.digitised, facts.paid_online, facts.return_by_post) == (
        10,
        2,
        True,
        True,
        False,
    )


def test_portal_facts_read_older_numeric_codes_and_absent_fields() -> None:
    item = {"MaTTHC": "2.001610", "TrangThaiHoSo": 9, "KenhThucHien": 1, "DuocThanhToanTrucTuyen": 1,
            "HinhThuc": 1, "TaiLieuNop": [{"DuocSoHoa": 1}], "DanhSachLePhi": [{"SoTien": 0}]}  # fmt: skip

    facts = portal_facts(item)

    assert (facts.status, facts.channel, facts.paid_online, facts.return_by_post, facts.digitised) == (
        9,
        1,
        True,
        True,
        True,
    )
    assert _kpi_part(facts) == ABSENT
    assert portal_facts({"DuocThanhToanTrucTuyen": "0", "TaiKhoanDuocXacThucVoiVNeID": "0"}).paid_online is False

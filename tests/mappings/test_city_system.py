"""City record -> canonical dossier -> national portal payload, with the exact values a reviewer
would check against the portal's contract."""

import copy
import unicodedata
from datetime import datetime
from types import MappingProxyType

import pytest

from mappings.city_system import to_canonical
from mappings.code_tables import SUFFIX_ENV, load_code_tables
from mappings.dossier import VN_TZ
from mappings.errors import MappingError
from mappings.national_portal import to_dong_bo_ho_so, to_progress_entries
from tests.support.factories import RECORD


@pytest.fixture(scope="module")
def tables():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(SUFFIX_ENV, raising=False)
        yield load_code_tables()


def record(**overrides):
    r = copy.deepcopy(RECORD)
    r.update(overrides)
    return r


def test_city_record_maps_to_canonical(tables):
    d = to_canonical(record(), tables)
    assert d.dossier_no == "000.00.12.H26-261120-0001"
    assert (d.channel, d.applicant_type, d.local_state, d.status) == (2, 1, "DANG_XU_LY", 4)
    assert d.submitted_at == datetime(2026, 11, 20, 1, 30, tzinfo=VN_TZ)
    assert d.submitted_at.utcoffset().total_seconds() == 7 * 3600
    assert d.received_at.isoformat() == "2026-11-20T09:30:00+07:00"
    assert d.finished_at is None and d.returned_at is None
    assert (d.applicant_id_no, d.phone, d.email) == ("001090012345", "0912345678", "an.nguyen@example.vn")
    assert d.return_by_post is True and d.paid_online is False
    assert [(doc.code, doc.digitised, doc.reused) for doc in d.documents] == [
        ("TL1", True, False),
        ("TL2", False, True),
    ]
    assert [(f.code, f.amount) for f in d.fees] == [("LP1", 150000), ("P1", 500000)]
    assert [(s.seq, s.local_state, s.status) for s in d.history] == [
        (2, "CHUYEN_PHONG_BAN", 4),
        (1, "DA_TIEP_NHAN", 2),
    ]
    assert d.history[1].handled_at.isoformat() == "2026-11-20T09:30:00+07:00"
    assert d.updated_at.isoformat() == "2026-11-20T16:40:00+07:00"


def test_city_record_to_portal_payload(tables):
    payload = to_dong_bo_ho_so(to_canonical(record(), tables), tables)
    assert payload == {
        "MaHoSo": "000.00.12.H26-261120-0001",
        "MaTTHC": "1.009972",
        "TenTTHC": "Cấp giấy phép xây dựng mới đối với công trình cấp đặc biệt, cấp I, cấp II",
        "MaLinhVuc": "XD",
        "TenLinhVuc": "Xây dựng",
        "KenhThucHien": "2",
        "SoGiayToChuHoSo": "001090012345",
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "",
        "ThongTinKhac": "",
        "Email": "an.nguyen@example.vn",
        "Fax": "",
        "SoDienThoai": "0912345678",
        "TrichYeuHoSo": "Xin cấp giấy phép xây dựng nhà văn phòng 9 tầng tại phường Giảng Võ",
        "NgayNopHoSo": "20261120013000",
        "NgayTiepNhan": "20261120093000",
        "NgayHenTra": "20261218170000",
        "TrangThaiHoSo": "4",
        "NgayTra": "",
        "ThongTinTra": "",
        "HinhThuc": "1",
        "NgayKetThucXuLy": "",
        "NgayTuChoi": "",
        "DonViXuLy": "Sở Xây dựng",
        "GhiChu": "",
        "NoiNopHoSo": "2",
        "HoSoCoThanhPhanSoHoa": "1",
        "TaiKhoanDuocXacThucVoiVNeID": "0",
        "DuocThanhToanTrucTuyen": "0",
        "DinhDanhCHS": [],
        "DSKetNoiCSDL": [],
        "TaiLieuNop": [
            {
                "TepDinhKemId": "TL1",
                "TenTepDinhKem": "Đơn đề nghị cấp giấy phép xây dựng",
                "IsDeleted": "False",
                "MaThanhPhanHoSo": "TL1",
                "DuongDanTaiTepTin": "https://files.hanoi.example/hs/TL1.pdf",
                "DuocSoHoa": "1",
                "DuocTaiSuDung": "0",
                "DuocLayTuKhoDMQG": "0",
                "MaKetQuaThayThe": "",
            },
            {
                "TepDinhKemId": "TL2",
                "TenTepDinhKem": "Giấy chứng nhận quyền sử dụng đất",
                "IsDeleted": "False",
                "MaThanhPhanHoSo": "TL2",
                "DuongDanTaiTepTin": "https://files.hanoi.example/hs/TL2.pdf",
                "DuocSoHoa": "0",
                "DuocTaiSuDung": "1",
                "DuocLayTuKhoDMQG": "0",
                "MaKetQuaThayThe": "",
            },
        ],
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": "Lệ phí cấp giấy phép xây dựng",
                "MaPhiLePhi": "LP1",
                "HinhThucThu": "1",
                "Gia": "150000",
                "LoaiPhiLePhi": "1",
            },
            {
                "TenPhiLePhi": "Phí thẩm định hồ sơ",
                "MaPhiLePhi": "P1",
                "HinhThucThu": "1",
                "Gia": "500000",
                "LoaiPhiLePhi": "2",
            },
        ],
        "DanhSachTepDinhKemKhac": [],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [
            {
                "TenGiayTo": "Giấy phép xây dựng",
                "MaThanhPhanHoSo": "KQ1",
                "GiayToId": "KQ1",
                "DuongDanTepTinKetQua": "https://files.hanoi.example/kq/KQ1.pdf",
                "MaGiayToKetQua": "",
            }
        ],
    }
    assert unicodedata.is_normalized("NFC", payload["ChuHoSo"])
    assert payload["ChuHoSo"].encode() == "Nguyễn Văn An".encode()


def test_city_history_to_portal_progress_entries(tables):
    entries = to_progress_entries(to_canonical(record(), tables))
    assert entries == [
        {
            "MaHoSo": "000.00.12.H26-261120-0001",
            "NguoiXuLy": "Phạm Văn Cường",
            "ChucDanh": "Cán bộ một cửa",
            "ThoiDiemXuLy": "20261120093000",
            "PhongBanXuLy": "Trung tâm Phục vụ hành chính công",
            "NoiDungXuLy": "Tiếp nhận hồ sơ",
            "TrangThai": "2",
            "NgayBatDau": "20261120093000",
            "NgayKetThucTheoQuyDinh": "",
        },
        {
            "MaHoSo": "000.00.12.H26-261120-0001",
            "NguoiXuLy": "Lê Thị Bình",
            "ChucDanh": "Chuyên viên",
            "ThoiDiemXuLy": "20261120100000",
            "PhongBanXuLy": "Phòng Cấp phép xây dựng",
            "NoiDungXuLy": "Chuyển phòng chuyên môn thẩm định",
            "TrangThai": "4",
            "NgayBatDau": "20261120100000",
            "NgayKetThucTheoQuyDinh": "20261211170000",
        },
    ]


def test_decomposed_vietnamese_reaches_the_portal_precomposed(tables):
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn An")
    r = record(chu_ho_so=RECORD["chu_ho_so"] | {"ho_ten": nfd})
    assert to_dong_bo_ho_so(to_canonical(r, tables), tables)["ChuHoSo"] == "Nguyễn Văn An"


def test_optional_applicant_contacts_become_empty_strings(tables):
    r = record(chu_ho_so=RECORD["chu_ho_so"] | {"so_giay_to": None, "dien_thoai": None, "email": None})
    payload = to_dong_bo_ho_so(to_canonical(r, tables), tables)
    assert (payload["SoGiayToChuHoSo"], payload["SoDienThoai"], payload["Email"]) == ("", "", "")


def test_state_is_mapped_with_the_table_valid_on_the_update_day(tables):
    vneid = record(trang_thai="CHO_XAC_THUC_VNEID", qua_trinh_xu_ly=[])
    assert to_canonical(vneid | {"cap_nhat_luc": "2025-07-01T00:00:00+07:00"}, tables).status == 1
    with pytest.raises(MappingError) as err:
        to_canonical(vneid | {"cap_nhat_luc": "2025-06-30T23:59:59+07:00"}, tables)
    assert err.value.rule == "city.unknown_local_state"
    assert "30/06/2025" in err.value.message
    # 2025-06-30T17:30Z is already 2025-07-01 in Hanoi.
    assert to_canonical(vneid | {"cap_nhat_luc": "2025-06-30T17:30:00Z"}, tables).status == 1


def test_history_steps_use_the_table_valid_when_they_happened(tables):
    step = RECORD["qua_trinh_xu_ly"][0] | {"trang_thai": "CHUYEN_UBND_CAP_HUYEN"}
    before = step | {"thoi_diem": "2025-06-20T10:00:00+07:00"}
    d = to_canonical(record(cap_nhat_luc="2025-07-10T08:00:00+07:00", qua_trinh_xu_ly=[before]), tables)
    assert d.history[0].status == 4
    after = step | {"thoi_diem": "2025-07-02T10:00:00+07:00"}
    with pytest.raises(MappingError, match=r"qua_trinh_xu_ly\[0\]\.trang_thai") as err:
        to_canonical(record(cap_nhat_luc="2025-07-10T08:00:00+07:00", qua_trinh_xu_ly=[after]), tables)
    assert err.value.rule == "city.unknown_local_state"


def drop(path):
    def mutate(r):
        *parents, key = path
        target = r
        for p in parents:
            target = target[p]
        del target[key]

    return mutate


def put(path, value):
    def mutate(r):
        *parents, key = path
        target = r
        for p in parents:
            target = target[p]
        target[key] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "rule", "where"),
    [
        (drop(["ma_ho_so"]), "city.missing_key", "ma_ho_so"),
        (drop(["ngay_tra"]), "city.missing_key", "ngay_tra"),
        (drop(["chu_ho_so", "so_giay_to"]), "city.missing_key", "chu_ho_so.so_giay_to"),
        (drop(["tai_lieu", 1, "url"]), "city.missing_key", "tai_lieu[1].url"),
        (drop(["qua_trinh_xu_ly", 0, "stt"]), "city.missing_key", "qua_trinh_xu_ly[0].stt"),
        (put(["ngay_nop"], "20/11/2026 08:15"), "city.malformed_datetime", "ngay_nop"),
        (put(["ngay_nop"], "2026-11-20T08:15:00"), "city.malformed_datetime", "thiếu múi giờ"),
        (put(["ngay_hen_tra"], 20261218), "city.malformed_datetime", "ngay_hen_tra"),
        (put(["ngay_tiep_nhan"], "2026-02-30T08:00:00+07:00"), "city.malformed_datetime", "ngay_tiep_nhan"),
        (put(["qua_trinh_xu_ly", 1, "thoi_diem"], "hôm qua"), "city.malformed_datetime", "thoi_diem"),
        (put(["cap_nhat_luc"], None), "city.missing_value", "cap_nhat_luc"),
        (put(["ngay_nop"], None), "city.missing_value", "ngay_nop"),
        (put(["trang_thai"], "DA_HUY"), "city.unknown_local_state", "DA_HUY"),
        (put(["trang_thai"], None), "city.unknown_local_state", "trang_thai"),
        (put(["kenh_nop"], "FAX"), "city.unknown_channel", "FAX"),
        (put(["kenh_nop"], 2), "city.unknown_channel", "kenh_nop"),
        (put(["chu_ho_so", "loai"], "HO_GIA_DINH"), "city.unknown_applicant_type", "HO_GIA_DINH"),
        (put(["chu_ho_so"], "Nguyễn Văn An"), "city.invalid_record", "chu_ho_so"),
        (put(["tai_lieu"], {"ma": "TL1"}), "city.invalid_record", "tai_lieu"),
        (put(["tra_ket_qua_qua_buu_chinh"], "yes"), "city.invalid_record", "return_by_post"),
        (put(["le_phi", 0, "so_tien"], "150000"), "city.invalid_record", "fees.0.amount"),
        (put(["ma_ho_so"], None), "city.invalid_record", "dossier_no"),
    ],
)
def test_unmappable_records_raise_a_named_rule(tables, mutate, rule, where):
    r = record()
    mutate(r)
    with pytest.raises(MappingError) as err:
        to_canonical(r, tables)
    assert err.value.rule == rule
    assert where in err.value.message


def test_the_first_missing_key_in_the_mapping_order_is_named(tables):
    """Several keys missing: the message names the one the mapping reads first, as it always did."""
    r = record()
    for key in ("trich_yeu", "ten_tthc", "ma_tthc"):
        del r[key]
    with pytest.raises(MappingError) as err:
        to_canonical(r, tables)
    assert (err.value.rule, err.value.message) == ("city.missing_key", "thiếu trường 'ma_tthc'")


def test_list_items_may_be_any_mapping_and_nothing_else(tables):
    """Decoded JSON gives dicts; another mapping maps the same, a list item that is no object does not."""
    r = record()
    r["tai_lieu"] = [MappingProxyType(doc) for doc in r["tai_lieu"]]
    assert to_canonical(r, tables) == to_canonical(record(), tables)
    r["le_phi"] = [*r["le_phi"], ["LP9", "Lệ phí", 1]]
    with pytest.raises(MappingError) as err:
        to_canonical(r, tables)
    assert err.value.rule == "city.invalid_record"
    assert err.value.message == "'le_phi' phải là một danh sách đối tượng JSON"


def test_error_messages_do_not_leak_personal_data(tables):
    r = record(chu_ho_so=RECORD["chu_ho_so"] | {"so_giay_to": 1090012345, "dien_thoai": 912345678})
    with pytest.raises(MappingError) as err:
        to_canonical(r, tables)
    assert err.value.rule == "city.invalid_record"
    assert "1090012345" not in str(err.value) and "912345678" not in str(err.value)
    assert "applicant_id_no" in err.value.message and "phone" in err.value.message


def test_quoted_values_in_messages_are_masked(tables):
    with pytest.raises(MappingError) as err:
        to_canonical(record(ngay_nop="0912345678"), tables)
    assert err.value.rule == "city.malformed_datetime"
    assert "0912345678" not in str(err.value)
    assert "*******678" in err.value.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"ma_ho_so": "HS-2026-1"},
        {"ma_tthc": "9.999999"},
        {"don_vi_xu_ly": "000.00.31.H26"},
        {"ngay_tiep_nhan": "2026-11-19T08:00:00+07:00"},
        {"trich_yeu": "Nội dung " * 200},
        {"chu_ho_so": RECORD["chu_ho_so"] | {"so_giay_to": "12345"}},
    ],
)
def test_business_rule_violations_map_for_the_quality_gate(tables, overrides):
    d = to_canonical(record(**overrides), tables)
    assert d.dossier_no == record(**overrides)["ma_ho_so"]


def test_too_long_abstract_is_refused_by_the_portal_mapping_not_truncated(tables):
    d = to_canonical(record(trich_yeu="Nội dung " * 200), tables)
    with pytest.raises(MappingError) as err:
        to_dong_bo_ho_so(d, tables)
    assert err.value.rule == "portal.abstract_too_long"

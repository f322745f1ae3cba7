"""Strict checks of DongBoHoSoMC records and progress entries, as the portal's LGSP adapter does.

A real portal rejects a record with a Vietnamese message that names the field and the rule; the
hub's quality gate should have caught it first, so every rejection here is a finding. Messages
follow that style ("Trường X ..."), codes follow docs/interfaces.md section 2:
3 = invalid data, 4 = procedure not in the portal's catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.national_portal.catalogue import Catalogue

__all__ = [
    "CODE_INVALID",
    "CODE_UNKNOWN_PROCEDURE",
    "DOSSIER_KEYS",
    "PROGRESS_KEYS",
    "Rejection",
    "parse_date_field",
    "validate_dossier",
    "validate_progress",
]

CODE_INVALID = 3
CODE_UNKNOWN_PROCEDURE = 4

DOSSIER_KEYS: tuple[str, ...] = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "MaLinhVuc",
    "KenhThucHien",
    "ChuHoSo",
    "LoaiDoiTuong",
    "SoGiayToChuHoSo",
    "SoDienThoai",
    "Email",
    "NgayNopHoSo",
    "NgayTiepNhan",
    "NgayHenTra",
    "NgayTra",
    "NgayKetThucXuLy",
    "TrangThaiHoSo",
    "TrichYeuHoSo",
    "DonViXuLy",
    "HinhThuc",
    "TaiLieuNop",
    "DanhSachLePhi",
    "DanhSachGiayToKetQua",
    "DuocThanhToanTrucTuyen",
)
PROGRESS_KEYS: tuple[str, ...] = (
    "MaHoSo",
    "NguoiXuLy",
    "ChucDanh",
    "ThoiDiemXuLy",
    "PhongBanXuLy",
    "NoiDungXuLy",
    "TrangThai",
    "NgayBatDau",
    "NgayKetThucTheoQuyDinh",
)
DOCUMENT_KEYS = ("TepDinhKemId", "TenTepDinhKem", "DuongDanTaiTep", "DuocSoHoa", "DuocTaiSuDung", "MaThanhPhanHoSo")
FEE_KEYS = ("TenPhiLePhi", "MaPhiLePhi", "SoTien", "LoaiPhiLePhi")
RESULT_KEYS = ("TenGiayTo", "MaThanhPhanHoSo", "GiayToId", "DuongDanTepTinKetQua")

ABSTRACT_MAX = 1000
_DATE_RE = re.compile(r"^\d{14}$")
_URL_RE = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Rejection(Exception):
    """Why one record was refused: a record-level code and a message naming the field."""

    code: int
    message: str


def _invalid(message: str) -> Rejection:
    return Rejection(CODE_INVALID, message)


def parse_date_field(record: dict[str, Any], key: str, *, required: bool) -> datetime | None:
    """Parse a ``yyyyMMddHHmmss`` field ("" = absent) through the project's own parser."""
    from mappings.national_portal import parse_portal_date

    value = record[key]
    if not isinstance(value, str):
        raise _invalid(f"Trường {key} phải là chuỗi ngày giờ dạng yyyyMMddHHmmss")
    if value == "":
        if required:
            raise _invalid(f"Trường {key} không được để trống")
        return None
    if not _DATE_RE.match(value):
        raise _invalid(f"Trường {key} không đúng định dạng yyyyMMddHHmmss: '{value[:40]}'")
    try:
        parsed = parse_portal_date(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid(f"Trường {key} không phải ngày giờ hợp lệ: '{value}'") from exc
    if parsed is None:
        raise _invalid(f"Trường {key} không phải ngày giờ hợp lệ: '{value}'")
    return parsed


def _keys(obj: Any, expected: tuple[str, ...], where: str) -> None:
    if not isinstance(obj, dict):
        raise _invalid(f"{where} phải là một đối tượng JSON")
    for key in expected:
        if key not in obj:
            raise _invalid(f"Thiếu trường {_name(where, key)}")
    extra = sorted(set(obj) - set(expected))
    if extra:
        raise _invalid(f"Trường {_name(where, extra[0])} không thuộc cấu trúc dữ liệu")


def _name(where: str, key: str) -> str:
    return key if where in ("", "Hồ sơ", "Tiến độ") else f"{where}.{key}"


def _str(obj: dict[str, Any], key: str, where: str = "", *, non_empty: bool = False, max_len: int = 0) -> str:
    value = obj[key]
    name = _name(where, key)
    if not isinstance(value, str):
        raise _invalid(f"Trường {name} phải là chuỗi ký tự")
    if non_empty and not value.strip():
        raise _invalid(f"Trường {name} không được để trống")
    if max_len and len(value) > max_len:
        raise _invalid(f"Trường {name} vượt quá {max_len} ký tự (hiện có {len(value)})")
    return value


def _int_in(obj: dict[str, Any], key: str, allowed: range | tuple[int, ...], where: str = "") -> int:
    value = obj[key]
    name = _name(where, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"Trường {name} phải là số nguyên")
    if value not in allowed:
        shown = f"{allowed.start}..{allowed.stop - 1}" if isinstance(allowed, range) else "/".join(map(str, allowed))
        raise _invalid(f"Trường {name} có giá trị {value} ngoài miền cho phép ({shown})")
    return value


def _id(obj: dict[str, Any], key: str, where: str) -> None:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, str | int) or (isinstance(value, str) and not value.strip()):
        raise _invalid(f"Trường {_name(where, key)} phải là mã định danh (chuỗi hoặc số) không rỗng")


def _url(obj: dict[str, Any], key: str, where: str) -> None:
    value = _str(obj, key, where, non_empty=True)
    if not _URL_RE.match(value):
        raise _invalid(f"Trường {_name(where, key)} phải là đường dẫn http(s), không gửi nội dung tệp")


def _list(record: dict[str, Any], key: str) -> list[Any]:
    value = record[key]
    if not isinstance(value, list):
        raise _invalid(f"Trường {key} phải là danh sách")
    return value


def _check_documents(record: dict[str, Any]) -> None:
    for i, doc in enumerate(_list(record, "TaiLieuNop")):
        where = f"TaiLieuNop[{i}]"
        _keys(doc, DOCUMENT_KEYS, where)
        _id(doc, "TepDinhKemId", where)
        _str(doc, "TenTepDinhKem", where, non_empty=True)
        _url(doc, "DuongDanTaiTep", where)
        _int_in(doc, "DuocSoHoa", (0, 1), where)
        _int_in(doc, "DuocTaiSuDung", (0, 1), where)
        _str(doc, "MaThanhPhanHoSo", where)
    for i, fee in enumerate(_list(record, "DanhSachLePhi")):
        where = f"DanhSachLePhi[{i}]"
        _keys(fee, FEE_KEYS, where)
        _str(fee, "TenPhiLePhi", where, non_empty=True)
        _str(fee, "MaPhiLePhi", where)
        amount = fee["SoTien"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise _invalid(f"Trường {where}.SoTien phải là số nguyên không âm (đồng)")
        _int_in(fee, "LoaiPhiLePhi", (1, 2), where)
    for i, result in enumerate(_list(record, "DanhSachGiayToKetQua")):
        where = f"DanhSachGiayToKetQua[{i}]"
        _keys(result, RESULT_KEYS, where)
        _str(result, "TenGiayTo", where, non_empty=True)
        _str(result, "MaThanhPhanHoSo", where)
        _id(result, "GiayToId", where)
        _url(result, "DuongDanTepTinKetQua", where)


def _check_dossier_number(value: str) -> None:
    from mappings.dossier_number import is_valid_dossier_number

    if not is_valid_dossier_number(value):
        raise _invalid(f"Trường MaHoSo không đúng định dạng {{mã cơ quan}}-{{yyMMdd}}-{{NNNN}}: '{value[:60]}'")


def validate_dossier(record: Any, catalogue: Catalogue) -> datetime:
    """Check one DongBoHoSoMC record; return its submission time or raise :class:`Rejection`."""
    _keys(record, DOSSIER_KEYS, "Hồ sơ")
    _check_dossier_number(_str(record, "MaHoSo", non_empty=True))
    procedure = _str(record, "MaTTHC", non_empty=True)
    _str(record, "TenTTHC", non_empty=True)
    _str(record, "MaLinhVuc", non_empty=True)
    _int_in(record, "KenhThucHien", range(1, 4))
    _str(record, "ChuHoSo", non_empty=True)
    _int_in(record, "LoaiDoiTuong", range(1, 5))
    for key in ("SoGiayToChuHoSo", "SoDienThoai", "Email"):
        _str(record, key)
    submitted = parse_date_field(record, "NgayNopHoSo", required=True)
    assert submitted is not None
    received = parse_date_field(record, "NgayTiepNhan", required=False)
    due = parse_date_field(record, "NgayHenTra", required=False)
    parse_date_field(record, "NgayTra", required=False)
    parse_date_field(record, "NgayKetThucXuLy", required=False)
    _int_in(record, "TrangThaiHoSo", range(1, 11))
    _str(record, "TrichYeuHoSo", max_len=ABSTRACT_MAX)
    agency = _str(record, "DonViXuLy", non_empty=True)
    _int_in(record, "HinhThuc", (0, 1))
    _check_documents(record)
    paid = record["DuocThanhToanTrucTuyen"]
    # The contract does not say int or bool here (DOMAIN.md lists it without a type): take both.
    if not isinstance(paid, int) or paid not in (0, 1):
        raise _invalid("Trường DuocThanhToanTrucTuyen phải là 0 hoặc 1")
    if received is not None and received < submitted:
        raise _invalid("Trường NgayTiepNhan phải sau hoặc bằng NgayNopHoSo")
    if due is not None and received is not None and due < received:
        raise _invalid("Trường NgayHenTra phải sau hoặc bằng NgayTiepNhan")
    if due is not None and received is None and due < submitted:
        raise _invalid("Trường NgayHenTra phải sau hoặc bằng NgayNopHoSo")
    day = submitted.date()
    if not catalogue.agency_known(agency, day):
        raise _invalid(f"Trường DonViXuLy: mã cơ quan '{agency}' không có trong danh mục cơ quan ngày {day:%d/%m/%Y}")
    if not catalogue.procedure_on_portal(procedure, day):
        raise Rejection(
            CODE_UNKNOWN_PROCEDURE,
            f"Thủ tục hành chính '{procedure}' không có trong danh mục thủ tục tích hợp trên Cổng Dịch vụ công"
            f" quốc gia ngày {day:%d/%m/%Y}",
        )
    return submitted


def validate_progress(entry: Any) -> None:
    """Check one CapNhatTienDoHoSoMC entry or raise :class:`Rejection` (code 3)."""
    _keys(entry, PROGRESS_KEYS, "Tiến độ")
    _str(entry, "MaHoSo", non_empty=True)
    _str(entry, "NguoiXuLy", non_empty=True)
    _str(entry, "ChucDanh")
    _str(entry, "PhongBanXuLy")
    _str(entry, "NoiDungXuLy", non_empty=True)
    _int_in(entry, "TrangThai", range(1, 11))
    parse_date_field(entry, "ThoiDiemXuLy", required=True)
    started = parse_date_field(entry, "NgayBatDau", required=False)
    due = parse_date_field(entry, "NgayKetThucTheoQuyDinh", required=False)
    if started is not None and due is not None and due < started:
        raise _invalid("Trường NgayKetThucTheoQuyDinh phải sau hoặc bằng NgayBatDau")

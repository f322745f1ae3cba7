"""Checks of DongBoHoSoMC records and progress entries, as a double of the real portal.

What it accepts is what public clients send (docs/interfaces.md 2.5-2.7): the keys of the
ledger, every code and flag a string, dates ``yyyyMMddHHmmss`` or ``""``. What it refuses is what
they never send: integer codes, keys no client sends (the hub's old ``DuongDanTaiTep``, ``SoTien``),
a missing required field, a bad date. Which fields the real portal requires is not public; the
required sets below are the fields every public client fills (an assumption, ledger 2.9).
A refusal's message names the record and the field, in the portal's Vietnamese style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.national_portal.catalogue import Catalogue

__all__ = [
    "DOSSIER_KEYS",
    "PROGRESS_KEYS",
    "Rejection",
    "parse_date_field",
    "validate_dossier",
    "validate_progress",
]

_STATUS = tuple(str(n) for n in range(1, 11))
_FLAG = ("0", "1")
# key -> allowed string values (codes and flags)
_DOSSIER_CODES: dict[str, tuple[str, ...]] = {
    "KenhThucHien": ("1", "2", "3"),
    "LoaiDoiTuong": ("1", "2", "3", "4"),
    "TrangThaiHoSo": _STATUS,
    "HinhThuc": _FLAG,
    "NoiNopHoSo": ("1", "2"),
    "HoSoCoThanhPhanSoHoa": _FLAG,
    "TaiKhoanDuocXacThucVoiVNeID": _FLAG,
    "DuocThanhToanTrucTuyen": ("0", "1", "2", "3"),
}
_DOSSIER_DATES = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy", "NgayTuChoi")
_DOSSIER_TEXT = (
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "SoGiayToChuHoSo", "ChuHoSo", "MaDoiTuong",
    "ThongTinKhac", "Email", "Fax", "SoDienThoai", "TrichYeuHoSo", "ThongTinTra", "DonViXuLy", "GhiChu",
)  # fmt: skip
_DOSSIER_LISTS = (
    "TaiLieuNop", "DanhSachLePhi", "DanhSachTepDinhKemKhac", "DanhSachHoSoBoSung", "DanhSachGiayToKetQua",
    "DinhDanhCHS", "DSKetNoiCSDL",
)  # fmt: skip
DOSSIER_KEYS: frozenset[str] = frozenset((*_DOSSIER_CODES, *_DOSSIER_DATES, *_DOSSIER_TEXT, *_DOSSIER_LISTS))
_DOSSIER_REQUIRED = frozenset(
    {"MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "LoaiDoiTuong", "TrangThaiHoSo", "TrichYeuHoSo", "DonViXuLy"}
    | {"NgayNopHoSo", "HinhThuc"}
)


@dataclass(frozen=True)
class _ItemShape:
    """One nested list's items: their keys, which must be there, and which are string codes."""

    keys: frozenset[str]
    required: frozenset[str]
    codes: dict[str, tuple[str, ...]]
    urls: tuple[str, ...] = ()
    free: bool = False  # item values not type-checked: filled items were never seen (ledger 2.5)


_ITEMS: dict[str, _ItemShape] = {
    "TaiLieuNop": _ItemShape(
        frozenset(
            {
                "TepDinhKemId",
                "TenTepDinhKem",
                "IsDeleted",
                "MaThanhPhanHoSo",
                "DuongDanTaiTepTin",
                "DuocSoHoa",
                "DuocTaiSuDung",
                "DuocLayTuKhoDMQG",
                "MaKetQuaThayThe",
            }
        ),
        frozenset({"TenTepDinhKem", "DuongDanTaiTepTin"}),
        {
            "IsDeleted": ("True", "False"),
            "DuocSoHoa": _FLAG,
            "DuocTaiSuDung": ("0", "1", "2"),
            "DuocLayTuKhoDMQG": _FLAG,
        },
        urls=("DuongDanTaiTepTin",),
    ),
    "DanhSachLePhi": _ItemShape(
        frozenset({"TenPhiLePhi", "MaPhiLePhi", "HinhThucThu", "Gia", "LoaiPhiLePhi"}),
        frozenset({"TenPhiLePhi", "Gia"}),
        {},
    ),
    "DanhSachGiayToKetQua": _ItemShape(
        frozenset({"TenGiayTo", "MaThanhPhanHoSo", "GiayToId", "DuongDanTepTinKetQua", "MaGiayToKetQua"}),
        frozenset({"TenGiayTo", "DuongDanTepTinKetQua"}),
        {},
        urls=("DuongDanTepTinKetQua",),
    ),
    "DinhDanhCHS": _ItemShape(frozenset({"LoaiDinhDanh", "SoDinhDanh"}), frozenset({"LoaiDinhDanh", "SoDinhDanh"}), {}),
    "DSKetNoiCSDL": _ItemShape(frozenset({"MaCSDL"}), frozenset({"MaCSDL"}), {}),
    "DanhSachTepDinhKemKhac": _ItemShape(
        frozenset({"TenGiayTo", "SoLuong", "LoaiGiayTo"}), frozenset({"TenGiayTo"}), {}, free=True
    ),
    "DanhSachHoSoBoSung": _ItemShape(
        frozenset(
            {
                "HoSoBoSungId",
                "NguoiYeuCauBoSung",
                "NoiDungBoSung",
                "NgayBoSung",
                "NguoiTiepNhanBoSung",
                "ThongTinTiepNhan",
                "NgayTiepNhanBoSung",
                "TrangThaiBoSung",
                "DanhSachGiayToBoSung",
                "DanhSachLePhiBoSung",
                "NgayHenTraTruoc",
                "NgayHenTraMoi",
            }
        ),
        frozenset(),
        {},
        free=True,
    ),
}

PROGRESS_KEYS: frozenset[str] = frozenset(
    {"MaHoSo", "NguoiXuLy", "ChucDanh", "ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy", "TrangThai", "NgayBatDau"}
    | {"NgayKetThucTheoQuyDinh"}
)
_PROGRESS_REQUIRED = frozenset({"MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "NoiDungXuLy", "TrangThai"})

ABSTRACT_MAX = 1000
_DATE_RE = re.compile(r"^\d{14}$")
_URL_RE = re.compile(r"^https?://\S+$")
_AMOUNT_RE = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class Rejection(Exception):
    """Why a record was refused, in words that name the field."""

    message: str


def parse_date_field(record: dict[str, Any], key: str, *, required: bool) -> datetime | None:
    """Parse a ``yyyyMMddHHmmss`` field (``""`` or absent = none) through the project's own parser."""
    from mappings.national_portal import parse_portal_date

    value = record.get(key, "")
    if value is None and not required:
        return None  # T-S sends null for a dossier never refused (NgayTuChoi)
    if not isinstance(value, str):
        raise Rejection(f"Trường {key} phải là chuỗi ngày giờ dạng yyyyMMddHHmmss")
    if value == "":
        if required:
            raise Rejection(f"Trường {key} không được để trống")
        return None
    if not _DATE_RE.match(value):
        raise Rejection(f"Trường {key} không đúng định dạng yyyyMMddHHmmss: '{value[:40]}'")
    try:
        return parse_portal_date(value)
    except ValueError as exc:
        raise Rejection(f"Trường {key} không phải ngày giờ hợp lệ: '{value}'") from exc


def _keys(obj: Any, allowed: frozenset[str], required: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise Rejection(f"{where or 'Bản ghi'} phải là một đối tượng JSON")
    missing = sorted(required - set(obj))
    if missing:
        raise Rejection(f"Thiếu trường {where}{missing[0]}")
    extra = sorted(set(obj) - allowed)
    if extra:
        raise Rejection(f"Trường {where}{extra[0]} không thuộc cấu trúc dữ liệu")
    return obj


def _strings(obj: dict[str, Any], codes: dict[str, tuple[str, ...]], where: str, *, required: frozenset[str]) -> None:
    """Every value a string; codes from their list; required ones not blank."""
    for key, value in obj.items():
        if not isinstance(value, str):
            raise Rejection(f"Trường {where}{key} phải là chuỗi ký tự (mã và cờ gửi dạng chuỗi)")
        if key in required and not value.strip():
            raise Rejection(f"Trường {where}{key} không được để trống")
        if key in codes and value not in codes[key] and (value or key in required):
            raise Rejection(
                f"Trường {where}{key} có giá trị '{value[:20]}' ngoài miền cho phép ({'/'.join(codes[key])})"
            )


def _items(record: dict[str, Any], key: str) -> None:
    value = record.get(key, [])
    if not isinstance(value, list):
        raise Rejection(f"Trường {key} phải là danh sách")
    shape = _ITEMS[key]
    for i, item in enumerate(value):
        where = f"{key}[{i}]."
        _keys(item, shape.keys, shape.required, where)
        if shape.free:
            continue
        _strings(item, shape.codes, where, required=shape.required)
        for url in shape.urls:
            if not _URL_RE.match(item[url]):
                raise Rejection(f"Trường {where}{url} phải là đường dẫn http(s), không gửi nội dung tệp")
        if key == "DanhSachLePhi" and not _AMOUNT_RE.match(item["Gia"]):
            raise Rejection(f"Trường {where}Gia phải là số tiền (đồng) không âm, dạng chuỗi chữ số")


def _check_dossier_number(value: str) -> None:
    from mappings.dossier_number import is_valid_dossier_number

    if not is_valid_dossier_number(value):
        raise Rejection(f"Trường MaHoSo không đúng định dạng {{mã cơ quan}}-{{yyMMdd}}-{{NNNN}}: '{value[:60]}'")


def validate_dossier(record: Any, catalogue: Catalogue) -> datetime:
    """Check one DongBoHoSoMC record; return its submission time or raise :class:`Rejection`."""
    _keys(record, DOSSIER_KEYS, _DOSSIER_REQUIRED, "")
    scalars = {k: v for k, v in record.items() if k not in _DOSSIER_LISTS and k not in _DOSSIER_DATES}
    _strings(scalars, _DOSSIER_CODES, "", required=_DOSSIER_REQUIRED)
    _check_dossier_number(record["MaHoSo"])
    if len(record["TrichYeuHoSo"]) > ABSTRACT_MAX:
        raise Rejection(f"Trường TrichYeuHoSo vượt quá {ABSTRACT_MAX} ký tự (hiện có {len(record['TrichYeuHoSo'])})")
    submitted = parse_date_field(record, "NgayNopHoSo", required=True)
    assert submitted is not None
    received, due = (parse_date_field(record, key, required=False) for key in ("NgayTiepNhan", "NgayHenTra"))
    for key in ("NgayTra", "NgayKetThucXuLy", "NgayTuChoi"):
        parse_date_field(record, key, required=False)
    for key in _DOSSIER_LISTS:
        _items(record, key)
    if received is not None and received < submitted:
        raise Rejection("Trường NgayTiepNhan phải sau hoặc bằng NgayNopHoSo")
    if due is not None and due < (received or submitted):
        raise Rejection("Trường NgayHenTra phải sau hoặc bằng NgayTiepNhan (hoặc NgayNopHoSo)")
    day = submitted.date()
    agency = record["DonViXuLy"]
    if not catalogue.agency_name_known(agency, day):
        raise Rejection(f"Trường DonViXuLy: cơ quan '{agency}' không có trong danh mục cơ quan ngày {day:%d/%m/%Y}")
    procedure = record["MaTTHC"]
    if not catalogue.procedure_on_portal(procedure, day):
        raise Rejection(
            f"Thủ tục hành chính '{procedure}' không có trong danh mục thủ tục tích hợp trên Cổng Dịch vụ công"
            f" quốc gia ngày {day:%d/%m/%Y}"
        )
    return submitted


def validate_progress(entry: Any) -> None:
    """Check one CapNhatTienDoHoSoMC entry or raise :class:`Rejection`."""
    _keys(entry, PROGRESS_KEYS, _PROGRESS_REQUIRED, "")
    scalars = {k: v for k, v in entry.items() if k not in ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh")}
    _strings(scalars, {"TrangThai": _STATUS}, "", required=_PROGRESS_REQUIRED)
    parse_date_field(entry, "ThoiDiemXuLy", required=True)
    started = parse_date_field(entry, "NgayBatDau", required=False)
    due = parse_date_field(entry, "NgayKetThucTheoQuyDinh", required=False)
    if started is not None and due is not None and due < started:
        raise Rejection("Trường NgayKetThucTheoQuyDinh phải sau hoặc bằng NgayBatDau")

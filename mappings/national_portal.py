"""Canonical dossier -> national portal (DVCQG) ``DongBoHoSoMC`` and ``CapNhatTienDoHoSoMC``
payloads, keys exactly as docs/interfaces.md section 2.

Dates are ``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh and ``""`` when absent; codes and flags are
strings, as every public client sends them (the ledger, docs/interfaces.md 2.5); value lists with
no public definition live in :mod:`mappings.portal_codes`. The sandbox portal validates with
:func:`parse_portal_date`, so both sides share one definition of the format.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mappings import portal_codes as codes
from mappings.code_tables import CodeTables
from mappings.dossier import VN_TZ, Dossier
from mappings.errors import MappingError

PORTAL_DATE_FORMAT = "%Y%m%d%H%M%S"
ABSTRACT_MAX_CHARS = 1000
_PORTAL_DATE = re.compile(r"[0-9]{14}")


def format_portal_date(dt: datetime | None) -> str:
    """``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh; ``""`` for None. Naive datetimes are refused:
    guessing their zone would shift deadlines by hours."""
    if dt is None:
        return ""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no time zone")
    # Every portal message carries a dozen of these: %-formatting the fields is about three times
    # faster than strftime (and twice an f-string), and canonical dossiers are already in Hanoi
    # time, so they need no conversion.
    vn = dt if dt.tzinfo is VN_TZ else dt.astimezone(VN_TZ)
    fields = (vn.year, vn.month, vn.day, vn.hour, vn.minute, vn.second)
    return "%04d%02d%02d%02d%02d%02d" % fields  # noqa: UP031


def parse_portal_date(s: str) -> datetime | None:
    """Inverse of :func:`format_portal_date`; ``""`` -> None; anything else malformed -> ValueError."""
    if s == "":
        return None
    if not _PORTAL_DATE.fullmatch(s):
        raise ValueError(f"{s!r} is not a date in the form yyyyMMddHHmmss")
    # Fourteen ASCII digits are checked above, so slicing is exact; strptime would cost ten times
    # as much for the same checks (the datetime constructor refuses month 13, 30 February, ...).
    return datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]), int(s[12:14]), tzinfo=VN_TZ)


def _flag(value: bool) -> str:
    return codes.TRUE if value else codes.FALSE


def _fee_type(name: str) -> str:
    """The city record has no fee type, but Vietnamese names say it: "Phí ..." is a charge,
    anything else (normally "Lệ phí ...") a fee."""
    return codes.CHARGE if name.strip().lower().startswith("phí") else codes.FEE


def _paid_online(d: Dossier) -> str:
    return codes.PAID_ONLINE[d.payment_gateway] if d.paid_online else codes.NOT_PAID_ONLINE


def _names(d: Dossier, tables: CodeTables) -> tuple[str, str]:
    """``DonViXuLy`` and ``TenLinhVuc``: public clients send the agency's and the field's *names*,
    as the code tables held them on the day the dossier was filed."""
    day = d.submitted_at.date()
    agency = tables.agencies.get(d.handling_agency, day)
    if agency is None:
        raise MappingError("portal.agency_unknown", f"cơ quan {d.handling_agency} không có trong danh mục ngày {day}")
    field = tables.fields.get(d.field_code, day)
    if field is None:
        raise MappingError("portal.field_unknown", f"lĩnh vực {d.field_code} không có trong danh mục ngày {day}")
    return agency.name, field.name


def to_dong_bo_ho_so(d: Dossier, tables: CodeTables) -> dict[str, Any]:
    """One ``DongBoHoSoMC`` record with exactly the keys of docs/interfaces.md 2.5-2.6, codes and
    flags as strings. Raises ``MappingError('portal.abstract_too_long')`` rather than truncating: the
    portal's copy must say what the city's says; ``portal.agency_unknown`` / ``portal.field_unknown``
    when the code tables cannot name the agency or field."""
    if len(d.abstract) > ABSTRACT_MAX_CHARS:
        raise MappingError(
            "portal.abstract_too_long",
            f"trích yếu dài {len(d.abstract)} ký tự, Cổng DVCQG nhận tối đa {ABSTRACT_MAX_CHARS}",
        )
    agency_name, field_name = _names(d, tables)
    return {
        "MaHoSo": d.dossier_no,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "MaLinhVuc": d.field_code,
        "TenLinhVuc": field_name,
        "KenhThucHien": str(d.channel),
        "SoGiayToChuHoSo": d.applicant_id_no or "",
        "ChuHoSo": d.applicant_name,
        "LoaiDoiTuong": str(d.applicant_type),
        "MaDoiTuong": d.portal_account_id or "",
        "ThongTinKhac": "",
        "Email": d.email or "",
        "Fax": "",
        "SoDienThoai": d.phone or "",
        "TrichYeuHoSo": d.abstract,
        "NgayNopHoSo": format_portal_date(d.submitted_at),
        "NgayTiepNhan": format_portal_date(d.received_at),
        "NgayHenTra": format_portal_date(d.due_at),
        "TrangThaiHoSo": str(d.status),
        "NgayTra": format_portal_date(d.returned_at),
        "ThongTinTra": "",
        "HinhThuc": _flag(d.return_by_post),
        "NgayKetThucXuLy": format_portal_date(d.finished_at),
        "NgayTuChoi": format_portal_date(d.rejected_at),
        "DonViXuLy": agency_name,
        "GhiChu": d.note or "",
        "NoiNopHoSo": codes.SUBMITTED_ON_PORTAL if d.submitted_via_portal else codes.SUBMITTED_ON_OWN_SYSTEM,
        "HoSoCoThanhPhanSoHoa": _flag(any(doc.digitised for doc in d.documents)),
        "TaiKhoanDuocXacThucVoiVNeID": _flag(d.vneid_verified),
        "DuocThanhToanTrucTuyen": _paid_online(d),
        "DinhDanhCHS": [
            {"LoaiDinhDanh": codes.IDENTIFIER_KINDS[i.kind], "SoDinhDanh": i.number} for i in d.applicant_identifiers
        ],
        "DSKetNoiCSDL": [{"MaCSDL": code} for code in d.consulted_databases],
        # The canonical document has one code; it is both the file id and the component code.
        "TaiLieuNop": [
            {
                "TepDinhKemId": doc.code,
                "TenTepDinhKem": doc.name,
                "IsDeleted": codes.NOT_DELETED,
                "MaThanhPhanHoSo": doc.code,
                "DuongDanTaiTepTin": doc.url,
                "DuocSoHoa": _flag(doc.digitised),
                "DuocTaiSuDung": _flag(doc.reused),
                "DuocLayTuKhoDMQG": codes.NOT_FROM_PORTAL_STORE,
                "MaKetQuaThayThe": codes.NO_SUBSTITUTE_RESULT,
            }
            for doc in d.documents
        ],
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": f.name,
                "MaPhiLePhi": f.code,
                "HinhThucThu": codes.FEE_COLLECTION,
                "Gia": str(f.amount),
                "LoaiPhiLePhi": _fee_type(f.name),
            }
            for f in d.fees
        ],
        "DanhSachTepDinhKemKhac": [],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [
            {
                "TenGiayTo": r.name,
                "MaThanhPhanHoSo": r.code,
                "GiayToId": r.code,
                "DuongDanTepTinKetQua": r.url,
                "MaGiayToKetQua": r.result_code or "",
            }
            for r in d.results
        ],
    }


def to_progress_entries(d: Dossier) -> list[dict[str, Any]]:
    """One ``CapNhatTienDoHoSoMC`` entry per history step, in step order (the nine fields public
    clients send, ``TrangThai`` a string)."""
    return [
        {
            "MaHoSo": d.dossier_no,
            "NguoiXuLy": step.handler_name,
            "ChucDanh": step.handler_title,
            "ThoiDiemXuLy": format_portal_date(step.handled_at),
            "PhongBanXuLy": step.department,
            "NoiDungXuLy": step.content,
            "TrangThai": str(step.status),
            "NgayBatDau": format_portal_date(step.started_at),
            "NgayKetThucTheoQuyDinh": format_portal_date(step.due_at),
        }
        for step in sorted(d.history, key=lambda s: s.seq)
    ]

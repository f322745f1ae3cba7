"""Canonical dossier -> national portal (DVCQG) ``DongBoHoSoMC`` and ``CapNhatTienDoHoSoMC``
payloads, keys exactly as docs/interfaces.md section 2.

Dates are ``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh and ``""`` when absent; codes and flags are
integers. The sandbox portal validates with :func:`parse_portal_date`, so both sides share one
definition of the format.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from mappings.dossier import VN_TZ, Dossier
from mappings.errors import MappingError

PORTAL_DATE_FORMAT = "%Y%m%d%H%M%S"
ABSTRACT_MAX_CHARS = 1000
FEE = 1  # LoaiPhiLePhi: 1 "lệ phí" (fee), 2 "phí" (charge)
CHARGE = 2
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


def _flag(value: bool) -> int:
    return 1 if value else 0


def _fee_type(name: str) -> int:
    """The city record has no fee type, but Vietnamese names say it: "Phí ..." is a charge,
    anything else (normally "Lệ phí ...") a fee."""
    return CHARGE if name.strip().lower().startswith("phí") else FEE


def to_dong_bo_ho_so(d: Dossier) -> dict[str, Any]:
    """One ``DongBoHoSoMC`` record. Raises ``MappingError('portal.abstract_too_long')`` rather than
    truncating: the portal's copy must say what the city's says."""
    if len(d.abstract) > ABSTRACT_MAX_CHARS:
        raise MappingError(
            "portal.abstract_too_long",
            f"trích yếu dài {len(d.abstract)} ký tự, Cổng DVCQG nhận tối đa {ABSTRACT_MAX_CHARS}",
        )
    return {
        "MaHoSo": d.dossier_no,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "MaLinhVuc": d.field_code,
        "KenhThucHien": d.channel,
        "ChuHoSo": d.applicant_name,
        "LoaiDoiTuong": d.applicant_type,
        "SoGiayToChuHoSo": d.applicant_id_no or "",
        "SoDienThoai": d.phone or "",
        "Email": d.email or "",
        "NgayNopHoSo": format_portal_date(d.submitted_at),
        "NgayTiepNhan": format_portal_date(d.received_at),
        "NgayHenTra": format_portal_date(d.due_at),
        "NgayTra": format_portal_date(d.returned_at),
        "NgayKetThucXuLy": format_portal_date(d.finished_at),
        "TrangThaiHoSo": d.status,
        "TrichYeuHoSo": d.abstract,
        "DonViXuLy": d.handling_agency,
        "HinhThuc": _flag(d.return_by_post),
        # The canonical document has one code; it is both the file id and the component code.
        "TaiLieuNop": [
            {
                "TepDinhKemId": doc.code,
                "TenTepDinhKem": doc.name,
                "DuongDanTaiTep": doc.url,
                "DuocSoHoa": _flag(doc.digitised),
                "DuocTaiSuDung": _flag(doc.reused),
                "MaThanhPhanHoSo": doc.code,
            }
            for doc in d.documents
        ],
        "DanhSachLePhi": [
            {"TenPhiLePhi": f.name, "MaPhiLePhi": f.code, "SoTien": f.amount, "LoaiPhiLePhi": _fee_type(f.name)}
            for f in d.fees
        ],
        "DanhSachGiayToKetQua": [
            {"TenGiayTo": r.name, "MaThanhPhanHoSo": r.code, "GiayToId": r.code, "DuongDanTepTinKetQua": r.url}
            for r in d.results
        ],
        "DuocThanhToanTrucTuyen": _flag(d.paid_online),
    }


def to_progress_entries(d: Dossier) -> list[dict[str, Any]]:
    """One ``CapNhatTienDoHoSoMC`` entry per history step, in step order."""
    return [
        {
            "MaHoSo": d.dossier_no,
            "NguoiXuLy": step.handler_name,
            "ChucDanh": step.handler_title,
            "ThoiDiemXuLy": format_portal_date(step.handled_at),
            "PhongBanXuLy": step.department,
            "NoiDungXuLy": step.content,
            "TrangThai": step.status,
            "NgayBatDau": format_portal_date(step.started_at),
            "NgayKetThucTheoQuyDinh": format_portal_date(step.due_at),
        }
        for step in sorted(d.history, key=lambda s: s.seq)
    ]

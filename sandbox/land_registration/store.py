"""What the land-registration double holds: the land dossiers (transfers, first certificates,
certificate exchanges, mortgages) the VBDLIS land system processed for Hanoi, in the shape its
two-way contract with one-stop systems gives a dossier (docs/interfaces.md 7.7, public client
T-VBDLIS ``VBDLISTiepNhanHoSoRequest`` and ``KetThucHoSo``).

The dossiers are :func:`sandbox.ministry_dossiers.canonical_ministry_dossiers` of the procedures
``ministry_systems`` gives ``land_registration``. Each record carries what the public contract
names -- ``SoBienNhan`` (the receipt number every exchange is keyed by), ``MaHoSoMotCua``,
``TinhId``/``HuyenId``/``XaId``, ``NguoiTiepNhan``, ``NgayTiepNhan``, ``NgayHenTra``,
``ThongTinNguoiNopDon``, ``ThongTinQuyTrinh`` and, once finished, ``NgayKetThuc`` and
``TrangThaiKetThuc`` (0 = result issued) -- plus the one-stop unit code and the portal status
(ASSUMPTIONS, 7.7). A dossier the land office received itself has no ``MaHoSoMotCua``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mappings.dossier import Dossier
from sandbox.held_records import held_dossiers_of, wire_time

__all__ = ["PARTNER", "WIRE_TIME", "held_dossiers", "receipt_number", "records"]

PARTNER = "land_registration"
WIRE_TIME = "%Y-%m-%dT%H:%M:%S"  # a .NET DateTime as JSON (the public client's DateTime fields)
HANOI_ID = 1  # ASSUMPTION: VBDLIS's TinhId of Hà Nội
_FINISHED = (9, 10)
_RETURNED = (3, 7, 8)


def receipt_number(day: date, n: int) -> str:
    """The land office's receipt number (``SoBienNhan``) of the n-th dossier of a day (ASSUMPTION: digits)."""
    return f"4{day:%y%m%d}{n:05d}"


held_dossiers = held_dossiers_of(PARTNER, receipt_number)


def records(d: Dossier) -> tuple[dict[str, Any], dict[str, Any]]:
    """The listed record of one dossier (the listing details it whole: no second form)."""
    finished = d.status in _FINISHED or d.status in _RETURNED
    record = {
        "SoBienNhan": d.dossier_no,
        "MaHoSoMotCua": None,
        "TinhId": HANOI_ID,
        "HuyenId": 0,
        "XaId": 0,
        "MaDonViMotCua": d.handling_agency,
        "NguoiTiepNhan": "vpdk.tiepnhan",
        "NgayNopHoSo": wire_time(d.submitted_at, WIRE_TIME),
        "NgayTiepNhan": wire_time(d.received_at or d.submitted_at, WIRE_TIME),
        "NgayHenTra": wire_time(d.due_at, WIRE_TIME),
        "NgayKetThuc": wire_time(d.finished_at, WIRE_TIME) if finished else None,
        "TrangThaiKetThuc": (0 if d.status in _FINISHED else 1) if finished else None,
        "TrangThaiHoSo": str(d.status),
        "ThongTinNguoiNopDon": {
            "HoTen": d.applicant_name,
            "SoChungMinh": d.applicant_id_no,
            "DiaChiChiTiet": "Hà Nội",
            "SoDienThoai": d.phone,
            "Email": d.email,
        },
        "ThongTinQuyTrinh": {"MaQuyTrinh": d.procedure_code, "TenQuyTrinh": d.procedure_name},
    }
    return record, record

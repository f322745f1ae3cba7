"""What the driving-licence double holds: the licence dossiers (exchange, international licence)
received on the licensing system for Hanoi, as its session API lists them (``DanhSachHoSo``) and
details them (``TraCuuHoSo``, plus the result date ``NgayTraKetQua``, an ASSUMPTION) --
docs/interfaces.md 7.6, public client T-GPLX.

The dossiers are :func:`sandbox.ministry_dossiers.canonical_ministry_dossiers` of the procedures
``ministry_systems`` gives ``driving_licence`` (the Ministry of Transport's system until
2025-02-28, Public Security's since). Keys and date forms are those the public client reads; the
values of ``MaTrangThai`` (here the portal's status codes), the licence classes and the numbering
are ASSUMPTIONS (7.6).
"""

from __future__ import annotations

import zlib
from datetime import date
from typing import Any

from mappings.dossier import Dossier
from sandbox.held_records import held_dossiers_of, wire_time
from sandbox.tables import tables

__all__ = ["DETAIL_TIME", "PARTNER", "dossier_number", "held_dossiers", "records"]

PARTNER = "driving_licence"
DETAIL_TIME = "%d/%m/%Y %H:%M:%S"  # TraCuuHoSo's dates (T-GPLX)
LISTED_DAY = "%Y-%m-%d"  # ASSUMPTION: the listing writes its days as its parameters are written
_CLASSES = ("A1", "A", "B", "B1", "C1", "C")  # ASSUMPTION: the 2025 licence classes


def dossier_number(day: date, n: int) -> str:
    """The licensing system's number of the n-th dossier received on a day (ASSUMPTION: digits)."""
    return f"3{day:%y%m%d}{n:05d}"


held_dossiers = held_dossiers_of(PARTNER, dossier_number)


def records(d: Dossier) -> tuple[dict[str, Any], dict[str, Any]]:
    """``DanhSachHoSo``'s item and ``TraCuuHoSo``'s record of one dossier."""
    received = d.received_at or d.submitted_at
    licence_class = _CLASSES[zlib.crc32(d.dossier_no.encode()) % len(_CLASSES)]
    document = f"/gplx/{d.dossier_no}/don-de-nghi.pdf"
    listed = {
        "maHoSo": d.dossier_no,
        "hoTen": d.applicant_name,
        "soCmnd": d.applicant_id_no or "",
        "ngaySinh": d.applicant_birth_date.strftime(LISTED_DAY) if d.applicant_birth_date else "",
        "maDonVi": d.handling_agency,
        "ngayNhanHoSo": wire_time(received, LISTED_DAY),
        "ngayHenTraGplx": wire_time(d.due_at, LISTED_DAY) or "",
        "loaiHoSo": "DOI" if d.procedure_code == "1.002809" else "QUOC_TE",
        "hangDaoTao": licence_class,
        "hoSoDinhKem": [{"magiayto": "DDN", "tengiayto": "Đơn đề nghị", "filedinhkem": document}],
    }
    agency = tables().agencies.get(d.handling_agency, received.date())
    detail = {
        "MaTTHC": d.procedure_code,
        "MaDVC": d.procedure_code,
        "TenDVC": d.procedure_name,
        "MaHoSo": d.dossier_no,
        "HoTenNguoiNop": d.applicant_name,
        "MaTrangThai": str(d.status),
        "TrangThaiHoSo": tables().statuses.get(str(d.status), received.date()).name_vi,  # type: ignore[union-attr]
        "DonViXuLy": agency.name if agency is not None else "",
        "MaDonViXuLy": d.handling_agency,
        "NgayNop": wire_time(d.submitted_at, DETAIL_TIME),
        "NgayTiepNhan": wire_time(received, DETAIL_TIME),
        "NgayHenTra": wire_time(d.due_at, DETAIL_TIME) or "",
        "HinhThucNhanKQ": "1" if d.return_by_post else "0",  # "1": by post (T-GPLX)
        # ASSUMPTION: the result date, under the name the public client gives it (GPLXParams.NgayTraKetQua)
        "NgayTraKetQua": wire_time(d.finished_at, DETAIL_TIME) if d.status in (9, 10) else "",
    }
    return listed, detail

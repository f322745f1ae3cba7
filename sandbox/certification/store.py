"""What the certification double holds: the electronic certified copies (``chứng thực bản sao điện
tử từ bản chính``) Hanoi's communes issue on the national system run by the Government Office's
procedure-control agency (``ministry_systems.csv``), which the city system never sees.

No public contract of that system is known (docs/interfaces.md 7.9): ASSUMPTION that, run by the
portal's operator, it writes a dossier with the portal's own keys and ``yyyyMMddHHmmss`` times
(docs/interfaces.md 2.5).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mappings.dossier import Dossier
from sandbox.held_records import held_dossiers_of, wire_time

__all__ = ["PARTNER", "WIRE_TIME", "certificate_number", "held_dossiers", "records"]

PARTNER = "certification"
WIRE_TIME = "%Y%m%d%H%M%S"


def certificate_number(day: date, n: int) -> str:
    """The system's number of the n-th certified copy of a day (ASSUMPTION: digits)."""
    return f"6{day:%y%m%d}{n:05d}"


held_dossiers = held_dossiers_of(PARTNER, certificate_number)


def records(d: Dossier) -> tuple[dict[str, Any], dict[str, Any]]:
    """The listed record of one certified copy (the listing carries it whole)."""
    record = {
        "MaHoSo": d.dossier_no,
        "MaTTHC": d.procedure_code,
        "MaCoQuan": d.handling_agency,
        "TrangThaiHoSo": str(d.status),
        "NgayNopHoSo": wire_time(d.submitted_at, WIRE_TIME),
        "NgayTiepNhan": wire_time(d.received_at or d.submitted_at, WIRE_TIME),
        "NgayHenTra": wire_time(d.due_at, WIRE_TIME) or "",
        "NgayKetThucXuLy": wire_time(d.finished_at, WIRE_TIME) or "",
        "ChuHoSo": d.applicant_name,
        "SoGiayToChuHoSo": d.applicant_id_no or "",
        "LoaiDoiTuong": str(d.applicant_type),
    }
    return record, record

"""What the unemployment-benefit double holds: the unemployment-benefit dossiers the employment
services processed for Hanoi on the labour ministry's software (Labour, Invalids and Social Affairs
until 2025-02-28, Home Affairs since: ``ministry_systems.csv``).

No public contract of that software is known (docs/interfaces.md 7.8): the record below is an
ASSUMPTION shaped like its nearest public sibling, the labour department's social-assistance sync
(T-SLD: ``MaTinh``/``MaHuyen``/``MaXa``, ``dd/MM/yyyy HH:mm:ss`` times, ``error_code`` "0").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mappings.dossier import Dossier
from sandbox.held_records import held_dossiers_of, wire_time

__all__ = ["PARTNER", "WIRE_TIME", "dossier_number", "held_dossiers", "records"]

PARTNER = "unemployment_benefit"
WIRE_TIME = "%d/%m/%Y %H:%M:%S"


def dossier_number(day: date, n: int) -> str:
    """The system's number of the n-th dossier received on a day (ASSUMPTION: digits)."""
    return f"5{day:%y%m%d}{n:05d}"


held_dossiers = held_dossiers_of(PARTNER, dossier_number)


def records(d: Dossier) -> tuple[dict[str, Any], dict[str, Any]]:
    """The listed record of one dossier (the listing carries it whole)."""
    record = {
        "MaHoSo": d.dossier_no,
        "MaTTHC": d.procedure_code,
        "MaDonVi": d.handling_agency,
        "MaTinh": "01",
        "HoTen": d.applicant_name,
        "SoDinhDanh": d.applicant_id_no,
        "NgayNop": wire_time(d.submitted_at, WIRE_TIME),
        "NgayTiepNhan": wire_time(d.received_at or d.submitted_at, WIRE_TIME),
        "NgayHenTra": wire_time(d.due_at, WIRE_TIME),
        "NgayKetThuc": wire_time(d.finished_at, WIRE_TIME),
        "TrangThai": str(d.status),
    }
    return record, record

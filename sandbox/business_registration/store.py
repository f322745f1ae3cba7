"""What the business-registration simulator holds: dossiers processed on the national business
registration system for Hanoi's agencies, and the companies they concern.

The dossiers come from :func:`sandbox.ministry_dossiers.ministry_dossiers` (the city generator's
business-registration procedures, numbered by the ministry) and are kept in the portal's
``DongBoHoSoMC`` shape (``mappings.national_portal``): ministry systems sync to the national
portal in that format too, and it lets the hub stage a pulled-back dossier with the mappings it
already has. Loading a day twice is a no-op (a day is keyed by day, scale and seed).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from mappings.code_tables import ProcedureRow
from mappings.dossier import Dossier
from mappings.national_portal import format_portal_date, to_dong_bo_ho_so, to_progress_entries
from sandbox.ministry_dossiers import LOADED_DAYS_SCHEMA, canonical_ministry_dossiers, load_days
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["PARTNER", "BusinessRegistrationStore", "held_dossiers", "is_business_registration"]

PARTNER = "business_registration"

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
    ma_ho_so     TEXT PRIMARY KEY,
    updated      TEXT NOT NULL,
    updated_day  TEXT NOT NULL,
    msdn         TEXT,
    body         TEXT NOT NULL,
    progress     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_dossiers_updated ON dossiers (updated_day, updated, ma_ho_so);
CREATE TABLE IF NOT EXISTS companies (
    msdn TEXT PRIMARY KEY,
    body TEXT NOT NULL
)
"""

_STREETS = ("Phố Huế", "Bà Triệu", "Trần Duy Hưng", "Lê Văn Lương", "Cầu Giấy", "Hoàng Quốc Việt", "Tây Sơn")
_DISTRICTS = ("Hoàn Kiếm", "Ba Đình", "Đống Đa", "Cầu Giấy", "Thanh Xuân", "Hai Bà Trưng", "Long Biên")


def _ministry_record(canonical: Dossier, code_tables: Any) -> dict[str, Any]:
    """The register's own record: the portal's keys, but (as this double has always served them,
    and the pull-back suite reads them) codes as numbers and the agency by its code. The portal's
    string codes and agency name are what the *portal* is sent, not what a ministry exports."""
    body = to_dong_bo_ho_so(canonical, code_tables)
    body.update(
        TrangThaiHoSo=canonical.status,
        KenhThucHien=canonical.channel,
        LoaiDoiTuong=canonical.applicant_type,
        HinhThuc=int(canonical.return_by_post),
        DuocThanhToanTrucTuyen=int(canonical.paid_online),
        DonViXuLy=canonical.handling_agency,
    )
    for document, source in zip(body["TaiLieuNop"], canonical.documents, strict=True):
        document.update(DuocSoHoa=int(source.digitised), DuocTaiSuDung=int(source.reused))
    return body


def is_business_registration(procedure: ProcedureRow) -> bool:
    """Procedures the national business registration system processes (field DKKD on ministry software)."""
    return procedure.processed_on_ministry_software and procedure.field_code == "DKKD"


def held_dossiers(day: date, scale: float, seed: int, code_tables: Any) -> list[Dossier]:
    """Every business-registration dossier of the day the national system processed, whatever its status."""
    return canonical_ministry_dossiers(
        day, scale, seed, partner=PARTNER, keep=is_business_registration, code_tables=code_tables
    )


def _company(msdn: str, name: str, phone: str, first_seen: date) -> dict[str, Any]:
    """A company record derived from its enterprise code alone, so it is the same on every load."""
    rng = random.Random(f"company:{msdn}")
    kind = "Công ty cổ phần" if "Cổ phần" in name else "Công ty trách nhiệm hữu hạn"
    founded = first_seen - timedelta(days=rng.randint(0, 3650))
    return {
        "maSoDoanhNghiep": msdn,
        "tenDoanhNghiep": name,
        "loaiHinhDoanhNghiep": kind,
        "ngayCapLanDau": founded.strftime("%Y%m%d"),
        "diaChiTruSo": f"Số {rng.randint(1, 300)} {rng.choice(_STREETS)}, quận {rng.choice(_DISTRICTS)}, Hà Nội",
        "dienThoai": phone,
        "tinhTrang": "Đang hoạt động",
    }


class BusinessRegistrationStore:
    """SQLite-backed dossiers and companies of the simulator."""

    def __init__(self, path: str | Path, code_tables: Any | None = None) -> None:
        self.db = SqliteDatabase(path, f"{SCHEMA};{LOADED_DAYS_SCHEMA}")
        self.tables = code_tables if code_tables is not None else tables()

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Generate and store every day in ``[first, last]`` not held yet; returns the dossiers added."""
        return load_days(self.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        dossiers, companies = [], {}
        for canonical in held_dossiers(day, scale, seed, self.tables):
            body = _ministry_record(canonical, self.tables)
            updated = format_portal_date(canonical.updated_at)
            body["NgayCapNhat"] = updated
            msdn = body["SoGiayToChuHoSo"] if body["LoaiDoiTuong"] == 2 else None
            if msdn:
                companies.setdefault(msdn, _company(msdn, body["ChuHoSo"], body["SoDienThoai"], day))
            progress = to_progress_entries(canonical)
            dossiers.append(
                (body["MaHoSo"], updated, canonical.updated_at.date().isoformat(), msdn, _dump(body), _dump(progress))
            )
        conn.executemany("INSERT OR IGNORE INTO dossiers VALUES (?,?,?,?,?,?)", dossiers)
        conn.executemany("INSERT OR IGNORE INTO companies VALUES (?,?)", [(k, _dump(v)) for k, v in companies.items()])
        return len(dossiers)

    def page(self, first: date, last: date, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """Dossiers last updated on a day in ``[first, last]``, ordered by update time then number."""
        bounds = (first.isoformat(), last.isoformat())
        with self.db.read() as conn:
            total = conn.execute("SELECT COUNT(*) FROM dossiers WHERE updated_day BETWEEN ? AND ?", bounds).fetchone()[
                0
            ]
            rows = conn.execute(
                "SELECT body FROM dossiers WHERE updated_day BETWEEN ? AND ?"
                " ORDER BY updated, ma_ho_so LIMIT ? OFFSET ?",
                (*bounds, limit, offset),
            ).fetchall()
        return total, [json.loads(body) for (body,) in rows]

    def status(self, dossier_no: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT body, progress FROM dossiers WHERE ma_ho_so=?", (dossier_no,)).fetchone()
        if row is None:
            return None
        body = json.loads(row[0])
        return {
            "MaHoSo": dossier_no,
            "TrangThaiHoSo": body["TrangThaiHoSo"],
            "NgayCapNhat": body["NgayCapNhat"],
            "QuaTrinhXuLy": json.loads(row[1]),
        }

    def company(self, msdn: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT body FROM companies WHERE msdn=?", (msdn,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def numbers(self, first: date, last: date) -> list[str]:
        """Every dossier number held for the update days ``[first, last]`` (sandbox export)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT ma_ho_so FROM dossiers WHERE updated_day BETWEEN ? AND ? ORDER BY ma_ho_so",
                (first.isoformat(), last.isoformat()),
            ).fetchall()
        return [number for (number,) in rows]

    def msdns(self) -> Iterable[str]:
        with self.db.read() as conn:
            return [msdn for (msdn,) in conn.execute("SELECT msdn FROM companies ORDER BY msdn")]


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

"""What the business-registration double holds: the dossiers the national business registration
system received for Hanoi's registration office, in the register's own terms (docs/interfaces.md
6.3, public guide QB ``apiCSDLDKDN``), and the enterprises they concern.

The dossiers come from :func:`sandbox.ministry_dossiers.ministry_dossiers` over the procedures the
``ministry_systems`` code table gives the register (field DKKD), numbered by the register
(``IN_JOURNAL_NO``, a number). Each is kept as its listing record (``IN_JOURNAL_NO``,
``DOCUMENT_TYPE``, ``ENTERPRISE_CODE``, ``ENTERPRISE_GDT_CODE``, ``NAME``, ``SITE_ID``,
``RECEIPT_DATE``, ``PLAN_DATE``, ``PROCESS_STATUS``) and its status detail (plus
``ENTERPRISE_TYPE_ID``, ``REGISTRATION_DATE``, ``SUBMISSION_TYPE``, ``CONTACT_*``). The code lists
of ``DOCUMENT_TYPE`` and ``PROCESS_STATUS``, the office's ``SITE_ID`` and the date format are not
public: the values below are ASSUMPTIONS (7.3). Loading a day twice is a no-op.
"""

from __future__ import annotations

import json
import random
import sqlite3
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mappings.dossier import VN_TZ, Dossier
from sandbox.ministry_dossiers import LOADED_DAYS_SCHEMA, canonical_ministry_dossiers, load_days
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["DATE_FORMAT", "PARTNER", "SITE_ID", "BusinessRegistrationStore", "held_dossiers", "journal_no"]

PARTNER = "business_registration"
SITE_ID = 101  # ASSUMPTION: Hanoi's business registration office in the register
DATE_FORMAT = "%d/%m/%Y %H:%M:%S"  # ASSUMPTION: the guide types the dates as "date"
DOCUMENT_TYPES = {  # ASSUMPTION: one code per procedure
    "2.001610": "DK_MOI_TNHH1TV",
    "2.001199": "DK_MOI_CP",
    "2.002038": "DK_THAY_DOI",
    "2.002039": "TB_THAY_DOI",
    "2.002043": "TAM_NGUNG",
    "2.002050": "GIAI_THE",
}
PROCESS_STATUSES = {  # ASSUMPTION: the register's processing states, by portal status
    1: "MOI_NOP",
    2: "DA_TIEP_NHAN",
    3: "TU_CHOI",
    4: "DANG_XU_LY",
    5: "YEU_CAU_BO_SUNG",
    6: "CHO_NOP_PHI",
    7: "RUT_HO_SO",
    8: "DUNG_XU_LY",
    9: "DA_CHAP_THUAN",
    10: "DA_TRA_KET_QUA",
}
ENTERPRISE_TYPES = {"Cổ phần": "CP", "TNHH": "TNHH"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
    in_journal_no INTEGER PRIMARY KEY,
    receipt_day   TEXT NOT NULL,
    msdn          TEXT NOT NULL,
    listed        TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_dossiers_receipt ON dossiers (receipt_day, in_journal_no);
CREATE TABLE IF NOT EXISTS enterprises (
    msdn TEXT PRIMARY KEY,
    body TEXT NOT NULL
)
"""

_STREETS = ("Phố Huế", "Bà Triệu", "Trần Duy Hưng", "Lê Văn Lương", "Cầu Giấy", "Hoàng Quốc Việt", "Tây Sơn")


def journal_no(day: date, n: int) -> str:
    """The register's receipt number of the n-th dossier received on a day (a number)."""
    return f"2{day:%y%m%d}{n:05d}"


def held_dossiers(day: date, scale: float, seed: int, code_tables: Any) -> list[Dossier]:
    """Every business-registration dossier of the day the register received, whatever its status."""
    dossiers = canonical_ministry_dossiers(
        day, scale, seed, partner=PARTNER, number=journal_no, code_tables=code_tables
    )
    return [d for d in dossiers if d.procedure_code in DOCUMENT_TYPES]


def _when(value: datetime | None) -> str | None:
    return value.astimezone(VN_TZ).strftime(DATE_FORMAT) if value is not None else None


def _msdn(d: Dossier) -> str:
    """The enterprise code: the applicant's tax code when a business files, else one the register issues."""
    if d.applicant_type == 2 and d.applicant_id_no:
        return d.applicant_id_no
    return f"01{zlib.crc32(f'msdn:{d.dossier_no}'.encode()) % 10**8:08d}"


def _records(d: Dossier) -> tuple[dict[str, Any], dict[str, Any]]:
    """The listing record and the status detail of one dossier."""
    msdn = _msdn(d)
    kind = next((code for word, code in ENTERPRISE_TYPES.items() if word in d.applicant_name), "KHAC")
    listed = {
        "IN_JOURNAL_NO": int(d.dossier_no),
        "DOCUMENT_TYPE": DOCUMENT_TYPES[d.procedure_code],
        "ENTERPRISE_CODE": f"E{msdn}",
        "ENTERPRISE_GDT_CODE": msdn,
        "NAME": d.applicant_name,
        "SITE_ID": SITE_ID,
        "RECEIPT_DATE": _when(d.received_at or d.submitted_at),
        "PLAN_DATE": _when(d.due_at),
        "PROCESS_STATUS": PROCESS_STATUSES[d.status],
    }
    detail = {
        **listed,
        "ENTERPRISE_TYPE_ID": kind,
        "REGISTRATION_DATE": _when(d.finished_at) if d.status in (9, 10) else None,
        "SUPPLEMENT_DATE": None,
        "SUBMISSION_TYPE": "TRUC_TUYEN" if d.channel == 2 else "TRUC_TIEP",
        "CONTACT_FULL_NAME": d.applicant_name,
        "CONTACT_ADDRESS": "Hà Nội",
        "CONTACT_ID_NO": d.applicant_id_no or "",
        "CONTACT_PHONE": d.phone or "",
        "CONTACT_EMAIL": d.email or "",
    }
    return listed, detail


def _enterprise(msdn: str, name: str, first_seen: date) -> dict[str, Any]:
    """``chiTietDoanhNghiep``'s ``MainInformation``, derived from the code alone (the same on every load)."""
    rng = random.Random(f"enterprise:{msdn}")
    founded = first_seen - timedelta(days=rng.randint(0, 3650))
    street = rng.choice(_STREETS)
    return {
        "ENTERPRISE_ID": int(msdn[-8:]),
        "ENTERPRISE_GDT_CODE": msdn,
        "ENTERPRISE_TYPE_NAME": "Công ty cổ phần" if "Cổ phần" in name else "Công ty trách nhiệm hữu hạn",
        "NAME": name,
        "FOUNDING_DATE": founded.strftime("%d/%m/%Y"),
        "ENTERPRISE_STATUS": "1",
        "HOAddress": {
            "CityID": 1,
            "CityName": "Thành phố Hà Nội",
            "StreetNumber": f"Số {rng.randint(1, 300)} {street}",
        },
    }


class BusinessRegistrationStore:
    """SQLite-backed dossiers and enterprises of the double."""

    def __init__(self, path: str | Path, code_tables: Any | None = None) -> None:
        self.db = SqliteDatabase(path, f"{SCHEMA};{LOADED_DAYS_SCHEMA}")
        self.tables = code_tables if code_tables is not None else tables()

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Generate and store every day in ``[first, last]`` not held yet; returns the dossiers added."""
        return load_days(self.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        rows, enterprises = [], {}
        for d in held_dossiers(day, scale, seed, self.tables):
            listed, detail = _records(d)
            msdn = listed["ENTERPRISE_GDT_CODE"]
            enterprises.setdefault(msdn, _enterprise(msdn, d.applicant_name, day))
            received = (d.received_at or d.submitted_at).astimezone(VN_TZ).date().isoformat()
            rows.append((int(d.dossier_no), received, msdn, _dump(listed), _dump(detail)))
        conn.executemany("INSERT OR IGNORE INTO dossiers VALUES (?,?,?,?,?)", rows)
        conn.executemany(
            "INSERT OR IGNORE INTO enterprises VALUES (?,?)", [(k, _dump(v)) for k, v in enterprises.items()]
        )
        return len(rows)

    def page(self, first: date, last: date, offset: int, limit: int) -> list[dict[str, Any]]:
        """Dossiers received on a day in ``[first, last]``, by receipt number."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT listed FROM dossiers WHERE receipt_day BETWEEN ? AND ? ORDER BY in_journal_no LIMIT ? OFFSET ?",
                (first.isoformat(), last.isoformat(), limit, offset),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def detail(self, number: int) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT detail FROM dossiers WHERE in_journal_no=?", (number,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def enterprise(self, msdn: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT body FROM enterprises WHERE msdn=?", (msdn,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def numbers(self, first: date, last: date) -> list[str]:
        """Every receipt number of the days ``[first, last]`` (sandbox export)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT in_journal_no FROM dossiers WHERE receipt_day BETWEEN ? AND ? ORDER BY 1",
                (first.isoformat(), last.isoformat()),
            ).fetchall()
        return [str(number) for (number,) in rows]


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

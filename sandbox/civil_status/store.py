"""What the civil-status simulator holds: interconnected dossiers the hub pushed, and registrations
made directly on the Ministry of Justice's software that the city system never saw.

Pushed dossiers (``LIEN_THONG``) are keyed by dossier number: pushing one again stores nothing and
answers what is held (idempotent). They move along a path decided by their number -- one in ten
needs a supplement first (1 -> 2 -> 3 -> 4), the others go 1 -> 3 -> 4 -- one step per
``advance()``, which the sandbox exposes so tests and the demo decide when the ministry works.

Ministry-software registrations (``PHAN_MEM_BO``) come from
:func:`sandbox.ministry_dossiers.ministry_dossiers` over the civil-status procedures (field HT).
ASSUMPTION: the code tables mark no civil-status procedure as processed on ministry software, yet
communes register births, marriages and deaths on the ministry's shared civil-status software; the
simulator holds such registrations so that the pull-back (``dsHoSoDangKy``) has something to bring
back. Only dossiers the generator resolved (portal status 9/10) count as registered.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mappings.civil_status import to_ho_so
from mappings.code_tables import ProcedureRow
from mappings.dossier import VN_TZ, Dossier
from sandbox.ministry_dossiers import LOADED_DAYS_SCHEMA, canonical_ministry_dossiers, load_days
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["ON_MINISTRY_SOFTWARE", "PARTNER", "PUSHED", "CivilStatusStore", "held_dossiers", "is_civil_status"]

PARTNER = "civil_status"
PUSHED = "LIEN_THONG"
ON_MINISTRY_SOFTWARE = "PHAN_MEM_BO"
RECEIVED, NEEDS_SUPPLEMENT, ELIGIBLE, REGISTERED = 1, 2, 3, 4
_MESSAGES = {
    RECEIVED: "Đã tiếp nhận hồ sơ liên thông",
    NEEDS_SUPPLEMENT: "Đề nghị bổ sung bản sao giấy tờ tùy thân của người đi đăng ký",
    ELIGIBLE: "Hồ sơ đủ điều kiện đăng ký",
    REGISTERED: "Đã đăng ký hộ tịch",
}
_SIGNERS = ("Nguyễn Văn Hùng", "Trần Thị Mai", "Lê Quang Vinh", "Phạm Thu Hằng")

SCHEMA = """
CREATE TABLE IF NOT EXISTS civil_dossiers (
    ma_ho_so         TEXT PRIMARY KEY,
    origin           TEXT NOT NULL,
    agency           TEXT NOT NULL,
    body             TEXT NOT NULL,
    path             TEXT NOT NULL,
    step             INTEGER NOT NULL,
    received_at      TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    result           TEXT,
    registered_day   TEXT,
    registered_at    TEXT
);
CREATE INDEX IF NOT EXISTS ix_civil_registered ON civil_dossiers (registered_day, registered_at, ma_ho_so)
"""


def is_civil_status(procedure: ProcedureRow) -> bool:
    """Civil-status procedures (field HT): what the Ministry of Justice's software registers."""
    return procedure.field_code == "HT"


def held_dossiers(day: date, scale: float, seed: int, code_tables: Any) -> list[Dossier]:
    """The day's registrations made on the ministry's software: the civil-status dossiers the
    generator resolved (portal status 9/10, with a finish time); the others are not registered yet."""
    return [
        d
        for d in canonical_ministry_dossiers(
            day, scale, seed, partner=PARTNER, keep=is_civil_status, code_tables=code_tables
        )
        if d.status in (9, 10) and d.finished_at is not None
    ]


def _path(dossier_no: str) -> tuple[int, ...]:
    needs_supplement = zlib.crc32(dossier_no.encode()) % 10 == 0
    return (RECEIVED, NEEDS_SUPPLEMENT, ELIGIBLE, REGISTERED) if needs_supplement else (RECEIVED, ELIGIBLE, REGISTERED)


def _result(dossier_no: str, agency: str, at: datetime) -> dict[str, Any]:
    """The registration of a dossier, derived from its number so every run gives the same one."""
    serial = zlib.crc32(f"so-dang-ky:{dossier_no}".encode()) % 9000 + 1
    return {
        "SoDangKy": f"{serial}/{at.year}",
        "QuyenSo": f"{at.month:02d}/{at.year}",
        "NgayDangKy": at.isoformat(),
        "NguoiKy": _SIGNERS[serial % len(_SIGNERS)],
        "CoQuanDangKy": agency,
        "DuongDanKetQua": f"https://hotich.moj.test/ket-qua/{dossier_no}.pdf",
    }


class CivilStatusStore:
    """SQLite-backed dossiers of the simulator; values are kept as the contract's (JSON, ISO dates)."""

    def __init__(self, path: str | Path, code_tables: Any | None = None) -> None:
        self.db = SqliteDatabase(path, f"{SCHEMA};{LOADED_DAYS_SCHEMA}")
        self.tables = code_tables if code_tables is not None else tables()

    # -- pushed dossiers ----------------------------------------------------------------------

    def register(self, dossier: dict[str, Any], caller: str, now: datetime) -> tuple[dict[str, Any], bool]:
        """Store a pushed dossier unless held; returns (the held row, whether it already existed)."""
        number = dossier["MaHoSo"]
        body = json.dumps(dossier, ensure_ascii=False, default=str)
        path = ",".join(map(str, _path(number)))
        with self.db.transaction() as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO civil_dossiers (ma_ho_so, origin, agency, body, path, step, received_at,"
                " updated_at) VALUES (?,?,?,?,?,0,?,?)",
                (number, PUSHED, caller, body, path, now.isoformat(), now.isoformat()),
            ).rowcount
        found = self.get(number)
        assert found is not None  # just written or already there
        return found, not inserted

    def advance(self, now: datetime) -> list[str]:
        """Move every pushed dossier not yet registered one step along its path."""
        moved = []
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT ma_ho_so, agency, body, path, step FROM civil_dossiers"
                " WHERE origin=? AND registered_day IS NULL ORDER BY ma_ho_so",
                (PUSHED,),
            ).fetchall()
            for number, _caller, body, path, step in rows:
                statuses = [int(s) for s in path.split(",")]
                step += 1
                result = registered_day = registered_at = None
                if statuses[step] == REGISTERED:
                    agency = json.loads(body)["DonViXuLy"]
                    result = json.dumps(_result(number, agency, now), ensure_ascii=False)
                    registered_day, registered_at = now.date().isoformat(), now.isoformat()
                conn.execute(
                    "UPDATE civil_dossiers SET step=?, updated_at=?, result=?, registered_day=?, registered_at=?"
                    " WHERE ma_ho_so=?",
                    (step, now.isoformat(), result, registered_day, registered_at, number),
                )
                moved.append(number)
        return moved

    # -- registrations on the ministry's software ---------------------------------------------

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Generate the ministry-software registrations of every day in ``[first, last]`` not held yet."""
        return load_days(self.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        rows = []
        for d in held_dossiers(day, scale, seed, self.tables):
            assert d.finished_at is not None  # registered, so finished
            body = {**to_ho_so(d), "NgayNopHoSo": d.submitted_at.isoformat(), "NgayHenTra": None, "TaiLieu": []}
            at = d.finished_at.astimezone(VN_TZ)
            rows.append(
                (
                    d.dossier_no,
                    ON_MINISTRY_SOFTWARE,
                    d.handling_agency,
                    json.dumps(body, ensure_ascii=False),
                    str(REGISTERED),
                    0,
                    d.submitted_at.isoformat(),
                    at.isoformat(),
                    json.dumps(_result(d.dossier_no, d.handling_agency, at), ensure_ascii=False),
                    at.date().isoformat(),
                    at.isoformat(),
                )
            )
        conn.executemany("INSERT OR IGNORE INTO civil_dossiers VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    # -- reads --------------------------------------------------------------------------------

    def get(self, dossier_no: str) -> dict[str, Any] | None:
        """The held dossier: ``number, origin, body, status, message, received_at, updated_at, result``."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT ma_ho_so, origin, body, path, step, received_at, updated_at, result FROM civil_dossiers"
                " WHERE ma_ho_so=?",
                (dossier_no,),
            ).fetchone()
        return _row(row) if row is not None else None

    def registered(
        self, first: date, last: date, agency: str | None, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """Dossiers registered on a day in ``[first, last]`` (of ``agency``; all when None), paged."""
        clauses, params = ["registered_day BETWEEN ? AND ?"], [first.isoformat(), last.isoformat()]
        if agency is not None:
            clauses.append("json_extract(body, '$.DonViXuLy') = ?")
            params.append(agency)
        where = " AND ".join(clauses)
        with self.db.read() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM civil_dossiers WHERE {where}", params).fetchone()[0]
            rows = conn.execute(
                "SELECT ma_ho_so, origin, body, path, step, received_at, updated_at, result FROM civil_dossiers"
                f" WHERE {where} ORDER BY registered_at, ma_ho_so LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return total, [_row(row) for row in rows]

    def count(self, origin: str | None = None) -> int:
        with self.db.read() as conn:
            if origin is None:
                return conn.execute("SELECT COUNT(*) FROM civil_dossiers").fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM civil_dossiers WHERE origin=?", (origin,)).fetchone()[0]


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    number, origin, body, path, step, received_at, updated_at, result = row
    status = int(path.split(",")[step])
    return {
        "number": number,
        "origin": origin,
        "body": json.loads(body),
        "status": status,
        "message": _MESSAGES[status],
        "received_at": datetime.fromisoformat(received_at),
        "updated_at": datetime.fromisoformat(updated_at),
        "result": json.loads(result) if result else None,
    }

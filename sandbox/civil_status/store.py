"""What the civil-status double holds: the registrations of the shared civil-status system, both
the interconnected dossiers one-stop desks send (``dangKyHoTich``, keyed by their one-stop number)
and those registered directly on the ministry's software, which carry only the ministry's own id.

Every registration has the ministry's numeric ``id`` (docs/interfaces.md 7.2: ``traHoSo`` takes it
as a Long) and the numeric unit code of the commune that registers it (``maDonVi``). A sent
dossier moves along a path decided by its number -- one in ten needs a supplement first
(1 -> 2 -> 3 -> 4), the others go 1 -> 3 -> 4 -- one step per :meth:`advance`, which the sandbox
exposes so tests and the demo decide when the ministry works. ``dsHoSoDangKy`` lists a registration
on the day it was created or last changed (``ngayCapNhat``); its details are given once it is
registered (status 4), as ``traDanhSachHoSo`` answers 200 (RECORD_UNCOMPLETE) before.

Direct registrations come from :func:`sandbox.ministry_dossiers.ministry_dossiers` over the
procedures the ``ministry_systems`` table gives the civil-status system (field HT). ASSUMPTION:
communes register a share of births, marriages and deaths straight on the ministry's software, so
the city system never sees them; only dossiers the generator resolved (status 9/10) count as
registered, on their finish day.
"""

from __future__ import annotations

import sqlite3
import zlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mappings.civil_status import commune_unit
from mappings.dossier import VN_TZ, Dossier
from sandbox.ministry_dossiers import LOADED_DAYS_SCHEMA, canonical_ministry_dossiers, load_days
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["MODULES", "PARTNER", "CivilStatusStore", "held_dossiers", "registration_id"]

PARTNER = "civil_status"
RECEIVED, NEEDS_SUPPLEMENT, ELIGIBLE, REGISTERED = 1, 2, 3, 4
PUSHED_IDS = 900_000_000_000  # ids of the registrations one-stop desks send: a block of their own

# The ministry's business codes ("module") per procedure (ASSUMPTION, docs/interfaces.md 7.2).
MODULES = {
    "1.001193": "KS",
    "1.000894": "KH",
    "1.000656": "KT",
    "1.004873": "TLHT",
    "1.004884": "KSL",
    "1.001022": "XNHN",
    "1.000689": "NCMC",
    "1.004859": "CCHT",
    "2.000528": "KSNN",
    "1.013801": "KSNN",
    "2.000806": "KHNN",
    "1.013802": "KHNN",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    id             INTEGER PRIMARY KEY,
    module         TEXT NOT NULL,
    ma_don_vi      TEXT NOT NULL,
    ma_ho_so       TEXT UNIQUE,
    ngay_tiep_nhan TEXT NOT NULL,
    ngay_cap_nhat  TEXT NOT NULL,
    ngay_dang_ky   TEXT,
    path           TEXT NOT NULL,
    step           INTEGER NOT NULL,
    nyc_ho_ten     TEXT NOT NULL,
    nyc_giay_to    TEXT,
    data           TEXT
);
CREATE INDEX IF NOT EXISTS ix_registrations_day ON registrations (ngay_cap_nhat, module)
"""


def registration_id(day: date, n: int) -> str:
    """The ministry's id of the n-th direct registration of a day (a number, as ``traHoSo`` takes)."""
    return f"1{day:%y%m%d}{n:05d}"


def held_dossiers(day: date, scale: float, seed: int, code_tables: Any) -> list[Dossier]:
    """The day's direct registrations: civil-status dossiers the generator resolved (status 9/10,
    with a finish time) at a commune the ministry has a unit code for on the day."""
    dossiers = canonical_ministry_dossiers(
        day, scale, seed, partner=PARTNER, number=registration_id, code_tables=code_tables
    )
    return [
        d
        for d in dossiers
        if d.status in (9, 10)
        and d.finished_at is not None
        and d.procedure_code in MODULES
        and commune_unit(d.handling_agency, day, code_tables) is not None
    ]


def _path(key: str) -> str:
    needs_supplement = zlib.crc32(key.encode()) % 10 == 0
    path = (RECEIVED, NEEDS_SUPPLEMENT, ELIGIBLE, REGISTERED) if needs_supplement else (RECEIVED, ELIGIBLE, REGISTERED)
    return ",".join(map(str, path))


def _book(registration: int, on: date) -> dict[str, str]:
    """The register entry (number, book, page), derived from the id so every run gives the same."""
    serial = zlib.crc32(f"so:{registration}".encode()) % 9000 + 1
    return {"so": f"{serial}/{on.year}", "quyenSo": f"{on.month:02d}/{on.year}", "trangSo": str(serial % 200 + 1)}


def _day(text: str | None) -> str | None:
    return date.fromisoformat(text).strftime("%d/%m/%Y") if text else None


class CivilStatusStore:
    """SQLite-backed registrations of the double."""

    def __init__(self, path: str | Path, code_tables: Any | None = None) -> None:
        self.db = SqliteDatabase(path, f"{SCHEMA};{LOADED_DAYS_SCHEMA}")
        self.tables = code_tables if code_tables is not None else tables()

    # -- registrations sent by one-stop desks (dangKyHoTich) -----------------------------------

    def register(
        self, unit: str, module: str, one_stop_no: str, received: date, applicant: tuple[str, str | None], data: str
    ) -> bool:
        """Keep a sent registration unless its one-stop number is held; True when it was new."""
        today = datetime.now(VN_TZ).date().isoformat()
        with self.db.transaction() as conn:
            next_id = conn.execute(
                "SELECT coalesce(max(id), ?) + 1 FROM registrations WHERE id > ?", (PUSHED_IDS, PUSHED_IDS)
            ).fetchone()[0]
            inserted = conn.execute(
                "INSERT OR IGNORE INTO registrations (id, module, ma_don_vi, ma_ho_so, ngay_tiep_nhan, ngay_cap_nhat,"
                " path, step, nyc_ho_ten, nyc_giay_to, data) VALUES (?,?,?,?,?,?,?,0,?,?,?)",
                (next_id, module, unit, one_stop_no, received.isoformat(), today, _path(one_stop_no), *applicant, data),
            ).rowcount
        return bool(inserted)

    def status(self, unit: str, one_stop_no: str) -> int | None:
        """The status of a sent registration; None when no registration has that number at ``unit``."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT path, step FROM registrations WHERE ma_ho_so=? AND ma_don_vi=?", (one_stop_no, unit)
            ).fetchone()
        return int(row[0].split(",")[row[1]]) if row is not None else None

    def advance(self, at: datetime) -> list[str]:
        """Move every sent registration not yet registered one step along its path."""
        day = at.astimezone(VN_TZ).date().isoformat()
        moved = []
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, ma_ho_so, path, step FROM registrations WHERE ma_ho_so IS NOT NULL AND ngay_dang_ky IS NULL"
                " ORDER BY id"
            ).fetchall()
            for registration, number, path, step in rows:
                step += 1
                registered = day if int(path.split(",")[step]) == REGISTERED else None
                conn.execute(
                    "UPDATE registrations SET step=?, ngay_cap_nhat=?, ngay_dang_ky=? WHERE id=?",
                    (step, day, registered, registration),
                )
                moved.append(number)
        return moved

    # -- registrations made on the ministry's software -------------------------------------------

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Generate the direct registrations of every day in ``[first, last]`` not held yet."""
        return load_days(self.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        rows = []
        for d in held_dossiers(day, scale, seed, self.tables):
            assert d.finished_at is not None  # registered, so finished
            registered = d.finished_at.astimezone(VN_TZ).date().isoformat()
            unit = str(int(commune_unit(d.handling_agency, day, self.tables) or 0))  # a number, as maDonVi travels
            received = (d.received_at or d.submitted_at).astimezone(VN_TZ).date().isoformat()
            citizen_id = d.applicant_id_no if d.applicant_type == 1 else None
            rows.append(
                (int(d.dossier_no), MODULES[d.procedure_code], unit, None, received, registered, registered,
                 str(REGISTERED), 0, d.applicant_name, citizen_id, None)
            )  # fmt: skip
        conn.executemany("INSERT OR IGNORE INTO registrations VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    # -- reads ---------------------------------------------------------------------------------

    def listed(self, module: str, day: date) -> list[dict[str, Any]]:
        """``dsHoSoDangKy``: the registrations of ``module`` created or changed on ``day``."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, ma_don_vi FROM registrations WHERE ngay_cap_nhat=? AND module=? ORDER BY id",
                (day.isoformat(), module),
            ).fetchall()
        return [{"id": str(registration), "maDonVi": unit} for registration, unit in rows]

    def details(self, module: str, ids: list[int]) -> list[dict[str, Any]]:
        """The registered ones among ``ids`` of ``module`` (incomplete and unknown ids are left out)."""
        marks = ",".join("?" * len(ids))
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, ma_don_vi, ma_ho_so, ngay_tiep_nhan, ngay_dang_ky, nyc_ho_ten, nyc_giay_to"
                f" FROM registrations WHERE module=? AND ngay_dang_ky IS NOT NULL AND id IN ({marks}) ORDER BY id",
                (module, *ids),
            ).fetchall()
        found = []
        for registration, unit, one_stop_no, received, registered, name, citizen_id in rows:
            found.append(
                {
                    "id": str(registration),
                    **_book(registration, date.fromisoformat(registered)),
                    "maDonVi": unit,
                    "maHoSo": one_stop_no or "",
                    "ngayTiepNhan": _day(received),
                    "ngayDangKy": _day(registered),
                    "nycHoTen": name,
                    "nycGiayToTuyThan": citizen_id or "",
                }
            )
        return found

    def count(self, *, sent: bool) -> int:
        """Registrations sent by one-stop desks (``sent``) or made directly on the ministry's software."""
        where = "ma_ho_so IS NOT NULL" if sent else "ma_ho_so IS NULL"
        with self.db.read() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM registrations WHERE {where}").fetchone()[0]

    def direct_ids(self, first: date, last: date) -> set[str]:
        """Ids of the direct registrations registered on a day in ``[first, last]`` (tests, the demo)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM registrations WHERE ma_ho_so IS NULL AND ngay_dang_ky BETWEEN ? AND ?",
                (first.isoformat(), last.isoformat()),
            ).fetchall()
        return {str(registration) for (registration,) in rows}

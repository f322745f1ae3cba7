"""SQLite persistence of what the portal simulator received: dossiers and progress entries.

Every service call is one transaction with bulk statements (``executemany``), because the hub
sends 1000-record pages and a benchmark sends hundreds of them: a per-record commit would make
the simulator, not the hub, the bottleneck being measured.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sandbox.sqlite_store import SqliteDatabase
from signing import digests

__all__ = ["NewDossier", "PortalStore", "canonical_json", "entry_hash"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
    ma_ho_so      TEXT PRIMARY KEY,
    madonvi       TEXT NOT NULL,
    ma_tthc       TEXT NOT NULL,
    don_vi_xu_ly  TEXT NOT NULL,
    trang_thai    INTEGER NOT NULL,
    ngay_nop      TEXT NOT NULL,
    ngay_nop_day  TEXT NOT NULL,
    body          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_dossiers_day ON dossiers (ngay_nop_day);
CREATE TABLE IF NOT EXISTS progress (
    ma_ho_so    TEXT NOT NULL,
    entry_hash  TEXT NOT NULL,
    thoi_diem   TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (ma_ho_so, entry_hash)
)
"""


def canonical_json(obj: Any) -> str:
    """Key-sorted compact JSON: equal content gives equal text, so "identical" is a string compare."""
    return digests.canonical_json(obj).decode()


def entry_hash(entry: dict[str, Any]) -> str:
    return digests.content_hash(entry)


@dataclass(frozen=True)
class NewDossier:
    """A validated DongBoHoSoMC record ready to be written."""

    ma_ho_so: str
    record: dict[str, Any]
    submitted: datetime

    @cached_property
    def body(self) -> str:
        """Serialised once: the service compares it with the held copy and then stores it."""
        return canonical_json(self.record)


class PortalStore:
    """Dossiers and progress entries held by the simulated portal."""

    def __init__(self, path: str | Path) -> None:
        self.db = SqliteDatabase(path, SCHEMA)

    # -- writes (called inside ``self.db.transaction()``) ------------------------------------------

    @staticmethod
    def existing_bodies(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, str]:
        """Body text of each already-held dossier among ``keys`` (one query per 900 keys)."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            found.update(conn.execute(f"SELECT ma_ho_so, body FROM dossiers WHERE ma_ho_so IN ({marks})", chunk))
        return found

    @staticmethod
    def insert(conn: sqlite3.Connection, madonvi: str, rows: Sequence[NewDossier], now: str) -> None:
        conn.executemany(
            "INSERT INTO dossiers (ma_ho_so, madonvi, ma_tthc, don_vi_xu_ly, trang_thai, ngay_nop, ngay_nop_day,"
            " body, received_at, updated_at, updated_count) VALUES (?,?,?,?,?,?,?,?,?,?,0)",
            [
                (
                    r.ma_ho_so,
                    madonvi,
                    r.record["MaTTHC"],
                    r.record["DonViXuLy"],
                    r.record["TrangThaiHoSo"],
                    r.record["NgayNopHoSo"],
                    r.submitted.date().isoformat(),
                    r.body,
                    now,
                    now,
                )
                for r in rows
            ],
        )

    @staticmethod
    def update(conn: sqlite3.Connection, rows: Sequence[NewDossier], now: str) -> None:
        conn.executemany(
            "UPDATE dossiers SET ma_tthc=?, don_vi_xu_ly=?, trang_thai=?, ngay_nop=?, ngay_nop_day=?, body=?,"
            " updated_at=?, updated_count=updated_count+1 WHERE ma_ho_so=?",
            [
                (
                    r.record["MaTTHC"],
                    r.record["DonViXuLy"],
                    r.record["TrangThaiHoSo"],
                    r.record["NgayNopHoSo"],
                    r.submitted.date().isoformat(),
                    r.body,
                    now,
                    r.ma_ho_so,
                )
                for r in rows
            ],
        )

    @staticmethod
    def existing_progress(conn: sqlite3.Connection, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        pairs = list(pairs)
        found: set[tuple[str, str]] = set()
        for ma, h in pairs:
            row = conn.execute("SELECT 1 FROM progress WHERE ma_ho_so=? AND entry_hash=?", (ma, h)).fetchone()
            if row:
                found.add((ma, h))
        return found

    @staticmethod
    def insert_progress(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str, str]], now: str) -> None:
        """Rows are (ma_ho_so, entry_hash, thoi_diem, body); duplicates are ignored by the primary key."""
        conn.executemany(
            "INSERT OR IGNORE INTO progress (ma_ho_so, entry_hash, thoi_diem, body, received_at) VALUES (?,?,?,?,?)",
            [(*row, now) for row in rows],
        )

    # -- reads -------------------------------------------------------------------------------------

    def get(self, ma_ho_so: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The stored record and its progress entries (in ``ThoiDiemXuLy`` order), or ``None``."""
        with self.db.read() as conn:
            row = conn.execute("SELECT body FROM dossiers WHERE ma_ho_so=?", (ma_ho_so,)).fetchone()
            if row is None:
                return None
            progress = [
                json.loads(body)
                for (body,) in conn.execute(
                    "SELECT body FROM progress WHERE ma_ho_so=? ORDER BY thoi_diem, rowid", (ma_ho_so,)
                )
            ]
        return json.loads(row[0]), progress

    @staticmethod
    def _day_filter(start: date | None, end: date | None) -> tuple[str, list[str]]:
        clauses, params = [], []
        if start is not None:
            clauses.append("ngay_nop_day >= ?")
            params.append(start.isoformat())
        if end is not None:
            clauses.append("ngay_nop_day <= ?")
            params.append(end.isoformat())
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def counts(self, start: date | None, end: date | None) -> list[dict[str, Any]]:
        where, params = self._day_filter(start, end)
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT ngay_nop_day, don_vi_xu_ly, ma_tthc, trang_thai, COUNT(*) FROM dossiers"
                f"{where} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                params,
            ).fetchall()
        return [
            {"day": d, "DonViXuLy": agency, "MaTTHC": proc, "TrangThaiHoSo": status, "count": n}
            for d, agency, proc, status, n in rows
        ]

    def dossiers(
        self,
        start: date | None,
        end: date | None,
        *,
        madonvi: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Held dossiers by number, optionally one unit's (``madonvi``), a page of ``limit`` after
        the number ``after`` (keyset paging: a page stays right while dossiers arrive)."""
        where, params = self._day_filter(start, end)
        clauses = [where.removeprefix(" WHERE ")] if where else []
        if madonvi is not None:
            clauses.append("madonvi = ?")
            params.append(madonvi)
        if after is not None:
            clauses.append("ma_ho_so > ?")
            params.append(after)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        page = f" LIMIT {int(limit)}" if limit is not None else ""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT ma_ho_so, trang_thai, ma_tthc, don_vi_xu_ly, ngay_nop, received_at, updated_at, updated_count"
                f" FROM dossiers{where} ORDER BY ma_ho_so{page}",
                params,
            ).fetchall()
        return [
            {
                "MaHoSo": ma,
                "TrangThaiHoSo": status,
                "MaTTHC": proc,
                "DonViXuLy": agency,
                "NgayNopHoSo": submitted,
                "received_at": received,
                "updated_at": updated_at,
                "updated_count": updated,
            }
            for ma, status, proc, agency, submitted, received, updated_at, updated in rows
        ]

    def forget(self, ma_ho_so: str) -> bool:
        """Drop a held dossier and its progress, as a portal that lost it would (the demo's lever)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM progress WHERE ma_ho_so=?", (ma_ho_so,))
            return conn.execute("DELETE FROM dossiers WHERE ma_ho_so=?", (ma_ho_so,)).rowcount > 0

    def totals(self) -> dict[str, int]:
        with self.db.read() as conn:
            dossiers = conn.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0]
            progress = conn.execute("SELECT COUNT(*) FROM progress").fetchone()[0]
        return {"dossiers": dossiers, "progress_entries": progress}

    def close(self) -> None:
        self.db.close()

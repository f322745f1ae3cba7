"""SQLite store of the city simulator: every version of every record, so listings are snapshots.

The contract promises that a record appears once per listing even if it changes while a client
pages through (docs/interfaces.md section 1). Keyset pagination alone does not give that: a
record bumped to a later ``cap_nhat_luc`` would show up again on a later page. So each change
writes a new *version* (``rev``) and marks the old one superseded; a listing pins the revision it
started at (carried in the cursor) and only sees versions current at that revision.

Records are stored as JSON text (served verbatim, never re-encoded) beside indexed columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from mappings.working_days import add_working_days
from sandbox.city_system.workflow import IN_PROCESS_STATUSES, NEXT_STEP, STEPS, LocalStates
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["CityStore", "DayConflictError", "Page", "to_us"]

VN = timezone(timedelta(hours=7))

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossier_versions (
    id             INTEGER NOT NULL,
    rev            INTEGER NOT NULL,
    superseded_rev INTEGER,
    ma_ho_so       TEXT NOT NULL,
    cap_nhat_us    INTEGER NOT NULL,
    status         INTEGER,
    body           TEXT NOT NULL,
    PRIMARY KEY (id, rev)
);
CREATE INDEX IF NOT EXISTS ix_versions_changes ON dossier_versions (cap_nhat_us, id);
CREATE INDEX IF NOT EXISTS ix_versions_open ON dossier_versions (status, cap_nhat_us, id)
    WHERE superseded_rev IS NULL;
CREATE TABLE IF NOT EXISTS defects (
    id       INTEGER PRIMARY KEY,
    ma_ho_so TEXT NOT NULL,
    defect   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS loaded_days (
    day       TEXT NOT NULL,
    scale     REAL NOT NULL,
    seed      INTEGER NOT NULL,
    records   INTEGER NOT NULL,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (day, scale, seed)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
)
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime: an exact, offset-proof sort key."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class DayConflictError(ValueError):
    """A day is already loaded from another (scale, seed): the two would collide."""


@dataclass(frozen=True)
class Page:
    """One page of a listing: record JSON texts, the last (cap_nhat_us, id) key, the pinned revision."""

    bodies: list[str]
    last_key: tuple[int, int] | None
    more: bool
    snapshot: int


class CityStore:
    """The city simulator's records, defects and revisions."""

    def __init__(self, path: str | Path, code_tables: Any | None = None) -> None:
        self.db = SqliteDatabase(path, SCHEMA)
        self._tables = code_tables
        self._states: LocalStates | None = None

    @property
    def tables(self) -> Any:
        if self._tables is None:
            self._tables = tables()
        return self._tables

    @property
    def states(self) -> LocalStates:
        if self._states is None:
            self._states = LocalStates(self.tables)
        return self._states

    # -- revisions ---------------------------------------------------------------------------------

    @staticmethod
    def _next_rev(conn: Any) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()
        rev = (row[0] if row else 0) + 1
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('rev', ?) ON CONFLICT(key) DO UPDATE SET value = ?", (rev, rev)
        )
        return rev

    def current_rev(self) -> int:
        with self.db.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()
        return row[0] if row else 0

    # -- loading -----------------------------------------------------------------------------------

    def _status(self, record: Mapping[str, Any], updated: datetime) -> int | None:
        state = record.get("trang_thai")
        return self.states.status_of(state, updated.date()) if isinstance(state, str) else None

    def load(self, records: Iterable[dict[str, Any]], defects: Mapping[int, str] | None = None) -> int:
        """Insert records not held yet (by ``id``) in one transaction; return how many were new."""
        defects = defects or {}
        records = list(records)
        if not records:
            return 0
        rows = []
        for record in records:
            updated = datetime.fromisoformat(record["cap_nhat_luc"])
            body = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            rows.append((record["id"], record["ma_ho_so"], to_us(updated), self._status(record, updated), body))
        ids = [row[0] for row in rows]
        with self.db.transaction() as conn:
            held = {
                i
                for (i,) in conn.execute(
                    "SELECT DISTINCT id FROM dossier_versions WHERE id BETWEEN ? AND ?", (min(ids), max(ids))
                )
            }
            new_rows = [row for row in rows if row[0] not in held]
            if not new_rows:
                return 0
            rev = self._next_rev(conn)
            conn.executemany(
                "INSERT INTO dossier_versions (id, rev, ma_ho_so, cap_nhat_us, status, body) VALUES (?,?,?,?,?,?)",
                [(i, rev, ma, us, status, body) for i, ma, us, status, body in new_rows],
            )
            by_id = {row[0]: row[1] for row in new_rows}
            conn.executemany(
                "INSERT OR IGNORE INTO defects (id, ma_ho_so, defect) VALUES (?,?,?)",
                [(i, by_id[i], name) for i, name in defects.items() if i in by_id],
            )
        return len(new_rows)

    def load_day(self, day: date, scale: float, seed: int) -> int:
        """Generate and load a day unless this (day, scale, seed) is already loaded; return new records."""
        from sandbox.city_system.generator import generate

        with self.db.read() as conn:
            loaded = conn.execute("SELECT scale, seed FROM loaded_days WHERE day=?", (day.isoformat(),)).fetchall()
        if (scale, seed) in loaded:
            return 0
        if loaded:
            # Another generation of the same day reuses the same ids and dossier numbers for other
            # dossiers: mixing them would make a city system no real one could be.
            other_scale, other_seed = loaded[0]
            raise DayConflictError(
                f"{day} is already loaded with scale={other_scale}, seed={other_seed}; use a fresh database"
            )
        generated = generate(day, scale, seed, code_tables=self.tables)
        count = self.load(generated.records, generated.defects)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO loaded_days (day, scale, seed, records, loaded_at) VALUES (?,?,?,?,?)",
                (day.isoformat(), scale, seed, len(generated.records), datetime.now(VN).isoformat(timespec="seconds")),
            )
        return count

    def loaded_days(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT day, scale, seed, records FROM loaded_days ORDER BY day").fetchall()
        return [{"day": d, "scale": sc, "seed": se, "records": n} for d, sc, se, n in rows]

    # -- reading -----------------------------------------------------------------------------------

    def changes(
        self, lo: int | None, hi: int | None, after: tuple[int, int] | None, snapshot: int | None, limit: int
    ) -> Page:
        """Versions current at ``snapshot`` with ``lo <= cap_nhat_us < hi``, after key ``after``."""
        with self.db.read() as conn:
            if snapshot is None:
                row = conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()
                snapshot = row[0] if row else 0
            clauses = ["rev <= :snap", "(superseded_rev IS NULL OR superseded_rev > :snap)"]
            params: dict[str, Any] = {"snap": snapshot, "n": limit + 1}
            if lo is not None:
                clauses.append("cap_nhat_us >= :lo")
                params["lo"] = lo
            if hi is not None:
                clauses.append("cap_nhat_us < :hi")
                params["hi"] = hi
            if after is not None:
                clauses.append("(cap_nhat_us > :t OR (cap_nhat_us = :t AND id > :i))")
                params["t"], params["i"] = after
            rows = conn.execute(
                "SELECT cap_nhat_us, id, body FROM dossier_versions WHERE "
                + " AND ".join(clauses)
                + " ORDER BY cap_nhat_us, id LIMIT :n",
                params,
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        last = (rows[-1][0], rows[-1][1]) if rows else None
        return Page([body for _, _, body in rows], last, more, snapshot)

    def defects(self) -> list[dict[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT ma_ho_so, defect FROM defects ORDER BY id").fetchall()
        return [{"ma_ho_so": ma, "defect": name} for ma, name in rows]

    def count(self) -> int:
        with self.db.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM dossier_versions WHERE superseded_rev IS NULL").fetchone()[0]

    # -- changing ----------------------------------------------------------------------------------

    def advance(self, count: int, at: datetime) -> list[str]:
        """Move up to ``count`` in-process dossiers (oldest change first) one workflow step, at ``at``.

        Only dossiers last changed at or before ``at`` move (history stays in time order), and
        records with a deliberate defect are left alone so ``/sandbox/defects`` stays true.
        """
        at = at.astimezone(VN)
        at_us = to_us(at)
        marks = ",".join(str(s) for s in sorted(IN_PROCESS_STATUSES))
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, rev, body FROM dossier_versions WHERE superseded_rev IS NULL"
                f" AND status IN ({marks}) AND cap_nhat_us <= ?"
                " AND id NOT IN (SELECT id FROM defects) ORDER BY cap_nhat_us, id LIMIT ?",
                (at_us, count),
            ).fetchall()
            if not rows:
                return []
            rev = self._next_rev(conn)
            new_versions = []
            moved = []
            for record_id, _old_rev, body in rows:
                record = json.loads(body)
                status = self._step_forward(record, at)
                new_versions.append(
                    (
                        record_id,
                        rev,
                        record["ma_ho_so"],
                        at_us,
                        status,
                        json.dumps(record, ensure_ascii=False, separators=(",", ":")),
                    )
                )
                moved.append(record["ma_ho_so"])
            conn.executemany(
                "UPDATE dossier_versions SET superseded_rev = ? WHERE id = ? AND rev = ?",
                [(rev, record_id, old_rev) for record_id, old_rev, _ in rows],
            )
            conn.executemany(
                "INSERT INTO dossier_versions (id, rev, ma_ho_so, cap_nhat_us, status, body) VALUES (?,?,?,?,?,?)",
                new_versions,
            )
        return moved

    def _step_forward(self, record: dict[str, Any], at: datetime) -> int:
        """Append the next workflow step to ``record`` in place; return its new portal status."""
        on = at.date()
        status = self.states.status_of(record["trang_thai"], on)
        kind = NEXT_STEP.get(status, "resume")
        step = STEPS[kind]
        stamp = at.isoformat(timespec="seconds")
        history = record["qua_trinh_xu_ly"]
        people = [h for h in history if h["chuc_danh"]]
        who = people[-1] if people else {"nguoi_xu_ly": "Cán bộ xử lý", "chuc_danh": "Chuyên viên", "phong_ban": ""}
        if kind == "receive":
            record["ngay_tiep_nhan"] = stamp
            if record["ngay_hen_tra"] is None:
                procedure = self.tables.procedures.get(record["ma_tthc"], on)
                max_days = procedure.max_days if procedure is not None else 5
                record["ngay_hen_tra"] = datetime.combine(add_working_days(on, max_days), time(17), VN).isoformat()
        if kind == "finish":
            record["ngay_ket_thuc_xu_ly"] = stamp
            if not record["ket_qua"]:
                record["ket_qua"] = [
                    {
                        "ma": "KQ1",
                        "ten": f"Văn bản kết quả {record['ten_tthc'][:1].lower()}{record['ten_tthc'][1:]}",
                        "url": f"https://ketqua.dichvucong.hanoi.test/ho-so/{record['id']}/KQ1.pdf",
                    }
                ]
        state = self.states.state_for(kind, on)
        started = history[-1]["thoi_diem"] if history else stamp
        deadline = record["ngay_hen_tra"] if kind != "receive" else None
        if deadline is not None and datetime.fromisoformat(deadline) < datetime.fromisoformat(started):
            deadline = started  # already overdue: the step's own deadline cannot precede its start
        history.append(
            {
                "stt": len(history) + 1,
                "nguoi_xu_ly": who["nguoi_xu_ly"],
                "chuc_danh": who["chuc_danh"],
                "phong_ban": who["phong_ban"],
                "thoi_diem": stamp,
                "noi_dung": step.content,
                "trang_thai": state,
                "ngay_bat_dau": started,
                "han_xu_ly": deadline,
            }
        )
        record["trang_thai"] = state
        record["cap_nhat_luc"] = stamp
        return step.status

    def close(self) -> None:
        self.db.close()

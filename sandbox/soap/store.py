"""What a SOAP simulator received and answered, kept in SQLite like the portal simulator's store.

Every envelope is written with the reply sent for it (or the fault), so a test can check what the
hub actually put on the wire -- validate it against the XSD, count calls to prove a re-run sent
nothing -- and a partner simulator can answer idempotently by correlation id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.sqlite_store import SqliteDatabase

__all__ = ["SoapMessageStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    operation   TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    fault_code  INTEGER,
    request     BLOB NOT NULL,
    reply       BLOB
);
CREATE INDEX IF NOT EXISTS ix_received_operation ON received (operation)
"""


class SoapMessageStore:
    """Append-only log of the envelopes a simulator received (``outcome``: ok, fault, or the injected fault)."""

    def __init__(self, path: str | Path) -> None:
        self.db = SqliteDatabase(path, SCHEMA)

    def record(
        self, operation: str, client_ip: str, outcome: str, request: bytes, reply: bytes | None, fault_code: int | None
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO received (received_at, operation, client_ip, outcome, fault_code, request, reply)"
                " VALUES (?,?,?,?,?,?,?)",
                (datetime.now(UTC).isoformat(), operation, client_ip, outcome, fault_code, request, reply),
            )

    def items(self, operation: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` envelopes (of ``operation``), oldest first, bodies as text."""
        where, params = ("WHERE operation = ?", [operation]) if operation else ("", [])
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, received_at, operation, outcome, fault_code, request, reply FROM received"
                f" {where} ORDER BY id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [
            {
                "id": row_id,
                "received_at": at,
                "operation": op,
                "outcome": outcome,
                "fault_code": code,
                "request": request.decode("utf-8", "replace"),
                "reply": reply.decode("utf-8", "replace") if reply is not None else None,
            }
            for row_id, at, op, outcome, code, request, reply in reversed(rows)
        ]

    def counts(self) -> dict[str, dict[str, int]]:
        """Calls per operation and outcome."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT operation, outcome, COUNT(*) FROM received GROUP BY 1, 2").fetchall()
        counts: dict[str, dict[str, int]] = {}
        for operation, outcome, n in rows:
            counts.setdefault(operation, {})[outcome] = n
        return counts

    def close(self) -> None:
        self.db.close()

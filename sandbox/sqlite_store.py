"""One SQLite connection per simulator, serialised by a lock, with explicit transactions.

Why one connection and a lock rather than a pool: the simulators write in bulk (a whole page of
1000 records per transaction), SQLite allows one writer anyway, and a single connection makes
"one transaction per call" trivially true. WAL mode lets a second process (the runner loading a
day, a test peeking at the file) read while the server writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SqliteDatabase"]


class SqliteDatabase:
    """A lock-protected SQLite connection with ``transaction()`` and ``read()`` scopes."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves.
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA temp_store=MEMORY")
        # Statement by statement: executescript() would commit behind our back.
        with self.transaction() as conn:
            for statement in _split(schema):
                conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one write transaction, lock held throughout."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (deferred transaction) under the lock."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _split(schema: str) -> list[str]:
    """Split a schema of simple DDL statements (no triggers) on ``;``."""
    return [part.strip() for part in schema.split(";") if part.strip()]

"""The message log: append-only, hash-chained, sealed evidence of every exchange with a partner.

Each entry's hash covers the previous one (``signing.evidence`` defines what is hashed, so the
store that appends, the command that verifies and a third party all compute the same), bodies
are kept content-addressed, and a seal signs a Merkle root over a run of entry hashes. There is
deliberately no update or delete anywhere: the log is evidence. The reading methods are what
``signing.evidence.verify_chain`` and ``export_bundle`` ask of a log reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.engine import Connection, Dialect

from hub.store import schema as t
from hub.store.database import Database, bind_processors, chunks, utc
from hub.store.records import IntentState, LoggedEntry, LogHead, LogSeal, MessageLogEntry, OpenIntent
from signing import evidence
from signing.keys import SigningIdentity

# The outcome of an entry chained for a request whose reply was never recorded (its process died).
UNKNOWN_OUTCOME = "unknown"
# Where an append transaction collects the certificates it inserted (``Connection.info``).
_INSERTED_CERTIFICATES = "hub.message_log.inserted_certificates"


class MessageLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Certificates this process saw committed: the same few (hub, partner, CAs) come with every
        # exchange, and parsing them again for every call would cost more than the call's commit.
        self._certificates_kept: set[str] = set()
        # The statements every partner call runs, as the driver's own SQL (see _DriverSql).
        self._sql = _DriverSql(db.engine.dialect)

    def refuse_unchained(self) -> None:
        """A store created before the log was hash-chained has a ``message_log`` without ``seq``.

        ``create_all`` would leave it as it is and every append would then fail obscurely; the
        old rows are digests only and cannot be chained after the fact, so say what to do.
        """
        inspector = sa.inspect(self.db.engine)
        if inspector.has_table("message_log"):
            columns = {c["name"] for c in inspector.get_columns("message_log")}
            if "seq" not in columns:
                raise RuntimeError(
                    "this hub store has a message_log from before the evidence log (no seq/entry_hash "
                    "columns); rename or drop that table (ALTER TABLE message_log RENAME TO "
                    "message_log_v0) and the hub creates the hash-chained log on its next start"
                )

    def append(
        self,
        exchanges: Sequence[MessageLogEntry],
        *,
        seal: SigningIdentity | None = None,
        snapshot_batches: bool = True,
    ) -> list[int]:
        """Append exchanges to the hash-chained log in one transaction; returns their ``seq``.

        There is deliberately no update or delete: the log is evidence. Everything that costs
        CPU (digests, certificate parsing) happens before the lock; under it, one read of the
        head, one bulk insert per table and one head update, so concurrent mapped tasks queue
        for milliseconds per batch, not per entry. An exchange id already in the log is skipped,
        so appending the same exchanges twice adds nothing. The same transaction removes the
        exchanges' write-ahead intents (:meth:`open_intent`): from then on the chain holds them.

        With ``seal`` (the hub's signing identity) the same transaction seals everything not yet
        sealed -- normally just this batch -- with one signature over a Merkle root.
        ``snapshot_batches`` false skips noting which dossiers the entries' outbox batches carry: a
        caller appending a batch's exchanges one by one notes them once, not once per call.
        """
        if not exchanges:
            return []
        prepared = [_prepare_log_row(e) for e in exchanges]
        with self._log_append() as conn:
            batch_ids = sorted({e.batch_id for e in exchanges if e.batch_id}) if snapshot_batches else []
            seqs = self._append_in(conn, prepared, batch_ids)
            if seal is not None and seqs:
                self._seal_pending(conn, self._locked_head(conn), seal, self.db.now())
        return seqs

    def _append_in(
        self,
        conn: Connection,
        prepared: list[_Prepared],
        batch_ids: list[str],
        more_bodies: Mapping[str, bytes] | None = None,
    ) -> list[int]:
        """Chain the prepared rows not yet in the log, inside the caller's append transaction.

        ``more_bodies`` are kept with the entries' own in the same statement (the request body of
        the intent :meth:`open_intent` opens in the same transaction). Every call runs this: its
        statements are the driver's own SQL, at most six of them (lock the head, look the ids up,
        insert the bodies and the entries, drop their intents, move the head).
        """
        sql = self._sql
        head = self._locked_head(conn)
        known: set[str] = set()
        ids = [row["exchange_id"] for row, _, _ in prepared]
        for chunk in chunks(ids):
            known.update(exchange_id for (exchange_id,) in sql.run(conn, sql.logged_ids(len(chunk)), chunk))
        fresh = [row for row, _, _ in prepared if row["exchange_id"] not in known]
        bodies: dict[str, bytes] = {}
        certificates: dict[str, bytes] = {}
        for _row, entry_bodies, entry_certs in prepared:
            bodies.update(entry_bodies)
            certificates.update(entry_certs)
        if not fresh:
            self._insert_bodies(conn, dict(more_bodies or {}))
            return []
        seq, prev_hash = head.seq, head.entry_hash
        now = self.db.now()
        for row in fresh:
            seq += 1
            row.update(seq=seq, logged_at=now, prev_hash=prev_hash)
            row["entry_hash"] = prev_hash = evidence.entry_hash(prev_hash, evidence.entry_fields(row))
        self._insert_bodies(conn, {**bodies, **(more_bodies or {})})
        self._insert_certificates(conn, certificates, now)
        for chunk in chunks(fresh, 50):
            sql.insert_rows(conn, t.message_log, chunk)
        for chunk in chunks([row["exchange_id"] for row in fresh]):
            sql.run(conn, sql.drop_sending_intents(len(chunk)), [*chunk, IntentState.SENDING.value])
        self._set_head(conn, seq=seq, entry_hash=prev_hash, updated_at=now)
        if batch_ids:
            self._snapshot_batch_dossiers(conn, batch_ids)
        return [row["seq"] for row in fresh]

    # ----------------------------------------------------------------- write-ahead intents

    def open_intent(
        self,
        exchange: MessageLogEntry,
        owner: str,
        *,
        finished: Sequence[MessageLogEntry] = (),
        snapshot_batches: bool = True,
    ) -> None:
        """Commit what is about to be sent -- its exact request bytes included -- before it is sent.

        ``exchange`` is the request side of an entry (no response yet); ``owner`` names the
        sending process (``host:pid``) so that a later run can tell a dead sender from a live one.
        ``finished`` are exchanges that returned since the last request went out: they are chained
        (as :meth:`append` would) in the same transaction, so a call costs one commit, and each
        exchange is still in the log before the next request leaves.
        """
        row, bodies, _certificates = _prepare_log_row(exchange)
        chained = [_prepare_log_row(e) for e in finished]
        with self._log_append() as conn:
            if chained:
                batch_ids = sorted({e.batch_id for e in finished if e.batch_id}) if snapshot_batches else []
                self._append_in(conn, chained, batch_ids, more_bodies=bodies)
            else:
                self._insert_bodies(conn, bodies)
            intent = {name: value for name, value in row.items() if name in t.message_intent.c}
            self._sql.insert_rows(
                conn, t.message_intent, [{**intent, "owner": owner, "state": IntentState.SENDING.value}]
            )

    def open_intents(self, partner: str | None = None) -> list[OpenIntent]:
        """Requests whose outcome the chain does not hold yet (sending or unknown), oldest first."""
        mi = t.message_intent
        query = sa.select(mi).where(mi.c.state != IntentState.RESOLVED.value).order_by(mi.c.started_at)
        if partner is not None:
            query = query.where(mi.c.partner == partner)
        with self.db.engine.connect() as conn:
            return [_open_intent(row._mapping) for row in conn.execute(query)]

    def mark_unknown(self, exchange_ids: Sequence[str], error: str) -> list[int]:
        """Chain the given intents, still unlogged, as entries with outcome "unknown"; their ``seq``.

        For requests whose sending process died: the partner may have acted on them, so the log
        must say they were sent even though no reply was recorded. Under the append lock, so an
        exchange that its own process logged meanwhile is left alone (its intent is gone).
        """
        if not exchange_ids:
            return []
        mi = t.message_intent
        with self._log_append() as conn:
            rows: list[Any] = []
            for chunk in chunks(list(exchange_ids)):
                rows.extend(
                    conn.execute(
                        sa.select(mi).where(mi.c.exchange_id.in_(chunk), mi.c.state == IntentState.SENDING.value)
                    ).mappings()
                )
            if not rows:
                return []
            kept = self._bodies_in(conn, [r["request_digest"] for r in rows])
            entries = [_unknown_entry(r, kept.get(r["request_digest"]), error) for r in rows]
            for chunk in chunks([r["exchange_id"] for r in rows]):
                conn.execute(mi.update().where(mi.c.exchange_id.in_(chunk)).values(state=IntentState.UNKNOWN.value))
            seqs = self._append_in(
                conn, [_prepare_log_row(e) for e in entries], sorted({e.batch_id for e in entries if e.batch_id})
            )
            for entry, seq in zip(entries, seqs, strict=True):
                conn.execute(mi.update().where(mi.c.exchange_id == entry.exchange_id).values(seq=seq))
        return seqs

    def unknown_outcomes(self, partner: str) -> list[OpenIntent]:
        """A partner's exchanges chained with outcome "unknown" and not resolved, with their request bytes."""
        mi = t.message_intent
        query = sa.select(mi).where(mi.c.partner == partner, mi.c.state == IntentState.UNKNOWN.value).order_by(mi.c.seq)
        with self.db.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
            bodies = self._bodies_in(conn, [r["request_digest"] for r in rows])
        return [_open_intent(r, bodies.get(r["request_digest"])) for r in rows]

    def resolve(self, resolutions: Mapping[str, str]) -> int:
        """Record what became of unknown exchanges (exchange id -> how it was found out); how many."""
        if not resolutions:
            return 0
        mi, now, resolved = t.message_intent, self.db.now(), 0
        with self.db.engine.begin() as conn:
            for exchange_id, resolution in resolutions.items():
                resolved += conn.execute(
                    mi.update()
                    .where(mi.c.exchange_id == exchange_id, mi.c.state == IntentState.UNKNOWN.value)
                    .values(state=IntentState.RESOLVED.value, resolution=resolution, resolved_at=now)
                ).rowcount
        return resolved

    def _bodies_in(self, conn: Connection, digests: Sequence[str]) -> dict[str, bytes]:
        mb, found = t.message_body, {}
        for chunk in chunks(sorted(set(digests)), 50):
            found.update(
                (d, bytes(b)) for d, b in conn.execute(sa.select(mb.c.digest, mb.c.body).where(mb.c.digest.in_(chunk)))
            )
        return found

    def seal(self, identity: SigningIdentity) -> LogSeal | None:
        """Seal every entry not yet covered by a seal (one signature); None when there is none.

        For logs appended without a key at hand: run it periodically (or from ``hub evidence
        seal``) and the unsealed tail is closed by one signature.
        """
        with self._log_append() as conn:
            return self._seal_pending(conn, self._locked_head(conn), identity, self.db.now())

    def _locked_head(self, conn: Connection) -> LogHead:
        """Read the head inside the append transaction, locking it on PostgreSQL (``FOR UPDATE``).

        The very first append finds no row to lock on PostgreSQL: it creates the row (a concurrent
        first appender waits on its primary key, then finds it) and reads it again, locked, so
        every appender serialises on the same row. SQLite's write lock is already held
        (``BEGIN IMMEDIATE``); its first append inserts the row with the head (:meth:`_set_head`).
        """
        sql = self._sql
        row = sql.run(conn, sql.head).fetchone()
        if row is None and sql.dialect.name != "sqlite":
            conn.execute(
                self.db.insert(t.message_log_head)
                .values(id=1, seq=0, entry_hash=evidence.GENESIS_HASH, updated_at=self.db.now())
                .on_conflict_do_nothing(index_elements=["id"])
            )
            row = sql.run(conn, sql.head).fetchone()
        return LogHead(0, evidence.GENESIS_HASH, 0) if row is None else LogHead(int(row[0]), row[1], int(row[2]))

    def _set_head(self, conn: Connection, **values: Any) -> None:
        h = t.message_log_head
        if not self._sql.update_head(conn, values):
            conn.execute(sa.insert(h), {"id": 1, "seq": 0, "entry_hash": evidence.GENESIS_HASH, **values})

    def _seal_pending(
        self, conn: Connection, head: LogHead, identity: SigningIdentity, now: datetime
    ) -> LogSeal | None:
        if head.seq <= head.sealed_seq:
            return None
        ml, ls = t.message_log, t.log_seal
        hashes = list(
            conn.execute(
                sa.select(ml.c.entry_hash).where(ml.c.seq > head.sealed_seq, ml.c.seq <= head.seq).order_by(ml.c.seq)
            ).scalars()
        )
        batch = evidence.sign_seal(hashes, identity)
        chain = evidence.signature_certificates(batch.jws)
        seal = LogSeal(
            id=int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(ls.c.id), 0))).scalar_one()) + 1,
            first_seq=head.sealed_seq + 1,
            last_seq=head.seq,
            root=batch.root.hex(),
            signature=batch.jws,
            signer=evidence.fingerprint(chain[0]) if chain else None,
            sealed_at=now,
        )
        self._insert_certificates(conn, {evidence.fingerprint(der): der for der in chain}, now)
        conn.execute(sa.insert(ls), vars(seal))
        self._set_head(conn, sealed_seq=head.seq, updated_at=now)
        return seal

    def log_seals(self, *, covering: Sequence[int] | None = None) -> list[LogSeal]:
        """All seals in order, or only those covering the given sequence numbers."""
        ls = t.log_seal
        query = sa.select(ls).order_by(ls.c.first_seq)
        if covering is not None:
            wanted = sorted(set(covering))
            if not wanted:
                return []
            query = query.where(ls.c.first_seq <= wanted[-1], ls.c.last_seq >= wanted[0])
        with self.db.engine.connect() as conn:
            seals = [_log_seal(row._mapping) for row in conn.execute(query)]
        if covering is None:
            return seals
        return [s for s in seals if any(s.first_seq <= q <= s.last_seq for q in wanted)]

    def log_entry_hashes(self, first_seq: int, last_seq: int) -> list[str]:
        """Entry hashes of a range in order: the leaves of the seal over that range."""
        ml = t.message_log
        with self.db.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(ml.c.entry_hash).where(ml.c.seq >= first_seq, ml.c.seq <= last_seq).order_by(ml.c.seq)
                ).scalars()
            )

    @contextmanager
    def _log_append(self) -> Iterator[Connection]:
        """A transaction that holds the log's append lock, once taken, until it commits; the
        certificates it inserted are remembered once it has committed (never before: a rollback
        would lose them).

        PostgreSQL: the lock is the head row, read ``FOR UPDATE`` by :meth:`_locked_head` before
        anything of the chain is read. SQLite: ``Database.writing`` takes the database's write lock
        before the first read, so two processes cannot both read the same head.
        """
        inserted: set[str] = set()
        with self.db.writing() as conn:
            conn.info[_INSERTED_CERTIFICATES] = inserted
            try:
                yield conn
            finally:
                conn.info.pop(_INSERTED_CERTIFICATES, None)
        self._certificates_kept |= inserted

    def _insert_bodies(self, conn: Connection, bodies: dict[str, bytes]) -> None:
        """Content-addressed: a body already kept (a resend of the same bytes) is not stored again."""
        rows = [{"digest": d, "size": len(b), "body": b} for d, b in bodies.items()]
        for chunk in chunks(rows, 50):
            self._sql.insert_rows(conn, t.message_body, chunk, key="digest")

    def _insert_certificates(self, conn: Connection, certificates: dict[str, bytes], now: datetime) -> None:
        fresh = {fp: der for fp, der in certificates.items() if fp not in self._certificates_kept}
        if fresh:
            conn.execute(
                self.db.insert(t.certificate).on_conflict_do_nothing(index_elements=["fingerprint"]),
                [
                    {"fingerprint": fp, "der": der, "subject": _subject(der), "first_seen": now}
                    for fp, der in fresh.items()
                ],
            )
            conn.info[_INSERTED_CERTIFICATES].update(fresh)

    def _snapshot_batch_dossiers(self, conn: Connection, batch_ids: list[str]) -> None:
        ob, link = t.outbox, t.message_log_dossier
        for chunk in chunks(batch_ids):
            conn.execute(
                self.db.insert(link)
                .from_select(
                    ["batch_id", "dossier_no"],
                    sa.select(ob.c.batch_id, ob.c.dossier_no).where(ob.c.batch_id.in_(chunk)).distinct(),
                )
                .on_conflict_do_nothing(index_elements=["batch_id", "dossier_no"])
            )

    def log_head(self) -> LogHead | None:
        """The newest entry and the last sealed one, as the head row records them; None when empty."""
        h = t.message_log_head
        with self.db.engine.connect() as conn:
            row = conn.execute(sa.select(h.c.seq, h.c.entry_hash, h.c.sealed_seq).where(h.c.id == 1)).one_or_none()
        return None if row is None or row.seq == 0 else LogHead(int(row[0]), row[1], int(row[2]))

    def iter_log(
        self, *, after_seq: int = 0, until_seq: int | None = None, chunk: int = 500
    ) -> Iterator[list[LoggedEntry]]:
        """Entries in ``seq`` order, keyset-paged so the whole log never sits in memory."""
        ml = t.message_log
        while True:
            query = sa.select(ml).where(ml.c.seq > after_seq).order_by(ml.c.seq).limit(chunk)
            if until_seq is not None:
                query = query.where(ml.c.seq <= until_seq)
            with self.db.engine.connect() as conn:
                page = [_logged_entry(row._mapping) for row in conn.execute(query)]
            if not page:
                return
            yield page
            after_seq = page[-1].seq

    def log_entries(self, seqs: Sequence[int]) -> list[LoggedEntry]:
        ml = t.message_log
        found: list[LoggedEntry] = []
        with self.db.engine.connect() as conn:
            for chunk in chunks(sorted(set(seqs))):
                found.extend(_logged_entry(r._mapping) for r in conn.execute(sa.select(ml).where(ml.c.seq.in_(chunk))))
        return sorted(found, key=lambda e: e.seq)

    def log_seqs(self, *, exchange_id: str | None = None, dossier_no: str | None = None) -> list[int]:
        """Entries of one exchange, or of every batch that carried a dossier (any partner, any attempt).

        A dossier's batches are found through the snapshot taken when they were logged and,
        for batches logged before that snapshot existed, through the outbox.
        """
        ml = t.message_log
        if (exchange_id is None) == (dossier_no is None):
            raise ValueError("give exactly one of exchange_id and dossier_no")
        if exchange_id is not None:
            query = sa.select(ml.c.seq).where(ml.c.exchange_id == exchange_id)
        else:
            batches = sa.union(
                sa.select(t.message_log_dossier.c.batch_id).where(t.message_log_dossier.c.dossier_no == dossier_no),
                sa.select(t.outbox.c.batch_id).where(
                    t.outbox.c.dossier_no == dossier_no, t.outbox.c.batch_id.isnot(None)
                ),
            )
            query = sa.select(ml.c.seq).where(ml.c.batch_id.in_(batches))
        with self.db.engine.connect() as conn:
            return sorted(int(s) for s in conn.execute(query.order_by(ml.c.seq)).scalars())

    def message_bodies(self, digests: Sequence[str]) -> dict[str, bytes]:
        with self.db.engine.connect() as conn:
            return self._bodies_in(conn, digests)

    def certificates(self, fingerprints: Sequence[str]) -> dict[str, bytes]:
        c = t.certificate
        found: dict[str, bytes] = {}
        with self.db.engine.connect() as conn:
            for chunk in chunks(list(fingerprints)):
                found.update(
                    (f, bytes(d))
                    for f, d in conn.execute(sa.select(c.c.fingerprint, c.c.der).where(c.c.fingerprint.in_(chunk)))
                )
        return found

    def count_exchanges(self, partner: str, since: datetime | None = None) -> dict[str, int]:
        ml = t.message_log
        query = sa.select(ml.c.operation, sa.func.count()).where(ml.c.partner == partner).group_by(ml.c.operation)
        if since is not None:
            query = query.where(ml.c.started_at >= utc(since))
        with self.db.engine.connect() as conn:
            return {op: int(n) for op, n in conn.execute(query)}


_Prepared = tuple[dict[str, Any], dict[str, bytes], dict[str, bytes]]


def _prepare_log_row(e: MessageLogEntry) -> _Prepared:
    """The columns of one entry (without its place in the chain), its bodies and certificates.

    Bodies given with an entry must match its digests: the log must never commit to bytes it
    does not hold.
    """
    bodies: dict[str, bytes] = {}
    kept = e.request_body is not None
    if kept:
        for side, body, digest, size in (
            ("request", e.request_body, e.request_digest, e.request_bytes),
            ("response", e.response_body, e.response_digest, e.response_bytes),
        ):
            if (body is None) != (digest is None):
                raise ValueError(f"exchange {e.exchange_id}: {side} body and digest must be given together")
            if body is not None:
                if evidence.sha256_hex(body) != digest or len(body) != size:
                    raise ValueError(f"exchange {e.exchange_id}: the {side} body does not match its digest or size")
                bodies[digest] = body
    certificates: dict[str, bytes] = {}
    signers: dict[str, str | None] = {}
    for side, token in (("request", e.request_signature), ("response", e.response_signature)):
        chain = evidence.signature_certificates(token)
        signers[side] = evidence.fingerprint(chain[0]) if chain else None
        certificates.update((evidence.fingerprint(der), der) for der in chain)
    row = {
        "exchange_id": e.exchange_id,
        "partner": e.partner,
        "operation": e.operation,
        "direction": e.direction,
        "method": e.method,
        "url": e.url,
        "attempt": e.attempt,
        "batch_id": e.batch_id,
        "record_count": e.record_count,
        "request_digest": e.request_digest,
        "response_digest": e.response_digest,
        "request_bytes": e.request_bytes,
        "response_bytes": e.response_bytes,
        "bodies_kept": kept,
        "redacted": e.redacted,
        "http_status": e.http_status,
        "outcome": e.outcome,
        "error": e.error,
        "request_signature": e.request_signature,
        "request_signature_digest": _token_digest(e.request_signature),
        "request_signer": signers["request"],
        "response_signature": e.response_signature,
        "response_signature_digest": _token_digest(e.response_signature),
        "response_signer": signers["response"],
        "started_at": utc(e.started_at),
        # Microsecond precision is what the entry hash covers; store exactly that.
        "duration_ms": round(e.duration_ms * 1000) / 1000,
    }
    return row, bodies, certificates


def _unknown_entry(intent: Mapping[str, Any], body: bytes | None, error: str) -> MessageLogEntry:
    """The entry of a request whose reply was never recorded: sent, outcome unknown, no response."""
    request_side = {f.name: intent[f.name] for f in fields(MessageLogEntry) if f.name in intent}
    return MessageLogEntry(
        **{**request_side, "started_at": utc(intent["started_at"])},
        response_digest=None,
        response_bytes=None,
        http_status=None,
        outcome=UNKNOWN_OUTCOME,
        error=error,
        duration_ms=0.0,
        request_body=body,
    )


def _open_intent(columns: Mapping[str, Any], body: bytes | None = None) -> OpenIntent:
    return OpenIntent(
        exchange_id=columns["exchange_id"],
        partner=columns["partner"],
        operation=columns["operation"],
        method=columns["method"],
        batch_id=columns["batch_id"],
        state=IntentState(columns["state"]),
        owner=columns["owner"],
        started_at=utc(columns["started_at"]),
        seq=None if columns["seq"] is None else int(columns["seq"]),
        request_body=body,
    )


def _token_digest(token: str | None) -> str | None:
    return None if token is None else evidence.sha256_hex(token.encode())


def _logged_entry(columns: Any) -> LoggedEntry:
    return LoggedEntry(
        seq=int(columns["seq"]),
        prev_hash=columns["prev_hash"],
        entry_hash=columns["entry_hash"],
        fields=evidence.entry_fields(columns),
        request_signature=columns["request_signature"],
        response_signature=columns["response_signature"],
    )


def _log_seal(columns: Any) -> LogSeal:
    return LogSeal(
        id=int(columns["id"]),
        first_seq=int(columns["first_seq"]),
        last_seq=int(columns["last_seq"]),
        root=columns["root"],
        signature=columns["signature"],
        signer=columns["signer"],
        sealed_at=utc(columns["sealed_at"]),
    )


def _subject(der: bytes) -> str:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return "(unreadable certificate)"


# A named parameter in the SQL below (``:name``), rewritten once into the driver's own style.
_NAMED = re.compile(r":(\w+)")


class _DriverSql:
    """The statements every partner call runs, as SQL for the driver, on the transaction's DB-API connection.

    Built through SQLAlchemy Core, each cost more of SQLAlchemy's time (statement construction,
    cache keys, compilation lookup) than the database spent running it; written out once here
    they go to the DB-API cursor through the same connection and transaction. The one place
    that knows the dialect's parameter style and how its driver takes each column's values (the
    columns' own bind processors: SQLite's timestamps as SQLAlchemy writes them, booleans,
    binary). Only the three statements whose text depends on how many values they carry are
    cached by that number.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._pyformat = dialect.paramstyle == "pyformat"
        self._driver_error: type[Exception] = dialect.loaded_dbapi.Error
        self._processors: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}
        lock = "" if dialect.name == "sqlite" else " FOR UPDATE"
        self.head = self._text(f"SELECT seq, entry_hash, sealed_seq FROM message_log_head WHERE id = 1{lock}")
        self._update_head = cache(self._update_head_sql)
        self.logged_ids = cache(self._logged_ids_sql)
        self.drop_sending_intents = cache(self._drop_intents_sql)
        self._insert = cache(self._insert_sql)

    def _text(self, sql: str) -> str:
        return _NAMED.sub(r"%(\1)s", sql) if self._pyformat else sql

    def _positional(self, count: int) -> str:
        return ", ".join(["%s" if self._pyformat else "?"] * count)

    def run(self, conn: Connection, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """One statement on a cursor of the connection's own DB-API connection, inside the transaction
        the SQLAlchemy connection began (which commits or rolls it back); returns the cursor.

        Not ``exec_driver_sql``: its execution context and result object cost four times what
        SQLite spends running these statements, seven times a call. A driver error still reaches
        the caller as SQLAlchemy's (``DBAPIError``), and a lost connection is still found out by the
        transaction's rollback, which SQLAlchemy runs and handles as before.
        """
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, tuple(parameters) if isinstance(parameters, Sequence) else parameters)
        except self._driver_error as exc:
            raise sa.exc.DBAPIError.instance(sql, parameters, exc, self._driver_error, dialect=self.dialect) from exc
        return cursor

    def _logged_ids_sql(self, count: int) -> str:
        return f"SELECT exchange_id FROM message_log WHERE exchange_id IN ({self._positional(count)})"

    def _drop_intents_sql(self, count: int) -> str:
        return (
            f"DELETE FROM message_intent WHERE exchange_id IN ({self._positional(count)}) "
            f"AND state = {self._positional(1)}"
        )

    def _update_head_sql(self, names: tuple[str, ...]) -> str:
        return self._text(f"UPDATE message_log_head SET {', '.join(f'{n} = :{n}' for n in names)} WHERE id = 1")

    def update_head(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Move the head row; how many rows changed (none before the first append on SQLite)."""
        names = tuple(sorted(values))
        return int(self.run(conn, self._update_head(names), self._bind(t.message_log_head, values)).rowcount)

    def _insert_sql(self, table: str, names: tuple[str, ...], count: int, key: str | None) -> str:
        values = ", ".join("(" + ", ".join(f":p{i}_{n}" for n in names) + ")" for i in range(count))
        ignore = f" ON CONFLICT ({key}) DO NOTHING" if key else ""
        return self._text(f"INSERT INTO {table} ({', '.join(names)}) VALUES {values}{ignore}")

    def insert_rows(
        self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], key: str | None = None
    ) -> None:
        """One multi-row INSERT of ``rows`` (all with the same keys); ``key``: skip rows already kept."""
        if not rows:
            return
        names = tuple(rows[0])
        parameters = {f"p{i}_{n}": v for i, row in enumerate(rows) for n, v in self._bind(table, row).items()}
        self.run(conn, self._insert(table.name, names, len(rows), key), parameters)

    def _bind(self, table: sa.Table, row: Mapping[str, Any]) -> dict[str, Any]:
        """``row``'s values as the driver takes them (the columns' bind processors)."""
        processors = self._processors.get(table.name)
        if processors is None:
            names = [c.name for c in table.columns]
            processors = [(names[i], process) for i, process in bind_processors(table, names, self.dialect)]
            self._processors[table.name] = processors
        bound = dict(row)
        for name, process in processors:
            if name in bound:
                bound[name] = process(bound[name])
        return bound

"""Typed rows that cross the store boundary.

Plain frozen dataclasses rather than pydantic: they are built by the hundred thousand in bulk
paths, where validation would cost more than it protects (their producers already validated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mappings.delivery import DeliveryState

if TYPE_CHECKING:
    from mappings.facts import DossierFacts


class OutboxState(StrEnum):
    """Life of one outgoing message; ``superseded`` retires a message a newer version replaced."""

    PENDING = "pending"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    DEAD = "dead"
    SUPERSEDED = "superseded"


class JsonText(str):
    """A value for a JSON column that is serialised already (e.g. the canonical JSON a content hash
    was just taken over): the store writes it as it is instead of encoding the value a second time."""

    __slots__ = ()


@dataclass(frozen=True)
class StagedRecord:
    """``facts`` (``mappings.facts``), when the producer could read them, are staged with the version.

    ``record_id`` is the source's own id of the record (the city system's ``id``), when it has one:
    two records with one dossier number and different ids are two dossiers, never two versions of
    one (``hub.store.staging``).
    """

    dossier_no: str
    content_hash: str
    payload: dict[str, Any] | JsonText
    source_updated_at: datetime | None
    facts: DossierFacts | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class SharedNumber:
    """A staged key whose dossier number other source records carry too (``record_ids``: all of them)."""

    dossier_no: str
    number: str
    record_ids: tuple[str, ...]


@dataclass(frozen=True)
class StageCounts:
    new_versions: int
    unchanged: int


@dataclass(frozen=True)
class CurrentRecord:
    """The newest staged version of a dossier that a partner has not yet settled."""

    dossier_no: str
    content_hash: str
    payload: dict[str, Any]
    acked_hash: str | None


@dataclass(frozen=True)
class Disposition:
    dossier_no: str
    source: str
    content_hash: str
    state: DeliveryState
    reason: str | None = None


# What an outbox message carries: one record (a dict), or a dossier's whole processing history (a
# list of entries, queued as one message and cut into the partner's calls at delivery).
OutboxPayload = dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True)
class OutboxMessage:
    idempotency_key: str
    partner: str
    operation: str
    dossier_no: str
    content_hash: str
    payload: OutboxPayload


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox message taken for sending; ``updating`` says the partner already has the dossier."""

    id: int
    idempotency_key: str
    dossier_no: str
    content_hash: str
    payload: OutboxPayload
    attempts: int
    updating: bool


@dataclass(frozen=True)
class Settlement:
    """The outcome of sending one message: acknowledged, failed (retry later) or dead."""

    message_id: int
    state: OutboxState
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class QuarantineItem:
    source: str
    dossier_no: str
    rule: str
    reason: str
    content_hash: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class MessageLogEntry:
    """One attempt of one call to a partner, as handed to the message log for appending.

    The first fields are what the log always kept (digests, sizes, outcome); the rest make it
    evidence: the exact bytes (already redacted of session tokens and passwords by the
    transport), the detached JWS signature headers sent and received, and how the call was made.
    ``request_body`` None means only the digests are kept (the bytes live elsewhere); when it is
    given, the store checks it against the digests and keeps it in ``message_body``.
    """

    exchange_id: str
    partner: str
    operation: str
    direction: str
    batch_id: str | None
    record_count: int
    request_digest: str
    response_digest: str | None
    request_bytes: int
    response_bytes: int | None
    http_status: int | None
    outcome: str
    error: str | None
    started_at: datetime
    duration_ms: float
    method: str = ""
    url: str = ""
    attempt: int = 1
    redacted: bool = False
    request_body: bytes | None = field(default=None, repr=False)
    response_body: bytes | None = field(default=None, repr=False)
    request_signature: str | None = field(default=None, repr=False)
    response_signature: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LoggedEntry:
    """One entry as the chain holds it: the hashed fields (``fields``, see ``signing.evidence``)
    plus the link (``prev_hash``, ``entry_hash``) and the signature tokens the digests commit to.

    ``fields`` is a plain dict on purpose: it is exactly what the entry hash is computed over,
    so the verifier, the exporter and a third party's script all hash the same thing.
    """

    seq: int
    prev_hash: str
    entry_hash: str
    fields: dict[str, Any]
    request_signature: str | None = field(default=None, repr=False)
    response_signature: str | None = field(default=None, repr=False)


class IntentState(StrEnum):
    """Where a request stands in the log's write-ahead journal (``message_intent``).

    ``sending``: committed before the request left, its exchange not logged yet (in flight, or its
    process died); ``unknown``: its process died, the request is in the chain as an entry with
    outcome "unknown" and awaits resolution; ``resolved``: the owning flow found out what became of it.
    """

    SENDING = "sending"
    UNKNOWN = "unknown"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class OpenIntent:
    """A request whose outcome the chain does not hold yet (``state`` sending or unknown).

    ``owner`` is ``host:pid`` of the process that sent it; ``seq`` the chain entry of an unknown one;
    ``request_body`` its exact bytes as kept (None when only listed, not read for resolving).
    """

    exchange_id: str
    partner: str
    operation: str
    method: str
    batch_id: str | None
    state: IntentState
    owner: str
    started_at: datetime
    seq: int | None = None
    request_body: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LogHead:
    """The head row: the newest entry and the last one a seal covers."""

    seq: int
    entry_hash: str
    sealed_seq: int


@dataclass(frozen=True)
class LogSeal:
    """A signed Merkle root over the entry hashes ``first_seq..last_seq`` (one RSA signature per
    appended batch instead of one per entry)."""

    id: int
    first_seq: int
    last_seq: int
    root: str
    signature: str
    signer: str | None
    sealed_at: datetime

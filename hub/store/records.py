"""Typed rows that cross the store boundary.

Plain frozen dataclasses rather than pydantic: they are built by the hundred thousand in bulk
paths, where validation would cost more than it protects (their producers already validated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryState(StrEnum):
    """Where the current version of a dossier stands with one partner.

    The four states partition the staged dossiers, which is what lets the summary prove that
    extracted = delivered + pending + quarantined + out of scope.
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    QUARANTINED = "quarantined"
    OUT_OF_SCOPE = "out_of_scope"


class OutboxState(StrEnum):
    """Life of one outgoing message; ``superseded`` retires a message a newer version replaced."""

    PENDING = "pending"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    DEAD = "dead"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class StagedRecord:
    dossier_no: str
    content_hash: str
    payload: dict[str, Any]
    source_updated_at: datetime | None


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


@dataclass(frozen=True)
class OutboxMessage:
    idempotency_key: str
    partner: str
    operation: str
    dossier_no: str
    content_hash: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox message taken for sending; ``updating`` says the partner already has the dossier."""

    id: int
    idempotency_key: str
    dossier_no: str
    content_hash: str
    payload: dict[str, Any]
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
    """One attempt of one call to a partner, as the message log keeps it."""

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

"""The hub's own database: staging, watermarks, outbox, quarantine, message log."""

from hub.store.proofs import ProvenRecord, RecordProofs, SentRecord  # importing registers its tables
from hub.store.records import (
    ClaimedMessage,
    CurrentRecord,
    DeliveryState,
    Disposition,
    JsonText,
    LoggedEntry,
    LogHead,
    LogSeal,
    MessageLogEntry,
    OutboxMessage,
    OutboxState,
    QuarantineItem,
    Settlement,
    StageCounts,
    StagedRecord,
)
from hub.store.store import HubStore

__all__ = [
    "ClaimedMessage",
    "CurrentRecord",
    "DeliveryState",
    "Disposition",
    "HubStore",
    "JsonText",
    "LogHead",
    "LogSeal",
    "LoggedEntry",
    "MessageLogEntry",
    "OutboxMessage",
    "OutboxState",
    "ProvenRecord",
    "QuarantineItem",
    "RecordProofs",
    "SentRecord",
    "Settlement",
    "StageCounts",
    "StagedRecord",
]

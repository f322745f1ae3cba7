"""The hub's own database, in parts: ``HubStore`` composes staging, deliveries, the outbox, the
quarantine and the message log on one ``Database``; the flow tables (ministry pushes, postal
orders, population checks) are built on a store and share its one ``WorkQueue``."""

from hub.store.default import hub_store, store_for
from hub.store.ministry import (  # importing registers its tables
    ClaimedPush,
    MinistryPushes,
    PushCandidate,
    PushDecision,
    PushOutcome,
    PushState,
    StatusUpdate,
)
from hub.store.ministry_callbacks import MinistryCallbacks, StoredCallback  # importing registers its tables
from hub.store.partitions import WHOLE, Partition, partitions
from hub.store.payments import PaymentRecords  # importing registers its tables
from hub.store.population import (  # importing registers its tables
    CheckResult,
    ClaimedCheck,
    LookupAuditLog,
    PlannedCheck,
    PopulationChecks,
)
from hub.store.proofs import ProvenRecord, RecordProofs, SentRecord  # importing registers its tables
from hub.store.records import (
    ClaimedMessage,
    CurrentRecord,
    Disposition,
    IntentState,
    JsonText,
    LoggedEntry,
    LogHead,
    LogSeal,
    MessageLogEntry,
    OpenIntent,
    OutboxMessage,
    OutboxState,
    QuarantineItem,
    Settlement,
    SharedNumber,
    StageCounts,
    StagedRecord,
)
from hub.store.store import HubStore

__all__ = [
    "WHOLE",
    "CheckResult",
    "ClaimedCheck",
    "ClaimedMessage",
    "ClaimedPush",
    "CurrentRecord",
    "Disposition",
    "HubStore",
    "IntentState",
    "JsonText",
    "LogHead",
    "LogSeal",
    "LoggedEntry",
    "LookupAuditLog",
    "MessageLogEntry",
    "MinistryCallbacks",
    "MinistryPushes",
    "OpenIntent",
    "OutboxMessage",
    "OutboxState",
    "Partition",
    "PaymentRecords",
    "PlannedCheck",
    "PopulationChecks",
    "ProvenRecord",
    "PushCandidate",
    "PushDecision",
    "PushOutcome",
    "PushState",
    "QuarantineItem",
    "RecordProofs",
    "SentRecord",
    "Settlement",
    "SharedNumber",
    "StageCounts",
    "StagedRecord",
    "StatusUpdate",
    "StoredCallback",
    "hub_store",
    "partitions",
    "store_for",
]

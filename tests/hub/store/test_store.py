"""The hub store on SQLite and on a real PostgreSQL server: what a re-run leaves behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hub.store import (
    Disposition,
    HubStore,
    MessageLogEntry,
    OutboxMessage,
    OutboxState,
    QuarantineItem,
    Settlement,
    StagedRecord,
)
from mappings.delivery import DeliveryState

PARTNER = "national_portal"


def _records(n: int, version: str = "v1") -> list[StagedRecord]:
    return [
        StagedRecord(f"000.00.12.H26-261120-{i:04d}", f"{version}-{i}", {"i": i, "ten": "Nguyễn Thị Ánh"}, None)
        for i in range(1, n + 1)
    ]


def _message(dossier_no: str, h: str, operation: str = "DongBoHoSoMC") -> OutboxMessage:
    return OutboxMessage(f"{operation}:{dossier_no}:{h}", PARTNER, operation, dossier_no, h, {"MaHoSo": dossier_no})


def test_staging_the_same_records_twice_adds_nothing(store: HubStore) -> None:
    first = store.staging.stage("city", _records(1200), "b1")
    again = store.staging.stage("city", _records(1200), "b2")
    assert (first.new_versions, first.unchanged) == (1200, 0)
    assert (again.new_versions, again.unchanged) == (0, 1200)
    assert store.staging.count("city") == 1200


def test_a_changed_record_becomes_the_current_version_and_keeps_its_text(store: HubStore) -> None:
    store.staging.stage("city", _records(3), "b1")
    changed = store.staging.stage("city", _records(1, version="v2"), "b2")
    assert changed.new_versions == 1
    current = {r.dossier_no: r for page in store.deliveries.iter_unsettled("city", PARTNER, 10) for r in page}
    assert current["000.00.12.H26-261120-0001"].content_hash == "v2-1"
    assert current["000.00.12.H26-261120-0001"].payload["ten"] == "Nguyễn Thị Ánh"
    assert store.staging.count("city") == 3


def test_unsettled_pages_skip_dossiers_whose_current_version_has_a_disposition(store: HubStore) -> None:
    store.staging.stage("city", _records(25), "b1")
    pages = list(store.deliveries.iter_unsettled("city", PARTNER, 10))
    assert [len(p) for p in pages] == [10, 10, 5]
    settled = [Disposition(r.dossier_no, "city", r.content_hash, DeliveryState.PENDING) for r in pages[0]]
    store.deliveries.set(PARTNER, settled)
    assert sum(len(p) for p in store.deliveries.iter_unsettled("city", PARTNER, 10)) == 15
    assert store.deliveries.counts(PARTNER)["pending"] == 10


def test_watermark_only_moves_forward(store: HubStore) -> None:
    late = datetime(2026, 11, 21, tzinfo=UTC)
    store.staging.advance_watermark("city", late)
    store.staging.advance_watermark("city", late - timedelta(days=3))
    assert store.staging.watermark("city") == late


def test_outbox_lifecycle_ack_retry_and_dead(store: HubStore) -> None:
    store.staging.stage("city", _records(3), "b1")
    store.deliveries.set(
        PARTNER, [Disposition(r.dossier_no, "city", r.content_hash, DeliveryState.PENDING) for r in _records(3)]
    )
    messages = [_message(r.dossier_no, r.content_hash) for r in _records(3)]
    assert store.outbox.enqueue(messages) == 3
    assert store.outbox.enqueue(messages) == 0  # same idempotency keys: nothing queued twice

    (batch,) = store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 100)
    claimed = store.outbox.claim_batch(batch)
    assert [m.updating for m in claimed] == [False, False, False]
    retry_at = store.db.now() + timedelta(hours=1)
    store.outbox.settle(
        PARTNER,
        [
            Settlement(claimed[0].id, OutboxState.ACKNOWLEDGED),
            Settlement(claimed[1].id, OutboxState.FAILED, error="503", next_attempt_at=retry_at),
            Settlement(claimed[2].id, OutboxState.DEAD, error="rejected"),
        ],
        acks_deliver_dossier=True,
    )
    assert store.outbox.counts(PARTNER)["DongBoHoSoMC"] == {"acknowledged": 1, "failed": 1, "dead": 1}
    assert store.deliveries.counts(PARTNER)["delivered"] == 1
    # The failed message is not due for an hour, the others are settled: nothing to batch now.
    assert store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 100) == []
    # An acknowledged dossier is sent as an update next time.
    store.outbox.enqueue([_message(claimed[0].dossier_no, "v9")])
    (batch2,) = store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 100)
    assert [m.updating for m in store.outbox.claim_batch(batch2)] == [True]


def test_progress_waits_until_the_partner_holds_the_dossier(store: HubStore) -> None:
    (record,) = _records(1)
    store.deliveries.set(PARTNER, [Disposition(record.dossier_no, "city", record.content_hash, DeliveryState.PENDING)])
    store.outbox.enqueue(
        [_message(record.dossier_no, record.content_hash), _message(record.dossier_no, "e1", "Progress")]
    )
    assert store.outbox.assign_batches(PARTNER, "Progress", 10, require_delivered_dossier=True) == []
    (batch,) = store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 10)
    (sync,) = store.outbox.claim_batch(batch)
    store.outbox.settle(PARTNER, [Settlement(sync.id, OutboxState.ACKNOWLEDGED)], acks_deliver_dossier=True)
    assert len(store.outbox.assign_batches(PARTNER, "Progress", 10, require_delivered_dossier=True)) == 1


def test_a_newer_version_supersedes_the_unsent_message(store: HubStore) -> None:
    (record,) = _records(1)
    store.outbox.enqueue([_message(record.dossier_no, "old")])
    assert store.outbox.supersede(PARTNER, "DongBoHoSoMC", {record.dossier_no: "new"}) == 1
    assert store.outbox.counts(PARTNER)["DongBoHoSoMC"] == {"superseded": 1}


def test_messages_sent_by_a_worker_that_died_become_due_after_the_lease(store: HubStore) -> None:
    (record,) = _records(1)
    store.outbox.enqueue([_message(record.dossier_no, "h")])
    (batch,) = store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 10)
    store.outbox.claim_batch(batch)  # marked sent, never settled
    assert store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 10) == []
    assert len(store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 10, lease=timedelta(0))) == 1


def test_quarantine_keeps_first_and_last_seen_and_resolves_when_fixed(store: HubStore) -> None:
    item = QuarantineItem("city", "X-1", "dates.due_after_received", "Ngày hẹn trả trước ngày tiếp nhận", "h1", {})
    store.quarantine.add([item])
    store.quarantine.add([item])
    (entry,) = store.quarantine.open_entries()
    assert entry["occurrences"] == 2
    assert entry["first_seen"] <= entry["last_seen"]
    assert store.quarantine.counts_by_rule() == {"dates.due_after_received": 1}
    assert store.quarantine.resolve("city", ["X-1"]) == 1
    assert store.quarantine.open_entries() == []


def test_message_log_appends(store: HubStore) -> None:
    entries = [
        MessageLogEntry(
            str(uuid.uuid4()),
            PARTNER,
            "DongBoHoSoMC",
            "out",
            "b1",
            500,
            "a" * 64,
            "b" * 64,
            1000,
            200,
            200,
            "ok",
            None,
            datetime.now(UTC),
            12.5,
        )
        for _ in range(3)
    ]
    store.message_log.append(entries)
    store.message_log.append(entries[:0])
    assert store.message_log.count_exchanges(PARTNER) == {"DongBoHoSoMC": 3}

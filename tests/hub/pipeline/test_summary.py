"""The sync summary's identity: extracted = delivered + pending + quarantined + out of scope.

The summary is the day's proof that nothing was lost, so it must be seen failing: a dossier staged
and never given a delivery state is a gap, and the summary says so with the count of it.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

from adapters.exchange import Exchange
from hub.pipeline.extract import staged_record
from hub.pipeline.message_log import log_entry
from hub.pipeline.summary import sync_summary
from hub.store import HubStore
from hub.store.records import Disposition, MessageLogEntry, OutboxMessage, QuarantineItem
from mappings.delivery import DeliveryState
from mappings.sources import CITY_SOURCE, PORTAL
from signing.digests import idempotency_key
from tests.support.factories import RECORD

STATES = (DeliveryState.DELIVERED, DeliveryState.PENDING, DeliveryState.QUARANTINED, DeliveryState.OUT_OF_SCOPE)


def stage(store: HubStore, count: int) -> list[tuple[str, str]]:
    """Stage ``count`` city records; their (dossier number, content hash)."""
    staged = []
    for i in range(count):
        record = copy.deepcopy(RECORD)
        record["ma_ho_so"] = f"000.00.12.H26-261120-{i:04d}"
        record["id"] = f"city-{i}"
        staged.append(staged_record(record))
    store.staging.stage(CITY_SOURCE, staged, "b1")
    return [(s.dossier_no, s.content_hash) for s in staged]


def place(store: HubStore, versions: list[tuple[str, str]], states: list[DeliveryState]) -> None:
    store.deliveries.set(
        PORTAL,
        [Disposition(no, CITY_SOURCE, h, state) for (no, h), state in zip(versions, states, strict=True)],
    )


def exchange(partner: str, operation: str) -> MessageLogEntry:
    return log_entry(
        Exchange(str(uuid.uuid4()), partner, operation, "POST", "https://x/", 1, 1, b"{}", b"{}", 200, "ok", None,
                 datetime.now(UTC), 1.0, False),
        "b1",
    )  # fmt: skip


def summary(store: HubStore) -> dict:
    return sync_summary(store, source=CITY_SOURCE, partner=PORTAL)


def counts(extracted: int, **dispositions: int) -> dict[str, int]:
    return {"extracted": extracted, **dispositions}


def test_a_dossier_staged_and_never_placed_breaks_the_identity(store: HubStore) -> None:
    versions = stage(store, 9)
    place(store, versions[:7], [STATES[i % 4] for i in range(7)])

    result = summary(store)

    assert result["identity_holds"] is False
    assert result["counts"] == counts(9, delivered=2, pending=2, quarantined=2, out_of_scope=1, unaccounted=2)


def test_the_identity_holds_once_every_staged_dossier_has_a_state(store: HubStore) -> None:
    versions = stage(store, 9)
    place(store, versions, [STATES[i % 4] for i in range(9)])

    result = summary(store)

    assert result["identity_holds"] is True
    assert result["counts"] == counts(9, delivered=3, pending=2, quarantined=2, out_of_scope=2, unaccounted=0)
    assert result["identity"] == "extracted = delivered + pending + quarantined + out_of_scope"
    assert (result["source"], result["partner"]) == (CITY_SOURCE, PORTAL)
    assert (result["exchanges"], result["oldest_pending_seconds"], result["quarantine_by_rule"]) == ({}, None, {})


def test_more_dossiers_placed_than_staged_breaks_the_identity_too(store: HubStore) -> None:
    """A state for a dossier that was never extracted (say, written by hand) is no less a gap."""
    versions = stage(store, 3)
    place(store, [*versions, ("000.00.12.H26-261120-9999", "x")], [DeliveryState.DELIVERED] * 4)

    result = summary(store)

    assert result["identity_holds"] is False
    assert result["counts"]["unaccounted"] == -1


def test_other_partners_and_sources_do_not_count(store: HubStore) -> None:
    versions = stage(store, 2)
    place(store, versions, [DeliveryState.DELIVERED] * 2)
    store.deliveries.set(
        "population_db", [Disposition(versions[0][0], CITY_SOURCE, versions[0][1], DeliveryState.PENDING)]
    )
    store.deliveries.set(PORTAL, [Disposition("M-1", "ministry:civil_status", "h", DeliveryState.PENDING)])
    store.quarantine.add([QuarantineItem("ministry:civil_status", "M-2", "dossier_no.format", "x", "h", {})])
    store.message_log.append([exchange(PORTAL, "DongBoHoSoMC"), exchange("population_db", "TraCuuCongDan")])

    result = summary(store)

    assert result["identity_holds"] is True
    assert result["counts"]["delivered"] == 2
    assert result["counts"]["pending"] == 0
    assert (result["quarantine_by_rule"], result["exchanges"]) == ({}, {"DongBoHoSoMC": 1})


def test_a_message_waiting_in_the_outbox_is_counted_with_its_age(store: HubStore) -> None:
    versions = stage(store, 1)
    place(store, versions, [DeliveryState.PENDING])
    (number, content), operation = versions[0], "DongBoHoSoMC"
    store.outbox.enqueue(
        [OutboxMessage(idempotency_key(PORTAL, operation, number, content), PORTAL, operation, number, content, {})]
    )

    result = summary(store)

    assert result["outbox"] == {operation: {"pending": 1}}
    assert isinstance(result["oldest_pending_seconds"], int) and 0 <= result["oldest_pending_seconds"] < 600

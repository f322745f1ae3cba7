"""Progress delivery: a dossier's processing history is one outbox message, its entries go to the
portal in calls of 10, and the message is settled by the portal's answers to each entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.pipeline.portal_sync import PARTNER, PROGRESS_OPERATION, deliver_progress
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import HubStore, OutboxMessage, OutboxState
from sandbox.national_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from signing.digests import content_hash, idempotency_key
from tests.adapters.national_portal.test_client import (
    AGENCY,
    PASSWORD,
    USERNAME,
    calls,
    dossier,
    make_client,
    progress,
    stats,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(tmp_path / "portal.db", USERNAME, PASSWORD, [AGENCY]))
    yield server
    server.stop()


def _history(dossier_no: str, entries: list[dict[str, Any]]) -> OutboxMessage:
    h = content_hash(entries)
    return OutboxMessage(idempotency_key(PARTNER, PROGRESS_OPERATION, dossier_no, h), PARTNER, PROGRESS_OPERATION,
                         dossier_no, h, entries)  # fmt: skip


def test_each_history_is_settled_by_the_answers_to_its_entries(store: HubStore, portal: RunningServer) -> None:
    client = make_client(portal.url)
    held, partly_refused, unknown = (dossier(n)["MaHoSo"] for n in (1, 2, 3))
    client.sync_dossiers([dossier(1), dossier(2)], updating=False)  # the third is not at the portal
    refused_entry = {**progress(partly_refused, 1), "ThoiDiemXuLy": "2026-11-20"}
    histories = {
        held: [progress(held, step) for step in range(12)],
        partly_refused: [progress(partly_refused, 0), refused_entry, progress(partly_refused, 2)],
        unknown: [progress(unknown, step) for step in range(2)],
    }
    assert store.outbox.enqueue([_history(d, entries) for d, entries in histories.items()]) == 3
    (batch,) = store.outbox.assign_batches(PARTNER, PROGRESS_OPERATION, 80)

    report = deliver_progress(store, client, batch, source="city", policy=RedeliveryPolicy())

    assert (report.messages, report.records) == (3, 17)
    assert report.outcomes == {"acknowledged": 1, "rejected": 1, "retry_later": 1}
    assert calls(portal, "CapNhatTienDoHoSoMC") >= 2  # 17 entries: calls of 10, then the refused call halved
    assert stats(portal)["held"]["progress_entries"] == 12 + 2  # every valid entry of the known dossiers
    assert store.outbox.record_counts(PARTNER)[PROGRESS_OPERATION] == {"acknowledged": 12, "dead": 3, "failed": 2}
    (item,) = store.quarantine.open_entries("city")  # only the refused entry, under the portal's rule
    assert (item["dossier_no"], item["rule"]) == (partly_refused, "portal.progress_rejected")
    assert "ThoiDiemXuLy" in item["reason"]
    states = store.outbox.record_states(PARTNER, PROGRESS_OPERATION, list(histories))
    assert states[(held, content_hash(histories[held][5]))] is OutboxState.ACKNOWLEDGED
    assert states[(partly_refused, content_hash(refused_entry))] is OutboxState.DEAD
    assert states[(unknown, content_hash(histories[unknown][0]))] is OutboxState.FAILED

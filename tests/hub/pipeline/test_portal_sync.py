"""Progress: a dossier's processing history is one outbox message (a new version adds only the steps
not queued before), its entries go to the portal in calls of 10, and the message is settled by the
portal's answers to each entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from adapters.city_system.client import CitySystemClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.jobs.quality import stored_gate
from hub.pipeline.extract import extract_city_dossiers
from hub.pipeline.portal_sync import PARTNER, PROGRESS_OPERATION, deliver_progress, plan
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import HubStore, OutboxMessage, OutboxState
from hub.store import schema as t
from mappings.sources import CITY_SOURCE
from sandbox.city_system.app import create_app as city_app
from sandbox.city_system.generator import generate
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

pytestmark = pytest.mark.timeout(300)
DAY = date(2026, 11, 20)
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TOKEN = "history-token"


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


def test_a_new_version_queues_only_the_steps_no_earlier_history_carried(store: HubStore, tmp_path: Path) -> None:
    day = generate(DAY, 0.01, 5)
    app = city_app(tmp_path / "city.sqlite", TOKEN)
    app.state.store.load(day.records, day.defects)
    gate = stored_gate(store, "run-history")
    with serve_in_thread(app) as server:
        client = CitySystemClient(HttpTransport("city_system", TransportSettings(base_url=server.url)), TOKEN)
        extract_city_dossiers(client, store, *_window(DAY))
        plan(store, gate, source=CITY_SOURCE)
        first = _histories(store)
        # The city moves dossiers one workflow step on, the next morning: a new version each.
        moved = app.state.store.advance(20, datetime.combine(DAY + timedelta(days=1), time(9), tzinfo=HANOI))
        extract_city_dossiers(client, store, *_window(DAY + timedelta(days=1)))
        plan(store, gate, source=CITY_SOURCE)

    again = _histories(store)
    grown = [d for d in moved if d in first and len(again[d]) == 2]
    assert grown, moved  # in-scope dossiers moved on (the others stay out of scope or quarantined)
    for dossier_no in grown:
        earlier, (added,) = again[dossier_no]  # the new step alone: every earlier one is queued already
        assert earlier == first[dossier_no][0] and added not in earlier
    assert {d: h for d, h in again.items() if d not in moved} == {d: h for d, h in first.items() if d not in moved}


def _histories(store: HubStore) -> dict[str, list[list[dict[str, Any]]]]:
    """Each dossier's queued progress messages, oldest first."""
    ob = t.outbox
    query = sa.select(ob.c.dossier_no, ob.c.payload).where(ob.c.operation == PROGRESS_OPERATION).order_by(ob.c.id)
    found: dict[str, list[list[dict[str, Any]]]] = {}
    with store.db.engine.connect() as conn:
        for dossier_no, payload in conn.execute(query):
            found.setdefault(dossier_no, []).append(payload)
    return found


def _window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=HANOI)
    return start, start + timedelta(days=1)

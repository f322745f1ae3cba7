"""The outbox's bulk write (``Outbox.enqueue`` and ``record_plan`` through ``Database.insert_rows``) on
SQLite and PostgreSQL: rows as SQLAlchemy's INSERT stores them, an idempotency key queued once
whatever the page size, and a plan page that fails half-way queues nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from hub.store import Disposition, HubStore, JsonText, OutboxMessage, OutboxState
from hub.store import schema as t
from hub.store.database import PG_PAGE
from mappings.delivery import DeliveryState

PARTNER, DOSSIER, PROGRESS = "national_portal", "DongBoHoSoMC", "CapNhatTienDoHoSoMC"
NOW = datetime(2026, 11, 20, 17, 30, 5, 123456, tzinfo=UTC)
MANY = 2 * PG_PAGE + 17  # more than one PostgreSQL page and several SQLite chunks


def _messages(n: int, version: str = "v1") -> list[OutboxMessage]:
    """Dossier messages (a record) and progress messages (a history: a list of entries)."""
    found = []
    for i in range(n):
        no = f"000.00.12.H26-261120-{i:05d}"
        found.append(OutboxMessage(f"{DOSSIER}:{no}:{version}", PARTNER, DOSSIER, no, version, {"MaHoSo": no, "i": i}))
        steps = [{"MaHoSo": no, "BuocXuLy": s, "NoiDung": "Tiếp nhận hồ sơ"} for s in range(i % 4)]
        found.append(OutboxMessage(f"{PROGRESS}:{no}:{version}", PARTNER, PROGRESS, no, version, steps))
    return found


def _rows(store: HubStore) -> list[tuple[Any, ...]]:
    with store.db.engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql("SELECT * FROM outbox ORDER BY id")]


def test_enqueued_rows_are_those_sqlalchemy_writes(store: HubStore) -> None:
    store.db.now = lambda: NOW  # type: ignore[method-assign]
    messages = _messages(300)
    assert store.outbox.enqueue(messages) == 600
    written = _rows(store)
    with store.db.engine.begin() as conn:
        conn.execute(t.outbox.delete())
        conn.execute(
            sa.insert(t.outbox),
            [
                {
                    **{k: getattr(m, k) for k in ("idempotency_key", "partner", "operation", "dossier_no")},
                    **{"content_hash": m.content_hash, "payload": m.payload, "state": "pending", "attempts": 0},
                    **{"next_attempt_at": NOW, "created_at": NOW, "updated_at": NOW, "id": i},
                }
                for i, m in enumerate(messages, start=1)
            ],
        )
    assert written == _rows(store)
    assert store.outbox.states([m.idempotency_key for m in messages[:2]]) == {
        messages[0].idempotency_key: OutboxState.PENDING,
        messages[1].idempotency_key: OutboxState.PENDING,
    }


def test_a_key_is_queued_once_across_pages_and_calls(store: HubStore) -> None:
    messages = _messages(MANY // 2 + 1)
    assert len(messages) > MANY
    assert store.outbox.enqueue(messages + messages[:5]) == len(messages)  # duplicates within one call
    assert store.outbox.enqueue(messages) == 0
    newer = _messages(10, version="v2")
    assert store.outbox.enqueue(messages[-3:] + newer) == 20
    assert sum(store.outbox.counts(PARTNER)[op]["pending"] for op in (DOSSIER, PROGRESS)) == len(messages) + 20


def test_a_plan_page_that_fails_half_way_queues_nothing(store: HubStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The messages are written when the dispositions fail: the page's one transaction takes them back."""
    messages = _messages(50)
    dispositions = [Disposition(m.dossier_no, "city", m.content_hash, DeliveryState.PENDING) for m in messages[::2]]

    def crash(*_args: Any) -> None:
        raise RuntimeError("process died mid-page")

    plan = {"considered": [], "current": {}, "messages": messages, "quarantine": [], "dispositions": dispositions}
    monkeypatch.setattr(type(store.deliveries), "set_in", crash)
    with pytest.raises(RuntimeError, match="mid-page"):
        store.outbox.record_plan(PARTNER, DOSSIER, "city", **plan)
    assert _rows(store) == []
    monkeypatch.undo()
    assert store.outbox.record_plan(PARTNER, DOSSIER, "city", **plan) == (0, 100)
    assert store.deliveries.counts(PARTNER)["pending"] == 50


# Stored texts the fast reader (orjson) and json.loads could read differently: integers beyond 64
# bits (orjson would read a float), 19-digit runs, floats at the edges, key order, repeated keys.
ODD_PAYLOADS = [
    '{"MaHoSo":"a","big":123456789012345678901234567890,"neg":-9223372036854775809}',
    '{"MaHoSo":"b","f":[0.1,1e-07,5e-324,1.7976931348623157e+308,-0.0],"z":1,"a":2,"ten":"12345678901234567890"}',
    '{"MaHoSo":"c","k":1,"k":2,"v":"Hà Nội \\u2028 😀","n":null,"t":true,"e":[],"o":{}}',
]


def test_a_claimed_payload_is_what_json_loads_reads_from_the_stored_text(store: HubStore) -> None:
    """Claims read the payloads through the store's JSON reader (orjson where it agrees): every
    value, key order included, as the standard decoder reads the stored text."""
    store.outbox.enqueue(
        [
            OutboxMessage(f"odd-{i}", PARTNER, DOSSIER, f"odd-{i}", "v1", JsonText(text))
            for i, text in enumerate(ODD_PAYLOADS)
        ]
    )
    (batch,) = store.outbox.assign_batches(PARTNER, DOSSIER, 10)
    claimed = store.outbox.claim_batch(batch)
    with store.db.engine.connect() as conn:
        stored = [
            json.loads(text)
            for (text,) in conn.execute(sa.select(sa.cast(t.outbox.c.payload, sa.Text)).order_by(t.outbox.c.id))
        ]
    assert [m.payload for m in claimed] == stored
    assert [list(m.payload.items()) for m in claimed] == [list(d.items()) for d in stored]
    assert [m.payload["big"] for m in claimed[:1]] == [123456789012345678901234567890]

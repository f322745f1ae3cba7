"""Write-ahead message log: a request is in the store before it leaves, and a dead sender's request
is chained as "unknown" by the next run -- never while its sender is alive."""

from __future__ import annotations

import socket
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from adapters.exchange import Exchange
from hub.pipeline.message_log import DurableRecorder, log_entry, process_owner, recover_orphans
from hub.store import HubStore, IntentState
from hub.store import schema as t
from hub.store.work_queue import LEASE
from signing import evidence

PARTNER = "national_portal"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BODY = b'{"session":"***","service":"CapNhatTienDoHoSoMC","data":[{"MaHoSo":"X-1"}]}'


def _sending(operation: str = "CapNhatTienDoHoSoMC", partner: str = PARTNER) -> Exchange:
    return Exchange(
        exchange_id=str(uuid.uuid4()),
        partner=partner,
        operation=operation,
        method="POST",
        url="https://portal.example/service",
        attempt=1,
        record_count=1,
        request_body=BODY,
        response_body=None,
        status=None,
        outcome="unknown",
        error=None,
        started_at=T0,
        duration_ms=0.0,
        redacted=True,
    )


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _unknown(store: HubStore) -> list[dict]:
    return [e.fields for page in store.message_log.iter_log() for e in page if e.fields["outcome"] == "unknown"]


def _resolutions(store: HubStore) -> dict[str, str]:
    """What the log recorded as having become of each resolved request (exchange id -> how)."""
    mi = t.message_intent
    with store.db.engine.connect() as conn:
        return dict(conn.execute(sa.select(mi.c.exchange_id, mi.c.resolution).where(mi.c.state == "resolved")).all())


def test_a_request_is_kept_before_it_is_sent_and_its_exchange_logged_before_the_next_one_leaves(
    store: HubStore,
) -> None:
    recorder = DurableRecorder(store.message_log, "batch-1")
    first, second = _sending(), _sending()
    recorder.sending(first)
    (intent,) = store.message_log.open_intents()
    assert (intent.exchange_id, intent.state, intent.batch_id) == (first.exchange_id, IntentState.SENDING, "batch-1")
    assert store.message_log.message_bodies([evidence.sha256_hex(BODY)]) == {evidence.sha256_hex(BODY): BODY}

    recorder.finished(replace(first, response_body=b'{"error_code":"0"}', status=200, outcome="ok", duration_ms=9.0))
    recorder.sending(second)  # the first exchange is chained in the commit that keeps the second request
    assert [i.exchange_id for i in store.message_log.open_intents()] == [second.exchange_id]
    (logged,) = next(store.message_log.iter_log())
    assert logged.fields["exchange_id"] == first.exchange_id and logged.fields["outcome"] == "ok"

    recorder.finished(replace(second, status=503, outcome="retryable", error="HTTP 503"))
    recorder.flush()  # the block's end chains the last one
    assert store.message_log.open_intents() == []
    assert [e.fields["outcome"] for e in next(store.message_log.iter_log())] == ["ok", "retryable"]


def test_a_dead_senders_request_is_chained_as_unknown_and_a_live_ones_is_left_alone(store: HubStore) -> None:
    log = store.message_log
    dead, alive, elsewhere = _sending(), _sending(), _sending()
    log.open_intent(log_entry(dead, "b"), f"{socket.gethostname()}:{_dead_pid()}")
    log.open_intent(log_entry(alive, "b"), process_owner())  # this very process
    log.open_intent(log_entry(elsewhere, "b"), "another-host:4242")

    assert recover_orphans(log, PARTNER, T0 + timedelta(minutes=1)) == 1
    (unknown,) = _unknown(store)
    assert unknown["exchange_id"] == dead.exchange_id and unknown["response_digest"] is None
    assert unknown["bodies_kept"] and unknown["request_digest"] == evidence.sha256_hex(BODY)
    assert "ended before logging its reply" in unknown["error"]
    states = {i.exchange_id: i.state for i in log.open_intents()}
    assert states == {dead.exchange_id: "unknown", alive.exchange_id: "sending", elsewhere.exchange_id: "sending"}

    # Another host's sender is presumed dead once the work queue's lease has run out.
    assert recover_orphans(log, PARTNER, T0 + LEASE + timedelta(seconds=1)) == 1
    assert evidence.verify_chain(log).ok
    assert recover_orphans(log, PARTNER, T0 + LEASE + timedelta(seconds=2)) == 0, "chained once only"

    (first, second) = log.unknown_outcomes(PARTNER)
    assert first.request_body == BODY and first.seq is not None
    assert log.resolve({first.exchange_id: "looked up", alive.exchange_id: "not unknown"}) == 1
    assert [i.exchange_id for i in log.unknown_outcomes(PARTNER)] == [second.exchange_id]


def test_a_dead_senders_read_is_chained_and_resolved_at_once(store: HubStore) -> None:
    log = store.message_log
    read = replace(_sending("changes"), method="GET", request_body=b"")
    log.open_intent(log_entry(read, None), f"{socket.gethostname()}:{_dead_pid()}")
    assert recover_orphans(log, PARTNER, T0) == 1
    assert [e["outcome"] for e in _unknown(store)] == ["unknown"]
    assert log.open_intents() == [] and log.unknown_outcomes(PARTNER) == []


def test_a_lost_query_to_a_read_only_partner_is_resolved_at_once_and_a_portal_write_is_not(store: HubStore) -> None:
    """The population register's lookups are POSTs (SOAP in the LGSP envelope) but change nothing
    there: orphaned on this host or timed out on another (its lease run out), they are resolved as
    they are chained. A POST to the portal, which the hub writes to, waits for its own resolution."""
    log = store.message_log
    dead_owner = f"{socket.gethostname()}:{_dead_pid()}"
    orphaned, timed_out = (_sending("TraCuuThongTinCongDan", "population_db") for _ in range(2))
    log.open_intent(log_entry(orphaned, "p-1"), dead_owner)
    log.open_intent(log_entry(timed_out, "p-1"), "another-host:4242")
    portal_write = _sending()
    log.open_intent(log_entry(portal_write, "b"), dead_owner)

    assert recover_orphans(log, "population_db", T0 + timedelta(minutes=1)) == 1
    assert recover_orphans(log, "population_db", T0 + LEASE + timedelta(seconds=1)) == 1
    assert log.unknown_outcomes("population_db") == [] and log.open_intents("population_db") == []
    why = _resolutions(store)
    assert set(why) == {orphaned.exchange_id, timed_out.exchange_id}
    assert all("population_db" in w and "only reads from" in w and "changed nothing" in w for w in why.values())
    assert recover_orphans(log, PARTNER, T0 + timedelta(minutes=1)) == 1
    assert [e["exchange_id"] for e in _unknown(store)] == [
        orphaned.exchange_id,
        timed_out.exchange_id,
        portal_write.exchange_id,
    ]
    (still_unknown,) = log.unknown_outcomes(PARTNER)
    assert (still_unknown.exchange_id, still_unknown.method) == (portal_write.exchange_id, "POST")
    assert log.resolve({portal_write.exchange_id: "looked up: TraCuuHoSo holds it"}) == 1
    assert log.open_intents() == [] and evidence.verify_chain(log).ok

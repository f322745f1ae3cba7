"""Citizen notifications on both stores, pushed to the iHaNoi sandbox over loopback: every event of a
reachable citizen told once, a re-run telling nothing again, an outage delaying and never dropping,
refusals counted, and no personal data beyond the recipient's number in any body the app received."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import requests

from adapters.ihanoi.client import PARTNER, IHaNoiClient
from adapters.postal.carrier import CarrierEvent
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.pipeline import citizen_notifications
from hub.pipeline.extract import staged_record
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import HubStore
from hub.store import schema as t
from hub.store.notifications import WATERMARK
from hub.store.postal import DispatchDecision, OrderOutcome, PostalOrders
from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ
from mappings.facts import city_facts
from mappings.ihanoi import FIELDS, dossier_events, recipient_of
from mappings.postal.dispatch import READY_STATUSES, Dispatch, result_reference
from mappings.postal.states import fold
from mappings.sources import CITY_SOURCE
from sandbox.city_system.generator import generate_day
from sandbox.ihanoi.app import create_app
from sandbox.server import RunningServer, serve_in_thread

pytestmark = pytest.mark.timeout(300)

DAY = date(2026, 11, 20)
API_KEY = "pipeline-ihanoi-key"
POLICY = RedeliveryPolicy(base=timedelta(0))  # retries due at once in tests
FAST = {"backoff_initial": 0.01, "backoff_max": 0.02, "max_attempts": 2, "read_timeout": 5.0}
# Parcels followed to their end: (VNPost statuses, the events they tell).
PARCELS = (
    (("70", "100"), {"DA_GIAO_BUU_CHINH", "DA_PHAT_KET_QUA"}),
    (("70", "170"), {"DA_GIAO_BUU_CHINH", "DA_CHUYEN_HOAN"}),
    (("70",), {"DA_GIAO_BUU_CHINH"}),
)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return generate_day(DAY, 0.02, 5)


def _app(share: float = 0.0) -> RunningServer:
    return serve_in_thread(create_app(API_KEY, unregistered_share=share, seed=5))


@pytest.fixture
def ihanoi() -> Iterator[RunningServer]:
    server = _app()
    yield server
    server.stop()


def _client(server: RunningServer) -> IHaNoiClient:
    return IHaNoiClient(HttpTransport(PARTNER, TransportSettings(base_url=server.url, **FAST)), API_KEY)


def _stats(server: RunningServer) -> dict[str, Any]:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()


def _stage_with_parcels(store: HubStore, records: list[dict[str, Any]]) -> int:
    """Stage the day and send three results home by post (VNPost), each followed as PARCELS says;
    returns how many notifications the day should give (the expected count, computed apart)."""
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")
    tables = load_code_tables()
    expected = 0
    for record in records:
        if recipient_of(record) is None:
            continue
        facts = city_facts(record, tables)
        expected += len(dossier_events(record["ma_ho_so"], facts.status, facts.received_at, facts.finished_at, T0))
    by_post = [
        r
        for r in records
        if r["tra_ket_qua_qua_buu_chinh"] and recipient_of(r) and city_facts(r, tables).status in READY_STATUSES
    ][: len(PARCELS)]
    assert len(by_post) == len(PARCELS)
    orders = PostalOrders(store)
    staged = {r.dossier_no: r for r in [staged_record(r) for r in by_post]}
    orders.record_decisions(
        CITY_SOURCE, [DispatchDecision(no, s.content_hash, "vnpost", Dispatch.PENDING) for no, s in staged.items()]
    )
    for batch in orders.assign_batches(batch_size=10)["vnpost"]:
        orders.claim_batch(batch)
    placed = datetime(2026, 11, 21, 8, tzinfo=VN_TZ)
    orders.settle(
        [
            OrderOutcome(result_reference(no), Dispatch.ORDERED, order_id=no, item_code=None, placed_at=placed)
            for no in staged
        ]
    )
    tracks = {}
    for (no, _), (statuses, told) in zip(staged.items(), PARCELS, strict=True):
        events = [
            CarrierEvent("vnpost", no, result_reference(no), code, code, placed + timedelta(hours=4 * (i + 1)))
            for i, code in enumerate(statuses)
        ]
        orders.add_events(events, via="poll")
        tracks[no] = (fold(events), False)
        expected += len(told)
    orders.record_tracks("vnpost", tracks, datetime.now(VN_TZ))
    return expected


T0 = datetime(2026, 11, 20, 17, tzinfo=VN_TZ)  # stands for a version's update time in the expected count


def _deliver_all(store: HubStore, server: RunningServer, batches: list[str]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    client = _client(server)
    for batch in batches:
        outcomes.update(citizen_notifications.deliver(store, client, batch, policy=POLICY).outcomes)
    return outcomes


def _supplement_count(records: list[dict[str, Any]]) -> int:
    tables = load_code_tables()
    return sum(1 for r in records if recipient_of(r) and city_facts(r, tables).status == 5)


def test_every_event_is_told_once_and_a_rerun_tells_nothing(
    store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]]
) -> None:
    expected = _stage_with_parcels(store, records)
    report = citizen_notifications.plan(store, batch_size=50)
    # A supplement request is timed by the version's update (the generator's, not T0): counted the same.
    assert report.queued == expected > 20
    assert {"HO_SO_DA_TIEP_NHAN", "DA_CO_KET_QUA", "DA_GIAO_BUU_CHINH", "DA_PHAT_KET_QUA", "DA_CHUYEN_HOAN"} <= set(
        report.events
    )
    assert report.events["YEU_CAU_BO_SUNG"] >= _supplement_count(records)
    outcomes = _deliver_all(store, ihanoi, report.batches)
    assert outcomes == {"accepted": expected}
    assert _stats(ihanoi)["held"]["notifications"] == expected

    again = citizen_notifications.plan(store, batch_size=50)
    assert (again.queued, again.batches, again.dossiers_considered) == (0, [], 0)  # nothing changed since
    with store.db.engine.begin() as conn:  # the day re-planned from scratch: the keys still hold
        conn.execute(t.watermark.delete().where(t.watermark.c.source == WATERMARK))
    replanned = citizen_notifications.plan(store, batch_size=50)
    assert (replanned.queued, replanned.batches) == (0, [])
    assert replanned.dossiers_considered == len(records)
    assert _stats(ihanoi)["held"]["notifications"] == expected

    counts = citizen_notifications.period_counts(store, DAY, DAY + timedelta(days=30))
    assert (counts.planned, counts.sent, counts.pending, counts.refused) == (expected, expected, 0, 0)


def test_a_lost_reply_is_resent_with_its_key_and_the_citizen_is_told_once(
    store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]]
) -> None:
    expected = _stage_with_parcels(store, records)
    batches = citizen_notifications.plan(store, batch_size=expected).batches
    (message,) = store.outbox.claim_batch(batches[0])[:1]
    _client(ihanoi).notify(message.payload)  # the app took it; the reply never reached the outbox
    outcomes = _deliver_all(store, ihanoi, batches)
    assert outcomes == {"accepted": expected - 1, "duplicate": 1}
    assert _stats(ihanoi)["held"]["notifications"] == expected
    assert citizen_notifications.period_counts(store, DAY, DAY + timedelta(days=30)).sent == expected


def test_an_outage_delays_the_notifications_and_drops_none(
    store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]]
) -> None:
    expected = _stage_with_parcels(store, records)
    batches = citizen_notifications.plan(store, batch_size=50).batches
    requests.post(f"{ihanoi.url}/sandbox/faults", json={"error_rate": 1.0}, timeout=5)
    outcomes = _deliver_all(store, ihanoi, batches)
    assert outcomes == {"retry_later": expected}
    counts = citizen_notifications.period_counts(store, DAY, DAY + timedelta(days=30))
    assert (counts.planned, counts.sent, counts.pending, counts.refused) == (expected, 0, expected, 0)

    requests.post(f"{ihanoi.url}/sandbox/faults", json={"error_rate": 0.0}, timeout=5)
    later = citizen_notifications.plan(store, batch_size=50)  # the next run: nothing new, the waiting ones due
    assert later.queued == 0 and later.batches
    assert _deliver_all(store, ihanoi, later.batches) == {"accepted": expected}
    counts = citizen_notifications.period_counts(store, DAY, DAY + timedelta(days=30))
    assert (counts.planned, counts.sent, counts.pending) == (expected, expected, 0)


def test_refusals_are_counted_with_the_apps_reason_and_never_retried(
    store: HubStore, records: list[dict[str, Any]]
) -> None:
    with _app(share=0.3) as ihanoi:
        expected = _stage_with_parcels(store, records)
        outcomes = _deliver_all(store, ihanoi, citizen_notifications.plan(store, batch_size=50).batches)
        assert outcomes["refused"] > 0 and outcomes["accepted"] + outcomes["refused"] == expected
        assert citizen_notifications.plan(store, batch_size=50).batches == []  # refused: not due again
        counts = citizen_notifications.period_counts(store, DAY, DAY + timedelta(days=30))
        assert counts.holds and (counts.sent, counts.refused) == (outcomes["accepted"], outcomes["refused"])
        with store.db.engine.connect() as conn:
            errors = {e for (e,) in conn.execute(t.outbox.select().with_only_columns(t.outbox.c.last_error))}
        assert "HTTP 404 Not Found: RECIPIENT_NOT_FOUND: người nhận chưa có tài khoản iHaNoi" in errors


def test_counts_are_by_event_day(store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]]) -> None:
    _stage_with_parcels(store, records)
    _deliver_all(store, ihanoi, citizen_notifications.plan(store, batch_size=50).batches)
    bodies = requests.get(f"{ihanoi.url}/sandbox/notifications", timeout=5).json()
    by_day = Counter(b["event_time"][:10] for b in bodies)
    for day, n in by_day.items():
        assert citizen_notifications.period_counts(store, date.fromisoformat(day), date.fromisoformat(day)).sent == n
    assert by_day[DAY.isoformat()] > 0


def test_no_body_carries_personal_data_beyond_the_recipients_number(
    store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _stage_with_parcels(store, records)
    _deliver_all(store, ihanoi, citizen_notifications.plan(store, batch_size=50).batches)
    bodies = requests.get(f"{ihanoi.url}/sandbox/notifications", timeout=5).json()
    by_number = {r["ma_ho_so"]: r for r in records}
    assert bodies
    for body in bodies:
        assert set(body) == set(FIELDS)  # (PostgreSQL keeps JSONB keys in its own order)
        applicant = by_number[body["dossier_no"]]["chu_ho_so"]
        assert body["recipient_id"] == "".join(applicant["so_giay_to"].split())
        told = json.dumps({k: v for k, v in body.items() if k != "recipient_id"}, ensure_ascii=False)
        address = by_number[body["dossier_no"]].get("dia_chi_nhan_ket_qua") or {}
        personal = [applicant.get(k) for k in ("ho_ten", "dien_thoai", "email", "ngay_sinh")]
        personal += [address.get(k) for k in ("ho_ten", "dien_thoai", "dia_chi")]
        leaked = [p for p in personal if isinstance(p, str) and len(p) > 3 and p in told]
        assert not leaked, f"{body['dossier_no']}: personal data in the body"
        assert body["recipient_id"] not in told
        assert body["recipient_id"] not in caplog.text  # logs mask it


def _version(record: dict[str, Any], state: str, at: datetime) -> dict[str, Any]:
    """The city's next version of ``record``: in local state ``state``, updated at ``at``."""
    return {**record, "trang_thai": state, "cap_nhat_luc": at.isoformat()}


def _told(server: RunningServer, dossier_no: str) -> list[tuple[str, str]]:
    bodies = requests.get(f"{server.url}/sandbox/notifications", timeout=5).json()
    return sorted((b["event_code"], b["event_time"]) for b in bodies if b["dossier_no"] == dossier_no)


def test_a_new_request_for_documents_is_told_once_more_and_a_replan_tells_nothing_twice(
    store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]]
) -> None:
    """A dossier asked for documents, answered, then asked again: two requests, two notifications
    (a key of (dossier, event) alone once told the citizen only of the first)."""
    tables = load_code_tables()
    received = next(r for r in records if recipient_of(r) and city_facts(r, tables).status in (2, 4))
    no, first = received["ma_ho_so"], datetime.fromisoformat(received["cap_nhat_luc"])
    record = _version(received, "CHO_BO_SUNG", first)
    store.staging.stage(CITY_SOURCE, [staged_record(record)], "v1")
    _deliver_all(store, ihanoi, citizen_notifications.plan(store, batch_size=50).batches)
    asked_once = [told for told in _told(ihanoi, no) if told[0] == "YEU_CAU_BO_SUNG"]
    assert len(asked_once) == 1

    answered, asked_again = first + timedelta(days=1), first + timedelta(days=2)
    store.staging.stage(CITY_SOURCE, [staged_record(_version(record, "DANG_XU_LY", answered))], "v2")
    assert citizen_notifications.plan(store, batch_size=50).queued == 0  # received: told already
    store.staging.stage(CITY_SOURCE, [staged_record(_version(record, "CHO_BO_SUNG", asked_again))], "v3")
    again = citizen_notifications.plan(store, batch_size=50)
    assert again.queued == 1
    _deliver_all(store, ihanoi, again.batches)
    asked = [told for told in _told(ihanoi, no) if told[0] == "YEU_CAU_BO_SUNG"]
    assert [at for _, at in asked] == [first.isoformat(timespec="seconds"), asked_again.isoformat(timespec="seconds")]

    with store.db.engine.begin() as conn:  # re-planned from scratch: both requests' keys hold
        conn.execute(t.watermark.delete().where(t.watermark.c.source == WATERMARK))
    store.staging.stage(CITY_SOURCE, [staged_record(_version(record, "CHO_BO_SUNG", asked_again))], "v4")
    assert citizen_notifications.plan(store, batch_size=50).queued == 0
    assert _stats(ihanoi)["duplicates"] == 0 and len(_told(ihanoi, no)) == 3  # received + two requests


def test_events_older_than_the_limit_are_recorded_not_told_and_counted_too_old(
    store: HubStore, ihanoi: RunningServer, records: list[dict[str, Any]]
) -> None:
    """A first run over an old store: what happened before the limit is not news any more. It is
    counted "too old" (the sums still add up), never sent, and not told by a later run either."""
    expected = _stage_with_parcels(store, records)
    limit = datetime(2026, 11, 20, 12, tzinfo=VN_TZ)  # cuts the day: some events before, some after
    report = citizen_notifications.plan(store, not_before=limit, batch_size=50)
    assert report.too_old > 0 and report.queued > 0 and report.queued + report.too_old == expected
    outcomes = _deliver_all(store, ihanoi, report.batches)
    assert outcomes == {"accepted": report.queued}
    bodies = requests.get(f"{ihanoi.url}/sandbox/notifications", timeout=5).json()
    assert bodies and min(datetime.fromisoformat(b["event_time"]) for b in bodies) >= limit

    counts = citizen_notifications.period_counts(store, DAY - timedelta(days=400), DAY + timedelta(days=30))
    assert (counts.planned, counts.sent, counts.pending, counts.refused, counts.too_old) == (
        expected,
        report.queued,
        0,
        0,
        report.too_old,
    )
    assert counts.holds
    assert store.outbox.oldest_pending_age(PARTNER) is None  # nothing left waiting: not a backlog
    with store.db.engine.begin() as conn:  # re-planned without the limit: the too-old stay untold
        conn.execute(t.watermark.delete().where(t.watermark.c.source == WATERMARK))
    assert citizen_notifications.plan(store, batch_size=50).queued == 0
    assert _stats(ihanoi)["held"]["notifications"] == report.queued
    with store.db.engine.connect() as conn:
        kept = (
            conn.execute(t.outbox.select().where(t.outbox.c.operation == citizen_notifications.TOO_OLD))
            .mappings()
            .all()
        )
    assert len(kept) == report.too_old
    assert all(row["state"] == "dead" and row["payload"]["recipient_id"] == "" for row in kept)

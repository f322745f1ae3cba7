"""Dispatch and tracking against both sandbox carriers over loopback, callbacks into the hub's own
receiver: every ready result ordered once (or quarantined with its rule, or pending through an
outage), every order followed to a final state whatever the callbacks did."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.errors import ContractViolation
from adapters.postal.carrier import CarrierEvent
from adapters.postal.viettel_post import ViettelPostClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.pipeline import postal_dispatch
from hub.pipeline.extract import staged_record
from hub.pipeline.postal_tracking import track_carrier
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import HubStore
from hub.store.postal import DispatchDecision, OrderOutcome, PostalOrders
from hub.webhooks.app import create_app
from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ
from mappings.facts import city_facts
from mappings.postal.dispatch import READY_STATUSES, Dispatch
from mappings.postal.states import PostalState
from mappings.sources import CITY_SOURCE
from mappings.working_days import add_working_days
from quality.gate import QualityGate
from sandbox.city_system.generator import generate_day
from sandbox.server import serve_in_thread
from signing.pki import DevPki
from tests.support.postal_sandboxes import RIGS, Sandbox

pytestmark = pytest.mark.timeout(300)

DAY = date(2026, 11, 20)
SECRET = "pipeline-carrier-pw"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=VN_TZ)
POLICY = RedeliveryPolicy(base=timedelta(0))  # retries due at once in tests
FINAL = {PostalState.DELIVERED, PostalState.RETURNED, PostalState.CANCELLED}


@dataclass
class Carriers:
    sandboxes: dict[str, Sandbox]
    clients: dict[str, Any]

    def held(self) -> dict[str, int]:
        return {name: sandbox.held() for name, sandbox in self.sandboxes.items()}


@pytest.fixture
def carriers(store: HubStore, tmp_path: Path, dev_pki: DevPki) -> Iterator[Carriers]:
    clients: dict[str, Any] = {}  # filled once the sandboxes know where to call back
    with serve_in_thread(create_app(store, clients)) as receiver:
        sandboxes = {rig.name: rig.start(tmp_path, dev_pki, SECRET, webhook_url=receiver.url, seed=5) for rig in RIGS}
        clients.update({rig.name: rig.connect(sandboxes[rig.name], dev_pki, SECRET) for rig in RIGS})
        yield Carriers(sandboxes, clients)
        for client in clients.values():
            client.close()
        for sandbox in sandboxes.values():
            sandbox.server.stop()


def _ready(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tables = load_code_tables()
    return [r for r in records if r["tra_ket_qua_qua_buu_chinh"] and city_facts(r, tables).status in READY_STATUSES]


def _day(seed: int, breakages: int = 0) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A generated city day; the first ``breakages`` ready results get a broken address each."""
    records = copy.deepcopy(generate_day(DAY, 0.03, seed))
    broken: dict[str, str] = {}
    rules = [
        ("postal.commune_invalid", lambda a: a | {"ma_xa": "00001"}),  # abolished on 2025-07-01
        ("postal.phone_invalid", lambda a: a | {"dien_thoai": "12345"}),
        ("postal.address_missing", lambda a: None),
    ]
    for record, (rule, breaking) in zip(_ready(records), rules[:breakages], strict=False):
        record["dia_chi_nhan_ket_qua"] = breaking(record["dia_chi_nhan_ket_qua"])
        broken[record["ma_ho_so"]] = rule
    return records, broken


def _dispatch(
    store: HubStore, carriers: Carriers, policy: RedeliveryPolicy = POLICY
) -> postal_dispatch.DispatchPlanReport:
    gate = QualityGate(load_code_tables())
    plan = postal_dispatch.plan_dispatch(store, gate, source=CITY_SOURCE, on=NOW.date())
    for carrier, batch_ids in plan.batches.items():
        for batch_id in batch_ids:
            postal_dispatch.place_batch(
                store, carriers.clients[carrier], batch_id, gate=gate, policy=policy, on=NOW.date()
            )
    return plan


def test_ready_results_are_ordered_once_and_bad_addresses_quarantined(store: HubStore, carriers: Carriers) -> None:
    records, broken = _day(seed=3, breakages=3)
    ready = _ready(records)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")

    plan = _dispatch(store, carriers)
    summary = postal_dispatch.dispatch_summary(store)
    counts = summary["dispatch"]
    assert plan.considered == counts["ready"] == len(ready) > 10
    assert summary["identity_holds"] and counts["pending"] == 0
    assert counts["quarantined"] == len(broken) and counts["ordered"] == len(ready) - len(broken)
    assert summary["quarantine_by_rule"] == {rule: 1 for rule in broken.values()}
    assert sum(carriers.held().values()) == counts["ordered"]
    assert all(carriers.held().values())  # both carriers got orders (desks per agency)

    orders = PostalOrders(store)
    for record in ready:
        row = orders.get(f"{record['ma_ho_so']}/KQ")
        assert row is not None
        if record["ma_ho_so"] in broken:
            assert row["dispatch"] == "quarantined" and row["reason"].startswith(broken[record["ma_ho_so"]])
            assert "12345" not in row["reason"], "a receiver's phone number is masked in the reason"
        else:
            assert row["dispatch"] == "ordered" and row["state"] == "created"
            assert row["order_id"] and row["deadline"] > row["placed_at"]
            # VNPost's S10 item code; Viettel Post answers its own numeric order number and no S10 code
            assert len(row["item_code"]) == 13 if row["carrier"] == "vnpost" else row["order_id"].isdigit()

    again = _dispatch(store, carriers)  # a re-run: nothing new planned, nothing ordered twice
    assert again.considered == 0 and again.batches == {}
    assert postal_dispatch.dispatch_summary(store)["dispatch"] == counts
    assert sum(carriers.held().values()) == counts["ordered"]


def test_orders_are_followed_to_final_states_through_lost_doubled_and_reordered_callbacks(
    store: HubStore, carriers: Carriers
) -> None:
    records, _ = _day(seed=4)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")
    _dispatch(store, carriers)
    ordered = postal_dispatch.dispatch_summary(store)["dispatch"]["ordered"]
    for sandbox in carriers.sandboxes.values():
        sandbox.faults(webhook_loss_rate=0.3, webhook_duplicate_rate=0.2, webhook_reorder_rate=0.3)

    sent = {name: sandbox.advance(36) for name, sandbox in carriers.sandboxes.items()}
    assert all(s.get("lost", 0) and s.get("duplicated", 0) for s in sent.values()), sent
    halfway = {name: track_carrier(store, client, poll=False) for name, client in carriers.clients.items()}
    assert sum(r.orders for r in halfway.values()) == ordered

    for sandbox in carriers.sandboxes.values():
        sandbox.advance(24 * 10)  # every journey ends within ten days
    reports = {name: track_carrier(store, client) for name, client in carriers.clients.items()}
    assert all(r.error is None and r.unpolled == 0 for r in reports.values())
    assert sum(r.anomalies for r in halfway.values()) + sum(r.anomalies for r in reports.values()) == 0
    assert PostalOrders(store).anomalies() == []

    delivery = PostalOrders(store).delivery_counts()  # polling filled what the callbacks lost
    states = {state for per_carrier in delivery.values() for state in per_carrier if state != "overdue"}
    assert states <= {s.value for s in FINAL} and PostalState.DELIVERED.value in states
    assert sum(n for per in delivery.values() for state, n in per.items() if state != "overdue") == ordered
    quiet = {name: track_carrier(store, client) for name, client in carriers.clients.items()}
    assert all(r.orders == 0 for r in quiet.values())  # all final, nothing new: nothing polled
    # The hub's state is the carrier's own last word for every order (Viettel's track replays the
    # history to the receiver: that adds nothing, or only the events it had lost).
    for name, client in carriers.clients.items():
        rows = [PostalOrders(store).get(f"{r['ma_ho_so']}/KQ") for r in _ready(records)]
        mine = {row["order_id"]: row["status_code"] for row in rows if row and row["carrier"] == name}
        histories = client.track(list(mine))
        if name == "viettel_post":  # its track only replays the callbacks: re-deriving changes nothing
            assert histories == {} and track_carrier(store, client, poll=False).anomalies == 0
            rows = [PostalOrders(store).get(f"{r['ma_ho_so']}/KQ") for r in _ready(records)]
            assert mine == {row["order_id"]: row["status_code"] for row in rows if row and row["carrier"] == name}
            continue
        assert mine == {order_id: events[-1].status_code for order_id, events in histories.items()}

    assert all(r.orders == 0 for r in quiet.values())  # all final, nothing new: nothing polled


def test_a_carrier_outage_delays_results_and_a_later_run_orders_them(store: HubStore, carriers: Carriers) -> None:
    records, _ = _day(seed=6)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")
    carriers.sandboxes["vnpost"].faults(error_rate=1.0)

    _dispatch(store, carriers)  # no exception: an outage is not the task's failure
    down = postal_dispatch.dispatch_summary(store)
    assert down["identity_holds"] and down["dispatch"]["pending"] > 0
    assert carriers.held()["vnpost"] == 0 and carriers.held()["viettel_post"] == down["dispatch"]["ordered"]
    pending = [row for r in _ready(records) if (row := PostalOrders(store).get(f"{r['ma_ho_so']}/KQ"))]
    assert all(row["next_attempt_at"] and row["reason"] for row in pending if row["dispatch"] == "pending")

    carriers.sandboxes["vnpost"].faults(error_rate=0.0)
    _dispatch(store, carriers)
    up = postal_dispatch.dispatch_summary(store)["dispatch"]
    assert up["pending"] == 0 and up["ordered"] == down["dispatch"]["ready"] == sum(carriers.held().values())


def test_an_item_code_failing_its_check_digit_is_never_accepted(store: HubStore, carriers: Carriers) -> None:
    records, _ = _day(seed=7)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")
    carriers.sandboxes["vnpost"].faults(bad_item_code_rate=1.0)
    with pytest.raises(ContractViolation, match="S10"):
        _dispatch(store, carriers)
    orders = PostalOrders(store)
    rows = [orders.get(f"{r['ma_ho_so']}/KQ") for r in _ready(records)]
    vnpost = [row for row in rows if row and row["carrier"] == "vnpost"]
    assert vnpost and all(row["item_code"] is None and row["dispatch"] != "ordered" for row in vnpost)
    assert postal_dispatch.dispatch_summary(store)["identity_holds"]

    carriers.sandboxes["vnpost"].faults(bad_item_code_rate=0.0)
    _dispatch(store, carriers)  # the resend gets the same order back, with its true code
    assert postal_dispatch.dispatch_summary(store)["dispatch"]["pending"] == 0
    assert sum(carriers.held().values()) == postal_dispatch.dispatch_summary(store)["dispatch"]["ordered"]


def test_a_planned_order_breaking_the_postal_suite_is_quarantined_by_its_rule_and_never_placed(
    store: HubStore, carriers: Carriers
) -> None:
    records, _ = _day(seed=4)
    bad = _ready(records)[0]
    bad["ma_ho_so"] = "HS-" + bad["ma_ho_so"].rpartition("-")[2]  # the order reference would be HS-nnnn/KQ
    ready = _ready(records)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")

    _dispatch(store, carriers)
    summary = postal_dispatch.dispatch_summary(store)
    counts = summary["dispatch"]
    assert summary["identity_holds"] and counts["pending"] == 0
    assert (counts["quarantined"], counts["ordered"]) == (1, len(ready) - 1)
    assert summary["quarantine_by_rule"] == {"dossier_no.format": 1}
    row = PostalOrders(store).get(f"{bad['ma_ho_so']}/KQ")
    assert row is not None and row["dispatch"] == "quarantined" and row["order_id"] is None
    assert row["reason"].startswith("dossier_no.format") and bad["ma_ho_so"] in row["reason"]
    assert sum(carriers.held().values()) == counts["ordered"]  # the carriers never saw it


def test_one_order_id_answered_for_two_results_quarantines_both_and_the_batch_settles(
    store: HubStore, carriers: Carriers
) -> None:
    """The adapter sees one reply at a time; only the batch shows VNPost giving its first order's id
    to the second result too (the fault shows each reply the previous order's id)."""
    records, _ = _day(seed=6)
    ready = _ready(records)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")
    carriers.sandboxes["vnpost"].faults(reused_order_id_rate=1.0)

    _dispatch(store, carriers)
    summary = postal_dispatch.dispatch_summary(store)
    counts = summary["dispatch"]
    assert summary["identity_holds"] and counts["pending"] == 0
    assert summary["quarantine_by_rule"] == {"postal.order_id_unique": 2}
    assert (counts["quarantined"], counts["ordered"]) == (2, len(ready) - 2)
    rows = [row for r in ready if (row := PostalOrders(store).get(f"{r['ma_ho_so']}/KQ"))]
    twins = [row for row in rows if row["dispatch"] == "quarantined"]
    assert {row["carrier"] for row in twins} == {"vnpost"} and all(row["order_id"] is None for row in twins)
    assert all(row["reason"].startswith("postal.order_id_unique") for row in twins)
    shown = [e["payload"]["order_id"] for row in twins for e in store.quarantine.entries_of(row["dossier_no"])]
    assert shown == ["VNP0000000001"] * 2  # what an operator sees: the id both replies showed
    assert sum(carriers.held().values()) == counts["ordered"] + 2  # placed at the carrier, held for a person


def test_results_whose_retries_run_out_are_quarantined_and_still_counted(store: HubStore, carriers: Carriers) -> None:
    records, _ = _day(seed=8)
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "day-1")
    for sandbox in carriers.sandboxes.values():
        sandbox.faults(error_rate=1.0)
    _dispatch(store, carriers, RedeliveryPolicy(max_attempts=1))
    summary = postal_dispatch.dispatch_summary(store)
    assert summary["identity_holds"] and summary["dispatch"]["ordered"] == summary["dispatch"]["pending"] == 0
    assert summary["quarantine_by_rule"] == {"delivery.retries_exhausted": summary["dispatch"]["ready"]}


def test_orders_past_their_deadline_are_flagged_overdue(store: HubStore) -> None:
    """Deadline = placed + N working days: still travelling after it, or delivered after it -> overdue."""
    placed = datetime(2026, 11, 2, 9, 0, tzinfo=VN_TZ)  # a Monday, long before the test runs
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in _ready(generate_day(DAY, 0.03, 9))[:3]], "day-1")
    orders = PostalOrders(store)
    candidates = [c for page in orders.iter_candidates(CITY_SOURCE, 10) for c in page]
    numbers = [c.dossier_no for c in candidates]
    orders.record_decisions(
        CITY_SOURCE,
        [DispatchDecision(c.dossier_no, c.content_hash, "viettel_post", Dispatch.PENDING) for c in candidates],
    )
    deadline = add_working_days(placed, 3)  # Thursday 5 Nov
    orders.settle(
        [
            OrderOutcome(f"{n}/KQ", Dispatch.ORDERED, order_id=f"9{i}", item_code="EE123456785VN", placed_at=placed,
                         deadline=deadline)
            for i, n in enumerate(numbers)
        ]
    )  # fmt: skip
    on_time, late = deadline - timedelta(hours=2), deadline + timedelta(hours=2)
    orders.add_events(
        [
            CarrierEvent("viettel_post", "90", None, "501", "Phát thành công", on_time),
            CarrierEvent("viettel_post", "91", None, "501", "Phát thành công", late),
            CarrierEvent("viettel_post", "92", None, "300", "Đang vận chuyển", on_time),
        ],
        "webhook",
    )
    settings = TransportSettings(base_url="http://127.0.0.1:9", sign_requests=False, verify_replies=False)
    offline = ViettelPostClient(HttpTransport("viettel_post", settings), "hub", "pw", "token")  # poll=False: no calls
    assert track_carrier(store, offline, poll=False).overdue == 2
    flagged = {orders.get(f"{n}/KQ")["order_id"]: orders.get(f"{n}/KQ")["overdue"] for n in numbers}
    assert flagged == {"90": False, "91": True, "92": True}

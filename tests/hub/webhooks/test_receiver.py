"""The carriers' callback receiver over real sockets: authentication, validation, idempotent storage,
and delivery states that do not depend on the order callbacks arrive in."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import requests

from adapters.postal.vnpost_signdata import sign_data
from bench.postal import viettel_callback, vnpost_callback
from hub.pipeline.postal_tracking import track_carrier
from hub.store import HubStore, StagedRecord
from hub.store.postal import DispatchDecision, OrderOutcome, PostalOrders
from mappings.dossier import VN_TZ
from mappings.facts import DossierFacts
from mappings.postal.carrier_time import format_carrier_time
from mappings.postal.dispatch import Dispatch
from mappings.postal.states import PostalState
from sandbox.server import RunningServer
from tests.support.callback_receiver import VIETTEL_TOKEN, VNPOST_SECRET, callback_carriers

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=VN_TZ)
PHONE = "0912345678"


def _viettel(code: str, at: datetime, order_id: str = "1000001", *, token: str = VIETTEL_TOKEN) -> bytes:
    return viettel_callback(order_id, code, at, token)[0]


def _vnpost(
    code: str, at: datetime, order_number: str = "000.00.60.H26-261120-0001", secret: str = VNPOST_SECRET
) -> bytes:
    return vnpost_callback(order_number, code, at, secret)[0]


def _resigned(body: bytes, **changes: str) -> bytes:
    """``body`` with fields replaced (the signature left as it was, unless ``SignData`` is given)."""
    return json.dumps({**json.loads(body), **changes}).encode()


def _post(server: RunningServer, carrier: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        f"{server.url}/webhooks/{carrier}",
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=10,
    )


def test_wrong_credentials_are_refused_with_401_and_nothing_is_stored(receiver) -> None:
    server, store = receiver
    body = _vnpost("100", T0)
    other = json.loads(_vnpost("170", T0))
    unsigned = json.loads(body)
    del unsigned["SignData"]
    refusals = [
        _post(server, "viettel_post", _viettel("501", T0, token="guessed")),
        _post(server, "viettel_post", json.dumps({"DATA": {}}).encode()),  # no TOKEN at all
        _post(server, "vnpost", json.dumps(unsigned).encode()),  # no SignData
        _post(server, "vnpost", _vnpost("100", T0, secret="another-secret")),
        _post(server, "vnpost", _resigned(body, Data=other["Data"])),  # another change under this signature
        _post(server, "vnpost", _resigned(body, SendDate="21/11/2026 09:00:00")),  # the date is signed too
    ]
    assert [r.status_code for r in refusals] == [401] * 6
    assert all(r.json()["error"] for r in refusals)
    assert PostalOrders(store).count_events() == 0


def test_malformed_callbacks_are_refused_with_400_and_the_reason(receiver) -> None:
    server, store = receiver
    not_json = b"DATA=1"
    missing_status = json.dumps({"DATA": {"ORDER_NUMBER": "1", "STATUS_NAME": "x"}, "TOKEN": VIETTEL_TOKEN}).encode()
    bad_date = _viettel("501", T0).replace(format_carrier_time(T0).encode(), b"2026-11-20T09:00")
    data_not_json = "{not json"
    signed_garbage = json.dumps(
        {
            "Data": data_not_json,
            "SendDate": "20/11/2026 09:00:00",
            "SignData": sign_data(data_not_json, "20/11/2026 09:00:00", VNPOST_SECRET),
        }
    ).encode()
    replies = {
        "vnpost not JSON": _post(server, "vnpost", not_json),
        "vnpost Data not JSON": _post(server, "vnpost", signed_garbage),
        "viettel not JSON": _post(server, "viettel_post", not_json),
        "viettel without ORDER_STATUS": _post(server, "viettel_post", missing_status),
        "viettel bad date": _post(server, "viettel_post", bad_date),
    }
    assert {name: r.status_code for name, r in replies.items()} == dict.fromkeys(replies, 400)
    assert "JSON" in replies["vnpost not JSON"].json()["error"]
    assert "Data" in replies["vnpost Data not JSON"].json()["error"]
    assert "ORDER_STATUS" in replies["viettel without ORDER_STATUS"].json()["error"]
    assert "ORDER_STATUSDATE" in replies["viettel bad date"].json()["error"]
    assert PostalOrders(store).count_events() == 0
    assert _post(server, "dhl", _viettel("501", T0)).status_code == 404


def test_a_duplicate_callback_is_stored_once(receiver) -> None:
    server, store = receiver
    body = _vnpost("70", T0)
    first, again = _post(server, "vnpost", body), _post(server, "vnpost", body)
    assert (first.status_code, first.json()) == (200, {"accepted": 1})
    assert (again.status_code, again.json()) == (200, {"accepted": 1})
    assert PostalOrders(store).count_events() == 1


def test_concurrent_callbacks_are_all_stored_before_they_are_answered(receiver) -> None:
    """Callbacks arriving together share a transaction; each is answered once it is committed."""
    server, store = receiver
    bodies = [_viettel("100", T0 + timedelta(minutes=i), order_id=f"20{i:05d}") for i in range(60)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda body: _post(server, "viettel_post", body).status_code, bodies + bodies[:10]))
    assert statuses == [200] * 70
    assert PostalOrders(store).count_events() == 60


def _ordered(store: HubStore, dossier_no: str, carrier: str, order_id: str) -> None:
    facts = DossierFacts(None, 9, 1, None, None, None, False, False, True)
    store.staging.stage("city", [StagedRecord(dossier_no, "h1", {"ma_ho_so": dossier_no}, None, facts)], "b1")
    orders = PostalOrders(store)
    orders.record_decisions("city", [DispatchDecision(dossier_no, "h1", carrier, Dispatch.PENDING)])
    orders.settle(
        [
            OrderOutcome(
                f"{dossier_no}/KQ",
                Dispatch.ORDERED,
                order_id=order_id,
                item_code="EV123456785VN",
                placed_at=T0,
                deadline=T0 + timedelta(days=5),
            )
        ]
    )


def test_out_of_order_callbacks_end_in_the_right_state(receiver) -> None:
    """Delivered arrives first, pick-up last: the state is still delivered, with no anomaly."""
    server, store = receiver
    _ordered(store, "D1", "viettel_post", "1000001")
    history = [("100", 0), ("105", 3), ("300", 9), ("500", 20), ("501", 22)]
    for code, hours in reversed(history):
        assert _post(server, "viettel_post", _viettel(code, T0 + timedelta(hours=hours))).status_code == 200
    client = callback_carriers()["viettel_post"]
    report = track_carrier(store, client, poll=False)
    assert (report.orders, report.final, report.anomalies) == (1, 1, 0)
    row = PostalOrders(store).get("D1/KQ")
    assert row is not None and (row["state"], row["status_code"], row["final"]) == (PostalState.DELIVERED, "501", True)

    # A late "in transit" after the delivery is flagged, not applied -- even for a final order.
    assert _post(server, "viettel_post", _viettel("300", T0 + timedelta(hours=30))).status_code == 200
    track_carrier(store, client, poll=False)
    row = PostalOrders(store).get("D1/KQ")
    assert row is not None and row["state"] == PostalState.DELIVERED
    (anomaly,) = PostalOrders(store).anomalies()
    assert anomaly["status_code"] == "300" and anomaly["from_state"] == "delivered"


def test_logs_never_show_a_phone_number(receiver, caplog: pytest.LogCaptureFixture) -> None:
    server, _ = receiver
    caplog.set_level(logging.INFO)
    leaking = json.dumps({"DATA": {"ORDER_NUMBER": PHONE, "RECEIVER_PHONE": PHONE}, "TOKEN": VIETTEL_TOKEN}).encode()
    assert _post(server, "viettel_post", leaking).status_code == 400
    assert _post(server, "viettel_post", _viettel("100", T0, order_id=PHONE)).status_code == 200
    assert caplog.records and PHONE not in caplog.text

"""VNPost's double, as public one-stop systems reach VNPost through the LGSP (docs/interfaces.md
section 9 is the evidence; adapters/postal/vnpost.openapi.yaml the contract).

- ``POST /token``: OAuth client credentials (HTTP Basic consumer key and secret, form body
  ``grant_type=client_credentials``) -> ``{access_token, token_type, expires_in}``; the token's life
  is the shared injector's session lifetime, so a test can expire every token at once.
- ``POST /order/OrderLGSPWithItemCode``: the customer's ``ItemCode`` (a valid S10 code of the block
  issued to it), ``OrderNumber`` (the dossier number), integer provinces and districts,
  ``FlagConfig``; the reply is only ``{Status, Message}``, ``"100"`` accepted. The same
  ``OrderNumber`` with the same ``ItemCode`` again is accepted again without a second parcel (an
  **assumption** about the real one, interfaces 9.2); a code another order holds, or a second code
  for one ``OrderNumber``, is refused.
- ``GET /order/tracking?pagesize=&lastId=``: every status change of the customer's parcels after
  ``lastId``, oldest first; each has an ``Id`` (24 hex digits: the change's time, the parcel, its
  step), so the feed is the same whenever it is read. Only changes strictly before the simulated
  clock are listed, so a change that becomes visible later always sorts after what was served.
- ``POST /order/cancel {CustomerCode, OrderNumber}``: only before the parcel is accepted at the post office.
- Callbacks to ``<receiver>/webhooks/vnpost``: ``{Data, SendDate, SignData}``, ``Data`` the JSON
  string of one change, ``SignData`` as ``adapters.postal.vnpost_signdata`` computes it.

Status codes are the public ones: 70 accepted at the post office, 91 delivery failed, 100
delivered, 60 cancelled, 170 returned to the sender; the steps VNPost has no public code for are
not reported. A wrong or expired token is HTTP 401; only injected faults are HTTP 5xx. The
LGSP checks the hub's JWS on every POST body of a service call, as for the hub's other LGSP partners.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from adapters.postal.vnpost_signdata import DEFAULT_SCHEME, sign_data
from mappings.postal.carrier_time import format_carrier_time
from mappings.postal.s10 import ItemCodeRange
from sandbox.doubles import DoubleContext
from sandbox.faults import faulty_json
from sandbox.postal.control import CarrierSandbox, Handler, json_bytes, missing_fields
from sandbox.postal.orders import CarrierProfile, Event, ItemCodeTaken, Order
from sandbox.signatures import PartnerSigning, mount_signing_control
from signing.jws import SIGNATURE_HEADER

__all__ = ["ITEM_CODE_RANGE", "PROFILE", "WEBHOOK_PATH", "create_app", "feed_id"]

OK, INVALID, ITEM_CODE_REFUSED, NOT_FOUND, NOT_CANCELLABLE, BAD_SIGNATURE = "100", "101", "102", "103", "104", "105"
MAX_PAGE_SIZE = 500
WEBHOOK_PATH = "/webhooks/vnpost"
ITEM_CODE_RANGE = "RH10000000-RH10999999"  # the block the runner's double issues to the city
LONGEST_JOURNEY = timedelta(days=14)  # no parcel reports after this (sandbox.postal.journey: under 9 days)
PROFILE = CarrierProfile(
    name="vnpost",
    order_prefix="VNP",
    item_prefix="RH",  # unused: VNPost takes the customer's code
    statuses={
        "created": None,
        "awaiting_pickup": None,
        "picked_up": ("70", "Bưu cục đã nhận bưu gửi"),
        "at_office": None,
        "in_transit": None,
        "out_for_delivery": None,
        "failed_attempt": ("91", "Phát không thành công"),
        "delivered": ("100", "Phát thành công"),
        "returning": None,
        "returned": ("170", "Đã chuyển hoàn cho người gửi"),
        "carrier_cancelled": ("60", "Đã hủy"),
        "cancelled": ("60", "Đã hủy"),
    },
)
_TEXT = ("OrderNumber", "SenderName", "SenderAddress", "SenderTel", "ReceiverName", "ReceiverAddress", "ReceiverTel")
_INTEGERS = ("CODAmount", "SenderProvince", "SenderDistrict", "ReceiverProvince", "ReceiverDistrict", "FlagConfig")


def _reply(status: str, message: str, **data: Any) -> dict[str, Any]:
    return {"Status": status, "Message": message, **data}


def feed_id(event: Event) -> str:
    """A change's place in the feed: its time (seconds), the parcel's sequence, its step -- 24 hex digits."""
    seq = int(event.order.order_id[len(PROFILE.order_prefix) :])
    return f"{int(event.at.timestamp()):08x}{seq:010x}{event.index:06x}"


def _change(event: Event) -> dict[str, str]:
    order = event.order
    return {
        "Id": feed_id(event),
        "OrderNumber": order.reference,
        "ItemCode": order.item_code,
        "StatusCode": event.code,
        "StatusName": event.name,
        "StatusDate": format_carrier_time(event.at),
    }


class _Tokens:
    """Bearer tokens issued by the double's OAuth endpoint. A token lives as long as the injector's
    session lifetime says now (so shortening it expires the tokens already issued)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = time.monotonic()
        return token

    def valid(self, token: str, lifetime_s: float) -> bool:
        with self._lock:
            issued = self._issued.get(token)
        return issued is not None and time.monotonic() - issued < lifetime_s


def create_app(
    db_path: str | Path,
    client_id: str,
    client_secret: str,
    customer_code: str,
    *,
    callback_secret: str,
    item_codes: ItemCodeRange,
    callback_scheme: str = DEFAULT_SCHEME,
    webhook_url: str | None = None,
    seed: int = 0,
    start: datetime,
    faults: dict[str, Any] | None = None,
    signing: PartnerSigning | None = None,
) -> FastAPI:
    """Build the double; ``webhook_url`` is the hub receiver's base URL (None: no callbacks)."""
    if not (client_id and client_secret and callback_secret):
        raise ValueError("the VNPost sandbox needs client credentials and a callback secret")
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
    tokens = _Tokens()

    def encode(event: Event) -> tuple[bytes, dict[str, str]]:
        data = json.dumps(_change(event), ensure_ascii=False, separators=(",", ":"))
        send_date = format_carrier_time(carrier.orders.now())
        signature = sign_data(data, send_date, callback_secret, callback_scheme)
        return json_bytes({"Data": data, "SendDate": send_date, "SignData": signature}), {}

    carrier = CarrierSandbox("VNPost via LGSP (sandbox)", db_path, PROFILE, seed=seed, start=start, faults=faults,
                             webhook_url=webhook_url, webhook_path=WEBHOOK_PATH, encode=encode)  # fmt: skip
    orders, injector = carrier.orders, carrier.faults.http

    @carrier.app.post("/token")
    async def token(request: Request) -> Response:
        async def produce() -> tuple[bytes, int]:
            carrier.calls["token"] += 1
            given = request.headers.get("authorization", "").removeprefix("Basic ").strip()
            form = parse_qs((await request.body()).decode("ascii", "replace"))
            if form.get("grant_type") != ["client_credentials"]:
                return json_bytes({"error": "unsupported_grant_type"}), 400
            if not hmac.compare_digest(given.encode(), basic.encode()):
                return json_bytes(
                    {"error": "invalid_client", "error_description": "Client Authentication failed."}
                ), 401
            lifetime = injector.session_ttl_s()
            issued = {"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": max(int(lifetime), 1)}
            return json_bytes(issued), 200

        return await faulty_json(injector, signing, produce, service_call=False)

    async def answer(request: Request, operation: str, handler: Handler) -> Response:
        async def produce() -> tuple[bytes, int]:
            carrier.calls[operation] += 1
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not tokens.valid(bearer, injector.session_ttl_s()):
                return json_bytes({"Status": "401", "Message": "Invalid Credentials: access token không hợp lệ"}), 401
            if request.method == "GET":
                return json_bytes(await run_in_threadpool(handler, dict(request.query_params))), 200
            body = await request.body()
            if signing is not None and (refusal := signing.check_request(body, request.headers.get(SIGNATURE_HEADER))):
                return json_bytes(_reply(BAD_SIGNATURE, refusal)), 200
            try:
                document = json.loads(body)
            except ValueError:
                return json_bytes(_reply(INVALID, "Dữ liệu gửi lên không phải JSON")), 200
            if not isinstance(document, dict):
                return json_bytes(_reply(INVALID, "Dữ liệu gửi lên phải là đối tượng JSON")), 200
            if document.get("CustomerCode") != customer_code:
                return json_bytes(_reply(INVALID, "Mã khách hàng không tồn tại")), 200
            return json_bytes(await run_in_threadpool(handler, document)), 200

        return await faulty_json(injector, signing, produce)

    def create(document: dict[str, Any]) -> dict[str, Any]:
        if refusal := missing_fields(document, _TEXT):
            return _reply(INVALID, refusal)
        wrong = [key for key in _INTEGERS if not isinstance(document.get(key), int) or isinstance(document[key], bool)]
        if wrong:
            return _reply(INVALID, f"Các trường phải là số nguyên: {', '.join(wrong)}")
        item_code = document.get("ItemCode")
        if item_code not in item_codes:
            return _reply(ITEM_CODE_REFUSED, f"Số hiệu bưu gửi {item_code!r} không thuộc dải số đã cấp cho khách hàng")
        try:
            order, new = orders.place(str(document["OrderNumber"]), document, item_code=item_code)
        except ItemCodeTaken:
            return _reply(ITEM_CODE_REFUSED, f"Số hiệu bưu gửi {item_code} đã được sử dụng cho đơn hàng khác")
        if order.item_code != item_code:
            return _reply(ITEM_CODE_REFUSED, f"Đơn hàng {order.reference} đã có số hiệu bưu gửi khác")
        return _reply(OK, "Tạo đơn hàng thành công" if new else "Đơn hàng đã tồn tại")

    def tracking(query: dict[str, str]) -> dict[str, Any]:
        last_id, size = query.get("lastId", ""), query.get("pagesize", "")
        if len(last_id) != 24 or not size.isdigit() or not 0 < int(size) <= MAX_PAGE_SIZE:
            return _reply(INVALID, f"lastId phải gồm 24 ký tự, pagesize từ 1 đến {MAX_PAGE_SIZE}")
        return _reply(OK, "Thành công", Data=[_change(e) for e in _feed(last_id.lower(), int(size))])

    def _feed(last_id: str, size: int) -> list[Event]:
        clock = orders.now()
        try:
            since = datetime.fromtimestamp(int(last_id[:8], 16), tz=clock.tzinfo) - LONGEST_JOURNEY
        except ValueError:
            since = clock - LONGEST_JOURNEY
        visible = (e for order in orders.placed_since(since) for e in _events_before(order, clock))
        return sorted((e for e in visible if feed_id(e) > last_id), key=feed_id)[:size]

    def _events_before(order: Order, clock: datetime) -> list[Event]:
        return [e for e in orders.history(order) if e.at < clock]

    def cancel(document: dict[str, Any]) -> dict[str, Any]:
        held = orders.by_reference(str(document.get("OrderNumber", "")))
        outcome = "not_found" if held is None else orders.cancel(held.order_id)
        if outcome == "not_found":
            return _reply(NOT_FOUND, "Không tìm thấy đơn hàng")
        if outcome == "not_cancellable":
            return _reply(NOT_CANCELLABLE, "Chỉ hủy được đơn hàng chưa được bưu cục nhận")
        return _reply(OK, "Hủy đơn hàng thành công")

    mount_signing_control(carrier.app, signing)
    app = carrier.finish(
        answer,
        (
            ("/order/OrderLGSPWithItemCode", "OrderLGSPWithItemCode", create),
            ("/order/cancel", "cancel", cancel),
        ),
    )

    @app.get("/order/tracking")
    async def tracking_endpoint(request: Request) -> Response:
        return await answer(request, "tracking", tracking)  # type: ignore[arg-type]

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's VNPost (login/password: the LGSP consumer key and secret; extras as the hub's Connection)."""
    login = context.credentials
    return create_app(
        context.db_path,
        login["username"],
        login["password"],
        login["customer_code"],
        callback_secret=login["callback_secret"],
        item_codes=ItemCodeRange.parse(login["item_code_range"]),
        signing=context.signing,
        **context.carrier_options(),
    )

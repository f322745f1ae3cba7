"""Viettel Post's partner API (adapters/postal/viettel_post.openapi.yaml is the contract).

``POST /v2/user/Login`` trades the partner account for a token; every other call carries it in
the ``Token`` header (HTTP 401 once it is wrong or expired -- tokens live ``session_ttl_s``). Orders
are placed with ``/v2/order/createOrder`` (the request's ``ORDER_NUMBER`` is the customer's own
number, kept as ``ORDER_REFERENCE``; the reply's ``ORDER_NUMBER`` is Viettel's), cancelled with
``/v2/order/UpdateOrder`` ``TYPE`` 4 while still awaiting pickup, and ``/v2/order/registerOrderHook``
replays the history of the listed orders to the callback URL -- faithfully, no loss -- and, in
this sandbox, also returns it, which is how the hub polls. Replies are
``{status, error, message, data}``; business refusals are ``status`` 205 with ``error`` true.
Viettel Post is outside the LGSP and signs nothing: its authentication is the token, both ways
(callbacks carry the shared ``TOKEN`` in the body).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mappings.postal.carrier_time import format_carrier_time
from sandbox.doubles import DoubleContext
from sandbox.faults import faulty_json
from sandbox.postal.control import CarrierSandbox, Handler, json_bytes, missing_fields
from sandbox.postal.orders import CarrierProfile, Event, Order

__all__ = ["PROFILE", "WEBHOOK_PATH", "create_app"]

OK, REFUSED = 200, 205
CANCEL = 4  # UpdateOrder TYPE: cancel the order
WEBHOOK_PATH = "/webhooks/viettel_post"
PROFILE = CarrierProfile(
    name="viettel_post",
    order_prefix="1",
    item_prefix="EV",
    statuses={
        "created": ("100", "Tiếp nhận đơn hàng từ đối tác"),
        "awaiting_pickup": ("102", "Đơn hàng chờ lấy"),
        "picked_up": ("105", "Bưu tá đã nhận hàng"),
        "at_office": ("200", "Nhận từ bưu tá - Bưu cục gốc"),
        "in_transit": ("300", "Đang vận chuyển"),
        "out_for_delivery": ("500", "Giao bưu tá đi phát"),
        "failed_attempt": ("506", "Phát không thành công - khách hàng vắng nhà"),
        "delivered": ("501", "Phát thành công"),
        "returning": ("502", "Đang chuyển hoàn"),
        "returned": ("504", "Đã chuyển hoàn cho người gửi"),
        "carrier_cancelled": ("503", "Hủy - theo yêu cầu của Viettel Post"),
        "cancelled": ("107", "Đối tác yêu cầu hủy qua API"),
    },
)
_REQUIRED = ("ORDER_NUMBER", "RECEIVER_FULLNAME", "RECEIVER_PHONE", "RECEIVER_ADDRESS", "RECEIVER_WARD",
             "RECEIVER_PROVINCE", "SENDER_FULLNAME", "SENDER_ADDRESS", "PRODUCT_WEIGHT")  # fmt: skip


def _reply(status: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"status": status, "error": status != OK, "message": message, "data": data}


def _data(event: Event) -> dict[str, Any]:
    """A callback's ``DATA`` (and one history entry of ``registerOrderHook``)."""
    order = event.order
    return {
        "ORDER_NUMBER": order.order_id,
        "ORDER_REFERENCE": order.reference,
        "ORDER_STATUSDATE": format_carrier_time(event.at),
        "ORDER_STATUS": int(event.code),  # a number on the wire, as Viettel sends it
        "STATUS_NAME": event.name,
        "LOCALION_CURRENTLY": "Hà Nội",
        "NOTE": "",
        "MONEY_COLLECTION": order.body.get("MONEY_COLLECTION", 0),
        "PRODUCT_WEIGHT": order.body.get("PRODUCT_WEIGHT", 0),
        "ITEM_CODE": order.item_code,
    }


def create_app(
    db_path: str | Path,
    username: str,
    password: str,
    *,
    webhook_token: str,
    webhook_url: str | None = None,
    seed: int = 0,
    start: datetime,
    faults: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the simulator; ``webhook_url`` is the hub receiver's base URL (None: no callbacks)."""
    if not (username and password and webhook_token):
        raise ValueError("the Viettel Post sandbox needs an account and a webhook token")

    def encode(event: Event) -> tuple[bytes, dict[str, str]]:
        return json_bytes({"DATA": _data(event), "TOKEN": webhook_token}), {}

    carrier = CarrierSandbox("Viettel Post (sandbox)", db_path, PROFILE, seed=seed, start=start, faults=faults,
                             webhook_url=webhook_url, webhook_path=WEBHOOK_PATH, encode=encode)  # fmt: skip
    orders, injector, calls = carrier.orders, carrier.faults, carrier.calls
    tokens: dict[str, float] = {}  # token -> issued (monotonic); lifetime read from the injector at use

    def valid(token: str) -> bool:
        issued = tokens.get(token)
        return issued is not None and time.monotonic() - issued < injector.http.session_ttl_s()

    async def read(request: Request) -> dict[str, Any] | None:
        try:
            document = json.loads(await request.body())
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    @carrier.app.post("/v2/user/Login")
    async def login(request: Request) -> Response:
        async def produce() -> tuple[bytes, int]:
            calls["Login"] += 1
            document = await read(request) or {}
            account_ok = hmac.compare_digest(str(document.get("USERNAME", "")).encode(), username.encode())
            password_ok = hmac.compare_digest(str(document.get("PASSWORD", "")).encode(), password.encode())
            if not (account_ok and password_ok):
                return json_bytes(_reply(REFUSED, "Sai tên đăng nhập hoặc mật khẩu")), 200
            token = secrets.token_urlsafe(24)
            tokens[token] = time.monotonic()
            return json_bytes(_reply(OK, "OK", {"token": token, "userId": 1, "partner": 1})), 200

        return await faulty_json(injector.http, None, produce, service_call=False)

    async def answer(request: Request, operation: str, handler: Handler) -> Response:
        async def produce() -> tuple[bytes, int]:
            calls[operation] += 1
            if not valid(request.headers.get("Token", "")):
                return json_bytes(_reply(401, "Token không hợp lệ hoặc đã hết hạn")), 401
            document = await read(request)
            if document is None:
                return json_bytes(_reply(REFUSED, "Dữ liệu gửi lên không phải đối tượng JSON")), 200
            return json_bytes(await run_in_threadpool(handler, document)), 200

        return await faulty_json(injector.http, None, produce)

    def placed(order: Order) -> dict[str, Any]:
        return {"ORDER_NUMBER": order.order_id, "ORDER_REFERENCE": order.reference,
                "ITEM_CODE": carrier.reply_item_code(order),
                "MONEY_COLLECTION": order.body.get("MONEY_COLLECTION", 0), "MONEY_TOTAL": 25_000,
                "CREATED_DATE": format_carrier_time(order.placed_at)}  # fmt: skip

    def create(document: dict[str, Any]) -> dict[str, Any]:
        if refusal := missing_fields(document, _REQUIRED):
            return _reply(REFUSED, refusal)
        order, _new = orders.place(str(document["ORDER_NUMBER"]), document)
        return _reply(OK, "OK", placed(order))

    def update(document: dict[str, Any]) -> dict[str, Any]:
        if document.get("TYPE") != CANCEL:
            return _reply(REFUSED, "Sandbox chỉ hỗ trợ TYPE 4 (hủy đơn hàng)")
        outcome = orders.cancel(str(document.get("ORDER_NUMBER", "")))
        if outcome == "not_found":
            return _reply(REFUSED, "Không tìm thấy vận đơn")
        if outcome == "not_cancellable":
            return _reply(REFUSED, "Không thể hủy vận đơn đã được lấy hàng")
        return _reply(OK, "OK")

    def register_hook(document: dict[str, Any]) -> dict[str, Any]:
        numbers = document.get("ORDER_NUMBERS")
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers) or len(numbers) > 100:
            return _reply(REFUSED, "ORDER_NUMBERS phải là danh sách tối đa 100 vận đơn")
        events = [e for order in map(orders.get, numbers) if order is not None for e in orders.history(order)]
        carrier.callbacks.deliver(events, faithful=True)
        return _reply(OK, "OK", [_data(e) for e in events])

    return carrier.finish(
        answer,
        (
            ("/v2/order/createOrder", "createOrder", create),
            ("/v2/order/UpdateOrder", "UpdateOrder", update),
            ("/v2/order/registerOrderHook", "registerOrderHook", register_hook),
        ),
    )


def double(context: DoubleContext) -> FastAPI:
    """The runner's Viettel Post, which signs nothing."""
    login = context.credentials
    return create_app(
        context.db_path,
        login["username"],
        login["password"],
        webhook_token=login["webhook_token"],
        **context.carrier_options(),
    )

"""Viettel Post's partner API as public clients meet it (adapters/postal/viettel_post.openapi.yaml is
the contract, docs/interfaces.md section 6 the evidence behind each shape).

``POST /v2/user/Login`` trades the partner account for a token; every other call carries it in the
``Token`` header (HTTP 401 once it is wrong or expired -- tokens live ``session_ttl_s``).
``GET /v2/user/listInventory`` lists the account's pickup store (``groupaddressId``, ``cusId``).
``/v2/order/createOrder`` takes the customer's ``ORDER_NUMBER`` (kept as the order's reference; the
same one again returns the order it made -- an assumption the ledger names), the store and customer
ids, and Viettel's own numeric province / district / ward ids, checked against its catalogue
(:mod:`sandbox.postal.viettel_catalogue`): a statistics-office code, a string id or a ward outside its
district is refused. The reply is Viettel's numeric ``ORDER_NUMBER`` and the price (``MONEY_*``,
``KPI_HT``) -- no S10 code, no reference, no creation time. ``/v2/order/UpdateOrder`` ``TYPE`` 4
cancels an order still awaiting pickup; ``GET /v2/order/registerOrderHook?oid=&mes=`` sends that
order's callbacks again, faithfully, and answers only that it will.

Replies are ``{status, error, message, data}``; business refusals are ``status`` 205 with ``error``
true. Callbacks are ``{DATA, TOKEN}`` with the shared token in the body; Viettel Post signs nothing.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import time
from collections.abc import Awaitable, Callable
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
from sandbox.postal.orders import CarrierProfile, Event
from sandbox.postal.viettel_catalogue import catalogue

__all__ = ["PROFILE", "STORE", "WEBHOOK_PATH", "create_app", "price"]

OK, REFUSED = 200, 205
CANCEL = 4  # UpdateOrder TYPE: cancel the order
WEBHOOK_PATH = "/webhooks/viettel_post"
SERVICES = frozenset({"VCN", "VTK", "LCOD", "NCOD", "PHS"})  # the sandbox account's contracted services
PRODUCT_TYPES = frozenset({"TH", "HH"})  # documents, goods
PAYMENTS = frozenset({1, 2, 3, 4})  # ORDER_PAYMENT: no collection .. collect the fee only
# The sandbox account's one pickup store: the city's one-stop desk (Viettel ids of Phường Ba Đình).
STORE = {"groupaddressId": 5818802, "cusId": 722, "name": "Bộ phận Một cửa Hà Nội", "phone": "02437333333",
         "address": "25 Liễu Giai", "provinceId": 1, "districtId": 0, "wardsId": 15003}  # fmt: skip
PROFILE = CarrierProfile(
    name="viettel_post",
    order_prefix="1",
    item_prefix="EV",  # kept by the shared order store; Viettel never shows it
    statuses={
        "created": ("100", "Tiếp nhận đơn hàng từ đối tác"),
        "awaiting_pickup": ("103", "Giao cho bưu cục"),
        "picked_up": ("105", "Bưu tá đã nhận hàng"),
        "at_office": ("200", "Nhận từ bưu tá - Bưu cục gốc"),
        "in_transit": ("300", "Đóng bảng kê đi"),
        "out_for_delivery": ("500", "Giao bưu tá đi phát"),
        "failed_attempt": ("506", "Tồn - Khách hàng nghỉ, không có nhà"),
        "delivered": ("501", "Thành công - Phát thành công"),
        "returning": ("502", "Chuyển hoàn bưu cục gốc"),
        "returned": ("504", "Thành công - Chuyển trả người gửi"),
        "carrier_cancelled": ("101", "ViettelPost yêu cầu hủy đơn hàng"),
        "cancelled": ("107", "Đối tác yêu cầu hủy qua API"),
    },
)
_REQUIRED = ("ORDER_NUMBER", "SENDER_FULLNAME", "SENDER_ADDRESS", "SENDER_PHONE", "RECEIVER_FULLNAME",
             "RECEIVER_ADDRESS", "RECEIVER_PHONE", "PRODUCT_NAME", "PRODUCT_WEIGHT", "PRODUCT_TYPE",
             "ORDER_PAYMENT", "ORDER_SERVICE")  # fmt: skip
_PLACES = ("PROVINCE", "DISTRICT", "WARD")


def _reply(status: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"status": status, "error": status != OK, "message": message, "data": data}


def price(body: dict[str, Any]) -> dict[str, Any]:
    """The sandbox tariff (VND): 16,500 for the first 500 g, 2,500 per further 500 g, 8 % VAT, 1 % of
    any collected amount. Synthetic -- only the shape and the arithmetic (parts add up) are Viettel's."""
    weight = int(body.get("PRODUCT_WEIGHT") or 0)
    collection = int(body.get("MONEY_COLLECTION") or 0)
    fee = 16_500 + 2_500 * max(0, math.ceil(weight / 500) - 1)
    collection_fee = round(collection * 0.01)
    vat = round((fee + collection_fee) * 0.08)
    return {"MONEY_COLLECTION": collection, "EXCHANGE_WEIGHT": weight, "MONEY_FEE": fee,
            "MONEY_COLLECTION_FEE": collection_fee, "MONEY_OTHER_FEE": 0, "MONEY_VAS": 0, "MONEY_VAT": vat,
            "MONEY_TOTAL_FEE": fee + collection_fee, "MONEY_TOTAL": fee + collection_fee + vat,
            "KPI_HT": 24.0}  # fmt: skip


def _data(event: Event) -> dict[str, Any]:
    """A callback's ``DATA``."""
    order = event.order
    charged = price(order.body)
    return {
        "ORDER_NUMBER": order.order_id,
        "ORDER_REFERENCE": order.reference,
        "ORDER_STATUSDATE": format_carrier_time(event.at),
        "ORDER_STATUS": int(event.code),  # a number on the wire, as Viettel sends it
        "STATUS_NAME": event.name,
        "LOCALION_CURRENTLY": "Hà Nội",  # sic: the key as Viettel spells it
        "NOTE": "",
        "MONEY_COLLECTION": charged["MONEY_COLLECTION"],
        "MONEY_FEECOD": charged["MONEY_COLLECTION_FEE"],
        "MONEY_TOTAL": charged["MONEY_TOTAL"],
        "EXPECTED_DELIVERY": "Khoảng 1 ngày làm việc",
        "PRODUCT_WEIGHT": charged["EXCHANGE_WEIGHT"],
        "ORDER_SERVICE": order.body.get("ORDER_SERVICE", ""),
    }


def _order_refusal(document: dict[str, Any], places: frozenset[tuple[int, int, int]]) -> str | None:
    """Why Viettel would refuse this order (None: it accepts it)."""
    if refusal := missing_fields(document, _REQUIRED):
        return refusal
    if document.get("GROUPADDRESS_ID") != STORE["groupaddressId"] or document.get("CUS_ID") != STORE["cusId"]:
        return "GROUPADDRESS_ID/CUS_ID không thuộc tài khoản"
    for role in ("SENDER", "RECEIVER"):
        ids = tuple(document.get(f"{role}_{place}") for place in _PLACES)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or ids not in places:
            return f"Địa chỉ {role} không hợp lệ (tỉnh/quận/phường {list(ids)} không có trong danh mục)"
    weight = document["PRODUCT_WEIGHT"]
    if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
        return "PRODUCT_WEIGHT phải là số gam dương"
    if document["PRODUCT_TYPE"] not in PRODUCT_TYPES or document["ORDER_PAYMENT"] not in PAYMENTS:
        return "PRODUCT_TYPE hoặc ORDER_PAYMENT không hợp lệ"
    if document["ORDER_SERVICE"] not in SERVICES:
        return f"Dịch vụ {document['ORDER_SERVICE']!r} chưa đăng ký cho tài khoản"
    return None


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
    orders, injector, calls, places = carrier.orders, carrier.faults, carrier.calls, catalogue()
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
            data = {"userId": STORE["cusId"], "token": token, "partner": STORE["cusId"], "phone": STORE["phone"],
                    "expired": int(time.time() * 1000) + 86_400_000, "encrypted": False, "source": 0}  # fmt: skip
            return json_bytes(_reply(OK, "OK", data)), 200

        return await faulty_json(injector.http, None, produce, service_call=False)

    async def authorised(request: Request, operation: str, work: Callable[[], Awaitable[dict[str, Any]]]) -> Response:
        async def produce() -> tuple[bytes, int]:
            calls[operation] += 1
            if not valid(request.headers.get("Token", "")):
                return json_bytes(_reply(401, "Token không hợp lệ hoặc đã hết hạn")), 401
            return json_bytes(await work()), 200

        return await faulty_json(injector.http, None, produce)

    async def answer(request: Request, operation: str, handler: Handler) -> Response:
        async def work() -> dict[str, Any]:
            document = await read(request)
            if document is None:
                return _reply(REFUSED, "Dữ liệu gửi lên không phải đối tượng JSON")
            return await run_in_threadpool(handler, document)

        return await authorised(request, operation, work)

    @carrier.app.get("/v2/user/listInventory")
    async def list_inventory(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            return _reply(OK, "OK", [STORE])

        return await authorised(request, "listInventory", work)

    @carrier.app.get("/v2/order/registerOrderHook")
    async def register_hook(request: Request) -> Response:
        async def work() -> dict[str, Any]:
            order = orders.get(request.query_params.get("oid", ""))
            if order is None:
                return _reply(REFUSED, "Không tìm thấy vận đơn")
            events = await run_in_threadpool(orders.history, order)
            await run_in_threadpool(carrier.callbacks.deliver, events, faithful=True)
            return _reply(OK, "Đã đăng ký gửi lại hành trình vận đơn")

        return await authorised(request, "registerOrderHook", work)

    def create(document: dict[str, Any]) -> dict[str, Any]:
        if refusal := _order_refusal(document, places):
            return _reply(REFUSED, refusal)
        order, _new = orders.place(str(document["ORDER_NUMBER"]), document)
        return _reply(OK, "OK", {"ORDER_NUMBER": carrier.reply_order_id(order), **price(order.body)})

    def update(document: dict[str, Any]) -> dict[str, Any]:
        if document.get("TYPE") != CANCEL:
            return _reply(REFUSED, "Sandbox chỉ hỗ trợ TYPE 4 (hủy đơn hàng)")
        outcome = orders.cancel(str(document.get("ORDER_NUMBER", "")))
        if outcome == "not_found":
            return _reply(REFUSED, "Không tìm thấy vận đơn")
        if outcome == "not_cancellable":
            return _reply(REFUSED, "Không thể hủy vận đơn đã được lấy hàng")
        return _reply(OK, "OK")

    return carrier.finish(
        answer,
        (
            ("/v2/order/createOrder", "createOrder", create),
            ("/v2/order/UpdateOrder", "UpdateOrder", update),
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

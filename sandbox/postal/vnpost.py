"""VNPost as the hub reaches it through the LGSP (adapters/postal/vnpost.openapi.yaml is the contract).

Three calls, each with the LGSP-issued ``access_token`` header and a signed JSON body: place an
order (``OrderLGSPWithItemCode``: the reply carries the S10 item code VNPost assigned from the
customer's range), read the tracking history of up to 100 orders, cancel an order still waiting
for pickup (a "draft"). Replies are ``{Status, Message, Data}`` where ``"100"`` is success. A
wrong token is HTTP 401, as the LGSP gateway answers; only injected faults are HTTP 503. The LGSP
signs its replies and refuses unsigned requests, like every LGSP partner of the hub.

Callbacks go to ``<receiver>/webhooks/vnpost``: one status change per call, authenticated by an
HMAC-SHA256 of the exact body with the shared secret, hex, in ``X-VNPost-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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
from sandbox.signatures import PartnerSigning, mount_signing_control
from signing.jws import SIGNATURE_HEADER

__all__ = ["CALLBACK_SIGNATURE_HEADER", "PROFILE", "WEBHOOK_PATH", "create_app", "sign_callback"]

OK, UNKNOWN_CUSTOMER, INVALID, NOT_FOUND, NOT_CANCELLABLE, BAD_SIGNATURE = "100", "101", "102", "103", "104", "105"
MAX_TRACKED = 100
CALLBACK_SIGNATURE_HEADER = "X-VNPost-Signature"
WEBHOOK_PATH = "/webhooks/vnpost"
PROFILE = CarrierProfile(
    name="vnpost",
    order_prefix="VNP",
    item_prefix="EB",
    statuses={
        "created": ("1", "Chờ lấy hàng"),
        "awaiting_pickup": None,
        "picked_up": ("50", "Đã nhận hàng tại bưu cục"),
        "at_office": None,
        "in_transit": ("60", "Đang vận chuyển"),
        "out_for_delivery": ("70", "Đang phát"),
        "failed_attempt": ("80", "Phát không thành công, sẽ phát lại"),
        "delivered": ("90", "Phát thành công"),
        "returning": ("60", "Đang vận chuyển (chuyển hoàn)"),
        "returned": ("100", "Đã chuyển hoàn cho người gửi"),
        "carrier_cancelled": ("0", "Đã hủy"),
        "cancelled": ("0", "Đã hủy"),
    },
)
_REQUIRED = ("CustomerCode", "OrderNumber", "ReceiverFullname", "ReceiverPhone", "ReceiverAddress",
             "ReceiverWardCode", "ReceiverProvinceCode", "SenderFullname", "SenderAddress")  # fmt: skip


def _reply(status: str, message: str, data: Any = None) -> dict[str, Any]:
    return {"Status": status, "Message": message, **({"Data": data} if data is not None else {})}


def sign_callback(body: bytes, secret: str) -> str:
    """The ``X-VNPost-Signature`` of a callback body: hex HMAC-SHA256 with the shared secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _status(event: Event) -> dict[str, str]:
    return {"StatusCode": event.code, "StatusName": event.name, "StatusDate": format_carrier_time(event.at)}


def create_app(
    db_path: str | Path,
    access_token: str,
    customer_code: str,
    *,
    webhook_secret: str,
    webhook_url: str | None = None,
    seed: int = 0,
    start: datetime,
    faults: dict[str, Any] | None = None,
    signing: PartnerSigning | None = None,
) -> FastAPI:
    """Build the simulator; ``webhook_url`` is the hub receiver's base URL (None: no callbacks)."""
    if not (access_token and webhook_secret):
        raise ValueError("the VNPost sandbox needs an access token and a webhook secret")

    def encode(event: Event) -> tuple[bytes, dict[str, str]]:
        order = event.order
        body = json_bytes({"OrderId": order.order_id, "OrderNumber": order.reference, "ItemCode": order.item_code,
                           **_status(event)})  # fmt: skip
        return body, {CALLBACK_SIGNATURE_HEADER: sign_callback(body, webhook_secret)}

    carrier = CarrierSandbox("VNPost via LGSP (sandbox)", db_path, PROFILE, seed=seed, start=start, faults=faults,
                             webhook_url=webhook_url, webhook_path=WEBHOOK_PATH, encode=encode)  # fmt: skip
    orders = carrier.orders

    async def answer(request: Request, operation: str, handler: Handler) -> Response:
        async def produce() -> tuple[bytes, int]:
            carrier.calls[operation] += 1
            body = await request.body()
            if not hmac.compare_digest(request.headers.get("access_token", "").encode(), access_token.encode()):
                return json_bytes({"Status": "401", "Message": "access_token không hợp lệ"}), 401
            if signing is not None and (refusal := signing.check_request(body, request.headers.get(SIGNATURE_HEADER))):
                return json_bytes(_reply(BAD_SIGNATURE, refusal)), 200
            try:
                document = json.loads(body)
            except ValueError:
                return json_bytes(_reply(INVALID, "Dữ liệu gửi lên không phải JSON")), 200
            if not isinstance(document, dict):
                return json_bytes(_reply(INVALID, "Dữ liệu gửi lên phải là đối tượng JSON")), 200
            if document.get("CustomerCode", customer_code) != customer_code:
                return json_bytes(_reply(UNKNOWN_CUSTOMER, "Mã khách hàng không tồn tại")), 200
            return json_bytes(await run_in_threadpool(handler, document)), 200

        return await faulty_json(carrier.faults.http, signing, produce)

    def create(document: dict[str, Any]) -> dict[str, Any]:
        if refusal := missing_fields(document, _REQUIRED):
            return _reply(INVALID, refusal)
        order, new = orders.place(str(document["OrderNumber"]), document)
        placed = {
            "OrderId": carrier.reply_order_id(order),
            "OrderNumber": order.reference,
            "ItemCode": carrier.reply_item_code(order),
            "CreatedDate": format_carrier_time(order.placed_at),
        }
        return _reply(OK, "Tạo đơn hàng thành công" if new else "Đơn hàng đã tồn tại", placed)

    def track(document: dict[str, Any]) -> dict[str, Any]:
        ids = document.get("OrderIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_TRACKED:
            return _reply(INVALID, f"OrderIds phải là danh sách tối đa {MAX_TRACKED} mã đơn hàng")
        found = [order for order in map(orders.get, ids) if order is not None]
        data = [{"OrderId": o.order_id, "OrderNumber": o.reference, "ItemCode": o.item_code,
                 "Statuses": [_status(e) for e in orders.history(o)]} for o in found]  # fmt: skip
        return _reply(OK, "Thành công", data)

    def cancel(document: dict[str, Any]) -> dict[str, Any]:
        outcome = orders.cancel(str(document.get("OrderId", "")))
        if outcome == "not_found":
            return _reply(NOT_FOUND, "Không tìm thấy đơn hàng")
        if outcome == "not_cancellable":
            return _reply(NOT_CANCELLABLE, "Chỉ hủy được đơn hàng chưa được nhận (đơn nháp)")
        return _reply(OK, "Hủy đơn hàng thành công")

    mount_signing_control(carrier.app, signing)
    return carrier.finish(
        answer,
        (
            ("/api/order/OrderLGSPWithItemCode", "OrderLGSPWithItemCode", create),
            ("/api/order/GetOrderTracking", "GetOrderTracking", track),
            ("/api/order/CancelOrder", "CancelOrder", cancel),
        ),
    )


def double(context: DoubleContext) -> FastAPI:
    """The runner's VNPost (login: the customer code; password: the access token)."""
    login = context.credentials
    return create_app(
        context.db_path,
        login["password"],
        login["username"],
        webhook_secret=login["webhook_secret"],
        signing=context.signing,
        **context.carrier_options(),
    )

"""VNPost, the public-utility postal service, reached through the LGSP (vnpost.openapi.yaml here).

Orders are placed ``OrderLGSPWithItemCode``-style: the hub sends its order number (the dossier
result's reference, ``{dossier_no}/KQ``) and VNPost answers with the S10 item code it assigned
from the city's range. The reply's code is checked before anything is kept: a wrong check digit
is a contract violation and the order is not accepted (a resend of the same reference returns
the same order, so nothing is lost by refusing). Replies are ``{Status, Message, Data}`` and
``"100"`` is success; a wrong ``access_token`` is HTTP 401.

Authentication: the LGSP token in the ``access_token`` header, plus the LGSP's JSON signing both
ways (the transport signs each request body with the hub's key and verifies the detached JWS on
every reply, as for the other LGSP partners). Status callbacks do not pass through the LGSP:
they carry an HMAC-SHA256 of the exact body with the shared secret in ``X-VNPost-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.errors import ContractViolation, PermanentError, RetryableError
from adapters.postal.carrier import PROBE_ORDER_ID, CarrierEvent, PlacedOrder, WebhookRejected
from adapters.postal.checks import accepted_item_code, batches, checked_addresses, header, webhook_document
from adapters.redaction import describe_validation_error
from adapters.transport import HttpTransport
from mappings.code_tables import CodeTables, load_code_tables
from mappings.dossier import VN_TZ
from mappings.postal.carrier_time import CarrierTime
from mappings.postal.order import OrderRequest

PARTNER = "vnpost"
SIGNATURE_HEADER = "X-VNPost-Signature"
MAX_TRACKED = 100  # GetOrderTracking takes at most 100 order ids
OK, UNKNOWN_CUSTOMER, INVALID, NOT_FOUND, NOT_CANCELLABLE, BAD_SIGNATURE, INTERNAL = (
    "100", "101", "102", "103", "104", "105", "500",
)  # fmt: skip

T = TypeVar("T")
_REPLY = ConfigDict(strict=True, extra="allow", frozen=True)


class _Envelope(BaseModel):
    model_config = _REPLY

    Status: str
    Message: str = ""


class _Placed(BaseModel):
    model_config = _REPLY

    OrderId: str = Field(min_length=1)
    OrderNumber: str
    ItemCode: str
    CreatedDate: CarrierTime


class _Status(BaseModel):
    model_config = _REPLY

    StatusCode: str = Field(min_length=1)
    StatusName: str
    StatusDate: CarrierTime


class _Tracked(BaseModel):
    model_config = _REPLY

    OrderId: str = Field(min_length=1)
    OrderNumber: str
    Statuses: list[_Status]


class _Callback(_Status):
    OrderId: str = Field(min_length=1)
    OrderNumber: str | None = None


class VNPostClient:
    """Orders, tracking, draft cancellation and callbacks for one LGSP customer code. Thread-safe."""

    name = PARTNER

    def __init__(
        self,
        transport: HttpTransport,
        access_token: str,
        customer_code: str,
        webhook_secret: str,
        *,
        code_tables: CodeTables | None = None,
    ) -> None:
        if not (access_token and customer_code and webhook_secret):
            raise ValueError("VNPost needs an access token, a customer code and the callback secret")
        self.transport = transport
        self.customer_code = customer_code
        self._token = access_token
        self._webhook_secret = webhook_secret.encode()
        self._tables = code_tables or load_code_tables()

    def create_order(self, order: OrderRequest) -> PlacedOrder:
        checked_addresses(PARTNER, order, self._tables, datetime.now(VN_TZ).date())
        s, r = order.sender, order.receiver
        payload = {
            "CustomerCode": self.customer_code,
            "OrderNumber": order.reference,
            "CODAmount": order.cod_amount,
            "Weight": order.weight_grams,
            "Content": order.content,
            "SenderFullname": s.name, "SenderPhone": s.phone, "SenderAddress": s.street,
            "SenderWardCode": s.commune_code, "SenderProvinceCode": s.province_code,
            "ReceiverFullname": r.name, "ReceiverPhone": r.phone, "ReceiverAddress": r.street,
            "ReceiverWardCode": r.commune_code, "ReceiverProvinceCode": r.province_code,
        }  # fmt: skip

        def placed(document: Any) -> PlacedOrder:
            data = _Placed.model_validate(document.get("Data"))
            if data.OrderNumber != order.reference:
                raise ContractViolation(
                    PARTNER, "OrderLGSPWithItemCode", f"reply is for {data.OrderNumber!r}, not {order.reference!r}"
                )
            item_code = accepted_item_code(PARTNER, "OrderLGSPWithItemCode", order.reference, data.ItemCode)
            return PlacedOrder(PARTNER, order.reference, data.OrderId, item_code, data.CreatedDate)

        return self._post("/api/order/OrderLGSPWithItemCode", "OrderLGSPWithItemCode", payload, placed)

    def track(self, order_ids: Sequence[str]) -> dict[str, list[CarrierEvent]]:
        """Histories of the orders VNPost knows (an unknown id is absent from the result)."""
        histories: dict[str, list[CarrierEvent]] = {}
        for batch in batches(order_ids, MAX_TRACKED):
            tracked = self._post(
                "/api/order/GetOrderTracking",
                "GetOrderTracking",
                {"CustomerCode": self.customer_code, "OrderIds": list(batch)},
                lambda document: [_Tracked.model_validate(item) for item in document.get("Data") or []],
            )
            for item in tracked:
                events = [_event(item.OrderId, item.OrderNumber, status) for status in item.Statuses]
                histories[item.OrderId] = sorted(events, key=lambda e: e.occurred_at)
        return histories

    def cancel(self, order_id: str) -> None:
        """Cancel an order VNPost has not picked up yet; a picked-up one is a PermanentError (104)."""
        payload = {"CustomerCode": self.customer_code, "OrderId": order_id}
        self._post("/api/order/CancelOrder", "CancelOrder", payload, lambda _document: None)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[CarrierEvent]:
        given = header(headers, SIGNATURE_HEADER)
        expected = hmac.new(self._webhook_secret, body, hashlib.sha256).hexdigest()
        if not given:
            raise WebhookRejected(401, f"missing {SIGNATURE_HEADER}")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected(401, f"{SIGNATURE_HEADER} does not match the body")
        try:
            callback = _Callback.model_validate(webhook_document(body))
        except ValidationError as exc:
            raise WebhookRejected(
                400, f"callback does not match the contract ({describe_validation_error(exc)})"
            ) from None
        return [_event(callback.OrderId, callback.OrderNumber, callback)]

    def close(self) -> None:
        self.transport.close()

    def _post(self, path: str, operation: str, payload: dict[str, Any], parse: Callable[[Any], T]) -> T:
        """POST, then map VNPost's ``Status`` (inside the transport's retry loop, so 500 is retried)."""

        def interpret(document: Any) -> T:
            envelope = _Envelope.model_validate(document)
            if envelope.Status != OK:
                raise self._error(operation, envelope.Status, envelope.Message)
            return parse(document)

        return self.transport.post_json(
            path,
            payload,
            operation=operation,
            parse=interpret,
            headers={"access_token": self._token},
            record_count=len(payload.get("OrderIds", [None])),
        )

    def _error(self, operation: str, status: str, message: str) -> Exception:
        where, text = (PARTNER, operation), f"Status {status}: {message or 'no message'}"
        if status == INTERNAL:
            return RetryableError(*where, text)
        if status == UNKNOWN_CUSTOMER:
            return PermanentError(*where, f"{text} -- customer code {self.customer_code} unknown; check the Connection")
        if status == BAD_SIGNATURE:
            return PermanentError(*where, f"{text} -- the LGSP refused the hub's signature; check the hub's key")
        if status in (INVALID, NOT_FOUND, NOT_CANCELLABLE):
            return PermanentError(*where, text)
        return ContractViolation(*where, f"{text} -- Status not in the contract")


def _event(order_id: str, reference: str | None, status: _Status) -> CarrierEvent:
    return CarrierEvent(PARTNER, order_id, reference, status.StatusCode, status.StatusName, status.StatusDate)


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> VNPostClient:
    """The client of VNPost's Airflow Connection: login is the LGSP customer code, password the
    ``access_token``, extra ``webhook_secret`` the HMAC key of its callbacks (a name Airflow masks)."""
    if not (login and extras.get("webhook_secret")):
        raise ValueError("login (customer code) and extra 'webhook_secret' are required")
    return VNPostClient(transport, password, login, extras["webhook_secret"])


def probe(client: VNPostClient) -> str:
    """Track an order id no one has: the customer code and token are checked, nothing is ordered."""
    client.track([PROBE_ORDER_ID])
    return "GetOrderTracking answered"

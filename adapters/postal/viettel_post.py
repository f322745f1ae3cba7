"""Viettel Post's partner API (viettel_post.openapi.yaml here).

``/v2/user/Login`` gives a token that every other call carries in the ``Token`` header; when it
expires (HTTP 401) the client logs in again once and repeats the call. ``createOrder`` takes the
dossier result's reference as the customer's ``ORDER_NUMBER`` -- Viettel keeps it as
``ORDER_REFERENCE`` and answers with its own order number, so a resend returns the same order.
``UpdateOrder`` ``TYPE`` 4 cancels an order not yet picked up. ``registerOrderHook`` replays an
order's history to the hub's callback URL; this client polls with it too, since its reply lists
the same history (``track``).

Authentication: Viettel Post is outside the LGSP and signs nothing, so no JSON signatures apply
(build the transport with ``sign_requests`` and ``verify_replies`` off): the login token
authenticates the hub to Viettel, and the shared ``TOKEN`` inside every callback body (compared in
constant time) authenticates Viettel to the hub.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError
from adapters.postal.carrier import CarrierEvent, PlacedOrder, WebhookRejected
from adapters.postal.checks import accepted_item_code, batches, checked_addresses, webhook_document
from adapters.redaction import describe_validation_error
from adapters.transport import HttpTransport
from mappings.code_tables import CodeTables, load_code_tables
from mappings.dossier import VN_TZ
from mappings.postal.carrier_time import CarrierTime
from mappings.postal.order import OrderRequest

PARTNER = "viettel_post"
OK = 200
CANCEL = 4  # UpdateOrder TYPE
MAX_TRACKED = 100
PRODUCT_TYPE, SERVICE = "HH", "VCN"  # goods; express delivery
SENDER_PAYS, RECEIVER_PAYS_COD = 1, 3  # ORDER_PAYMENT: no collection / collect goods value

T = TypeVar("T")
_REPLY = ConfigDict(strict=True, extra="allow", frozen=True)


class _Envelope(BaseModel):
    model_config = _REPLY

    status: int
    error: bool
    message: str = ""


class _Login(BaseModel):
    model_config = _REPLY

    token: str = Field(min_length=1)


class _Placed(BaseModel):
    model_config = _REPLY

    ORDER_NUMBER: str = Field(min_length=1)
    ORDER_REFERENCE: str
    ITEM_CODE: str
    CREATED_DATE: CarrierTime


class _Status(BaseModel):
    """One ``DATA`` object: a callback's, or one entry of a ``registerOrderHook`` reply."""

    model_config = _REPLY

    ORDER_NUMBER: str = Field(min_length=1)
    ORDER_REFERENCE: str | None = None
    ORDER_STATUSDATE: CarrierTime
    ORDER_STATUS: int | str  # a number on Viettel's wire; kept as its string
    STATUS_NAME: str


class _Callback(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    DATA: _Status
    TOKEN: str


class ViettelPostClient:
    """Orders, tracking, cancellation and callbacks for one Viettel Post partner account. Thread-safe."""

    name = PARTNER

    def __init__(
        self,
        transport: HttpTransport,
        username: str,
        password: str,
        webhook_token: str,
        *,
        code_tables: CodeTables | None = None,
    ) -> None:
        if not (username and password and webhook_token):
            raise ValueError("Viettel Post needs the partner account (username, password) and the callback token")
        self.transport = transport
        self._username = username
        self._password = password
        self._webhook_token = webhook_token.encode()
        self._tables = code_tables or load_code_tables()
        self._token: str | None = None
        self._lock = threading.Lock()

    def create_order(self, order: OrderRequest) -> PlacedOrder:
        checked_addresses(PARTNER, order, self._tables, datetime.now(VN_TZ).date())
        s, r = order.sender, order.receiver
        payload = {
            "ORDER_NUMBER": order.reference,
            "SENDER_FULLNAME": s.name, "SENDER_PHONE": s.phone, "SENDER_ADDRESS": s.street,
            "SENDER_WARD": s.commune_code, "SENDER_PROVINCE": s.province_code,
            "RECEIVER_FULLNAME": r.name, "RECEIVER_PHONE": r.phone, "RECEIVER_ADDRESS": r.street,
            "RECEIVER_WARD": r.commune_code, "RECEIVER_PROVINCE": r.province_code,
            "PRODUCT_NAME": order.content, "PRODUCT_DESCRIPTION": order.dossier_no,
            "PRODUCT_QUANTITY": 1, "PRODUCT_WEIGHT": order.weight_grams, "PRODUCT_TYPE": PRODUCT_TYPE,
            "ORDER_PAYMENT": RECEIVER_PAYS_COD if order.cod_amount else SENDER_PAYS,
            "ORDER_SERVICE": SERVICE, "MONEY_COLLECTION": order.cod_amount,
        }  # fmt: skip

        def placed(data: Any) -> PlacedOrder:
            reply = _Placed.model_validate(data)
            if order.reference != reply.ORDER_REFERENCE:
                raise ContractViolation(
                    PARTNER, "createOrder", f"reply is for {reply.ORDER_REFERENCE!r}, not {order.reference!r}"
                )
            item_code = accepted_item_code(PARTNER, "createOrder", order.reference, reply.ITEM_CODE)
            return PlacedOrder(PARTNER, order.reference, reply.ORDER_NUMBER, item_code, reply.CREATED_DATE)

        return self._call("/v2/order/createOrder", "createOrder", payload, placed)

    def log_in(self) -> None:
        """Log in now (``Login``), or keep the session there is: checks the account and changes nothing."""
        self._session(None)

    def track(self, order_ids: Sequence[str]) -> dict[str, list[CarrierEvent]]:
        """Histories through ``registerOrderHook`` (which also replays them to the callback URL);
        an order Viettel does not know is absent from the result."""
        histories: dict[str, list[CarrierEvent]] = {}
        for batch in batches(order_ids, MAX_TRACKED):
            entries = self._call(
                "/v2/order/registerOrderHook",
                "registerOrderHook",
                {"ORDER_NUMBERS": list(batch)},
                lambda data: [_Status.model_validate(item) for item in data or []],
            )
            for entry in entries:
                histories.setdefault(entry.ORDER_NUMBER, []).append(_event(entry))
        return {order_id: sorted(events, key=lambda e: e.occurred_at) for order_id, events in histories.items()}

    def cancel(self, order_id: str) -> None:
        """``UpdateOrder`` TYPE 4; an order already picked up is a PermanentError (status 205)."""
        payload = {"TYPE": CANCEL, "ORDER_NUMBER": order_id, "NOTE": "Hủy theo yêu cầu của cơ quan giải quyết"}
        self._call("/v2/order/UpdateOrder", "UpdateOrder", payload, lambda _data: None)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[CarrierEvent]:
        document = webhook_document(body)
        token = document.get("TOKEN")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self._webhook_token):
            raise WebhookRejected(401, "TOKEN missing or wrong")
        try:
            callback = _Callback.model_validate(document)
        except ValidationError as exc:
            raise WebhookRejected(
                400, f"callback does not match the contract ({describe_validation_error(exc)})"
            ) from None
        return [_event(callback.DATA)]

    def close(self) -> None:
        self.transport.close()

    # ----------------------------------------------------------------- session and calls

    def _login(self) -> str:
        def token(document: Any) -> str:
            envelope = _Envelope.model_validate(document)
            if envelope.status != OK or envelope.error:
                raise AuthenticationError(
                    PARTNER,
                    "Login",
                    f"status {envelope.status}: {envelope.message} -- credentials refused; check the Connection",
                    secrets=(self._password,),
                )
            return _Login.model_validate(document.get("data")).token

        payload = {"USERNAME": self._username, "PASSWORD": self._password}
        return self.transport.post_json(
            "/v2/user/Login", payload, operation="Login", parse=token, redact_keys=frozenset({"PASSWORD"})
        )

    def _session(self, stale: str | None) -> str:
        """The current token, logging in when there is none or when ``stale`` was just refused."""
        with self._lock:
            if self._token is None or self._token == stale:
                self._token = self._login()
            return self._token

    def _call(self, path: str, operation: str, payload: dict[str, Any], parse: Callable[[Any], T]) -> T:
        def interpret(document: Any) -> T:
            envelope = _Envelope.model_validate(document)
            if envelope.status != OK or envelope.error:
                raise _error(operation, envelope.status, envelope.message)
            return parse(document.get("data"))

        token = self._session(None)
        try:
            return self._post(path, operation, payload, interpret, token)
        except AuthenticationError:
            # An expired token is HTTP 401: log in once more; a second refusal is real.
            return self._post(path, operation, payload, interpret, self._session(token))

    def _post(self, path: str, operation: str, payload: dict[str, Any], parse: Callable[[Any], T], token: str) -> T:
        return self.transport.post_json(
            path, payload, operation=operation, parse=parse, headers={"Token": token},
            record_count=len(payload.get("ORDER_NUMBERS", [None])),
        )  # fmt: skip


def _error(operation: str, status: int, message: str) -> Exception:
    where, text = (PARTNER, operation), f"status {status}: {message or 'no message'}"
    if status >= 500:
        return RetryableError(*where, text)
    if status == 205:
        return PermanentError(*where, text)
    return ContractViolation(*where, f"{text} -- status not in the contract")


def _event(status: _Status) -> CarrierEvent:
    return CarrierEvent(
        PARTNER,
        status.ORDER_NUMBER,
        status.ORDER_REFERENCE,
        str(status.ORDER_STATUS),
        status.STATUS_NAME,
        status.ORDER_STATUSDATE,
    )


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> ViettelPostClient:
    """The client of Viettel Post's Airflow Connection: login and password are the partner account,
    extra ``webhook_token`` the shared TOKEN its callbacks carry (their only authentication)."""
    if not (login and extras.get("webhook_token")):
        raise ValueError("login (the account) and extra 'webhook_token' are required")
    return ViettelPostClient(transport, login, password, extras["webhook_token"])


def probe(client: ViettelPostClient) -> str:
    """Log in, nothing more: tracking goes through registerOrderHook, which would register a hook."""
    client.log_in()
    return "logged in"

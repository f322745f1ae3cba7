"""Viettel Post's partner API as its public clients speak it (viettel_post.openapi.yaml here; the
evidence, operation by operation, in docs/interfaces.md section 6).

``/v2/user/Login`` gives a token that every other call carries in the ``Token`` header; when it
expires (HTTP 401) the client logs in again once and repeats the call. After each login the client
reads the account's registered pickup stores (``GET /v2/user/listInventory``): an order names the
store by ``GROUPADDRESS_ID`` and the customer by ``CUS_ID``, as every public client does.

``createOrder`` takes the dossier result's reference as the customer's ``ORDER_NUMBER`` and Viettel's
own numeric address ids (``mappings.postal.viettel_addresses``: a commune Viettel's catalogue does not
list is a ``MappingError`` the pipeline quarantines by rule, before any call). The reply is Viettel's
numeric ``ORDER_NUMBER`` -- the carrier reference the hub keeps beside the dossier; there is no S10
item code -- and the price (``MONEY_TOTAL`` and its parts, ``KPI_HT``), which the message log keeps.
``UpdateOrder`` ``TYPE`` 4 cancels an order not yet picked up.

Tracking: Viettel has no history call its public clients use. ``registerOrderHook`` is a
``GET ?oid=&mes=`` asking Viettel to send one order's callbacks again; :meth:`track` asks it for each
unfinished order and returns no events itself -- the replayed callbacks reach the webhook receiver,
which keeps them like any other, so lost callbacks are recovered by the next derivation.

Authentication: Viettel Post is outside the LGSP and signs nothing, so no JSON signatures apply
(build the transport with ``sign_requests`` and ``verify_replies`` off): the login token
authenticates the hub to Viettel, and the shared ``TOKEN`` inside every callback body (compared in
constant time) authenticates Viettel to the hub.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, NonNegativeFloat, ValidationError

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError
from adapters.postal.carrier import CarrierEvent, PlacedOrder, WebhookRejected
from adapters.postal.checks import checked_addresses, webhook_document
from adapters.redaction import describe_validation_error
from adapters.transport import HttpTransport
from mappings.code_tables import CodeTables, load_code_tables
from mappings.dossier import VN_TZ
from mappings.postal.carrier_time import CarrierTime, format_carrier_time
from mappings.postal.order import Address, OrderRequest
from mappings.postal.viettel_addresses import (
    ViettelAddressRow,
    load_viettel_addresses,
    viettel_address,
)
from mappings.versioned import VersionedTable

PARTNER = "viettel_post"
OK, REFUSED = 200, 205
CANCEL = 4  # UpdateOrder TYPE
DOCUMENT = "TH"  # PRODUCT_TYPE: an envelope of documents ("HH" is goods)
NO_COLLECTION, COLLECT_GOODS_VALUE = 1, 3  # ORDER_PAYMENT
DEFAULT_SERVICE = "VCN"  # ORDER_SERVICE when the Connection names none (assumption: see the ledger)
REPLAY_NOTE = "Hub TTHC Ha Noi: gui lai hanh trinh"  # registerOrderHook ``mes``: why the replay was asked
ORDER_NOTE = "Kết quả giải quyết thủ tục hành chính - giao tận tay người nhận"

T = TypeVar("T")
_REPLY = ConfigDict(strict=True, extra="allow", frozen=True)


def _text(value: Any) -> Any:
    """Viettel writes some numbers as JSON numbers in one reply and strings in another."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _status_code(value: Any) -> Any:
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,4}", value) else value


ViettelNumber = Annotated[str, BeforeValidator(_text), Field(pattern=r"^[0-9]{6,20}$")]
"""Viettel's own order number: digits only (an S10 code or a customer number is a contract violation)."""


class _Envelope(BaseModel):
    model_config = _REPLY

    status: int
    error: bool
    message: str = ""


class _Login(BaseModel):
    model_config = _REPLY

    token: str = Field(min_length=1)


class _Store(BaseModel):
    """One of the account's registered pickup stores (``listInventory``)."""

    model_config = _REPLY

    groupaddressId: int
    cusId: int


class _Placed(BaseModel):
    """``createOrder``'s ``data``: Viettel's number and the price of the parcel (VND)."""

    model_config = _REPLY

    ORDER_NUMBER: ViettelNumber
    MONEY_TOTAL: NonNegativeFloat
    MONEY_TOTAL_FEE: NonNegativeFloat | None = None
    MONEY_FEE: NonNegativeFloat | None = None
    MONEY_COLLECTION: NonNegativeFloat | None = None
    MONEY_VAT: NonNegativeFloat | None = None
    KPI_HT: float | str | None = None  # the promised delivery time; a number in some replies, a string in others


class _Status(BaseModel):
    """One callback's ``DATA``."""

    model_config = _REPLY

    ORDER_NUMBER: ViettelNumber
    ORDER_REFERENCE: str | None = None
    ORDER_STATUSDATE: CarrierTime
    ORDER_STATUS: Annotated[int, BeforeValidator(_status_code)]  # a number on the wire (some send a string)
    STATUS_NAME: str


class _Callback(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    DATA: _Status
    TOKEN: str


@dataclass(frozen=True)
class _Session:
    token: str
    store: _Store


class ViettelPostClient:
    """Orders, replays, cancellation and callbacks for one Viettel Post partner account. Thread-safe.

    ``store_id``: the ``GROUPADDRESS_ID`` of the pickup store orders leave from (None: the account's
    first store); ``service``: the ``ORDER_SERVICE`` code of the contract.
    """

    name = PARTNER

    def __init__(
        self,
        transport: HttpTransport,
        username: str,
        password: str,
        webhook_token: str,
        *,
        store_id: int | None = None,
        service: str = DEFAULT_SERVICE,
        code_tables: CodeTables | None = None,
        addresses: VersionedTable[ViettelAddressRow] | None = None,
    ) -> None:
        if not (username and password and webhook_token):
            raise ValueError("Viettel Post needs the partner account (username, password) and the callback token")
        self.transport = transport
        self._username = username
        self._password = password
        self._webhook_token = webhook_token.encode()
        self._store_id = store_id
        self._service = service
        self._tables = code_tables or load_code_tables()
        self._addresses = addresses or load_viettel_addresses()
        self._session: _Session | None = None
        self._lock = threading.Lock()

    def create_order(self, order: OrderRequest) -> PlacedOrder:
        today = datetime.now(VN_TZ).date()
        checked_addresses(PARTNER, order, self._tables, today)
        sender, receiver = self._ids(order.sender, today), self._ids(order.receiver, today)

        def payload(store: _Store) -> dict[str, Any]:
            return {
                "ORDER_NUMBER": order.reference,
                "GROUPADDRESS_ID": store.groupaddressId,
                "CUS_ID": store.cusId,
                "DELIVERY_DATE": format_carrier_time(datetime.now(VN_TZ)),
                **_party("SENDER", order.sender, sender),
                **_party("RECEIVER", order.receiver, receiver),
                "PRODUCT_NAME": order.content,
                "PRODUCT_DESCRIPTION": order.dossier_no,
                "PRODUCT_QUANTITY": 1,
                "PRODUCT_PRICE": 0,
                "PRODUCT_WEIGHT": order.weight_grams,
                "PRODUCT_TYPE": DOCUMENT,
                "ORDER_PAYMENT": COLLECT_GOODS_VALUE if order.cod_amount else NO_COLLECTION,
                "ORDER_SERVICE": self._service,
                "ORDER_SERVICE_ADD": "",
                "ORDER_NOTE": ORDER_NOTE,
                "MONEY_COLLECTION": order.cod_amount,
                "MONEY_TOTAL": 0,  # Viettel prices the parcel; the reply says how much
                "LIST_ITEM": [
                    {
                        "PRODUCT_NAME": order.content,
                        "PRODUCT_PRICE": 0,
                        "PRODUCT_WEIGHT": order.weight_grams,
                        "PRODUCT_QUANTITY": 1,
                    }
                ],
            }

        def placed(data: Any) -> PlacedOrder:
            reply = _Placed.model_validate(data)
            # Viettel's reply has no creation time: the order exists from the moment it answered.
            return PlacedOrder(PARTNER, order.reference, reply.ORDER_NUMBER, None, datetime.now(VN_TZ))

        return self._call("POST", "/v2/order/createOrder", "createOrder", payload, placed)

    def log_in(self) -> None:
        """Log in now (``Login``, then ``listInventory`` for the pickup store), or keep the session there is:
        checks the account and its store and changes nothing."""
        self._current(None)

    def track(self, order_ids: Sequence[str]) -> dict[str, list[CarrierEvent]]:
        """Ask Viettel to replay each order's callbacks (``registerOrderHook``); return no events --
        they arrive at the webhook receiver. An order Viettel does not know (status 205) is skipped."""
        for order_id in order_ids:
            try:
                self._call(
                    "GET",
                    "/v2/order/registerOrderHook",
                    "registerOrderHook",
                    lambda _store, oid=order_id: {"oid": oid, "mes": REPLAY_NOTE},
                    lambda _data: None,
                )
            except PermanentError as error:
                if type(error) is not PermanentError:  # refused credentials, a broken reply: not this order's
                    raise
        return {}

    def cancel(self, order_id: str) -> None:
        """``UpdateOrder`` TYPE 4; an order already picked up is a PermanentError (status 205)."""
        payload = {"TYPE": CANCEL, "ORDER_NUMBER": order_id, "NOTE": "Hủy theo yêu cầu của cơ quan giải quyết"}
        self._call("POST", "/v2/order/UpdateOrder", "UpdateOrder", lambda _store: payload, lambda _data: None)

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

    # ----------------------------------------------------------------- addresses

    def _ids(self, address: Address, on: date) -> ViettelAddressRow:
        """Viettel's ids for the address's commune (``MappingError`` when its catalogue has none)."""
        return viettel_address(self._addresses, address.commune_code, on)

    # ----------------------------------------------------------------- session and calls

    def _login(self) -> _Session:
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
        fresh = self.transport.post_json(
            "/v2/user/Login", payload, operation="Login", parse=token, redact_keys=frozenset({"PASSWORD"})
        )
        stores = self.transport.get_json(
            "/v2/user/listInventory",
            operation="listInventory",
            parse=partial(_data, operation="listInventory", parse=_stores),
            headers={"Token": fresh},
        )
        return _Session(fresh, self._chosen(stores))

    def _chosen(self, stores: list[_Store]) -> _Store:
        wanted = [s for s in stores if self._store_id in (None, s.groupaddressId)]
        if not wanted:
            where = "no pickup store" if self._store_id is None else f"no pickup store {self._store_id}"
            raise AuthenticationError(
                PARTNER, "listInventory", f"the account has {where}: register it at Viettel Post or fix the Connection"
            )
        return wanted[0]

    def _current(self, stale: str | None) -> _Session:
        """The current session, logging in when there is none or when ``stale`` was just refused."""
        with self._lock:
            if self._session is None or self._session.token == stale:
                self._session = self._login()
            return self._session

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        build: Callable[[_Store], dict[str, Any]],
        parse: Callable[[Any], T],
    ) -> T:
        """One call with the session's token; ``build`` makes the body (POST) or query (GET) for the store."""

        def send(session: _Session) -> T:
            values, headers = build(session.store), {"Token": session.token}
            interpret = partial(_data, operation=operation, parse=parse)
            if method == "GET":
                return self.transport.get_json(
                    path, operation=operation, parse=interpret, params=values, headers=headers
                )
            return self.transport.post_json(path, values, operation=operation, parse=interpret, headers=headers,
                                            record_count=1)  # fmt: skip

        session = self._current(None)
        try:
            return send(session)
        except AuthenticationError:
            # An expired token is HTTP 401: log in once more; a second refusal is real.
            return send(self._current(session.token))


def _data(document: Any, operation: str, parse: Callable[[Any], T]) -> T:
    """``parse`` of the reply's ``data`` once the ``{status, error, message}`` envelope says success."""
    envelope = _Envelope.model_validate(document)
    if envelope.status != OK or envelope.error:
        raise _error(operation, envelope.status, envelope.message)
    return parse(document.get("data"))


def _stores(data: Any) -> list[_Store]:
    if not isinstance(data, list):
        raise ContractViolation(PARTNER, "listInventory", "data is not a list of stores")
    return [_Store.model_validate(store) for store in data]


def _party(role: str, address: Address, ids: ViettelAddressRow) -> dict[str, Any]:
    """``SENDER_*`` or ``RECEIVER_*``: the name, phone and street as given, the place as Viettel's ids."""
    return {
        f"{role}_FULLNAME": address.name,
        f"{role}_ADDRESS": address.street,
        f"{role}_PHONE": address.phone,
        f"{role}_EMAIL": "",
        f"{role}_WARD": ids.ward_id,
        f"{role}_DISTRICT": ids.district_id,
        f"{role}_PROVINCE": ids.province_id,
        f"{role}_LATITUDE": 0,
        f"{role}_LONGITUDE": 0,
    }


def _error(operation: str, status: int, message: str) -> Exception:
    where, text = (PARTNER, operation), f"status {status}: {message or 'no message'}"
    if status >= 500:
        return RetryableError(*where, text)
    if status == REFUSED:
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
    extra ``webhook_token`` the shared TOKEN its callbacks carry (their only authentication); optional
    ``group_address_id`` (the pickup store, else the account's first) and ``order_service``."""
    if not (login and extras.get("webhook_token")):
        raise ValueError("login (the account) and extra 'webhook_token' are required")
    store = extras.get("group_address_id")
    return ViettelPostClient(
        transport,
        login,
        password,
        extras["webhook_token"],
        store_id=int(store) if store not in (None, "") else None,
        service=str(extras.get("order_service") or DEFAULT_SERVICE),
    )


def probe(client: ViettelPostClient) -> str:
    """Log in, nothing more: tracking goes through registerOrderHook, which would register a hook."""
    client.log_in()
    return "logged in"

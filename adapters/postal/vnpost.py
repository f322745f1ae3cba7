"""VNPost, the public-utility postal service, as public one-stop systems call it through the LGSP
(contract: vnpost.openapi.yaml here; evidence: docs/interfaces.md section 9).

- **Orders** are ``OrderLGSPWithItemCode``: the caller supplies the S10 ``ItemCode`` from the block
  VNPost issued to the city (allocated and kept by the hub before the call, ``hub.store.item_codes``)
  and the dossier number as ``OrderNumber``; provinces and districts are integers, ``FlagConfig``
  is sent as public clients send it. The reply is only ``{Status, Message}``, ``"100"`` meaning
  accepted: the order's identity is what the hub sent (``OrderNumber``, ``ItemCode``), nothing
  comes back to check but the status.
- **Tracking** is one feed of every status change of the customer's parcels, paged by
  ``(pagesize, lastId)``: the hub keeps the ``lastId`` it has committed and asks for what follows
  (:meth:`VNPostClient.read_feed`); there is no per-order history call, so :meth:`track` is not
  offered.
- **Cancel** takes ``(CustomerCode, OrderNumber)``.
- **Tokens** come from the LGSP's OAuth client-credentials endpoint and are renewed before they
  expire (``adapters.oauth``); a 401 drops the token and the call is made once more with a new one.
- **Callbacks** are ``{Data, SendDate, SignData}`` with ``Data`` a JSON string; ``SignData`` is
  checked (``vnpost_signdata``: the scheme is configuration, as no public source shows it)
  before anything in ``Data`` is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.errors import AuthenticationError, ContractViolation, PermanentError
from adapters.oauth import ClientCredentials
from adapters.postal.carrier import CarrierEvent, FeedPage, PlacedOrder, WebhookRejected
from adapters.postal.checks import bounded_json, checked_addresses, webhook_document
from adapters.postal.vnpost_signdata import DEFAULT_SCHEME, SCHEMES, signature_holds
from adapters.redaction import describe_validation_error
from adapters.transport import HttpTransport
from mappings.code_tables import CodeTables, load_code_tables
from mappings.dossier import VN_TZ
from mappings.postal.carrier_time import CarrierTime
from mappings.postal.dispatch import result_reference
from mappings.postal.order import Address, OrderRequest
from mappings.postal.s10 import ItemCodeRange

PARTNER = "vnpost"
OK = "100"
ORDER_PATH = "/order/OrderLGSPWithItemCode"
TRACKING_PATH, CANCEL_PATH, TOKEN_PATH = "/order/tracking", "/order/cancel", "/token"
FIRST_LAST_ID = "0" * 24  # the cursor a public client starts the feed from
MAX_PAGE_SIZE = 500
FLAG_CONFIG = 2  # as public clients send it; its meaning is not public (interfaces 9.2)
NO_DISTRICT = 0  # districts were abolished on 2025-07-01; public clients send 0 when they have none

T = TypeVar("T")
_REPLY = ConfigDict(strict=True, extra="allow", frozen=True)


class _Reply(BaseModel):
    model_config = _REPLY

    Status: str
    Message: str = ""


class _Tracked(BaseModel):
    """One status change, in the feed and in a callback's ``Data``."""

    model_config = _REPLY

    Id: str | None = None
    OrderNumber: str = Field(min_length=1)
    ItemCode: str = ""
    StatusCode: str = Field(min_length=1)
    StatusName: str = ""
    StatusDate: CarrierTime


class _Feed(_Reply):
    Data: list[_Tracked] = []


class _Callback(BaseModel):
    model_config = _REPLY

    Data: str
    SendDate: str
    SignData: str


class VNPostClient:
    """Orders, the tracking feed, cancellation and callbacks for one LGSP customer code. Thread-safe."""

    name = PARTNER

    def __init__(
        self,
        transport: HttpTransport,
        token: ClientCredentials,
        customer_code: str,
        item_codes: ItemCodeRange,
        callback_secret: str,
        *,
        callback_scheme: str = DEFAULT_SCHEME,
        code_tables: CodeTables | None = None,
    ) -> None:
        if not (customer_code and callback_secret):
            raise ValueError("VNPost needs a customer code and the callback secret")
        if callback_scheme not in SCHEMES:
            raise ValueError(f"callback_sign_scheme {callback_scheme!r}: expected one of {', '.join(sorted(SCHEMES))}")
        self.transport = transport
        self.customer_code = customer_code
        self.item_codes = item_codes
        self._token = token
        self._callback_secret = callback_secret
        self._callback_scheme = callback_scheme
        self._tables = code_tables or load_code_tables()

    def create_order(self, order: OrderRequest) -> PlacedOrder:
        """Place ``order`` under the item code the hub allocated for it (``order.item_code``)."""
        if order.item_code not in self.item_codes:
            raise ContractViolation(
                PARTNER,
                "OrderLGSPWithItemCode",
                f"{order.reference}: item code {order.item_code!r} is not a valid S10 code of {self.item_codes.series}",
                side="hub",
            )
        on = datetime.now(VN_TZ)
        checked_addresses(PARTNER, order, self._tables, on.date())
        payload = {
            "CustomerCode": self.customer_code,
            "ItemCode": order.item_code,
            "OrderNumber": order.dossier_no,
            "CODAmount": order.cod_amount,
            **self._party("Sender", order.sender, on),
            "SenderEmail": "",
            "SenderDesc": "",
            "Description": order.content,
            **self._party("Receiver", order.receiver, on),
            "ReceiverEmail": "",
            "FlagConfig": FLAG_CONFIG,
        }
        self._post(ORDER_PATH, "OrderLGSPWithItemCode", payload)
        assert order.item_code is not None  # checked above
        return PlacedOrder(PARTNER, order.reference, order.dossier_no, order.item_code, on)

    def read_feed(self, last_id: str | None, page_size: int) -> FeedPage:
        """The status changes after ``last_id`` (None: from the feed's start), oldest first."""
        if not 0 < page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        cursor = last_id or FIRST_LAST_ID
        feed = self._call(
            lambda headers: self.transport.get_json(
                TRACKING_PATH,
                operation="tracking",
                params={"pagesize": page_size, "lastId": cursor},
                headers=headers,
                parse=lambda document: self._checked(_Feed.model_validate(document), "tracking"),
            )
        )
        ids = [item.Id for item in feed.Data]
        if any(not i for i in ids) or ids != sorted(ids) or (ids and ids[0] <= cursor):  # type: ignore[type-var]
            raise ContractViolation(PARTNER, "tracking", f"the feed after {cursor} is not in increasing Id order")
        return FeedPage([_event(item) for item in feed.Data], ids[-1] if ids else cursor)  # type: ignore[arg-type]

    def track(self, order_ids: Sequence[str]) -> dict[str, list[CarrierEvent]]:
        """VNPost has no per-order history call: its tracking is the feed (:meth:`read_feed`)."""
        raise PermanentError(PARTNER, "tracking", "VNPost tracks by its feed (pagesize, lastId), not by order ids")

    def cancel(self, order_id: str) -> None:
        """Cancel the order whose ``OrderNumber`` (the dossier number) is ``order_id``."""
        self._post(CANCEL_PATH, "cancel", {"CustomerCode": self.customer_code, "OrderNumber": order_id})

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[CarrierEvent]:
        """Check ``SignData`` over ``Data`` and ``SendDate``, then read ``Data`` (one change or a list)."""
        del headers  # the signature travels in the body
        document = webhook_document(body)
        try:
            callback = _Callback.model_validate(document)
        except ValidationError as exc:
            if not isinstance(document.get("SignData"), str) or not document["SignData"]:
                raise WebhookRejected(401, "callback without SignData") from None
            raise WebhookRejected(
                400, f"callback is not {{Data, SendDate, SignData}} ({describe_validation_error(exc)})"
            ) from None
        if not signature_holds(
            callback.Data, callback.SendDate, callback.SignData, self._callback_secret, self._callback_scheme
        ):
            raise WebhookRejected(401, "SignData does not match Data and SendDate")
        data = bounded_json(callback.Data, "Data")  # signed, yet bounded all the same: never a 500
        items = data if isinstance(data, list) else [data]
        try:
            changes = [_Tracked.model_validate(item) for item in items]
        except ValidationError as exc:
            raise WebhookRejected(400, f"Data does not match the contract ({describe_validation_error(exc)})") from None
        return [_event(change) for change in changes]

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------ helpers

    def _party(self, role: str, address: Address, on: datetime) -> dict[str, Any]:
        """Name, phone, address text and integer province/district of a sender or receiver."""
        commune = self._tables.communes.get(address.commune_code, on.date())
        named = commune is None or commune.name.casefold() in address.street.casefold()
        place = address.street if named else f"{address.street}, {commune.name}"  # type: ignore[union-attr]
        return {
            f"{role}Name": address.name,
            f"{role}Tel": address.phone,
            f"{role}Address": place,
            f"{role}Province": int(address.province_code),
            f"{role}District": NO_DISTRICT,
        }

    def _post(self, path: str, operation: str, payload: dict[str, Any]) -> _Reply:
        return self._call(
            lambda headers: self.transport.post_json(
                path,
                payload,
                operation=operation,
                headers=headers,
                parse=lambda document: self._checked(_Reply.model_validate(document), operation),
            )
        )

    def _call(self, send: Callable[[dict[str, str]], T]) -> T:
        """``send`` with the current token; after a 401, once more with a new token."""
        authorization = self._token.authorization()
        try:
            return send({"Authorization": authorization})
        except AuthenticationError:
            self._token.drop(authorization)
            return send({"Authorization": self._token.authorization()})

    @staticmethod
    def _checked(reply: Any, operation: str) -> Any:
        """The reply, unless its ``Status`` refuses the call (a refusal of this request: permanent)."""
        if reply.Status != OK:
            raise PermanentError(PARTNER, operation, f"Status {reply.Status}: {reply.Message or 'no message'}")
        return reply


def _event(item: _Tracked) -> CarrierEvent:
    """A change as the hub keeps it: the order is its ``OrderNumber`` (the dossier number)."""
    return CarrierEvent(
        PARTNER, item.OrderNumber, result_reference(item.OrderNumber), item.StatusCode, item.StatusName, item.StatusDate
    )


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> VNPostClient:
    """The client of VNPost's Airflow Connection: login and password are the LGSP consumer key and
    secret (OAuth client credentials); extras ``customer_code``, ``item_code_range``
    (``RH10000000-RH10099999``), ``item_code_alert_at`` (serials left that raise the alarm; default
    10 % of the block), ``callback_secret`` (a name Airflow masks) and ``callback_sign_scheme``."""
    missing = [name for name in ("customer_code", "item_code_range", "callback_secret") if not extras.get(name)]
    if not (login and password) or missing:
        raise ValueError(f"login and password (consumer key and secret) and extras {missing or ''} are required")
    item_codes = ItemCodeRange.parse(str(extras["item_code_range"]), int(extras.get("item_code_alert_at") or 0))
    token = ClientCredentials(transport, login, password, path=TOKEN_PATH)
    return VNPostClient(
        transport,
        token,
        str(extras["customer_code"]),
        item_codes,
        str(extras["callback_secret"]),
        callback_scheme=str(extras.get("callback_sign_scheme") or DEFAULT_SCHEME),
    )


def probe(client: VNPostClient) -> str:
    """Read one change of the tracking feed from its start: the OAuth token, the customer's feed
    and its contract are checked, nothing is ordered and no citizen is looked up."""
    client.read_feed(None, 1)
    return "tracking feed answered"

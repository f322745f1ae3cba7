"""The SOAP client template: the JSON transport's guarantees, with XML signatures and SOAP faults.

:class:`SoapTransport` *is* an :class:`adapters.transport.HttpTransport` -- the same pooled
session, timeouts on every request, tenacity retries with full jitter for retryable errors only,
circuit breaker and per-attempt ``Exchange`` report -- with two differences:

- **Signatures live inside the XML**, not in a header. The request payload (the one element in
  ``soap:Body``) is signed as its own document with the hub's key before the first attempt, so
  every retry sends the same bytes. The reply payload is checked with
  :func:`signing.xmldsig.verify_enveloped` against the trust store *before anything reads it*, and
  only the element that call returns (what the signature covers) goes on to zeep. An unsigned,
  altered, expired, foreign-CA or wrapped reply is an :class:`~adapters.errors.UntrustedReply`.
  The ``Exchange`` keeps the exact bytes, signatures included (its JWS fields stay empty).
- **SOAP faults map onto the error taxonomy** by their LGSP code (:func:`fault_error`). A fault is
  not signed (SOAP 1.1 has no place for it), so it is only ever turned into an error, never into
  data: the worst a forged fault can do is fail a call that is retried or reviewed later.

Replies that are not well-formed, safe XML, or not an envelope with exactly one Body element,
are contract violations: a truncated or garbled reply is never half-read.
"""

from __future__ import annotations

import functools
import html
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import requests
import zeep.exceptions
from lxml.etree import _Element

from adapters.errors import (
    AdapterError,
    AuthenticationError,
    ContractViolation,
    PermanentError,
    RetryableError,
    UntrustedReply,
)
from adapters.exchange import Exchange, ExchangeHook
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap.contract import Operation, SoapContract
from adapters.soap.envelope import (
    FAULT_AGENCY,
    FAULT_AUTH,
    FAULT_IP,
    FAULT_MALFORMED,
    FAULT_NOT_FOUND,
    Credentials,
    EnvelopeError,
    Fault,
    build_envelope,
    payload_bytes,
    read_envelope,
    read_fault,
    standalone,
)
from adapters.transport import RETRY_STATUSES, HttpTransport, _Call
from signing.errors import SigningError, UnsafeXml
from signing.xmldsig import sign_enveloped, signer_certificate, verify_enveloped

__all__ = ["RecordNotFound", "SoapClient", "SoapTransport", "fault_error"]

log = logging.getLogger(__name__)

T = TypeVar("T")
CONTENT_TYPE = "text/xml; charset=utf-8"  # SOAP 1.1
REDACTED = b"***"


Refusal = Callable[[int, Any], AdapterError | None]
"""Reads an LGSP JSON refusal (HTTP status, decoded body) into the partner's error, or None when the
body is not one (then the reply is a contract violation)."""


@dataclass(frozen=True, slots=True)
class _SoapCall(_Call):
    """A call whose reply is a SOAP envelope; ``refusal`` reads the JSON refusal an LGSP answers
    instead when it turns a wrapped call down before the partner sees it."""

    refusal: Refusal | None = None


class RecordNotFound(PermanentError):
    """LGSP error 201: the partner holds no record under the key asked for. Repeating will not
    find it; whether that is a data problem or an expected answer is the caller's decision."""


def fault_error(partner: str, operation: str, fault: Fault, *, status: int, secrets: tuple[str, ...]) -> AdapterError:
    """The taxonomy class of a SOAP fault: by LGSP code first, then by ``soap:Server``/``soap:Client``."""
    code = f" {fault.code}" if fault.code is not None else ""
    text = f"SOAP fault {fault.faultcode}{code}: {fault.message or 'no faultstring'}"
    where = (partner, operation)
    if fault.code in (FAULT_AUTH, FAULT_IP):
        hint = "credentials refused" if fault.code == FAULT_AUTH else "the hub's address is not on the allow-list"
        text = f"{text} -- {hint}; check the Airflow Connection"
        return AuthenticationError(*where, text, status=status, secrets=secrets)
    if fault.code == FAULT_AGENCY:
        text = f"{text} -- unknown agency code; check the Connection"
        return PermanentError(*where, text, status=status, secrets=secrets)
    if fault.code == FAULT_NOT_FOUND:
        return RecordNotFound(*where, text, status=status, secrets=secrets)
    if fault.code == FAULT_MALFORMED:
        return ContractViolation(*where, text, side="hub", status=status, secrets=secrets)
    if fault.server_side:
        return RetryableError(*where, text, status=status, secrets=secrets)
    return PermanentError(*where, text, status=status, secrets=secrets)


class SoapTransport(HttpTransport):
    """One SOAP partner's channel for this process. Thread-safe; share it, do not rebuild it.

    ``signatures.identity`` signs request payloads (XMLDSig); ``signatures.trust`` verifies reply
    payloads (None only for a partner that signs nothing -- a documented risk, as for JSON).
    """

    def __init__(
        self,
        partner: str,
        settings: TransportSettings,
        *,
        on_exchange: ExchangeHook | None = None,
        signatures: MessageSignatures | None = None,
    ) -> None:
        # The JSON transport's JWS header signing stays off: the signature travels inside the XML.
        super().__init__(partner, settings, on_exchange=on_exchange)
        self.xml_signatures = (signatures or MessageSignatures()).bound_to(partner)

    def sign(self, payload: _Element) -> _Element:
        """The payload signed with the hub's key (unchanged when this partner takes unsigned requests)."""
        identity = self.xml_signatures.identity
        return sign_enveloped(payload, identity) if identity is not None else payload

    def post_envelope(
        self,
        path: str,
        operation: Operation,
        envelope: bytes,
        *,
        parse: Callable[[_Element], T],
        secrets: tuple[str, ...] = (),
        record_count: int = 1,
    ) -> T:
        """POST ``envelope`` (retried as the settings say) and return ``parse(verified reply payload)``.

        ``parse`` runs inside the retry loop on the element the signature covers; ``secrets`` are
        blanked in the exchange report and scrubbed from error text.
        """
        call = _SoapCall(
            "POST",
            path,
            operation.name,
            body=envelope,
            headers={"Content-Type": CONTENT_TYPE, "Accept": "text/xml", "SOAPAction": f'"{operation.soap_action}"'},
            secrets=secrets,
            record_count=record_count,
        )
        return self._call(call, parse)

    def post_wrapped(
        self,
        path: str,
        operation: Operation,
        envelope: bytes,
        wrapper: Mapping[str, str],
        *,
        parse: Callable[[_Element], T],
        refusal: Refusal,
        record_count: int = 1,
    ) -> T:
        """POST ``envelope`` as the ``data`` string of an LGSP JSON envelope whose other keys are
        ``wrapper`` (tokens, hashes: all secrets, blanked in the exchange report and scrubbed from
        errors), and return ``parse(verified reply payload)``. The reply is a SOAP envelope as for
        :meth:`post_envelope`, unless the LGSP refuses the call in JSON, which ``refusal`` reads."""
        body = json.dumps({**wrapper, "data": envelope.decode("utf-8")}, ensure_ascii=False).encode("utf-8")
        call = _SoapCall(
            "POST",
            path,
            operation.name,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "text/xml, application/json"},
            redact_keys=frozenset(wrapper),
            secrets=tuple(value for value in wrapper.values() if value),
            record_count=record_count,
            refusal=refusal,
        )
        return self._call(call, parse)

    def _interpret(self, call: _Call, response: requests.Response, parse: Callable[[Any], T]) -> T:
        if not isinstance(call, _SoapCall):  # a JSON call on this channel (an LGSP token)
            return super()._interpret(call, response, parse)
        status = response.status_code
        where = (self.partner, call.operation)
        if status in RETRY_STATUSES:
            raise RetryableError(*where, f"HTTP {status} {response.reason}", status=status, secrets=call.secrets)
        if call.refusal is not None and _is_json(response):
            raise self._refused(call, response)
        if status in (401, 403):
            detail = f"HTTP {status} {response.reason} -- credentials refused; check the Airflow Connection"
            raise AuthenticationError(*where, detail, status=status, secrets=call.secrets)
        try:
            _header, element = read_envelope(response.content)
        except UnsafeXml as exc:
            detail = f"HTTP {status} reply is not well-formed, safe XML ({len(response.content)} bytes): {exc.reason}"
            raise ContractViolation(*where, detail, status=status) from exc
        except EnvelopeError as exc:
            raise ContractViolation(*where, f"HTTP {status} reply: {exc}", status=status) from exc
        fault = read_fault(element)
        if fault is not None:
            raise fault_error(*where, fault, status=status, secrets=call.secrets)
        if not 200 <= status < 300:
            raise PermanentError(*where, f"HTTP {status} {response.reason} without a SOAP fault", status=status)
        return parse(self._verified(call, element, status))

    def _refused(self, call: _SoapCall, response: requests.Response) -> AdapterError:
        """The error an LGSP JSON refusal stands for (a contract violation when it is not one)."""
        where, status = (self.partner, call.operation), response.status_code
        try:
            document = json.loads(response.content)
        except ValueError:
            document = None
        error = call.refusal(status, document) if call.refusal is not None and document is not None else None
        if error is None:
            return ContractViolation(
                *where, f"HTTP {status} JSON reply that is neither SOAP nor a refusal", status=status
            )
        return error

    def _verified(self, call: _Call, element: _Element, status: int) -> _Element:
        """The signed payload as its signature covers it -- the only element callers may read."""
        trust = self.xml_signatures.trust
        if trust is None:
            return standalone(element)
        payload = payload_bytes(element)
        try:
            verified = verify_enveloped(payload, trust)
        except SigningError as exc:
            raise UntrustedReply(self.partner, call.operation, f"reply refused: {exc.reason}", status=status) from exc
        refusal = self.xml_signatures.signer_refusal(signer_certificate(payload))
        if refusal is not None:
            raise UntrustedReply(self.partner, call.operation, f"reply refused: {refusal}", status=status)
        return verified

    def _exchange(self, call: _Call, *args: Any, **kwargs: Any) -> Exchange:
        """The JSON transport's report, with the WS-Security password blanked in the kept request."""
        exchange = super()._exchange(call, *args, **kwargs)
        body = exchange.request_body
        for secret in call.secrets:
            body = body.replace(html.escape(secret, quote=False).encode("utf-8"), REDACTED)  # as lxml escapes text
        if body == exchange.request_body:
            return exchange
        return replace(exchange, request_body=body, redacted=True)


def _is_json(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "json" in content_type or response.content.lstrip()[:1] == b"{"


class SoapClient:
    """Calls the operations of one contract over one :class:`SoapTransport`. Thread-safe.

    Partner clients (population database, ministries) wrap this and speak in their own terms;
    this class knows operations, dicts of values, signatures and faults -- nothing of the business.
    """

    def __init__(
        self, transport: SoapTransport, contract: SoapContract, credentials: Credentials | None, *, path: str = ""
    ) -> None:
        self.transport = transport
        self.contract = contract
        self.credentials = credentials
        self.path = path

    @property
    def partner(self) -> str:
        return self.transport.partner

    def call(self, operation: str, values: dict[str, Any], *, record_count: int = 1) -> dict[str, Any]:
        """Send ``operation`` with ``values`` (XSD-checked, then signed) and return the verified reply as a dict.

        Raises the :mod:`adapters.errors` taxonomy: ``ContractViolation(side="hub")`` before sending
        when the request breaks the XSD, ``UntrustedReply`` when the reply's signature does not hold,
        :class:`RecordNotFound` for LGSP error 201, ``RetryableError`` after the retries ran out.
        """
        op = self.contract.operation(operation)
        payload = self.contract.build(operation, values)
        problems = self.contract.schema_errors(payload)
        if problems is not None:
            raise ContractViolation(self.partner, operation, f"request breaks the XSD: {problems}", side="hub")
        envelope = build_envelope(self.transport.sign(payload), self.credentials)
        secrets = (self.credentials.password,) if self.credentials and self.credentials.password else ()
        parse = functools.partial(self._read, op)
        return self.transport.post_envelope(
            self.path, op, envelope, parse=parse, secrets=secrets, record_count=record_count
        )

    def _read(self, op: Operation, element: _Element) -> dict[str, Any]:
        if element.tag != op.reply.text:
            raise ContractViolation(self.partner, op.name, f"reply element is {element.tag}, expected {op.reply.text}")
        problems = self.contract.schema_errors(element)
        if problems is not None:
            raise ContractViolation(self.partner, op.name, f"reply breaks the XSD: {problems}")
        try:
            return self.contract.read(op.reply, element)
        except (zeep.exceptions.Error, ValueError, TypeError) as exc:
            raise ContractViolation(self.partner, op.name, f"reply does not match the contract: {exc}") from exc

    def close(self) -> None:
        self.transport.close()

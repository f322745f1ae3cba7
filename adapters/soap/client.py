"""The SOAP transport: the JSON transport's guarantees, with XML reply signatures and SOAP faults.

:class:`SoapTransport` *is* an :class:`adapters.transport.HttpTransport` -- the same pooled
session, timeouts on every request, tenacity retries with full jitter for retryable errors only,
circuit breaker and per-attempt ``Exchange`` report -- with two differences:

- **Signatures live inside the XML**, not in a header. Requests go unsigned (the population
  register's public clients sign none: docs/interfaces.md 5.1); every retry sends the same bytes.
  When the Connection asks for it, the reply payload is checked with
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

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from lxml.etree import _Element

from adapters.errors import (
    AdapterError,
    AuthenticationError,
    ContractViolation,
    PermanentError,
    RetryableError,
    UntrustedReply,
)
from adapters.exchange import ExchangeHook
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap.contract import Operation
from adapters.soap.envelope import (
    FAULT_AGENCY,
    FAULT_AUTH,
    FAULT_IP,
    FAULT_MALFORMED,
    FAULT_NOT_FOUND,
    EnvelopeError,
    Fault,
    payload_bytes,
    read_envelope,
    read_fault,
    standalone,
)
from adapters.transport import RETRY_STATUSES, HttpTransport, _Call
from signing.errors import SigningError, UnsafeXml
from signing.xmldsig import signer_certificate, verify_enveloped

__all__ = ["RecordNotFound", "SoapTransport", "fault_error"]

log = logging.getLogger(__name__)

T = TypeVar("T")
CONTENT_TYPE = "text/xml; charset=utf-8"  # SOAP 1.1


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

    ``signatures.trust`` verifies reply payloads (None: replies are not checked, as the population
    register's Connection has it unless ``verify_replies`` is set: 5.1). Secrets in the LGSP wrapper
    are blanked in the exchange report by the JSON transport (``redact_keys``).
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
        errors), and return ``parse(verified reply payload)``; ``parse`` runs inside the retry loop
        on the element the signature covers. The reply is a SOAP envelope (a ``soap:Fault`` maps
        onto the error taxonomy), unless the LGSP refuses the call in JSON, which ``refusal`` reads."""
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


def _is_json(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "json" in content_type or response.content.lstrip()[:1] == b"{"

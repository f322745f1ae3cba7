"""The HTTP transport every JSON adapter is built on (a zeep transport will follow the same shape).

Built once per process per partner, it owns what must not differ between adapters: one pooled
``requests.Session``; connect and read timeouts on every request; TLS verification on unless a
Connection explicitly turns it off; retries with exponential backoff and full jitter for
retryable errors only, bounded by attempts and elapsed time; a circuit breaker; an exchange
report for the hub's message log; and the mapping of HTTP and JSON failures onto the taxonomy
in :mod:`adapters.errors`. Clients above it only describe calls and parse replies.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode
from uuid import uuid4

import requests
from pydantic import ValidationError
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from urllib3 import encode_multipart_formdata

from adapters.breaker import CircuitBreaker
from adapters.errors import (
    AdapterError,
    AuthenticationError,
    CircuitOpenError,
    ContractViolation,
    PermanentError,
    RetryableError,
    UntrustedReply,
)
from adapters.exchange import Exchange, ExchangeHook, Outcome
from adapters.redaction import describe_validation_error, redact_json_keys, redacted_document
from adapters.settings import TransportSettings
from adapters.signatures import SIGNATURE_HEADER, MessageSignatures
from signing.digests import compact_json, non_finite_marker

log = logging.getLogger(__name__)

T = TypeVar("T")

# Header values that are credentials (city bearer token, postal carriers' token headers): scrubbed
# from any error text a partner might echo them in.
SECRET_HEADERS = frozenset({"authorization", "token", "access_token", "x-api-key"})
# Statuses that say "not now" rather than "never": rate limiting and gateway/overload trouble.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = "hanoi-dossier-hub/0.1"


class _LoggedRequest(NamedTuple):
    """A call's request body as the message log keeps it: secrets blanked (``redact_keys``)."""

    body: bytes
    redacted: bool


@dataclass(frozen=True, slots=True)
class _Call:
    """One logical call (possibly several attempts)."""

    method: str
    path: str
    operation: str
    params: Mapping[str, str | int] | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    redact_keys: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    record_count: int = 0
    rate_limited: frozenset[int] = frozenset()
    raw: bool = False  # a 2xx reply's bytes go to ``parse`` as they are (a PDF), not decoded as JSON
    logged: _LoggedRequest | None = None  # the body's logged copy, when the caller made it (post_json)


def _should_retry(exc: BaseException) -> bool:
    # An open circuit is retryable for the outbox (later), but not inside this call: the breaker
    # would refuse again until its cool-down ends.
    return isinstance(exc, RetryableError) and not isinstance(exc, CircuitOpenError)


def _header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """Secret header values, with and without their scheme word ("Bearer abc" -> also "abc")."""
    values = [value for name, value in headers.items() if name.lower() in SECRET_HEADERS and value]
    return tuple(values) + tuple(value.split()[-1] for value in values)


def _outcome(error: AdapterError | None) -> Outcome:
    if error is None:
        return "ok"
    if isinstance(error, ContractViolation):
        return "contract_violation"
    return "retryable" if error.retryable else "permanent"


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without the wrapper noise."""
    seen = [exc]
    while len(seen) < 10:
        current = seen[-1]
        inner = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException) or inner in seen:
            break
        seen.append(inner)
    return str(seen[-1]) or type(seen[-1]).__name__


def _partner_message(response: requests.Response) -> str:
    """The partner's own explanation from an error body, when it sent a JSON one."""
    try:
        document = response.json()
    except ValueError:
        return ""
    if isinstance(document, dict):
        text = document.get("message") or document.get("error")
        if isinstance(text, str) and text:
            return f": {text}"
    return ""


class HttpTransport:
    """One partner's HTTP channel for this process. Thread-safe; share it, do not rebuild it."""

    def __init__(
        self,
        partner: str,
        settings: TransportSettings,
        *,
        on_exchange: ExchangeHook | None = None,
        on_sending: ExchangeHook | None = None,
        signatures: MessageSignatures | None = None,
    ) -> None:
        self.partner = partner
        self.settings = settings
        self.on_exchange = on_exchange
        self.on_sending = on_sending
        self.signatures = (signatures or MessageSignatures()).bound_to(partner)
        self.breaker = CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown)
        self._session = self._build_session(settings)
        if not settings.verify:
            log.warning("%s: TLS certificate verification is OFF for %s", partner, settings.base_url)
        if self.signatures.trust is None:
            log.info(
                "%s: replies are not signature-checked (the partner is not shown to sign them; "
                "Connection extra verify_replies=true checks them); the message log still seals every exchange",
                partner,
            )

    @staticmethod
    def _build_session(settings: TransportSettings) -> requests.Session:
        session = requests.Session()
        session.trust_env = settings.trust_env
        session.verify = settings.requests_verify
        session.cert = settings.requests_cert
        # Retries are ours (classified, jittered, breaker-aware); urllib3 must not add its own.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        return session

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- JSON helpers

    def get_json(
        self,
        path: str,
        *,
        operation: str,
        parse: Callable[[Any], T],
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """GET a JSON reply and hand it to ``parse`` (which validates it; see :meth:`post_json`)."""
        headers = headers or {}
        call = _Call("GET", path, operation, params=params, headers=headers, secrets=_header_secrets(headers))
        return self._call(call, parse)

    def post_json(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        operation: str,
        parse: Callable[[Any], T],
        headers: Mapping[str, str] | None = None,
        redact_keys: frozenset[str] = frozenset(),
        record_count: int = 0,
        rate_limited: frozenset[int] = frozenset(),
        raw: bool = False,
    ) -> T:
        """POST ``payload`` as UTF-8 JSON and return ``parse(reply)``.

        ``parse`` runs inside the retry loop, so a partner's in-band error (an ``error_code`` in
        an HTTP 200 reply) can raise a ``RetryableError`` and be retried like an HTTP 503; a
        pydantic ``ValidationError`` from it becomes a ``ContractViolation``. ``redact_keys`` names
        top-level keys whose values are secrets: they are blanked in the exchange report and
        scrubbed from error messages. ``record_count`` is reported to the message log.
        ``rate_limited`` names further statuses the partner means as "slow down" (the portal's public
        scoreboard answers 403 under load, not for credentials): retried with backoff like a 429.
        ``raw``: a 2xx reply is handed to ``parse`` as bytes (the payment platform's receipt is a PDF).
        """
        body = compact_json(payload)  # json.dumps' bytes, written once (orjson where it writes the same)
        redacted = redacted_document(payload, redact_keys) if redact_keys else None
        headers = headers or {}
        secrets = _header_secrets(headers) + tuple(str(payload[key]) for key in redact_keys if payload.get(key))
        call = _Call(
            "POST",
            path,
            operation,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", **headers},
            redact_keys=redact_keys,
            secrets=secrets,
            record_count=record_count,
            rate_limited=rate_limited,
            raw=raw,
            logged=_LoggedRequest(body, False) if redacted is None else _LoggedRequest(redacted, True),
        )
        return self._call(call, parse)

    def post_form(
        self,
        path: str,
        fields: Mapping[str, str] | None = None,
        *,
        operation: str,
        parse: Callable[[Any], T],
        headers: Mapping[str, str] | None = None,
        redact_keys: frozenset[str] = frozenset(),
    ) -> T:
        """POST ``fields`` form-encoded (none: an empty body) and return ``parse(JSON reply)``: what
        an OAuth 2 token endpoint takes, and an LGSP token call whose credential travels in a
        header. Every header value is scrubbed from error text; ``redact_keys`` are blanked in the
        kept reply (the token it issues)."""
        headers = headers or {}
        call = _Call(
            "POST",
            path,
            operation,
            body=urlencode(fields or {}).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
            redact_keys=redact_keys,
            secrets=_header_secrets(headers) + tuple(value for value in headers.values() if value),
        )
        return self._call(call, parse)

    def post_multipart(
        self,
        path: str,
        fields: Mapping[str, str],
        files: Mapping[str, tuple[str, bytes, str]],
        *,
        operation: str,
        parse: Callable[[Any], T],
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """POST ``fields`` and ``files`` (field -> (filename, content, media type)) as
        ``multipart/form-data`` and return ``parse(JSON reply)``: how a file is uploaded to a CKAN
        portal (its ``upload`` field). The boundary is random per call; every header value is
        scrubbed from error text."""
        parts: dict[str, Any] = dict(fields) | dict(files)
        body, content_type = encode_multipart_formdata(parts)
        headers = headers or {}
        call = _Call(
            "POST",
            path,
            operation,
            body=body,
            headers={"Content-Type": content_type, **headers},
            secrets=_header_secrets(headers),
        )
        return self._call(call, parse)

    # ----------------------------------------------------------------- the call loop

    def _call(self, call: _Call, parse: Callable[[Any], T]) -> T:
        settings = self.settings
        retrying = Retrying(
            stop=stop_after_attempt(settings.max_attempts) | stop_before_delay(settings.max_elapsed),
            wait=wait_random_exponential(multiplier=settings.backoff_initial, max=settings.backoff_max),
            retry=retry_if_exception(_should_retry),
            before_sleep=self._log_retry,
            reraise=True,
        )
        attempts = itertools.count(1)
        # Every attempt sends the same body: its logged (redacted) copy is made once, not twice an attempt.
        logged = call.logged or _LoggedRequest(*redact_json_keys(call.body or b"", call.redact_keys))
        return retrying(lambda: self._attempt(call, parse, next(attempts), logged))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s (attempt %d of at most %d); retrying in %.2f s",
            error,
            state.attempt_number,
            self.settings.max_attempts,
            state.upcoming_sleep,
        )

    def _attempt(self, call: _Call, parse: Callable[[Any], T], attempt: int, logged: _LoggedRequest) -> T:
        exchange_id = str(uuid4())
        request = self._prepare(call, exchange_id)
        # Nothing may raise between acquiring the breaker and the try below: a half-open probe
        # that never reports back would block every caller.
        wait = self.breaker.acquire()
        if wait is not None:
            raise CircuitOpenError(
                self.partner,
                call.operation,
                f"circuit breaker open after {self.breaker.consecutive_failures} consecutive failures; "
                f"request not sent, next probe in {wait:.1f} s",
                retry_after_s=wait,
            )
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        response: requests.Response | None = None
        error: AdapterError | None = None
        result: T | None = None
        try:
            if self.on_sending is not None:  # raising here sends nothing; the breaker is released below
                self.on_sending(
                    self._exchange(call, request, logged, None, None, exchange_id, started_at, 0.0, attempt)
                )
            response = self._send(call, request)
            result = self._interpret(call, response, parse)
        except AdapterError as exc:
            error = exc
        finally:
            self.breaker.record(failed=isinstance(error, RetryableError) and not _slowed_down(call, error))
        duration_ms = (time.perf_counter() - started) * 1000
        log.debug(
            "%s %s attempt %d: %s in %.0f ms (%s)",
            self.partner,
            call.operation,
            attempt,
            response.status_code if response is not None else "no reply",
            duration_ms,
            _outcome(error),
        )
        if self.on_exchange is not None:
            self.on_exchange(
                self._exchange(call, request, logged, response, error, exchange_id, started_at, duration_ms, attempt)
            )
        if error is not None:
            raise error
        return result  # type: ignore[return-value]  # set whenever error is None

    def _prepare(self, call: _Call, exchange_id: str) -> requests.PreparedRequest:
        try:
            return self._session.prepare_request(
                requests.Request(
                    call.method,
                    f"{self.settings.base_url}/{call.path.lstrip('/')}",
                    params=call.params,
                    data=call.body,
                    headers={**call.headers, **self.signatures.request_headers(call.body), "X-Request-ID": exchange_id},
                )
            )
        except requests.RequestException as exc:
            raise PermanentError(self.partner, call.operation, f"request could not be built: {exc}") from exc

    def _send(self, call: _Call, request: requests.PreparedRequest) -> requests.Response:
        settings = self.settings
        try:
            return self._session.send(
                request,
                timeout=(settings.connect_timeout, settings.read_timeout),
                allow_redirects=False,
            )
        except requests.ConnectTimeout as exc:
            raise RetryableError(
                self.partner, call.operation, f"could not connect within {settings.connect_timeout} s"
            ) from exc
        except requests.Timeout as exc:
            raise RetryableError(
                self.partner, call.operation, f"no reply within the {settings.read_timeout} s read timeout"
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise PermanentError(
                self.partner,
                call.operation,
                f"TLS failure (check the partner certificate or ca_bundle): {_root_cause(exc)}",
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise RetryableError(
                self.partner, call.operation, f"connection failed: {_root_cause(exc)}", secrets=call.secrets
            ) from exc
        except requests.RequestException as exc:
            raise PermanentError(
                self.partner, call.operation, f"request could not be sent: {_root_cause(exc)}"
            ) from exc

    def _interpret(self, call: _Call, response: requests.Response, parse: Callable[[Any], T]) -> T:
        status = response.status_code
        where = (self.partner, call.operation)
        if status in RETRY_STATUSES or status in call.rate_limited:
            detail = f"HTTP {status} {response.reason}{_partner_message(response)}"
            raise RetryableError(*where, detail, status=status, secrets=call.secrets)
        if status in (401, 403):
            detail = (
                f"HTTP {status} {response.reason}{_partner_message(response)} "
                "-- credentials refused; check the Airflow Connection"
            )
            raise AuthenticationError(*where, detail, status=status, secrets=call.secrets)
        if not 200 <= status < 300:
            detail = f"HTTP {status} {response.reason}{_partner_message(response)}"
            raise PermanentError(*where, detail, status=status, secrets=call.secrets)
        refusal = self.signatures.refusal(response.content, response.headers.get(SIGNATURE_HEADER))
        if refusal is not None:
            raise UntrustedReply(*where, f"reply refused: {refusal}", status=status)
        if call.raw:
            return parse(response.content)
        try:
            # NaN/Infinity (not JSON, but accepted) stay marked: canonical JSON writes them as it always has.
            document = json.loads(response.content, parse_constant=non_finite_marker)
        except ValueError as exc:
            content_type = response.headers.get("Content-Type", "no content type")
            raise ContractViolation(
                *where,
                f"HTTP {status} reply is not JSON ({content_type}, {len(response.content)} bytes)",
                status=status,
            ) from exc
        try:
            return parse(document)
        except ValidationError as exc:
            detail = f"reply does not match the contract ({describe_validation_error(exc)})"
            raise ContractViolation(*where, detail, status=status) from exc

    def _exchange(
        self,
        call: _Call,
        request: requests.PreparedRequest,
        logged: _LoggedRequest,
        response: requests.Response | None,
        error: AdapterError | None,
        exchange_id: str,
        started_at: datetime,
        duration_ms: float,
        attempt: int,
    ) -> Exchange:
        response_body: bytes | None = None
        response_redacted = False
        if response is not None:
            response_body, response_redacted = redact_json_keys(response.content, call.redact_keys)
        return Exchange(
            exchange_id=exchange_id,
            partner=self.partner,
            operation=call.operation,
            method=call.method,
            url=request.url or "",
            attempt=attempt,
            record_count=call.record_count,
            request_body=logged.body,
            response_body=response_body,
            status=response.status_code if response is not None else None,
            # Neither a reply nor an error: the report made before sending (``on_sending``).
            outcome="unknown" if response is None and error is None else _outcome(error),
            error=str(error) if error is not None else None,
            started_at=started_at,
            duration_ms=duration_ms,
            redacted=logged.redacted or response_redacted,
            request_signature=request.headers.get(SIGNATURE_HEADER),
            response_signature=response.headers.get(SIGNATURE_HEADER) if response is not None else None,
        )


def _slowed_down(call: _Call, error: AdapterError) -> bool:
    """A "slow down" reply (429, or a status the partner means so) comes from a partner that is up:
    it is retried with backoff like any retryable error, but it is no failure for the breaker, which
    guards against a partner that is down -- counted, a polite partner's rate limit would shut the
    door on it for a whole cooldown."""
    return error.status == 429 or error.status in call.rate_limited

"""The shared transport against a real HTTP server on loopback (no mocks): timeouts, retries only for
retryable errors, the circuit breaker, the exchange hook, JSON/contract failures, TLS verification.

Attempts are counted on the server side: what matters is what reached the partner.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.breaker import BreakerState
from adapters.errors import (
    AuthenticationError,
    CircuitOpenError,
    ContractViolation,
    PermanentError,
    RetryableError,
)
from adapters.exchange import Exchange
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from signing.pki import DevPki

pytestmark = pytest.mark.timeout(60)

FAST = {"backoff_initial": 0.01, "backoff_max": 0.05}


@dataclass
class Step:
    """One scripted answer: status, JSON body (or raw bytes), delay before answering."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    raw: bytes | None = None


class ScriptedServer:
    """A tiny threaded HTTP server that answers from a script and records every request it got."""

    def __init__(self, steps: list[Step], default: Step | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.steps = list(steps)
        self.default = default or Step(body={"status": "ok"})
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer._lock:
                    outer.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    step = outer.steps.pop(0) if outer.steps else outer.default
                if step.delay:
                    time.sleep(step.delay)
                payload = step.raw if step.raw is not None else json.dumps(step.body).encode()
                try:
                    self.send_response(step.status)
                    self.send_header("Content-Type", "application/json" if step.raw is None else "text/html")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer to

            do_GET = do_POST = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def start(*steps: Step, default: Step | None = None, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        server = ScriptedServer(list(steps), default, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def transport(server: ScriptedServer, exchanges: list[Exchange] | None = None, **settings: Any) -> HttpTransport:
    merged = {**FAST, **settings}
    return HttpTransport(
        "demo_partner",
        TransportSettings(base_url=server.url, **merged),
        on_exchange=exchanges.append if exchanges is not None else None,
    )


def as_dict(document: Any) -> dict[str, Any]:
    assert isinstance(document, dict)
    return document


class Reply(BaseModel):
    model_config = ConfigDict(strict=True)
    items: list[int]
    next_cursor: str | None


# ------------------------------------------------------------------------------------------ settings


def test_settings_defaults_are_safe() -> None:
    settings = TransportSettings(base_url="https://portal.example.vn/lgsp/")
    assert settings.base_url == "https://portal.example.vn/lgsp"
    assert settings.verify is True and settings.requests_verify is True
    assert settings.connect_timeout > 0 and settings.read_timeout > 0
    assert settings.max_attempts >= 1 and settings.max_elapsed > 0


def test_settings_from_connection_extras_convert_and_refuse_typos() -> None:
    settings = TransportSettings.from_extras(
        "http://127.0.0.1:1", {"timeout": "10", "max_attempts": "2", "verify": "false", "pool_size": "4"}
    )
    assert (settings.connect_timeout, settings.read_timeout) == (10.0, 10.0)
    assert settings.max_attempts == 2 and settings.verify is False and settings.pool_size == 4
    with pytest.raises(ValidationError, match="read_timout"):
        TransportSettings.from_extras("http://127.0.0.1:1", {"read_timout": "3"})


@pytest.mark.parametrize(
    "bad",
    [
        {"read_timeout": 0},
        {"connect_timeout": -1},
        {"max_attempts": 0},
        {"base_url": "ftp://x"},
        {"base_url": "http://user:pw@host"},
        {"verify": False, "ca_bundle": "/tmp/ca.pem"},
    ],
)
def test_settings_refuse_unsafe_or_incoherent_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TransportSettings(**{"base_url": "http://127.0.0.1:1", **bad})


def test_session_is_pooled_with_the_configured_size(serve: Any) -> None:
    server = serve()
    client = transport(server, pool_size=7)
    adapter = client._session.get_adapter(server.url)
    assert adapter._pool_maxsize == 7  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]  # no hidden urllib3 retries


# ------------------------------------------------------------------------------------------ happy path


def test_get_json_parses_sends_headers_and_reports_the_exchange(serve: Any) -> None:
    server = serve(Step(body={"items": [1, 2], "next_cursor": None}))
    exchanges: list[Exchange] = []
    reply = transport(server, exchanges).get_json(
        "/api/things", operation="list_things", parse=Reply.model_validate, params={"limit": 2}
    )
    assert reply.items == [1, 2]
    assert server.requests[0]["path"] == "/api/things?limit=2"
    assert server.requests[0]["headers"]["X-Request-ID"] == exchanges[0].exchange_id
    (exchange,) = exchanges
    assert (exchange.partner, exchange.operation, exchange.method) == ("demo_partner", "list_things", "GET")
    assert (exchange.status, exchange.outcome, exchange.attempt, exchange.error) == (200, "ok", 1, None)
    assert exchange.response_body == json.dumps({"items": [1, 2], "next_cursor": None}).encode()
    assert exchange.started_at.tzinfo is dt.UTC and exchange.duration_ms >= 0


def test_post_json_sends_utf8_and_redacts_secrets_in_the_exchange_only(serve: Any) -> None:
    server = serve(Step(body={"error_code": 0, "session": "S3CR3T-SESSION-TOKEN"}))
    exchanges: list[Exchange] = []
    payload = {"username": "hub", "password": "p@ssw0rd-very-secret", "note": "Hà Nội"}
    transport(server, exchanges).post_json(
        "/auth", payload, operation="auth", parse=as_dict, redact_keys=frozenset({"password", "session"})
    )
    assert json.loads(server.requests[0]["body"]) == payload  # the wire carries the real values
    (exchange,) = exchanges
    assert exchange.redacted
    assert b"p@ssw0rd" not in exchange.request_body and "Hà Nội".encode() in exchange.request_body
    assert b"S3CR3T" not in (exchange.response_body or b"")


def test_every_report_of_a_retried_call_logs_the_same_redacted_request_bytes(serve: Any) -> None:
    server = serve(Step(503, {"message": "busy"}), Step(body={"error_code": 0}))
    reports: list[tuple[str, Exchange]] = []
    client = HttpTransport(
        "demo_partner",
        TransportSettings(base_url=server.url, **FAST),
        on_sending=lambda exchange: reports.append(("sending", exchange)),
        on_exchange=lambda exchange: reports.append(("returned", exchange)),
    )
    payload = {"session": "sess-1a2b3c4d", "note": "Hà Nội", "data": [1, 2.5, None]}
    client.post_json("/service", payload, operation="op", parse=as_dict, redact_keys=frozenset({"session"}))
    # What the message log has always kept: the redacted document re-encoded with json's defaults.
    kept = json.dumps({"session": "***", "note": "Hà Nội", "data": [1, 2.5, None]}, ensure_ascii=False).encode()
    assert [(when, e.attempt) for when, e in reports] == [
        ("sending", 1),
        ("returned", 1),
        ("sending", 2),
        ("returned", 2),
    ]
    assert all(e.request_body == kept and e.redacted for _, e in reports)
    assert [json.loads(r["body"]) for r in server.requests] == [payload, payload]  # the wire: the real values


def test_post_multipart_sends_fields_and_the_file_and_hides_the_token_in_errors(serve: Any) -> None:
    server = serve(Step(body={"success": True}), Step(status=403, body={"error": "Access denied"}))
    client = transport(server)
    content = b"ma_co_quan,so_ho_so\r\n000.00.01.H26,12\r\n"
    reply = client.post_multipart(
        "/api/3/action/resource_create",
        {"package_id": "p-1", "name": "bảng.csv"},
        {"upload": ("bang.csv", content, "text/csv")},
        operation="resource_publish",
        parse=as_dict,
        headers={"Authorization": "ckan-secret-token"},
    )
    assert reply == {"success": True}
    sent = server.requests[0]
    boundary = sent["headers"]["Content-Type"].split("boundary=", 1)[1]
    assert sent["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    parts = sent["body"].split(f"--{boundary}".encode())
    assert any(b'name="upload"; filename="bang.csv"' in p and b"text/csv" in p and content in p for p in parts)
    assert any(b'name="name"' in p and "bảng.csv".encode() in p for p in parts)
    with pytest.raises(AuthenticationError) as caught:
        client.post_multipart(
            "/api/3/action/resource_create",
            {},
            {"upload": ("b.csv", b"x", "text/csv")},
            operation="resource_publish",
            parse=as_dict,
            headers={"Authorization": "ckan-secret-token"},
        )
    assert "ckan-secret-token" not in str(caught.value)


# ------------------------------------------------------------------------------------------ retries


def test_timeouts_are_always_set_and_a_slow_server_is_retryable_after_max_attempts(serve: Any) -> None:
    server = serve(default=Step(body={}, delay=1.0))
    exchanges: list[Exchange] = []
    started = time.monotonic()
    with pytest.raises(RetryableError) as caught:
        transport(server, exchanges, read_timeout=0.2, max_attempts=3).get_json(
            "/slow", operation="slow_op", parse=as_dict
        )
    assert time.monotonic() - started < 2.5
    assert server.count == 3  # the server saw every attempt, and no more
    assert "demo_partner slow_op" in str(caught.value) and "0.2 s read timeout" in str(caught.value)
    assert [e.outcome for e in exchanges] == ["retryable"] * 3 and exchanges[0].status is None


def test_503_then_success_is_retried_and_succeeds(serve: Any) -> None:
    server = serve(Step(503, {"message": "quá tải"}), Step(502, {}), Step(body={"ok": True}))
    exchanges: list[Exchange] = []
    assert transport(server, exchanges).get_json("/x", operation="op", parse=as_dict) == {"ok": True}
    assert server.count == 3
    assert [(e.attempt, e.status, e.outcome) for e in exchanges] == [
        (1, 503, "retryable"),
        (2, 502, "retryable"),
        (3, 200, "ok"),
    ]


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500])
def test_client_errors_are_permanent_and_not_retried(serve: Any, status: int) -> None:
    server = serve(default=Step(status, {"error": "bad_request", "message": "limit phải <= 2000"}))
    with pytest.raises(PermanentError) as caught:
        transport(server).get_json("/x", operation="list_changes", parse=as_dict)
    assert not isinstance(caught.value, RetryableError)
    assert server.count == 1
    assert caught.value.status == status
    assert f"demo_partner list_changes: HTTP {status}" in str(caught.value)
    assert "limit phải <= 2000" in str(caught.value)


def test_401_is_an_authentication_error_that_names_the_fix_and_hides_the_token(serve: Any) -> None:
    server = serve(default=Step(401, {"error": "unauthorized", "message": "token tok-123456789abc is invalid"}))
    with pytest.raises(AuthenticationError) as caught:
        transport(server).get_json(
            "/x", operation="list_changes", parse=as_dict, headers={"Authorization": "Bearer tok-123456789abc"}
        )
    message = str(caught.value)
    assert server.count == 1
    assert "HTTP 401" in message and "check the Airflow Connection" in message
    assert "tok-123456789abc" not in message


def test_connection_refused_is_retryable(serve: Any) -> None:
    server = serve()
    url = server.url
    server.stop()
    with pytest.raises(RetryableError, match="connection failed"):
        HttpTransport("demo_partner", TransportSettings(base_url=url, max_attempts=2, **FAST)).get_json(
            "/x", operation="op", parse=as_dict
        )


def test_max_elapsed_bounds_the_retry_budget(serve: Any) -> None:
    server = serve(default=Step(503, {}))
    started = time.monotonic()
    with pytest.raises(RetryableError):
        transport(server, max_attempts=20, backoff_initial=0.2, backoff_max=0.4, max_elapsed=0.5).get_json(
            "/x", operation="op", parse=as_dict
        )
    assert time.monotonic() - started < 1.5
    assert server.count < 20


# ------------------------------------------------------------------------------------------ contract


def test_a_reply_that_is_not_json_is_a_contract_violation_not_retried(serve: Any) -> None:
    server = serve(default=Step(raw=b"<html>Gateway login page</html>"))
    exchanges: list[Exchange] = []
    with pytest.raises(ContractViolation) as caught:
        transport(server, exchanges).get_json("/x", operation="op", parse=as_dict)
    assert server.count == 1 and caught.value.side == "partner"
    assert "not JSON (text/html, 31 bytes)" in str(caught.value)
    assert exchanges[0].outcome == "contract_violation"


def test_missing_keys_and_wrong_types_are_named_without_quoting_values(serve: Any) -> None:
    server = serve(default=Step(body={"items": ["001090012345"]}))
    with pytest.raises(ContractViolation) as caught:
        transport(server).get_json("/x", operation="op", parse=Reply.model_validate)
    message = str(caught.value)
    assert "items.0: Input should be a valid integer" in message
    assert "next_cursor: Field required" in message
    assert "001090012345" not in message


def test_an_exchange_hook_failure_propagates(serve: Any) -> None:
    server = serve()

    def broken_log(_exchange: Exchange) -> None:
        raise OSError("message log disk full")

    client = HttpTransport("demo_partner", TransportSettings(base_url=server.url), on_exchange=broken_log)
    with pytest.raises(OSError, match="disk full"):
        client.get_json("/x", operation="op", parse=as_dict)


# ------------------------------------------------------------------------------------------ breaker


def test_circuit_opens_after_threshold_fails_fast_then_probes_after_cooldown(serve: Any) -> None:
    server = serve(Step(503, {}), Step(503, {}), Step(503, {}), default=Step(body={"ok": True}))
    exchanges: list[Exchange] = []
    client = transport(server, exchanges, max_attempts=1, breaker_threshold=3, breaker_cooldown=0.3)
    for _ in range(3):
        with pytest.raises(RetryableError):
            client.get_json("/x", operation="op", parse=as_dict)
    assert client.breaker.state is BreakerState.OPEN

    with pytest.raises(CircuitOpenError) as caught:
        client.get_json("/x", operation="op", parse=as_dict)
    assert server.count == 3  # refused without a request reaching the server
    assert len(exchanges) == 3  # and no exchange to log
    assert caught.value.retryable and 0 < caught.value.retry_after_s <= 0.3
    assert "circuit breaker open after 3 consecutive failures" in str(caught.value)

    time.sleep(0.35)
    assert client.get_json("/x", operation="op", parse=as_dict) == {"ok": True}  # the half-open probe
    assert server.count == 4 and client.breaker.state is BreakerState.CLOSED


def test_a_failed_probe_reopens_and_permanent_errors_do_not_open(serve: Any) -> None:
    server = serve(Step(503, {}), Step(503, {}), default=Step(404, {}))
    client = transport(server, max_attempts=1, breaker_threshold=1, breaker_cooldown=0.2)
    with pytest.raises(RetryableError):
        client.get_json("/x", operation="op", parse=as_dict)
    time.sleep(0.25)
    with pytest.raises(RetryableError):  # probe fails -> open again
        client.get_json("/x", operation="op", parse=as_dict)
    with pytest.raises(CircuitOpenError):
        client.get_json("/x", operation="op", parse=as_dict)
    time.sleep(0.25)
    for _ in range(3):  # a partner that answers 404 is alive: the breaker stays closed
        with pytest.raises(PermanentError):
            client.get_json("/x", operation="op", parse=as_dict)
    assert client.breaker.state is BreakerState.CLOSED and server.count == 5


def test_a_partner_that_asks_to_slow_down_is_up_and_never_opens_the_breaker(serve: Any) -> None:
    server = serve(*[Step(429, {})] * 5, default=Step(body={"ok": True}))
    client = transport(server, max_attempts=1, breaker_threshold=2, breaker_cooldown=30)
    for _ in range(5):  # each refusal is retryable (the outbox tries again later) ...
        with pytest.raises(RetryableError, match="429"):
            client.get_json("/x", operation="op", parse=as_dict)
    assert client.breaker.state is BreakerState.CLOSED  # ... but no failure of a partner that is up
    assert client.get_json("/x", operation="op", parse=as_dict) == {"ok": True} and server.count == 6


# ------------------------------------------------------------------------------------------ TLS


def test_tls_is_verified_by_default_and_the_dev_root_makes_it_pass(serve: Any, dev_pki: DevPki) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(dev_pki.tls_cert, dev_pki.tls_key)
    server = serve(default=Step(body={"ok": True}), tls=context)

    with pytest.raises(PermanentError, match="TLS failure") as caught:
        transport(server, max_attempts=3).get_json("/x", operation="op", parse=as_dict)
    assert not isinstance(caught.value, RetryableError)

    trusted = transport(server, ca_bundle=dev_pki.root_cert)
    assert trusted.get_json("/x", operation="op", parse=as_dict) == {"ok": True}


# ------------------------------------------------------------------------------------------ logs


def test_logs_and_errors_carry_no_secret_or_full_id(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    secret_session = "sess-9f8e7d6c5b4a"
    echo = f"phiên {secret_session} hết hạn; CCCD 001090012345, ĐT 0912345678"
    server = serve(Step(503, {"message": echo}), default=Step(400, {"message": echo}))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError) as caught:
        transport(server).post_json(
            "/service",
            {"session": secret_session, "data": []},
            operation="op",
            parse=as_dict,
            redact_keys=frozenset({"session"}),
        )
    texts = [str(caught.value), caplog.text]
    for text in texts:
        assert secret_session not in text
        assert "001090012345" not in text and "0912345678" not in text
    assert "*********345" in str(caught.value)

"""A SOAP 1.1 partner simulator as a FastAPI app: the part every SOAP partner shares.

A partner (population database, civil status, social insurance...) supplies its contract and one
handler per operation; this module does the rest, in the order a real LGSP endpoint would:

1. injected faults first (latency; HTTP 503, ``soap:Server`` fault, hang, truncated reply);
2. the envelope, read with the project's safe parser (anything else: fault 300);
3. the caller's IP against the allow-list (fault 101) and its WS-Security UsernameToken (100);
4. the request payload's XMLDSig, verified against the partner's trust store (100 when unsigned
   or untrusted), then the XSD (300) and the agency code (106);
5. the handler, with the verified payload as plain values; it may raise :class:`SoapFaultError`
   (e.g. 201 not found);
6. the reply payload rendered from the contract, signed as :class:`~sandbox.signatures.PartnerSigning`
   says (valid, unsigned, tampered, expired, wrong CA, wrapped), wrapped in an envelope.

Every envelope received is stored with what was answered (:class:`~sandbox.soap.store.SoapMessageStore`).
``GET /?wsdl`` serves the WSDL, ``GET /<name>.xsd`` the schema it imports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters.soap.contract import Operation, SoapContract
from adapters.soap.envelope import (
    FAULT_AGENCY,
    FAULT_AUTH,
    FAULT_INTERNAL,
    FAULT_IP,
    FAULT_MALFORMED,
    Credentials,
    EnvelopeError,
    Fault,
    build_envelope,
    credentials_of,
    fault_element,
    payload_bytes,
    read_envelope,
)
from sandbox.faults import mount_fault_control, truncate
from sandbox.signatures import PartnerSigning, mount_signing_control
from sandbox.soap.faults import SoapFaults
from sandbox.soap.store import SoapMessageStore
from signing.errors import UnsafeXml

__all__ = ["Handler", "SoapFaultError", "SoapRequest", "create_soap_app", "mount_sandbox_controls"]

XML = "text/xml; charset=utf-8"
MESSAGES = {
    FAULT_AUTH: "Xác thực không thành công",
    FAULT_IP: "Địa chỉ IP không được phép truy cập dịch vụ",
    FAULT_AGENCY: "Mã đơn vị không tồn tại hoặc chưa được cấp quyền",
    FAULT_MALFORMED: "Yêu cầu không hợp lệ",
    FAULT_INTERNAL: "Hệ thống đang bận hoặc gặp sự cố, vui lòng thử lại sau",
}


class SoapFaultError(Exception):
    """Raised by a handler (or the pipeline above) to answer a ``soap:Fault`` with an LGSP code."""

    def __init__(self, code: int, detail: str = "", *, server: bool = False) -> None:
        message = MESSAGES.get(code, "Lỗi nghiệp vụ")
        super().__init__(f"{message}: {detail}" if detail else message)
        self.fault = Fault("soap:Server" if server else "soap:Client", str(self), code)


@dataclass(frozen=True, slots=True)
class SoapRequest:
    """What a handler gets: the operation, the verified payload as values, and who called."""

    operation: Operation
    values: dict[str, Any]
    client_ip: str
    username: str | None


Handler = Callable[[SoapRequest], dict[str, Any]]
"""Returns the reply element's values (rendered with the contract) or raises :class:`SoapFaultError`."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    operation: str
    outcome: str
    fault_code: int | None = None


def create_soap_app(
    *,
    title: str,
    contract: SoapContract,
    handlers: Mapping[str, Handler],
    db_path: str | Path,
    credentials: Credentials | None,
    signing: PartnerSigning | None,
    agencies: Iterable[str] | None = None,
    agency_field: str = "MaDVC",
    allowed_ips: Iterable[str] = ("127.0.0.1", "::1"),
    faults: dict[str, Any] | None = None,
) -> FastAPI:
    """Build a SOAP simulator.

    ``handlers`` maps every WSDL operation name to its handler. ``credentials``: the UsernameToken
    callers must present (None: no token checked). ``signing``: sign replies and verify requests
    (None: a partner that signs nothing). ``agencies``: the values of ``agency_field`` allowed to
    call (None: any). ``allowed_ips``: callers outside get fault 101.
    """
    missing = set(contract.operations) - set(handlers)
    if missing:
        raise ValueError(f"no handler for operation(s) {', '.join(sorted(missing))}")
    by_request = {op.request.text: op for op in contract.operations.values()}
    allowed = frozenset(agencies) if agencies is not None else None
    ips = frozenset(allowed_ips)
    injector = SoapFaults(faults)
    store = SoapMessageStore(db_path)
    files = {path.name: path for path in (contract.wsdl, *contract.schema_files)}

    app = FastAPI(title=f"{title} (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.faults = injector

    def fault(
        code: int, detail: str = "", *, server: bool = False, operation: str = "?", outcome: str = "fault"
    ) -> _Answer:
        error = SoapFaultError(code, detail, server=server)
        return _Answer(500, build_envelope(fault_element(error.fault)), operation, outcome, code)

    def answer(raw: bytes, client_ip: str) -> _Answer:
        """Steps 2-6 of the module docstring; runs in the thread pool (parsing, RSA, SQLite)."""
        try:
            header, payload = read_envelope(raw)
        except (UnsafeXml, EnvelopeError) as exc:
            return fault(FAULT_MALFORMED, str(exc))
        operation = by_request.get(payload.tag)
        if operation is None:
            return fault(FAULT_MALFORMED, f"không có thao tác cho phần tử {payload.tag}")
        name = operation.name
        if client_ip not in ips:
            return fault(FAULT_IP, client_ip, operation=name)
        caller = credentials_of(header)
        if credentials is not None and caller != credentials:
            return fault(FAULT_AUTH, "sai hoặc thiếu tên đăng nhập/mật khẩu (UsernameToken)", operation=name)
        if signing is not None:
            verified, refusal = signing.check_xml_request(payload_bytes(payload))
            if verified is None:
                return fault(FAULT_AUTH, refusal or "", operation=name)
            payload = verified
        problems = contract.schema_errors(payload)
        if problems is not None:
            return fault(FAULT_MALFORMED, problems, operation=name)
        values = contract.read(operation.request, payload)
        if allowed is not None and values.get(agency_field) not in allowed:
            return fault(FAULT_AGENCY, f"{agency_field} không được phép", operation=name)
        request = SoapRequest(operation, values, client_ip, caller.username if caller else None)
        try:
            reply = contract.render(operation.reply, handlers[name](request))
        except SoapFaultError as exc:
            return _Answer(500, build_envelope(fault_element(exc.fault)), name, "fault", exc.fault.code)
        signed = signing.sign_xml(reply) if signing is not None else reply
        return _Answer(200, build_envelope(signed), name, "ok")

    @app.post("/")
    async def endpoint(request: Request) -> Response:
        decision = injector.decide()
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        raw = await request.body()
        client_ip = request.client.host if request.client else ""
        if decision.kind == "http_5xx":
            result = _Answer(503, b"Service Unavailable", "?", "http_5xx")
        elif decision.kind == "soap_fault":
            result = fault(FAULT_INTERNAL, "lỗi được giả lập", server=True, outcome="soap_fault")
        else:
            result = await run_in_threadpool(answer, raw, client_ip)
        body = result.body
        if decision.kind == "malformed":
            body = truncate(body)  # the work is done; the reply is cut short
        outcome = decision.kind if decision.kind in ("malformed", "timeout") else result.outcome
        await run_in_threadpool(store.record, result.operation, client_ip, outcome, raw, body, result.fault_code)
        if decision.kind == "timeout":
            await asyncio.sleep(decision.hang_s)  # done and stored, but too late for the client
        media = XML if result.status != 503 else "text/plain"
        return Response(body, status_code=result.status, media_type=media)

    @app.get("/")
    async def wsdl(request: Request) -> Response:
        if "wsdl" not in request.query_params:
            return JSONResponse({"error": "bad_request", "message": "POST a SOAP envelope, or GET ?wsdl"}, 400)
        return Response(contract.wsdl.read_bytes(), media_type=XML)

    @app.get("/{name}.xsd")
    async def xsd(name: str) -> Response:
        path = files.get(f"{name}.xsd")
        if path is None:
            return JSONResponse({"error": "not_found", "message": f"no schema {name}.xsd"}, 404)
        return Response(path.read_bytes(), media_type=XML)

    mount_sandbox_controls(app, store, injector, signing)
    return app


def mount_sandbox_controls(
    app: FastAPI, store: SoapMessageStore, injector: SoapFaults, signing: PartnerSigning | None
) -> None:
    """The sandbox-only endpoints every XML partner double has: ``/sandbox/health``,
    ``/sandbox/received[?operation=]``, ``/sandbox/stats``, ``/sandbox/faults``, ``/sandbox/signing``."""
    mount_signing_control(app, signing)

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sandbox/received")
    async def received(request: Request) -> Response:
        items = await run_in_threadpool(store.items, request.query_params.get("operation"))
        return JSONResponse({"items": items})

    @app.get("/sandbox/stats")
    async def stats() -> Response:
        return JSONResponse({"calls": await run_in_threadpool(store.counts)})

    mount_fault_control(app, injector)

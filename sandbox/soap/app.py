"""The sandbox-only controls every XML partner double shares (the population database's, 5.1).

The SOAP simulator this package once built for every XML partner (WS-Security UsernameToken,
XMLDSig-signed requests, LGSP fault codes) is retired: no partner is reached that way now -- the
population register sits behind the LGSP's JSON envelope and refuses in JSON, and the ministries are
REST/JSON (docs/interfaces.md 5, 5.1, 7). What remains is what its one double still uses.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox.faults import mount_fault_control
from sandbox.signatures import PartnerSigning, mount_signing_control
from sandbox.soap.faults import SoapFaults
from sandbox.soap.store import SoapMessageStore

__all__ = ["mount_sandbox_controls"]


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

"""The certification double: an ASSUMED contract (docs/interfaces.md 7.9) of the electronic
certification system, shaped like its siblings behind the NGSP (bearer token, a day window and
offset paging as the business register's listing) with the portal's record keys:

- ``GET /dsHoSoChungThuc?tuNgay=yyyyMMdd&denNgay=yyyyMMdd&offset=&limit=`` (at most 5 days, limit
  at most 500) -> ``{error_code: "0", message, total, data: [...]}``, the copies received on those
  days, by number.

Refusals ``{error_code, message, data: null}``: 100/101 at the gateway, 300 a request the system
cannot read. What would confirm it: the procedure-control agency's specification. Sandbox-only:
``POST /sandbox/load``, ``GET /sandbox/export/dossiers?from=&to=``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from sandbox.certification.store import held_dossiers, records
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig
from sandbox.held_records import HeldRecordStore, mount_held_records
from sandbox.ngsp import LOOPBACK, NgspService, day_param, int_param, window_days
from sandbox.signatures import PartnerSigning

__all__ = ["MAX_LIMIT", "MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS, MAX_LIMIT = 5, 500
MALFORMED = "300"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message, "data": None}


def create_app(
    db_path: str | Path,
    token: str,
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = LOOPBACK,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
    code_tables: Any | None = None,
) -> FastAPI:
    """The double; load data with ``app.state.store.load_days`` or ``POST /sandbox/load``."""
    store = HeldRecordStore(db_path, held_dossiers, records, code_tables)
    app = FastAPI(title="Electronic certification (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    service = NgspService(
        app, token=token, error=_error, malformed=MALFORMED, signing=signing, allowed_ips=allowed_ips, faults=faults
    )

    def listing(values: Mapping[str, Any]) -> dict[str, Any]:
        first = day_param(values, "tuNgay", "%Y%m%d", MALFORMED)
        last = day_param(values, "denNgay", "%Y%m%d", MALFORMED)
        window_days(first, last, MAX_WINDOW_DAYS, MALFORMED)
        offset = int_param(values, "offset", 0, 10**9, MALFORMED)
        limit = int_param(values, "limit", 1, MAX_LIMIT, MALFORMED)
        found = store.page(first, last, offset, limit)
        return {"error_code": "0", "message": "", "total": len(found), "data": found}

    service.route("GET", "/dsHoSoChungThuc", "dsHoSoChungThuc", listing)
    mount_held_records(app, store)
    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's certification system, holding the day's electronic certified copies."""
    app = create_app(
        context.db_path, context.credentials["token"], signing=context.signing, code_tables=context.code_tables
    )
    app.state.store.load_days(context.day, context.day, context.scale, context.seed)
    return app

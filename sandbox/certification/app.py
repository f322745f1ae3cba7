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

from collections.abc import Mapping
from typing import Any

from sandbox.certification.store import held_dossiers, records
from sandbox.held_records import HeldRecordsDouble, HeldRecordStore
from sandbox.ngsp import NgspService, day_param, int_param, window_days

__all__ = ["MAX_LIMIT", "MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS, MAX_LIMIT = 5, 500
MALFORMED = "300"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message, "data": None}


def _routes(service: NgspService, store: HeldRecordStore, _account: str, _secret: str) -> None:
    def listing(values: Mapping[str, Any]) -> dict[str, Any]:
        first = day_param(values, "tuNgay", "%Y%m%d", MALFORMED)
        last = day_param(values, "denNgay", "%Y%m%d", MALFORMED)
        window_days(first, last, MAX_WINDOW_DAYS, MALFORMED)
        offset = int_param(values, "offset", 0, 10**9, MALFORMED)
        limit = int_param(values, "limit", 1, MAX_LIMIT, MALFORMED)
        found = store.page(first, last, offset, limit)
        return {"error_code": "0", "message": "", "total": len(found), "data": found}

    service.route("GET", "/dsHoSoChungThuc", "dsHoSoChungThuc", listing)


DOUBLE = HeldRecordsDouble("Electronic certification", held_dossiers, records, _error, MALFORMED, _routes)
create_app, double = DOUBLE.create_app, DOUBLE.double

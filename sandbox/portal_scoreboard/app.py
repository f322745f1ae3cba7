"""The national portal's public Decision 766 scoreboard, as a loopback double.

``POST /api/v1/reporting/evaluation/<endpoint>`` with the body public clients send
(``{timeType, year, quarter|month, rootDepartmentId, currentPage, pageSize}``), answered as the
real API answers (docs/interfaces.md 2.8, C766): HTTP **201** ``{"code": "OK", "data": {...}}``,
``service-results`` with ``data.evaluation[]`` (one row per province, paged), the ``*-tree``
endpoints with ``data.children[]`` (the root's units, paged). A body it cannot read is a 400.
Nothing is signed and nothing is asked of the caller: the API is public.

Its figures are the seeds' (DOMAIN.md): Hanoi (H26) 58.86/100 with transparency 8.4/18,
timeliness 15.7/20, online services 3.2/12, online payment 4.9/10, digitisation 8.4/22,
satisfaction 17.2/18 (the seeds' groups add up to 57.8: the portal's total is its own figure, and
the double keeps it as published). Units below Hanoi score around the city's figure, deterministic
per seed. Other provinces are a few neighbours with sandbox figures, so paging has pages.

Like the real API it is rate-limited on demand: ``POST /sandbox/rate-limit
{"min_interval_s": 0.5, "status": 429}`` answers ``status`` (429 or 403) to a call that comes
sooner than ``min_interval_s`` after the previous one. ``/sandbox/faults`` (503s, hangs, cut
replies) works as on every double; ``GET /sandbox/stats`` counts calls by endpoint.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control

HANOI_ROOT = "019d2be3-6a86-70a8-a0af-76e986804225"  # as the portal's province list names Hanoi (C766)
MAX_SCORES = {"CKMB": 18.0, "TDGQ": 20.0, "CLGQ": 12.0, "TTTT": 10.0, "MDHL": 18.0, "MDSH": 22.0}
TREES = {
    "transparency": "CKMB",
    "dvc-progress-tree": "TDGQ",
    "provide-online-tree": "CLGQ",
    "formality-online-payment-tree": "TTTT",
    "dossier-digitized": "MDSH",
    "handling-satisfaction": "MDHL",
}
HANOI = {
    "departmentId": HANOI_ROOT,
    "departmentName": "UBND Thành phố Hà Nội",
    "departmentCode": "H26",
    "totalScore": 58.86,
    "groupScores": {"CKMB": 8.4, "TDGQ": 15.7, "CLGQ": 3.2, "TTTT": 4.9, "MDHL": 17.2, "MDSH": 8.4},
}
# A few other provinces (sandbox figures), with the ids and codes the portal's list gives them.
OTHERS = (
    ("019d2be3-6a85-74ec-a349-88e0abf6a032", "UBND Thành phố Hải Phòng", "H24"),
    ("019d2be3-6a87-7317-855a-9a81af57b106", "UBND Thành phố Hồ Chí Minh", "H29"),
    ("019d2be3-6a88-732b-8b26-f3a94b76f008", "UBND tỉnh Thanh Hóa", "H56"),
    ("019d2be3-6a85-74ec-a33d-803cf2496575", "UBND Thành phố Đà Nẵng", "H17"),
    ("019d2be3-6a84-779d-b3ed-9649c4f016cd", "UBND tỉnh Bắc Ninh", "H05"),
)
MAX_PAGE_SIZE = 500


class _BadRequest(ValueError):
    pass


def _provinces(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = [HANOI]
    for department_id, name, code in OTHERS:
        groups = {g: round(m * rng.uniform(0.45, 0.8), 2) for g, m in MAX_SCORES.items()}
        rows.append(
            {
                "departmentId": department_id,
                "departmentName": name,
                "departmentCode": code,
                "totalScore": round(sum(groups.values()), 2),
                "groupScores": groups,
            }
        )
    rows = sorted(rows, key=lambda r: -r["totalScore"])
    return [{**r, "ratio": r["totalScore"], "scoreDelta": 0.0} for r in rows]


def _children(units: list[tuple[str, str]], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Each tree's units, scored around Hanoi's group score (deterministic per seed)."""
    trees = {}
    for endpoint, group in TREES.items():
        rng = random.Random(f"{seed}:{endpoint}")
        top, city = MAX_SCORES[group], HANOI["groupScores"][group]
        rows = []
        for code, name in units:
            score = round(min(top, max(0.0, city * rng.uniform(0.7, 1.3))), 2)
            rows.append(
                {
                    "departmentId": f"sandbox-{code}",
                    "departmentName": name,
                    "departmentCode": code,
                    "score": score,
                    "maxScore": top,
                    "ratio": round(100 * score / top, 2),
                }
            )
        trees[endpoint] = rows
    return trees


def _period(body: dict[str, Any]) -> None:
    """Refuse a body the real API would not read (400)."""
    time_type = body.get("timeType")
    if time_type not in ("year", "quarter", "month"):
        raise _BadRequest("timeType must be year, quarter or month")
    if not isinstance(body.get("year"), int):
        raise _BadRequest("year must be an integer")
    if time_type != "year":
        number, top = body.get(time_type), 4 if time_type == "quarter" else 12
        if not isinstance(number, int) or not 1 <= number <= top:
            raise _BadRequest(f"{time_type} must be an integer 1..{top}")
    for key, top in (("currentPage", 10_000), ("pageSize", MAX_PAGE_SIZE)):
        value = body.get(key, 1)
        if not isinstance(value, int) or not 1 <= value <= top:
            raise _BadRequest(f"{key} must be an integer 1..{top}")


def create_app(
    units: list[tuple[str, str]],
    *,
    seed: int = 0,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
) -> FastAPI:
    """The double: ``units`` are (code, name) of the units below Hanoi that the trees list."""
    provinces = _provinces(seed)
    trees = _children(units, seed)
    injector = FaultInjector(faults)
    calls: Counter[str] = Counter()
    limit = {"min_interval_s": 0.0, "status": 429}
    last_call = [0.0]
    lock = threading.Lock()
    app = FastAPI(title="National portal 766 scoreboard (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.faults = injector
    mount_fault_control(app, injector)

    def too_fast() -> bool:
        with lock:
            now = time.monotonic()
            if now - last_call[0] < limit["min_interval_s"]:
                return True  # refused: the window runs from the last call served
            last_call[0] = now
            return False

    @app.post("/api/v1/reporting/evaluation/{endpoint}")
    async def evaluation(endpoint: str, request: Request) -> Response:
        if endpoint != "service-results" and endpoint not in TREES:
            return JSONResponse({"code": "NOT_FOUND", "message": f"no endpoint {endpoint}"}, status_code=404)
        calls[endpoint] += 1
        if too_fast():
            calls["rate_limited"] += 1
            return JSONResponse({"message": "Too many requests"}, status_code=int(limit["status"]))

        async def produce() -> tuple[bytes, int]:
            try:
                body = json.loads(await request.body())
                if not isinstance(body, dict):
                    raise _BadRequest("the body must be a JSON object")
                _period(body)
            except (ValueError, _BadRequest) as exc:
                return json.dumps({"code": "BAD_REQUEST", "message": str(exc)}).encode(), 400
            page, size = body.get("currentPage", 1), body.get("pageSize", 10)
            if endpoint == "service-results":
                rows = provinces
                data: dict[str, Any] = {"overview": {"departmentName": "Cả nước"}, "radar": [], "donuts": {}}
                key = "evaluation"
            else:
                rows = trees[endpoint] if body.get("rootDepartmentId") == HANOI_ROOT else []
                data, key = {}, "children"
            data[key] = rows[(page - 1) * size : page * size]
            data["total"] = len(rows)
            return json.dumps({"code": "OK", "data": data}, ensure_ascii=False).encode(), 201

        return await faulty_json(injector, None, produce)

    @app.post("/sandbox/rate-limit")
    async def set_rate_limit(request: Request) -> JSONResponse:
        changes = await request.json()
        if set(changes) - set(limit) or changes.get("status", 429) not in (403, 429):
            return JSONResponse({"error": "options: min_interval_s (seconds), status (403 or 429)"}, status_code=400)
        limit.update(changes)
        return JSONResponse(dict(limit))

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, Any]:
        return {"calls": dict(calls)}

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's scoreboard: the trees list Hanoi's departments as the code tables name them on the day."""
    units = [
        (row.code, row.name) for row in context.code_tables.agencies.rows(context.day) if row.level == "department"
    ]
    return create_app(units, seed=context.seed)

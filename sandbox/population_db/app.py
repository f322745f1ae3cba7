"""Population database (CSDL dân cư) double: the LGSP in front of the register, as public clients
meet it (docs/interfaces.md 5.1 is the ledger this follows).

- ``POST /getToken`` -- the LGSP key, base64 JSON in the ``lgspaccesstoken`` header -> ``{access_token,
  token_type, expires_in}``; a wrong key is HTTP 401.
- ``POST /TraCuuThongTinCongDan`` -- the JSON envelope ``{accessToken: "Bearer ...", lgspAccessToken,
  AuthHash, data: "<SOAP envelope>"}``. Checked in order: injected faults (the shared injector:
  latency, HTTP 503, ``soap:Server`` fault, hang, truncated reply), the envelope's JSON (400), the
  token and LGSP key (401), the officer's ``AuthHash`` (refusal ``005``), the SOAP envelope (safe
  parser; a SOAP header with content, another operation, or a payload outside the XSD --
  a plain ``xs:date`` birth date, a ``ds:Signature`` no public client sends -- is a ``soap:Client``
  fault), exactly one ID (``SoDinhDanh`` | ``SoCMND``) and one birth form (``NgayThangNam`` |
  ``Nam``), ``MaCanBo`` = the officer of the ``AuthHash`` (``005``), ``MaDVC`` a licensed
  procedure (``004``). Then the answer: ``CongdanCollection`` with the person's ``CongDan``, or
  empty when nobody holds the number. Refusals are ``{"errorCode", "message"}`` (HTTP 400).

The register keys on the ID alone and gives no verdict (ASSUMPTION, ledger 5.1): a differing name
or birth date reaches the hub's own comparison. Replies are signed by the double (so the verify
path can be exercised); the hub checks them only when its Connection says ``verify_replies=true``.

Sandbox-only: ``POST /sandbox/load {"day", "scale", "seed"}`` registers the applicants of another
generated city day; ``GET /sandbox/applicants[?day=]`` lists them with the birth date the city
record carries and their fate in the register; plus the usual ``/sandbox/faults``,
``/sandbox/signing``, ``/sandbox/received``, ``/sandbox/stats``, ``/sandbox/health``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters.population_db.client import LOOKUP, WSDL
from adapters.soap.contract import load_contract
from adapters.soap.envelope import FAULT_INTERNAL, EnvelopeError, Fault, build_envelope, fault_element, read_envelope
from sandbox.doubles import DoubleContext
from sandbox.faults import truncate
from sandbox.population_db.registry import HANOI_CODE, Applicant, Citizen, applicants_of, citizen_for
from sandbox.signatures import PartnerSigning
from sandbox.soap import SoapFaults, SoapMessageStore, mount_sandbox_controls
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables
from signing.errors import UnsafeXml

__all__ = ["LgspGate", "PopulationRegister", "create_app"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS citizens (
    so_dinh_danh TEXT PRIMARY KEY,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applicants (
    day          TEXT NOT NULL,
    ma_ho_so     TEXT NOT NULL,
    so_dinh_danh TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (day, ma_ho_so)
);
CREATE TABLE IF NOT EXISTS loaded_days (
    day   TEXT PRIMARY KEY,
    scale REAL NOT NULL,
    seed  INTEGER NOT NULL
)
"""


class PopulationRegister:
    """The register's rows and the applicants they were made for, in SQLite."""

    def __init__(self, path: str | Path) -> None:
        self.db = SqliteDatabase(path, SCHEMA)

    def load(self, day: date, scale: float, seed: int) -> int:
        """Register the applicants of a generated day; idempotent. Returns how many applicants it has.

        Raises ``ValueError`` if the day is already loaded with another scale or seed (its
        applicants would disagree with the city simulator's).
        """
        with self.db.read() as conn:
            row = conn.execute("SELECT scale, seed FROM loaded_days WHERE day=?", (day.isoformat(),)).fetchone()
        if row is not None and (row[0], row[1]) != (scale, seed):
            raise ValueError(f"{day} is already loaded with scale {row[0]} and seed {row[1]}")
        applicants = list(applicants_of(day, scale, seed))
        names = {row.code: row.name for row in tables().provinces.all_rows()}
        communes = [(r.code, r.name) for r in tables().communes.rows(day) if r.province_code == HANOI_CODE]
        citizens = [c for c in (citizen_for(a, names, communes) for a in applicants) if c is not None]
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO loaded_days VALUES (?,?,?)", (day.isoformat(), scale, seed))
            conn.executemany(
                "INSERT OR IGNORE INTO citizens VALUES (?,?)",
                [(c.citizen_id, json.dumps(asdict(c), default=str, ensure_ascii=False)) for c in citizens],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO applicants VALUES (?,?,?,?)",
                [(day.isoformat(), a.dossier_no, a.citizen_id, _applicant_json(a)) for a in applicants],
            )
        return len(applicants)

    def citizen(self, citizen_id: str) -> Citizen | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT body FROM citizens WHERE so_dinh_danh=?", (citizen_id,)).fetchone()
        if row is None:
            return None
        fields = json.loads(row[0])
        return Citizen(**{**fields, "birth_date": date.fromisoformat(fields["birth_date"])})

    def applicants(self, day: date | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE day=?", [day.isoformat()]) if day else ("", [])
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT body FROM applicants {where} ORDER BY day, ma_ho_so", params).fetchall()
        return [json.loads(body) for (body,) in rows]


def _applicant_json(applicant: Applicant) -> str:
    return json.dumps(
        {
            "ma_ho_so": applicant.dossier_no,
            "so_dinh_danh": applicant.citizen_id,
            "ho_ten": applicant.name_as_sent,
            "ngay_sinh": applicant.birth_date.isoformat(),
            "fate": applicant.fate,
        },
        ensure_ascii=False,
    )


TOKEN_TTL_S = 600  # ASSUMPTION: the LGSP's token lifetime is not public
XML = "text/xml; charset=utf-8"
REFUSALS = {
    "004": "Thủ tục chưa được cấp phép khai thác CSDL dân cư",
    "005": "Tài khoản cán bộ không có quyền thao tác",
}


class Refused(Exception):
    """A refusal the LGSP answers in JSON: ``{"errorCode", "message"}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        return JSONResponse({"errorCode": self.code, "message": self.message}, self.status)


class ClientFault(Exception):
    """A SOAP request the register cannot read: answered with a ``soap:Client`` fault."""


@dataclass(frozen=True)
class LgspGate:
    """Who may call: the hub's LGSP key, the officers (``MaCanBo`` -> key secret) and the procedures
    (``MaDVC``) licensed to use the register."""

    access_key: str
    secret_key: str
    officers: dict[str, str]
    procedures: frozenset[str]


class _Tokens:
    """Access tokens issued by ``/getToken``, valid ``TOKEN_TTL_S``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expiry[token] = time.monotonic() + TOKEN_TTL_S
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            return self._expiry.get(token, 0.0) > time.monotonic()


def _decode_key(value: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error):
        return {}
    return key if isinstance(key, dict) else {}


def _officer_of(auth_hash: str) -> tuple[str, str]:
    try:
        code, _, secret = base64.b64decode(auth_hash, validate=True).decode().partition(":")
    except (ValueError, binascii.Error):
        return "", ""
    return code, secret


def create_app(
    db_path: str | Path,
    *,
    gate: LgspGate,
    signing: PartnerSigning | None,
    days: Iterable[tuple[date, float, int]] = (),
    faults: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the double; ``days`` are ``(day, scale, seed)`` triples registered at start-up. The
    envelope log goes to ``<db_path>.messages.sqlite`` beside the register."""
    register = PopulationRegister(db_path)
    for day, scale, seed in days:
        register.load(day, scale, seed)
    contract = load_contract(WSDL)
    operation = contract.operation(LOOKUP)
    tokens = _Tokens()
    injector = SoapFaults(faults)
    store = SoapMessageStore(Path(f"{db_path}.messages.sqlite"))

    def lgsp_key_ok(value: str) -> bool:
        key = _decode_key(value)
        return key.get("AccessKey") == gate.access_key and key.get("SecretKey") == gate.secret_key

    def answer(raw: bytes) -> tuple[int, bytes, str]:
        """(status, body, outcome) for one wrapped call; runs in the thread pool (XML, RSA, SQLite)."""
        try:
            wrapper = json.loads(raw)
            if not isinstance(wrapper, dict) or not all(isinstance(wrapper.get(k), str) for k in ("data", "AuthHash")):
                raise Refused(400, "400", "thân yêu cầu phải là JSON {accessToken, lgspAccessToken, AuthHash, data}")
            token = str(wrapper.get("accessToken") or "").removeprefix("Bearer ")
            if not (tokens.valid(token) and lgsp_key_ok(str(wrapper.get("lgspAccessToken") or ""))):
                raise Refused(401, "401", "token hoặc khóa LGSP không hợp lệ")
            officer, secret = _officer_of(wrapper["AuthHash"])
            if not officer or gate.officers.get(officer) != secret:
                raise Refused(400, "005", REFUSALS["005"])
            values = read_request(wrapper["data"].encode("utf-8"))
            if values["MaCanBo"] != officer:
                raise Refused(400, "005", REFUSALS["005"])
            if values["MaDVC"] not in gate.procedures:
                raise Refused(400, "004", REFUSALS["004"])
        except Refused as refused:
            body = json.dumps({"errorCode": refused.code, "message": refused.message}, ensure_ascii=False)
            return refused.status, body.encode("utf-8"), f"refused {refused.code}"
        except ClientFault as exc:
            return 500, build_envelope(fault_element(Fault("soap:Client", str(exc)))), "fault"
        citizen = register.citizen(values["SoDinhDanh"]) if values.get("SoDinhDanh") else None
        reply = contract.render(operation.reply, {"CongDan": [citizen.values()] if citizen else []})
        signed = signing.sign_xml(reply) if signing is not None else reply
        return 200, build_envelope(signed), "ok" if citizen else "empty"

    def read_request(data: bytes) -> dict[str, Any]:
        try:
            header, payload = read_envelope(data)
        except (UnsafeXml, EnvelopeError) as exc:
            raise ClientFault(f"phong bì SOAP không hợp lệ: {exc}") from exc
        if header is not None and len(header):
            raise ClientFault("dịch vụ không nhận nội dung trong soapenv:Header")
        if payload.tag != operation.request.text:
            raise ClientFault(f"không có thao tác cho phần tử {payload.tag}")
        problems = contract.schema_errors(payload)
        if problems is not None:
            raise ClientFault(f"yêu cầu không đúng lược đồ: {problems}")
        values = contract.read(operation.request, payload)
        if (values.get("SoDinhDanh") is None) == (values.get("SoCMND") is None):
            raise ClientFault("cần đúng một trong SoDinhDanh, SoCMND")
        born = values.get("NgayThangNamSinh") or {}
        if (born.get("NgayThangNam") is None) == (born.get("Nam") is None):
            raise ClientFault("NgayThangNamSinh cần đúng một trong NgayThangNam, Nam")
        return values

    app = FastAPI(title="Population database (CSDL dân cư) through the LGSP (sandbox)", docs_url=None, redoc_url=None)
    app.state.register = register
    app.state.store = store

    @app.post("/getToken")
    async def get_token(request: Request) -> Response:
        if not lgsp_key_ok(request.headers.get("lgspaccesstoken", "")):
            return JSONResponse({"error": "invalid_client", "error_description": "khóa LGSP không hợp lệ"}, 401)
        return JSONResponse({"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": TOKEN_TTL_S})

    @app.post(f"/{LOOKUP}")
    async def lookup(request: Request) -> Response:
        decision = injector.decide()
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        raw = await request.body()
        if decision.kind == "http_5xx":
            status, body, outcome = 503, b"Service Unavailable", "http_5xx"
        elif decision.kind == "soap_fault":
            fault = Fault("soap:Server", f"Hệ thống đang bận ({FAULT_INTERNAL})")
            status, body, outcome = 500, build_envelope(fault_element(fault)), "soap_fault"
        else:
            status, body, outcome = await run_in_threadpool(answer, raw)
        if decision.kind == "malformed":
            body = truncate(body)  # the work is done; the reply is cut short
        outcome = decision.kind if decision.kind in ("malformed", "timeout") else outcome
        client_ip = request.client.host if request.client else ""
        await run_in_threadpool(store.record, LOOKUP, client_ip, outcome, raw, body, None)
        if decision.kind == "timeout":
            await asyncio.sleep(decision.hang_s)  # done and stored, but too late for the client
        media = "application/json" if outcome.startswith("refused") else (XML if status != 503 else "text/plain")
        return Response(body, status_code=status, media_type=media)

    @app.post("/sandbox/load")
    async def load(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            day = date.fromisoformat(str(body["day"]))
            scale, seed = float(body.get("scale", 1.0)), int(body.get("seed", 0))
            count = await run_in_threadpool(register.load, day, scale, seed)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
        return JSONResponse({"day": day.isoformat(), "applicants": count})

    @app.get("/sandbox/applicants")
    async def applicants(request: Request) -> Response:
        value = request.query_params.get("day")
        try:
            day = date.fromisoformat(value) if value else None
        except ValueError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
        return JSONResponse({"items": await run_in_threadpool(register.applicants, day)})

    mount_sandbox_controls(app, store, injector, signing)
    return app


def licensed_procedures() -> frozenset[str]:
    """Every procedure of the city's catalogue: the double licenses them all for the register
    (which ones the real register licenses is agreed per procedure with the Ministry of Public Security)."""
    return frozenset(row.code for row in tables().procedures.all_rows())


def double(context: DoubleContext) -> FastAPI:
    """The runner's population register, holding the city's applicants of the generated day."""
    credentials = context.credentials
    gate = LgspGate(
        access_key=credentials["username"],
        secret_key=credentials["password"],
        officers={credentials["macanbo"]: credentials["officer_secret"]},
        procedures=licensed_procedures(),
    )
    return create_app(context.db_path, gate=gate, signing=context.soap_signing, days=[context.load])

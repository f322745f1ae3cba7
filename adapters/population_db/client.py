"""Look applicants up in the national population database (CSDL dân cư) as public clients do --
personal data, handled as such (docs/interfaces.md 5.1 is the evidence ledger).

The call as practised: the hub gets a token from the LGSP (its LGSP key, base64 JSON, in the
``lgspaccesstoken`` header of a form POST), then POSTs a JSON envelope ``{accessToken, lgspAccessToken,
AuthHash, data}`` whose ``data`` is the SOAP 1.1 envelope of ``TraCuuThongTinCongDan`` (namespace
``http://dancuquocgia.bca``), rendered by zeep from ``population_db.wsdl``. ``AuthHash`` is the
officer's own key (base64 ``MaCanBo:secret``): the register answers for an officer, not for a system.
The reply is the SOAP envelope of ``CongdanCollection`` (namespace ``http://www.mic.gov.vn/dancu/1.0``):
one ``CongDan``, or none when nobody holds the number -- an answer, not an error. The LGSP refuses
in JSON ``{errorCode, message}``: ``004`` the procedure (``MaDVC``) is not licensed to use the
register, ``005`` the officer's account may not look people up.

The register gives no verdict; the hub compares what the dossier says with the record itself
(:mod:`mappings.identity`). Three rules shape this client (Decree 13/2023 on personal data):

- **Every lookup is accounted for.** Each call -- answered by the register, from the cache, or
  failed -- produces one :class:`AuditRecord` (who: unit and officer ``MaCanBo``; why: the dossier,
  its procedure and the purpose; when; what came of it) handed to the caller's
  :class:`AuditWriter` *before* the result is returned. A writer that fails stops the call.
- **The full ID number never reaches a log line, a result's text or an exception.** Logs use
  :func:`mappings.masking.mask_citizen_id`; the audit record keeps the masked form and a SHA-256.
  (The message log keeps exact bytes as evidence, as for every partner; tokens and hashes are blanked.)
- **Results are cached in this process only**, for ``cache_ttl_s``, and cannot be exported.

Requests are never signed (no public client signs them and the partner's schema has no place for
a signature); replies are verified only when the Connection asks (``verify_replies=true``): no
public client shows a signed reply (``Partner.replies_signed`` is False).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol

from lxml.etree import _Element

from adapters.errors import AdapterError, AuthenticationError, ContractViolation, PermanentError
from adapters.soap.client import SoapTransport
from adapters.soap.contract import Operation, SoapContract, load_contract
from adapters.soap.envelope import build_envelope
from adapters.transport import HttpTransport
from mappings.identity import BirthDate, RegisteredAddress, RegisteredPerson, normalise_name
from mappings.masking import mask_citizen_id

__all__ = [
    "PARTNER",
    "WSDL",
    "AuditRecord",
    "AuditWriter",
    "IdentityQuery",
    "LgspAccount",
    "Lookup",
    "LookupPurpose",
    "Officer",
    "OfficerNotAuthorised",
    "PopulationDbClient",
    "ProcedureNotLicensed",
    "ResultCache",
    "from_connection",
]

log = logging.getLogger(__name__)

PARTNER = "population_db"
WSDL = Path(__file__).with_name("population_db.wsdl")
LOOKUP = "TraCuuThongTinCongDan"
TOKEN = "getToken"
MA_TICH_HOP = "037"  # the integration code every public client sends for this look-up
APP_NAME = "hanoi-dossier-hub"
TOKEN_MAX_AGE_S = 600.0  # ASSUMPTION: the token's lifetime is not public; renewed early, and once on HTTP 401
REFUSALS = {
    "004": "the procedure (MaDVC) is not licensed to use the population database",
    "005": "the officer's account (MaCanBo/AuthHash) may not look citizens up",
}


class ProcedureNotLicensed(PermanentError):
    """LGSP refusal 004: lookups for this procedure are not allowed. Specific to the dossier's
    procedure, so the caller quarantines the dossier instead of stopping the run."""


class OfficerNotAuthorised(AuthenticationError):
    """LGSP refusal 005: the officer the hub speaks for may not look people up (fix the Connection)."""


@dataclass(frozen=True, slots=True)
class IdentityQuery:
    """Who to look up: the ID (12-digit ``SoDinhDanh`` or 9-digit ``SoCMND``), name and birth date."""

    citizen_id: str
    full_name: str
    birth: BirthDate

    def __repr__(self) -> str:
        return f"IdentityQuery(citizen_id={mask_citizen_id(self.citizen_id)!r}, ...)"


@dataclass(frozen=True, slots=True)
class LookupPurpose:
    """Why the hub looks a person up: the dossier, its procedure's public-service code (``MaDVC``,
    what the register licenses) and a short purpose ("xác thực người nộp hồ sơ")."""

    dossier_no: str
    reason: str
    procedure: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """One answer: the register's record (None: an empty collection, nobody holds the number) and
    the ``MaYeuCau`` of the call, which the audit record carries too."""

    person: RegisteredPerson | None
    request_id: str


@dataclass(frozen=True, slots=True)
class LgspAccount:
    """The hub's LGSP key: access and secret key, app name, partner code (``PartnerCodeCus`` too)."""

    access_key: str
    secret_key: str
    partner_code: str
    app_name: str = APP_NAME

    def header_value(self) -> str:
        """The base64 JSON the LGSP reads the key from (token call header, ``lgspAccessToken`` field)."""
        key = {
            "AccessKey": self.access_key,
            "SecretKey": self.secret_key,
            "AppName": self.app_name,
            "PartnerCode": self.partner_code,
            "PartnerCodeCus": self.partner_code,
        }
        return base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()

    def __repr__(self) -> str:
        return f"LgspAccount(access_key={self.access_key!r}, secret_key='***')"


@dataclass(frozen=True, slots=True)
class Officer:
    """The officer every lookup is made for: ``MaCanBo``, their key secret, their unit (``MaDonVi``)."""

    code: str
    secret: str
    unit: str

    def auth_hash(self) -> str:
        return base64.b64encode(f"{self.code}:{self.secret}".encode()).decode()

    def __repr__(self) -> str:
        return f"Officer(code={self.code!r}, unit={self.unit!r}, secret='***')"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One access to a citizen's data: store-independent; the pipeline persists it.

    ``agency`` is the officer's unit (``MaDonVi``), ``officer`` their ``MaCanBo``; ``purpose`` says
    why and for which procedure (``MaDVC``). ``subject`` is the masked ID; ``subject_digest`` the
    SHA-256 hex of the full ID. ``source``: ``partner``, ``cache`` or ``failed`` (``outcome`` then
    names the error class).
    """

    at: datetime
    partner: str
    operation: str
    dossier_no: str
    purpose: str
    agency: str
    officer: str
    request_id: str
    subject: str
    subject_digest: str
    source: str
    outcome: str


class AuditWriter(Protocol):
    """Where audit records go (the hub store's audit table; a list in tests)."""

    def write(self, record: AuditRecord) -> None: ...


class ResultCache:
    """Per-process, time-limited cache of register answers. Not exportable by design."""

    def __init__(
        self, ttl_s: float, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_s < 0:
            raise ValueError("cache_ttl_s must not be negative")
        self.ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> tuple[bool, Any]:
        """(found, value): a cached "nobody" (None) is an answer too."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            if entry[0] <= self._clock():
                del self._entries[key]
                return False, None
            return True, entry[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.ttl_s == 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ResultCache(ttl_s={self.ttl_s}, entries={len(self)})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("the population cache holds personal data and is never exported")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Paths under the LGSP URL (configured per service, as public clients do)."""

    token: str = "/getToken"
    lookup: str = "/TraCuuThongTinCongDan"


class PopulationDbClient:
    """Citizen lookups for one officer through the LGSP. Thread-safe."""

    def __init__(
        self,
        transport: SoapTransport,
        account: LgspAccount,
        officer: Officer,
        *,
        cache: ResultCache,
        endpoints: Endpoints = Endpoints(),
        integration_code: str = MA_TICH_HOP,
        contract: SoapContract | None = None,
    ) -> None:
        if not (officer.code and officer.secret and officer.unit):
            raise ValueError("the population database needs the officer (MaCanBo), their key secret and unit (MaDonVi)")
        self.transport = transport
        self.account = account
        self.officer = officer
        self.cache = cache
        self.endpoints = endpoints
        self.integration_code = integration_code
        self.contract = contract or load_contract(WSDL)
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()

    def lookup(self, query: IdentityQuery, purpose: LookupPurpose, audit: AuditWriter) -> Lookup:
        """The register's record of ``query``'s person (``person`` None when the register holds
        nobody: an empty ``CongdanCollection``). Raises the adapter taxonomy (``ProcedureNotLicensed``,
        ``OfficerNotAuthorised``, ``RetryableError`` when the register is unreachable, ...); the
        attempt is audited either way."""
        name = normalise_name(query.full_name)
        key = (query.citizen_id, name, query.birth, purpose.procedure)
        request_id = uuid.uuid4().hex
        found, cached = self.cache.get(key)
        if found:
            audit.write(self._audit(query.citizen_id, purpose, request_id, "cache", _outcome(cached)))
            return Lookup(cached, request_id)
        try:
            person = self._lookup(request_id, query, name, purpose.procedure)
        except AdapterError as exc:
            audit.write(self._audit(query.citizen_id, purpose, request_id, "failed", type(exc).__name__))
            raise
        audit.write(self._audit(query.citizen_id, purpose, request_id, "partner", _outcome(person)))
        self.cache.put(key, person)
        log.info(
            "population %s for dossier %s, citizen %s: %s",
            LOOKUP,
            purpose.dossier_no,
            mask_citizen_id(query.citizen_id),
            _outcome(person),
        )
        return Lookup(person, request_id)

    def request_values(self, request_id: str, query: IdentityQuery, name: str, procedure: str) -> dict[str, Any]:
        """The ``TraCuuThongTinCongDan`` values for one lookup (what golden requests are compared with)."""
        number = "SoCMND" if len(query.citizen_id) == 9 else "SoDinhDanh"
        return {
            "MaYeuCau": request_id,
            "MaDVC": procedure,
            "MaTichHop": self.integration_code,
            "MaCanBo": self.officer.code,
            "MaDonVi": self.officer.unit,
            "TaiKhoan": self.officer.code,
            number: query.citizen_id,
            "HoVaTen": name,
            "NgayThangNamSinh": query.birth.register_form(),
        }

    def close(self) -> None:
        self.transport.close()

    # ----------------------------------------------------------------- internals

    def _lookup(self, request_id: str, query: IdentityQuery, name: str, procedure: str) -> RegisteredPerson | None:
        op = self.contract.operation(LOOKUP)
        payload = self.contract.build(LOOKUP, self.request_values(request_id, query, name, procedure))
        problems = self.contract.schema_errors(payload)
        if problems is not None:
            raise ContractViolation(PARTNER, LOOKUP, f"request breaks the XSD: {problems}", side="hub")
        envelope = build_envelope(payload)
        try:
            return self._send(op, envelope, renew=False)
        except AuthenticationError as exc:
            # The register refused a token it had issued (expired early): once more with a new one.
            # A refused token request or a refusal of the officer is final.
            if isinstance(exc, OfficerNotAuthorised) or exc.operation != LOOKUP or exc.status != 401:
                raise
            return self._send(op, envelope, renew=True)

    def _send(self, op: Operation, envelope: bytes, *, renew: bool) -> RegisteredPerson | None:
        wrapper = {
            "accessToken": f"Bearer {self.access_token(renew=renew)}",
            "lgspAccessToken": self.account.header_value(),
            "AuthHash": self.officer.auth_hash(),
        }
        parse = functools.partial(self._read, op)
        return self.transport.post_wrapped(self.endpoints.lookup, op, envelope, wrapper, parse=parse, refusal=_refusal)

    def access_token(self, *, renew: bool = False) -> str:
        """The LGSP access token, fetched on first use and after ``TOKEN_MAX_AGE_S`` (or when ``renew``)."""
        with self._token_lock:
            if renew or self._token is None or self._token[1] <= time.monotonic():
                token = self.transport.post_form(
                    self.endpoints.token,
                    operation=TOKEN,
                    parse=_token_of,
                    headers={"lgspaccesstoken": self.account.header_value()},
                    redact_keys=frozenset({"access_token"}),
                )
                self._token = (token, time.monotonic() + TOKEN_MAX_AGE_S)
            return self._token[0]

    def _read(self, op: Operation, element: _Element) -> RegisteredPerson | None:
        if element.tag != op.reply.text:
            raise ContractViolation(PARTNER, op.name, f"reply element is {element.tag}, expected {op.reply.text}")
        problems = self.contract.schema_errors(element)
        if problems is not None:
            raise ContractViolation(PARTNER, op.name, f"reply breaks the XSD: {problems}")
        people = self.contract.read(op.reply, element).get("CongDan") or []
        if len(people) > 1:
            raise ContractViolation(PARTNER, op.name, f"{len(people)} citizens answered one ID number")
        return person_of(people[0]) if people else None

    def _audit(
        self, citizen_id: str, purpose: LookupPurpose, request_id: str, source: str, outcome: str
    ) -> AuditRecord:
        return AuditRecord(
            at=datetime.now(UTC),
            partner=PARTNER,
            operation=LOOKUP,
            dossier_no=purpose.dossier_no,
            purpose=f"{purpose.reason}; MaDVC {purpose.procedure}",
            agency=self.officer.unit,
            officer=self.officer.code,
            request_id=request_id,
            subject=mask_citizen_id(citizen_id),
            subject_digest=hashlib.sha256(citizen_id.encode()).hexdigest(),
            source=source,
            outcome=outcome,
        )


def person_of(values: Mapping[str, Any]) -> RegisteredPerson:
    """A ``CongDan`` (as zeep reads it) as the hub's :class:`RegisteredPerson`.

    The name is the three parts joined (public samples carry the whole name in ``Ten``); the birth
    date is ``NgayThangNam`` when given, else the year ``Nam``; a malformed date is a contract violation.
    """
    parts = values.get("HoVaTen") or {}
    name = normalise_name(" ".join(str(parts.get(key) or "") for key in ("Ho", "ChuDem", "Ten")))
    born = values.get("NgayThangNamSinh") or {}
    text = born.get("NgayThangNam") or born.get("Nam") or ""
    try:
        birth = BirthDate.parse(text) if text else None
    except ValueError as exc:
        raise ContractViolation(PARTNER, LOOKUP, "reply's NgayThangNamSinh is not yyyyMMdd or yyyy") from exc
    return RegisteredPerson(
        citizen_id=str(values.get("SoDinhDanh") or ""),
        full_name=name,
        birth=birth,
        sex={"1": "male", "2": "female"}.get(str(values.get("GioiTinh") or ""), ""),
        old_id=str(values.get("SoCMND") or ""),
        permanent=_address(values.get("ThuongTru")),
        current=_address(values.get("NoiOHienTai")),
    )


def _address(values: Mapping[str, Any] | None) -> RegisteredAddress | None:
    if not values:
        return None
    return RegisteredAddress(
        province=str(values.get("MaTinhThanh") or ""),
        district=str(values.get("MaQuanHuyen") or ""),
        commune=str(values.get("MaPhuongXa") or ""),
        detail=str(values.get("ChiTiet") or ""),
    )


def _token_of(document: Any) -> str:
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise ContractViolation(PARTNER, TOKEN, "the LGSP's token reply has no access_token")
    return token


def _refusal(status: int, document: Any) -> AdapterError | None:
    """The error of an LGSP JSON refusal ``{errorCode, message}`` (None when it is not one)."""
    if not isinstance(document, dict) or "errorCode" not in document:
        return None
    code = str(document["errorCode"])
    text = f"LGSP refusal {code}: {REFUSALS.get(code, document.get('message') or 'no message')}"
    if code == "004":
        return ProcedureNotLicensed(PARTNER, LOOKUP, text, status=status)
    if code == "005":
        return OfficerNotAuthorised(PARTNER, LOOKUP, f"{text}; check the Airflow Connection", status=status)
    if status in (401, 403):
        return AuthenticationError(PARTNER, LOOKUP, f"{text}; check the Airflow Connection", status=status)
    return PermanentError(PARTNER, LOOKUP, text, status=status)


def _outcome(person: RegisteredPerson | None) -> str:
    return "found" if person is not None else "not_found"


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> PopulationDbClient:
    """The client of the register's Airflow Connection.

    Login and password are the hub's LGSP access and secret key. Extras: ``madonvi`` (the
    officer's unit, ``MaDonVi``), ``macanbo`` (the officer, ``MaCanBo``; default the login),
    ``officer_secret`` (the officer's key secret, hashed into ``AuthHash``), ``partner_code`` (the
    LGSP partner code; default ``madonvi``), ``cache_ttl_s`` (default 3600, 0 = never: the same
    applicant is checked again by every dossier they file that day).
    """
    if not isinstance(transport, SoapTransport):
        raise TypeError(f"{transport.partner} is reached through a SoapTransport")
    for required in ("madonvi", "officer_secret"):
        if not extras.get(required):
            raise ValueError(f"extra {required!r} is required")
    if not (login and password):
        raise ValueError("the LGSP access key (login) and secret key (password) are required")
    account = LgspAccount(login, password, str(extras.get("partner_code") or extras["madonvi"]))
    officer = Officer(str(extras.get("macanbo") or login), str(extras["officer_secret"]), str(extras["madonvi"]))
    return PopulationDbClient(transport, account, officer, cache=ResultCache(float(extras.get("cache_ttl_s", 3600))))

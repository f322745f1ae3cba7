"""Verify applicants against the national population database (CSDL dân cư) -- personal data, handled as such.

Three rules shape this client (issue 4; Decree 13/2023 on personal data):

- **Every lookup is accounted for.** Each call -- answered by the partner, from the cache, or
  failed -- produces one :class:`AuditRecord` (who: agency and officer; why: the dossier and the
  purpose; when; what came of it) handed to the caller's :class:`AuditWriter` *before* the
  result is returned. There is no way to call without a writer. A writer that fails stops the
  call: an access the audit log cannot keep must not pass silently.
- **The full ID number never reaches a log line, a result's text or an exception.** Logs and
  reasons use :func:`mappings.masking.mask_citizen_id`; the audit record keeps the masked form and
  a SHA-256 so an auditor can find one person's lookups; errors are scrubbed by the taxonomy.
  (The message log keeps exact bytes as evidence, as for every partner.)
- **Results are cached in this process only**, for ``cache_ttl_s``, and cannot be exported: the
  cache refuses pickling and shows no content in its ``repr``.

Vietnamese text is compared after Unicode NFC normalisation (and whitespace collapsing): city
front-ends deliver some names decomposed (NFD), and the register compares what it receives as is.
A name that the register reports as different is classified by one extra, audited lookup: if
the two spellings agree once diacritics are removed, the result says "name differs only in
diacritics/normalisation" -- a clerical difference for an officer, not an unknown person.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn, Protocol

from adapters.errors import AdapterError
from adapters.soap.client import RecordNotFound, SoapClient, SoapTransport
from adapters.soap.connection import lgsp_soap
from adapters.transport import HttpTransport
from mappings.masking import mask_citizen_id

__all__ = [
    "PARTNER",
    "WSDL",
    "Address",
    "AuditRecord",
    "AuditWriter",
    "Citizen",
    "IdentityQuery",
    "LookupPurpose",
    "PopulationDbClient",
    "ResultCache",
    "Verdict",
    "VerificationResult",
    "fold_name",
    "from_connection",
    "normalise_name",
]

log = logging.getLogger(__name__)

PARTNER = "population_db"
WSDL = Path(__file__).with_name("population_db.wsdl")
VERIFY = "XacThucThongTinCongDan"
LOOKUP = "TraCuuThongTinCongDan"
NAME, BIRTH_DATE = "HoVaTen", "NgayThangNamSinh"
DIACRITICS_ONLY = "họ tên chỉ khác về dấu hoặc cách viết (chuẩn hóa)"


def normalise_name(name: str) -> str:
    """NFC, single spaces, no leading/trailing blanks: the form the hub sends and compares."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def fold_name(name: str) -> str:
    """The letters of a name without tone and vowel marks, case-folded (``Nguyễn`` -> ``nguyen``)."""
    decomposed = unicodedata.normalize("NFD", normalise_name(name).replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class Verdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class IdentityQuery:
    """What the dossier says about the applicant."""

    citizen_id: str
    full_name: str
    birth_date: date

    def __repr__(self) -> str:
        return f"IdentityQuery(citizen_id={mask_citizen_id(self.citizen_id)!r}, ...)"


@dataclass(frozen=True, slots=True)
class LookupPurpose:
    """Why the hub looks a person up: the dossier and a short purpose ("xác thực người nộp hồ sơ")."""

    dossier_no: str
    reason: str


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The register's answer. ``mismatched`` names the contract fields that differ
    (``HoVaTen``, ``NgayThangNamSinh``); ``diacritics_only`` is True when the name differs
    only in its marks (and is the only difference)."""

    verdict: Verdict
    mismatched: tuple[str, ...] = ()
    diacritics_only: bool = False
    request_id: str = ""

    @property
    def reason(self) -> str:
        """A sentence for officers and quarantine entries, in Vietnamese as every quarantine reason
        (never contains the ID)."""
        if self.verdict is Verdict.MATCH:
            return "thông tin khớp với CSDL quốc gia về dân cư"
        if self.verdict is Verdict.NOT_FOUND:
            return "không có công dân mang số định danh này trong CSDL quốc gia về dân cư"
        parts = []
        if NAME in self.mismatched:
            parts.append(DIACRITICS_ONLY if self.diacritics_only else "họ tên khác với CSDL quốc gia về dân cư")
        if BIRTH_DATE in self.mismatched:
            parts.append("ngày sinh khác với CSDL quốc gia về dân cư")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Address:
    detail: str
    ward: str
    province: str


@dataclass(frozen=True, slots=True)
class Citizen:
    """A ``CongDan`` record (personal data: keep it out of logs; its ``repr`` masks the ID)."""

    citizen_id: str
    full_name: str
    family_name: str
    middle_name: str
    given_name: str
    sex: str  # "male" | "female"
    birth_date: date
    birth_registration_place: str
    permanent_address: Address
    current_address: Address | None

    def __repr__(self) -> str:
        return f"Citizen(citizen_id={mask_citizen_id(self.citizen_id)!r}, ...)"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One access to a citizen's data: store-independent; the pipeline persists it.

    ``subject`` is the masked ID; ``subject_digest`` the SHA-256 hex of the full ID, so an auditor
    who has the number can find every lookup of that person without the log holding it.
    ``source``: ``partner`` (asked the register), ``cache`` (answered from this process's cache),
    ``failed`` (the call raised; ``outcome`` names the error class).
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

    def get(self, key: tuple[Any, ...]) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[1]

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


class PopulationDbClient:
    """Identity verification and citizen lookup for one agency (``MaDVC``). Thread-safe."""

    def __init__(self, soap: SoapClient, *, agency: str, officer: str, cache: ResultCache) -> None:
        if not (agency and officer):
            raise ValueError("the population database needs the agency code (MaDVC) and an officer id (MaCanBo)")
        self.soap = soap
        self.agency = agency
        self.officer = officer
        self.cache = cache

    @property
    def transport(self) -> SoapTransport:
        """The transport (the hooks close it when the Connection changes, as for every client)."""
        return self.soap.transport

    def verify(self, query: IdentityQuery, purpose: LookupPurpose, audit: AuditWriter) -> VerificationResult:
        """Ask the register whether ``query`` describes a registered citizen.

        Raises the adapter taxonomy (``RetryableError`` when the register is unreachable, ...);
        the attempt is audited either way.
        """
        name = normalise_name(query.full_name)
        key = (VERIFY, query.citizen_id, name, query.birth_date)
        result = self._cached_or_call(
            key, VERIFY, query.citizen_id, purpose, audit, lambda rid: self._verify(rid, query, name)
        )
        if result.verdict is Verdict.MISMATCH and NAME in result.mismatched and not result.diacritics_only:
            result = self._classify_name(result, query, name, purpose, audit)
        log.info(
            "population %s for dossier %s, citizen %s: %s",
            VERIFY,
            purpose.dossier_no,
            mask_citizen_id(query.citizen_id),
            result.reason,
        )
        return result

    def lookup(self, citizen_id: str, purpose: LookupPurpose, audit: AuditWriter) -> Citizen:
        """The register's record of ``citizen_id``; :class:`~adapters.soap.client.RecordNotFound` if none."""
        return self._cached_or_call(
            (LOOKUP, citizen_id), LOOKUP, citizen_id, purpose, audit, lambda rid: self._lookup(rid, citizen_id)
        )

    # ----------------------------------------------------------------- internals

    def _cached_or_call(
        self,
        key: tuple[Any, ...],
        operation: str,
        citizen_id: str,
        purpose: LookupPurpose,
        audit: AuditWriter,
        call: Callable[[str], Any],
    ) -> Any:
        request_id = uuid.uuid4().hex
        cached = self.cache.get(key)
        if cached is not None:
            audit.write(self._audit(operation, citizen_id, purpose, request_id, "cache", _outcome(cached)))
            return cached
        try:
            result = call(request_id)
        except AdapterError as exc:
            audit.write(self._audit(operation, citizen_id, purpose, request_id, "failed", type(exc).__name__))
            raise
        audit.write(self._audit(operation, citizen_id, purpose, request_id, "partner", _outcome(result)))
        self.cache.put(key, result)
        return result

    def _who(self, request_id: str) -> dict[str, str]:
        return {"MaYeuCau": request_id, "MaDVC": self.agency, "MaCanBo": self.officer}

    def _verify(self, request_id: str, query: IdentityQuery, name: str) -> VerificationResult:
        reply = self.soap.call(
            VERIFY,
            {**self._who(request_id), "SoDinhDanh": query.citizen_id, NAME: name, BIRTH_DATE: query.birth_date},
        )
        verdict = {"KHOP": Verdict.MATCH, "KHONG_KHOP": Verdict.MISMATCH, "KHONG_TON_TAI": Verdict.NOT_FOUND}
        return VerificationResult(
            verdict[reply["KetQua"]], tuple(reply.get("TruongKhongKhop") or ()), False, request_id
        )

    def _lookup(self, request_id: str, citizen_id: str) -> Citizen:
        person = self.soap.call(LOOKUP, {**self._who(request_id), "SoDinhDanh": citizen_id})["CongDan"]
        return Citizen(
            citizen_id=person["SoDinhDanh"],
            full_name=normalise_name(person["HoVaTen"]),
            family_name=person["Ho"],
            middle_name=person["ChuDem"] or "",
            given_name=person["Ten"],
            sex="male" if person["GioiTinh"] == 1 else "female",
            birth_date=person["NgayThangNamSinh"],
            birth_registration_place=person["NoiDangKyKhaiSinh"] or "",
            permanent_address=_address(person["ThuongTru"]),
            current_address=_address(person["NoiOHienTai"]) if person.get("NoiOHienTai") else None,
        )

    def _classify_name(
        self, result: VerificationResult, query: IdentityQuery, name: str, purpose: LookupPurpose, audit: AuditWriter
    ) -> VerificationResult:
        """Tell a diacritics-only name difference from another person's name (one audited lookup)."""
        why = LookupPurpose(purpose.dossier_no, f"{purpose.reason}; phân loại sai lệch họ tên")
        try:
            registered = self.lookup(query.citizen_id, why, audit)
        except RecordNotFound:
            return result
        if fold_name(registered.full_name) != fold_name(name):
            return result
        return VerificationResult(result.verdict, result.mismatched, True, result.request_id)

    def _audit(
        self, operation: str, citizen_id: str, purpose: LookupPurpose, request_id: str, source: str, outcome: str
    ) -> AuditRecord:
        return AuditRecord(
            at=datetime.now(UTC),
            partner=PARTNER,
            operation=operation,
            dossier_no=purpose.dossier_no,
            purpose=purpose.reason,
            agency=self.agency,
            officer=self.officer,
            request_id=request_id,
            subject=mask_citizen_id(citizen_id),
            subject_digest=hashlib.sha256(citizen_id.encode()).hexdigest(),
            source=source,
            outcome=outcome,
        )


def _outcome(result: VerificationResult | Citizen) -> str:
    if isinstance(result, VerificationResult):
        return result.verdict.value + (f" ({', '.join(result.mismatched)})" if result.mismatched else "")
    return "found"


def _address(values: dict[str, Any]) -> Address:
    return Address(values["ChiTiet"], values["PhuongXa"], values["TinhThanh"])


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> PopulationDbClient:
    """The client of the register's Airflow Connection: the LGSP account, agency and officer as every
    SOAP partner reads them (:func:`adapters.soap.connection.lgsp_soap`), and extra ``cache_ttl_s``:
    how long answers are reused in this process (default 3600, 0 = never), because the same
    applicant is checked again by every dossier they file that day."""
    soap, agency, officer = lgsp_soap(transport, WSDL, login, password, extras)
    return PopulationDbClient(
        soap, agency=agency, officer=officer, cache=ResultCache(float(extras.get("cache_ttl_s", 3600)))
    )

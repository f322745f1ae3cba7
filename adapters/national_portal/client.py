"""Talk to the national portal's LGSP-style JSON API (docs/interfaces.md section 2, openapi.yaml here).

The contract is the one public clients speak (the ledger, 2.1-2.9): three endpoints and a
``dstcode`` header from the Connection, ``{session, madonvi, service, ...}`` bodies, replies read
as ``{error_code, message}`` with the code a string or an integer, and no per-record results.

Session handling is the client's job, invisible to callers: it logs in on first use, renews the
session when it is older than :data:`SESSION_MAX_AGE_S` (as O-A does; no reply says when a
session expires), and when the portal answers 100 (session refused; an assumption) it logs in
again once and repeats the call. A second refusal right after a fresh login is an
``AuthenticationError``: something is wrong with the account, and looping would hide it.
The session token and the password never reach a log, a message or the exchange report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError
from adapters.national_portal.models import (
    AgenciesReply,
    Agency,
    AuthReply,
    Classification,
    Envelope,
    ExportPage,
    HeldDossier,
    LookupReply,
    Procedure,
    ProceduresReply,
    RecordResult,
    classify,
    is_success,
    refusal_of,
    same_code,
)
from adapters.national_portal.settings import PortalOptions, province_problem
from adapters.redaction import scrub
from adapters.transport import HttpTransport
from mappings.code_tables import province_suffix

log = logging.getLogger(__name__)

PARTNER = "national_portal"  # the name transports for this partner are built with
PROGRESS_CHUNK = 10  # CapNhatTienDoHoSoMC: public clients send chunks of 10 (T-S)
SESSION_MAX_AGE_S = 600.0  # O-A keeps a session 10 minutes, then logs in again
SECRET_KEYS = frozenset({"session", "password"})
EXPORT_PAGE = 5000  # dossiers per export page: a busy unit's quarter is a few hundred pages
# Codes no public client reads, kept from the hub's first contract (ledger 2.2: assumptions).
SESSION_REFUSED, UNKNOWN_UNIT, INTERNAL_ERROR = "100", "106", "500"

T = TypeVar("T")


class SessionRejected(AuthenticationError):
    """Error 100 on a service call: the client's cue to log in again (never leaves the client
    except as the final refusal after a fresh login)."""


class NationalPortalClient:
    """One agency's (``madonvi``) conversation with the portal. Thread-safe.

    Refuses to start against a portal that is not a loopback sandbox when ``madonvi`` is not a
    unit of the configured province (``HUB_PROVINCE_SUFFIX``, H26 by default).
    """

    def __init__(
        self,
        transport: HttpTransport,
        username: str,
        password: str,
        agency_code: str,
        options: PortalOptions | None = None,
    ) -> None:
        if not (username and password and agency_code):
            raise ValueError("the national portal needs a username, a password and an agency code (madonvi)")
        problem = province_problem(transport.settings.base_url, agency_code, province_suffix())
        if problem is not None:
            raise ValueError(f"{transport.partner}: {problem}")
        self.transport = transport
        self.agency_code = agency_code
        self.options = options or PortalOptions()
        self._username = username
        self._password = password
        self._session: str | None = None
        self._session_born = 0.0
        self._login_lock = threading.Lock()

    # ----------------------------------------------------------------- services

    def sync_dossiers(self, records: Sequence[dict[str, Any]], updating: bool) -> list[RecordResult]:
        """Create (``updating=False``) or update dossiers with DongBoHoSoMC, ``batch_size`` per call.

        Returns one result per record, in the order given. A failure in a later call raises and
        loses the results of earlier calls to the caller; that is safe because a re-send is an
        upsert (creates of stored dossiers answer "already exists").
        """
        flag = "True" if updating else "False"  # a string, as O-I sends it
        return self._send_records("DongBoHoSoMC", records, self.options.batch_size, {"isUpdating": flag})

    def push_progress(self, entries: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Push processing-history entries with CapNhatTienDoHoSoMC in calls of 10 (public practice)."""
        return self._send_records("CapNhatTienDoHoSoMC", entries, PROGRESS_CHUNK, {})

    def lookup(self, dossier_no: str) -> dict[str, Any] | None:
        """The dossier as the portal stores it (TraCuuHoSo), or None: an empty ``result`` array."""
        found = self._service(
            "TraCuuHoSo",
            {"mahoso": dossier_no},
            lambda _envelope, document: LookupReply.model_validate(document).result,
        )
        return found[0] if found else None

    def procedure(self, code: str) -> Procedure | None:
        """One procedure with its fields (LayThuTuc, integration endpoint), or None: an empty ``result``."""
        found = self._service(
            "LayThuTuc",
            {"maTTHC": code},
            lambda _envelope, document: ProceduresReply.model_validate(document).result,
        )
        return found[0] if found else None

    def list_procedures(self) -> list[Procedure]:
        """The portal's procedure catalogue (LayDanhSachTTHC, share endpoint)."""
        return self._service(
            "LayDanhSachTTHC",
            {},
            lambda _envelope, document: ProceduresReply.model_validate(document).result,
            path=self.options.share_endpoint,
        )

    def list_agencies(self) -> list[Agency]:
        """The portal's agency catalogue (LayDanhMucCoQuan, share endpoint)."""
        return self._service(
            "LayDanhMucCoQuan",
            {},
            lambda _envelope, document: AgenciesReply.model_validate(document).result,
            path=self.options.share_endpoint,
        )

    def export_dossiers(self, first: date, last: date, *, page_size: int = EXPORT_PAGE) -> list[HeldDossier]:
        """Every dossier the portal holds for this unit with an intake day in ``first..last``.

        What the portal actually holds, not what it acknowledged to the hub: reconciliation
        needs it to see a dossier the portal lost or one that reached it by another road. All
        pages are read before anything is returned, so a refused page (bad signature, broken
        contract) leaves the caller with nothing half-read to store. The export itself is the
        sandbox's stand-in: no public API shows one (ledger 2.8).
        """
        held: list[HeldDossier] = []
        after: str | None = None
        while True:
            params: dict[str, str | int] = {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "madonvi": self.agency_code,
                "limit": page_size,
            }
            if after is not None:
                params["after"] = after
            page = self.transport.get_json(
                "/sandbox/export/dossiers", operation="export_dossiers", params=params, parse=ExportPage.model_validate
            )
            held.extend(page.items)
            if page.next is None:
                log.info("%s export %s..%s: %d dossiers held", self.transport.partner, first, last, len(held))
                return held
            if page.next == after:
                raise ContractViolation(self.transport.partner, "export_dossiers", f"cursor {after!r} does not advance")
            after = page.next

    # ----------------------------------------------------------------- record batches

    def _send_records(
        self, service: str, records: Sequence[dict[str, Any]], chunk_size: int, fields: dict[str, Any]
    ) -> list[RecordResult]:
        numbers = [_dossier_no(record, index) for index, record in enumerate(records)]
        results: list[RecordResult] = []
        for start in range(0, len(records), chunk_size):
            results.extend(
                self._send_call(
                    service, records[start : start + chunk_size], numbers[start : start + chunk_size], fields
                )
            )
        tally = Counter(result.classification.value for result in results)
        log.info("%s %s: %d records -> %s", self.transport.partner, service, len(records), dict(tally))
        return results

    def _send_call(
        self, service: str, records: Sequence[dict[str, Any]], numbers: list[str], fields: dict[str, Any]
    ) -> list[RecordResult]:
        """One call; when the portal does not accept it whole, the same records again in halves.

        The portal answers a call once, with no per-record results, so a refusal of n records is
        narrowed down by halving: at most 2n - 1 calls (n <= ``batch_size``), and one bad record
        cannot hold the others back. A call of one record is classified on its own reply.
        """
        envelope = self._service(
            service, {**fields, "data": list(records)}, lambda envelope, _document: envelope, record_count=len(records)
        )
        code, message = str(envelope.error_code), scrub(envelope.message, self._secrets())
        outcome = classify(envelope.error_code, message)
        if outcome is Classification.STORED or (outcome is not None and len(records) == 1):
            return [RecordResult(dossier_no=n, code=code, message=message, classification=outcome) for n in numbers]
        if len(records) == 1:
            return [
                RecordResult(
                    dossier_no=numbers[0], code=code, message=message, classification=refusal_of(numbers[0], message)
                )
            ]
        log.info(
            "%s %s: a call of %d records answered %s (%s); resending in halves",
            self.transport.partner, service, len(records), code, message[:200],
        )  # fmt: skip
        middle = len(records) // 2
        return self._send_call(service, records[:middle], numbers[:middle], fields) + self._send_call(
            service, records[middle:], numbers[middle:], fields
        )

    # ----------------------------------------------------------------- session and envelope

    def _service(
        self,
        service: str,
        fields: dict[str, Any],
        parse: Callable[[Envelope, Any], T],
        *,
        path: str | None = None,
        record_count: int = 0,
    ) -> T:
        """Call one service, logging in first if needed and once more if the session is refused.
        Record services (``record_count`` > 0) hand any other answer to the caller to classify;
        the others need success."""
        session = self._current_session()
        target = path or self.options.integration_endpoint
        try:
            return self._post_service(service, target, session, fields, parse, record_count)
        except SessionRejected:
            log.info("%s %s: session refused (error 100); logging in again", self.transport.partner, service)
        session = self._renew_session(session)
        try:
            return self._post_service(service, target, session, fields, parse, record_count)
        except SessionRejected as exc:
            raise AuthenticationError(
                self.transport.partner,
                service,
                f"session refused again right after a fresh login ({exc.detail}); "
                "check the account's rights for this agency",
            ) from exc

    def _post_service(
        self,
        service: str,
        path: str,
        session: str,
        fields: dict[str, Any],
        parse: Callable[[Envelope, Any], T],
        record_count: int,
    ) -> T:
        payload = {"session": session, "madonvi": self.agency_code, "service": service, **fields}
        return self.transport.post_json(
            path,
            payload,
            operation=service,
            parse=lambda document: parse(self._check(service, document, session, record_count > 0), document),
            headers=self._headers(),
            redact_keys=SECRET_KEYS,
            record_count=record_count,
        )

    def _headers(self) -> dict[str, str]:
        """``dstcode`` on every call, the login included, as O-I sends it."""
        return {"dstcode": self.options.dstcode} if self.options.dstcode else {}

    def _current_session(self) -> str:
        with self._login_lock:
            if self._session is None or time.monotonic() - self._session_born > SESSION_MAX_AGE_S:
                self._session = self._login()
            return self._session

    def _renew_session(self, refused: str) -> str:
        """Log in again unless another thread already replaced the refused session."""
        with self._login_lock:
            if self._session is None or self._session == refused:
                self._session = self._login()
            return self._session

    def _login(self) -> str:
        reply = self.transport.post_json(
            self.options.auth_endpoint,
            {"username": self._username, "password": self._password},
            operation="auth",
            parse=self._parse_auth,
            headers=self._headers(),
            redact_keys=SECRET_KEYS,
        )
        self._session_born = time.monotonic()
        log.info("%s: logged in for agency %s", self.transport.partner, self.agency_code)
        return reply.session

    def _parse_auth(self, document: Any) -> AuthReply:
        envelope = Envelope.model_validate(document)
        if not is_success(envelope.error_code):
            where = (self.transport.partner, "auth")
            text = f"error {envelope.error_code}: {envelope.message}"
            if same_code(envelope.error_code, INTERNAL_ERROR):
                raise RetryableError(*where, f"portal internal error at login ({text})", secrets=(self._password,))
            raise AuthenticationError(
                *where, f"login refused ({text}); check the Connection's login and password", secrets=(self._password,)
            )
        return AuthReply.model_validate(document)

    def _check(self, service: str, document: Any, session: str, records: bool) -> Envelope:
        """Map the top-level answers that are not about the records (runs inside the transport's
        retry loop, so 500 is retried with backoff like an HTTP 503). ``session`` is the one this
        call sent, scrubbed from the message in case the portal echoes it."""
        envelope = Envelope.model_validate(document)
        code, text = envelope.error_code, envelope.message
        where = (self.transport.partner, service)
        secrets = (self._password, session)
        if same_code(code, SESSION_REFUSED):
            raise SessionRejected(*where, f"error 100: session refused: {text}", secrets=secrets)
        if same_code(code, UNKNOWN_UNIT):
            raise PermanentError(
                *where,
                f"error 106: agency code (madonvi) {self.agency_code} unknown to the portal: {text}",
                secrets=secrets,
            )
        if same_code(code, INTERNAL_ERROR):
            raise RetryableError(*where, f"error 500: portal internal error: {text}", secrets=secrets)
        if records or is_success(code):
            return envelope
        raise PermanentError(*where, f"error_code {code}: {text}", secrets=secrets)

    def _secrets(self) -> tuple[str | None, ...]:
        return self._password, self._session


def _dossier_no(record: dict[str, Any], index: int) -> str:
    """Results are matched back by ``MaHoSo``; a record without one is a bug upstream, caught before sending."""
    number = record.get("MaHoSo") if isinstance(record, dict) else None
    if not isinstance(number, str) or not number:
        raise ValueError(f"record {index} has no MaHoSo string")
    return number


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> NationalPortalClient:
    """The client of the portal's Airflow Connection: login and password are the LGSP account, the
    extras ``madonvi`` (required: every dossier it sends is filed under it) and the endpoint, dstcode
    and batch settings of :class:`PortalOptions`."""
    agency = extras.get("madonvi")
    if not agency:
        raise ValueError("extra 'madonvi' (the agency code) is required")
    return NationalPortalClient(transport, login, password, str(agency), PortalOptions.from_extras(extras))


def probe(client: NationalPortalClient) -> str:
    """Log in and read the agency catalogue (LayDanhMucCoQuan): the session and the share endpoint."""
    return f"logged in; LayDanhMucCoQuan listed {len(client.list_agencies()):,} agencies"

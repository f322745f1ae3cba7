"""Talk to the national portal's LGSP-style JSON API (docs/interfaces.md section 2, openapi.yaml here).

Session handling is the client's job, invisible to callers: it logs in on first use, keeps the
session, and when the portal answers error 100 (session missing, invalid or expired) it logs in
again once and repeats the call. A second refusal right after a fresh login is an
``AuthenticationError``: something is wrong with the account, and looping would hide it.
The session token and the password never reach a log, a message or the exchange report.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError
from adapters.national_portal.models import (
    AgenciesReply,
    Agency,
    AuthReply,
    Envelope,
    ExportPage,
    HeldDossier,
    LookupReply,
    Procedure,
    ProceduresReply,
    RecordResult,
    RecordsReply,
    classify,
)
from adapters.redaction import scrub
from adapters.transport import HttpTransport

log = logging.getLogger(__name__)

PARTNER = "national_portal"  # the name transports for this partner are built with
MAX_SYNC_RECORDS = 1000  # DongBoHoSoMC: more in one call is error 300
PROGRESS_CHUNK = 10  # CapNhatTienDoHoSoMC: the portal takes at most 10 entries per call
SECRET_KEYS = frozenset({"session", "password"})
NOT_FOUND = 201
EXPORT_PAGE = 5000  # dossiers per export page: a busy unit's quarter is a few hundred pages

T = TypeVar("T")


class SessionRejected(AuthenticationError):
    """Error 100 on a service call: the client's cue to log in again (never leaves the client
    except as the final refusal after a fresh login)."""


class NationalPortalClient:
    """One agency's (``madonvi``) conversation with the portal. Thread-safe."""

    def __init__(self, transport: HttpTransport, username: str, password: str, agency_code: str) -> None:
        if not (username and password and agency_code):
            raise ValueError("the national portal needs a username, a password and an agency code (madonvi)")
        self.transport = transport
        self.agency_code = agency_code
        self._username = username
        self._password = password
        self._session: str | None = None
        self._login_lock = threading.Lock()

    # ----------------------------------------------------------------- services

    def sync_dossiers(self, records: Sequence[dict[str, Any]], updating: bool) -> list[RecordResult]:
        """Create (``updating=False``) or update dossiers with DongBoHoSoMC, at most 1000 per call.

        Returns one result per record, in the order given. A failure in a later call raises and
        loses the results of earlier calls to the caller; that is safe because a re-send is an
        upsert (creates of stored dossiers answer "already exists").
        """
        return self._send_records("DongBoHoSoMC", records, MAX_SYNC_RECORDS, {"isUpdating": updating})

    def push_progress(self, entries: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Push processing-history entries with CapNhatTienDoHoSoMC in calls of 10 (the portal's
        limit). Identical entries sent again answer 0 and are not stored twice, so re-runs are safe."""
        return self._send_records("CapNhatTienDoHoSoMC", entries, PROGRESS_CHUNK, {})

    def lookup(self, dossier_no: str) -> dict[str, Any] | None:
        """The dossier as the portal stores it (TraCuuHoSo), or None if the portal does not have it."""
        return self._service(
            "TraCuuHoSo",
            {"MaHoSo": dossier_no},
            lambda envelope, document: (
                None if envelope.error_code == NOT_FOUND else LookupReply.model_validate(document).result
            ),
            accept=frozenset({0, NOT_FOUND}),
        )

    def list_procedures(self) -> list[Procedure]:
        """The portal's procedure catalogue (LayDanhSachTTHC)."""
        return self._service(
            "LayDanhSachTTHC", {}, lambda _envelope, document: ProceduresReply.model_validate(document).result
        )

    def list_agencies(self) -> list[Agency]:
        """The portal's agency catalogue (LayDanhMucCoQuan)."""
        return self._service(
            "LayDanhMucCoQuan", {}, lambda _envelope, document: AgenciesReply.model_validate(document).result
        )

    def export_dossiers(self, first: date, last: date, *, page_size: int = EXPORT_PAGE) -> list[HeldDossier]:
        """Every dossier the portal holds for this unit with an intake day in ``first..last``.

        What the portal actually holds, not what it acknowledged to the hub: reconciliation
        needs it to see a dossier the portal lost or one that reached it by another road. All
        pages are read before anything is returned, so a refused page (bad signature, broken
        contract) leaves the caller with nothing half-read to store.
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
            chunk = list(records[start : start + chunk_size])
            sent = numbers[start : start + chunk_size]
            chunk_results = self._service(
                service,
                {**fields, "data": chunk},
                lambda _envelope, document, sent=sent: self._record_results(service, sent, document),
                record_count=len(chunk),
            )
            results.extend(chunk_results)
        tally = Counter(result.classification.value for result in results)
        log.info("%s %s: %d records -> %s", self.transport.partner, service, len(records), dict(tally))
        return results

    def _record_results(self, service: str, sent: list[str], document: Any) -> list[RecordResult]:
        """Check the per-record replies against what was sent: same count, same dossiers, same order."""
        replies = RecordsReply.model_validate(document).result
        if len(replies) != len(sent):
            raise ContractViolation(
                self.transport.partner, service, f"{len(replies)} results for {len(sent)} records sent"
            )
        results = []
        for index, (reply, dossier_no) in enumerate(zip(replies, sent, strict=True)):
            if reply.dossier_no != dossier_no:
                raise ContractViolation(
                    self.transport.partner,
                    service,
                    f"result {index} is for {reply.dossier_no!r} but record {index} sent was {dossier_no!r}",
                )
            classification = classify(reply.code, reply.message)
            if classification is None:
                raise ContractViolation(
                    self.transport.partner,
                    service,
                    f"record {dossier_no}: error_code {reply.code} is not in the contract ({reply.message})",
                    secrets=self._secrets(),
                )
            message = scrub(reply.message, self._secrets())
            results.append(
                RecordResult(dossier_no=dossier_no, code=reply.code, message=message, classification=classification)
            )
        return results

    # ----------------------------------------------------------------- session and envelope

    def _service(
        self,
        service: str,
        fields: dict[str, Any],
        parse: Callable[[Envelope, Any], T],
        *,
        accept: frozenset[int] = frozenset({0}),
        record_count: int = 0,
    ) -> T:
        """Call one service, logging in first if needed and once more if the session is refused."""
        session = self._current_session()
        try:
            return self._post_service(service, session, fields, parse, accept, record_count)
        except SessionRejected:
            log.info("%s %s: session refused (error 100); logging in again", self.transport.partner, service)
        session = self._renew_session(session)
        try:
            return self._post_service(service, session, fields, parse, accept, record_count)
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
        session: str,
        fields: dict[str, Any],
        parse: Callable[[Envelope, Any], T],
        accept: frozenset[int],
        record_count: int,
    ) -> T:
        payload = {"session": session, "madonvi": self.agency_code, "service": service, **fields}
        return self.transport.post_json(
            "/service",
            payload,
            operation=service,
            parse=lambda document: parse(self._check(service, document, accept, session), document),
            redact_keys=SECRET_KEYS,
            record_count=record_count,
        )

    def _current_session(self) -> str:
        with self._login_lock:
            if self._session is None:
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
            "/auth",
            {"username": self._username, "password": self._password},
            operation="auth",
            parse=self._parse_auth,
            redact_keys=SECRET_KEYS,
        )
        log.info("%s: logged in for agency %s", self.transport.partner, self.agency_code)
        return reply.session

    def _parse_auth(self, document: Any) -> AuthReply:
        self._check("auth", document, frozenset({0}), None)
        return AuthReply.model_validate(document)

    def _check(self, service: str, document: Any, accept: frozenset[int], session: str | None) -> Envelope:
        """Map a top-level ``error_code`` onto the taxonomy (runs inside the transport's retry loop,
        so error 500 is retried with backoff like an HTTP 503). ``session`` is the one this call
        sent, scrubbed from the message in case the portal echoes it."""
        envelope = Envelope.model_validate(document)
        code, text = envelope.error_code, envelope.message
        if code in accept:
            return envelope
        where = (self.transport.partner, service)
        secrets = (self._password, session)
        if code == 100 and service == "auth":
            raise AuthenticationError(
                *where,
                f"login refused (error 100: {text}); check the Connection's login and password",
                secrets=secrets,
            )
        if code == 100:
            raise SessionRejected(*where, f"error 100: session refused: {text}", secrets=secrets)
        if code == 106:
            raise PermanentError(
                *where,
                f"error 106: agency code (madonvi) {self.agency_code} unknown to the portal: {text}",
                secrets=secrets,
            )
        if code == 300:
            raise ContractViolation(
                *where,
                f"error 300: the portal says our request is malformed: {text}",
                side="hub",
                secrets=secrets,
            )
        if code == 500:
            raise RetryableError(*where, f"error 500: portal internal error: {text}", secrets=secrets)
        raise ContractViolation(*where, f"error_code {code} is not in the contract: {text}", secrets=secrets)

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
    """The client of the portal's Airflow Connection: login and password are the LGSP account, extra
    ``madonvi`` the agency code it speaks for (required: every dossier it sends is filed under it)."""
    if not extras.get("madonvi"):
        raise ValueError("extra 'madonvi' (the agency code) is required")
    return NationalPortalClient(transport, login, password, extras["madonvi"])

"""The one client of every ministry system: it reads the ministry's declarative contract
(``contract.py``, ``contracts/<partner>.yaml``) and speaks it over the adapter template
(``adapters.transport``: timeouts, retries with backoff, circuit breaker, signatures, exchange log).

What it does for the hub, whatever the ministry:

- pull-back: :meth:`MinistryClient.iter_period` walks the ministry's listing over any period, in the
  windows the contract allows, per fanned-out value, page by page, completes each listed item with
  the contract's detail call and hands over canonical pull-back records
  (``mappings.ministry_records``) -- so the pipeline never sees a ministry's own names;
- push: :meth:`~MinistryClient.register` registers an interconnected dossier, and
  :meth:`~MinistryClient.status` asks where it stands, for a ministry whose contract has a push;
- look-ups: :meth:`~MinistryClient.lookup` for read-only services (social insurance).

Every call carries the bearer token (the Connection's password), or, for a ministry whose contract
says ``auth: session`` (driving licences), the session its login operation opened with the
Connection's login and password -- opened again once when the ministry no longer knows it.
Replies are read as the contract
says: a status flag and an error code in an HTTP 200 answer, the error code mapped onto the
taxonomy (``adapters.errors``) inside the transport's retry loop, so a ministry's "try later" is
retried like an HTTP 503. The client never logs a record's content.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError
from adapters.ministry.contract import MinistryContract, Reply, contract_of
from adapters.periods import windows
from adapters.transport import HttpTransport
from mappings.civil_status import commune_unit, registration_xml
from mappings.code_tables import CodeTables, load_code_tables
from mappings.dossier import VN_TZ, Dossier
from mappings.dossier_number import parse_dossier_number
from mappings.ministry_records import map_record

__all__ = ["MinistryClient", "Registration", "Status", "from_connection"]

_NOT_FOUND = object()


@dataclass(frozen=True, slots=True)
class Registration:
    """The ministry took a pushed dossier (it answers only "received": status 1, at the hub's clock)."""

    dossier_no: str
    status: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Status:
    dossier_no: str
    status: int
    updated_at: datetime


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MinistryClient:
    """One ministry system, as its contract describes it. Thread-safe (the only state beyond the
    transport is a session, opened under a lock)."""

    def __init__(
        self,
        transport: HttpTransport,
        contract: MinistryContract,
        token: str,
        extras: Mapping[str, Any] | None = None,
        *,
        login: str = "",
        code_tables: CodeTables | None = None,
    ) -> None:
        """``token``: the bearer token, or for ``auth: session`` the password that goes with ``login``."""
        if not token:
            raise ValueError(f"{contract.partner} needs its bearer token or password (the Connection password)")
        if contract.auth == "session" and not login:
            raise ValueError(f"{contract.partner} opens a session: the Connection needs its login")
        extras = dict(extras or {})
        missing = [name for name in contract.extras if not extras.get(name)]
        if missing:
            raise ValueError(f"{contract.partner} needs the Connection extras {', '.join(missing)}")
        self.transport = transport
        self.contract = contract
        self.extras = {name: str(extras[name]) for name in contract.extras}
        self.tables = code_tables if code_tables is not None else load_code_tables()
        self._token, self._login = token, login
        self._headers = {"Authorization": f"Bearer {token}"} if contract.auth == "bearer" else {}
        self._session: str | None = None
        self._session_lock = threading.Lock()

    @property
    def partner(self) -> str:
        return self.contract.partner

    # ------------------------------------------------------------------ calls

    def call(self, operation: str, values: Mapping[str, Any]) -> Any:
        """One operation with ``values`` (query parameters for GET, the JSON body for POST) and the
        operation's own constant ``params``; the reply's records, or the sentinel ``_NOT_FOUND``
        when the ministry answers its not-found code."""
        values = {**self._params(self.contract.operations[operation].params, None), **values}
        session = self.contract.session
        if session is None or operation == session.operation:
            return self._send(operation, values)
        opened = self._session_id(None)
        try:
            return self._send(operation, {session.param: opened, **values})
        except AuthenticationError:  # the ministry forgot the session (expired): one new one, once
            return self._send(operation, {session.param: self._session_id(opened), **values})

    def _session_id(self, stale: str | None) -> str:
        """The open session, opened (again, when it is ``stale``) under the lock."""
        session = self.contract.session
        assert session is not None
        with self._session_lock:
            if self._session is None or self._session == stale:
                found = self._send(session.operation, {session.user: self._login, session.password: self._token})
                value = found[0].get(session.key) if found and found is not _NOT_FOUND else None
                if not value:
                    raise ContractViolation(self.partner, session.operation, f"the reply names no '{session.key}'")
                self._session = str(value)
            return self._session

    def _send(self, operation: str, values: Mapping[str, Any]) -> Any:
        spec = self.contract.operations[operation]
        reply = self.contract.reply_of(operation)

        def parse(document: Any) -> Any:
            return self._read(operation, reply, document)

        if spec.method == "GET":
            params = {k: v for k, v in values.items() if v is not None}
            return self.transport.get_json(
                spec.path, operation=operation, parse=parse, params=params, headers=self._headers
            )
        return self.transport.post_json(
            spec.path, dict(values), operation=operation, parse=parse, headers=self._headers
        )

    def _read(self, operation: str, reply: Reply, document: Any) -> Any:
        """The records of a reply, after its status flag and error code are checked."""
        if isinstance(document, Mapping):
            code = str(document.get(reply.error_code) or "") if reply.error_code else ""
            failed = (
                str(document.get(reply.status)) not in reply.ok
                if reply.status is not None
                else code not in reply.ok_codes
            )
            if failed:
                message = str(document.get(reply.message) or "") if reply.message else ""
                return self._error(operation, code, message)
        elif reply.status is not None or reply.records:
            raise ContractViolation(self.partner, operation, f"reply is a {type(document).__name__}, not an object")
        found = document if not reply.records else document.get(reply.records)
        if found is None:
            return []
        if isinstance(found, Mapping):
            return [dict(found)]
        if not isinstance(found, list) or not all(isinstance(item, Mapping) for item in found):
            raise ContractViolation(self.partner, operation, f"'{reply.records or 'reply'}' is not a list of records")
        return [dict(item) for item in found]

    def _error(self, operation: str, code: str, message: str) -> Any:
        """The ministry's error code as the taxonomy says (``contract.errors``); not found is an answer."""
        kind = self.contract.errors.get(code)
        where = (self.partner, operation)
        text = f"error {code or '(none)'}: {message or 'no message'}"
        secrets = (self._token, *([self._session] if self._session else []))
        if kind in ("not_found", "not_ready"):
            return _NOT_FOUND
        if kind in ("authentication", "ip_not_allowed"):
            hint = (
                "credentials refused; check the Airflow Connection"
                if kind == "authentication"
                else ("the hub's address is not on the ministry's allow-list; ask the ministry to allow it")
            )
            raise AuthenticationError(*where, f"{text} -- {hint}", secrets=secrets)
        if kind == "unknown_unit":
            raise PermanentError(
                *where, f"{text} -- the unit the hub speaks for is unknown; check the Connection", secrets=secrets
            )
        if kind == "refused":
            raise ContractViolation(*where, f"{text} -- request refused", side="hub", secrets=secrets)
        if kind == "retryable":
            raise RetryableError(*where, text, secrets=secrets)
        raise ContractViolation(*where, f"{text} -- error code not in the contract", secrets=secrets)

    # ------------------------------------------------------------------ pull-back

    def iter_period(self, first: date, last: date) -> Iterator[list[dict[str, Any]]]:
        """Pages of canonical pull-back records listed for the days ``[first, last]`` (any length,
        walked in the contract's windows). Arguments are checked at the call, not at ``next()``."""
        listing = self._listing()
        spans = windows(first, last, listing.window.days)
        return (page for start, end in spans for page in self._window_pages(start, end))

    def iter_window(self, first: date, last: date) -> Iterator[list[dict[str, Any]]]:
        """Pages of one window (``ValueError`` for one longer than the contract allows: the
        ministry would refuse it)."""
        listing = self._listing()
        span = (last - first).days + 1
        if not 1 <= span <= listing.window.days:
            raise ValueError(f"a {listing.operation} window spans 1..{listing.window.days} days, not {span}")
        return self._window_pages(first, last)

    def _listing(self) -> Any:
        if self.contract.pull is None:
            raise TypeError(f"{self.partner}: the contract has no pull-back")
        return self.contract.pull

    def _window_pages(self, first: date, last: date) -> Iterator[list[dict[str, Any]]]:
        listing = self._listing()
        fanned = listing.fan_out.values if listing.fan_out else (None,)
        for value in fanned:
            days = [(first, last)] if listing.window.days > 1 else windows(first, last, 1)
            for start, end in days:
                for page in self._listed_pages(value, start, end):
                    records = [
                        map_record(item, self.contract.record, self.tables) for item in self._completed(page, value)
                    ]  # type: ignore[arg-type]
                    if records:
                        yield records

    def _params(self, template: Mapping[str, str], fanned: str | None) -> dict[str, Any]:
        named = {**self.extras, "fan_out": fanned or ""}
        return {key: value.format_map(named) for key, value in template.items()}

    def _listed_pages(self, fanned: str | None, first: date, last: date) -> Iterator[list[dict[str, Any]]]:
        listing = self._listing()
        window = listing.window
        values: dict[str, Any] = {
            **self._params(listing.params, fanned),
            window.from_param: first.strftime(window.format),
        }
        if window.to_param:
            values[window.to_param] = last.strftime(window.format)
        if listing.fan_out and fanned is not None:
            values[listing.fan_out.param] = fanned
        tag = {listing.fan_out.param: fanned} if listing.fan_out and fanned is not None else {}
        if listing.paging is None:
            found = self.call(listing.operation, values)
            items = [] if found is _NOT_FOUND else found
            if items:
                yield [{**item, **tag} for item in items]
            return
        paging, offset = listing.paging, 0
        while True:
            found = self.call(listing.operation, {**values, paging.offset: offset, paging.limit: paging.max})
            items = [] if found is _NOT_FOUND else found
            if items:
                yield [{**item, **tag} for item in items]
            if len(items) < paging.max:
                return
            offset += len(items)

    def _completed(self, items: list[dict[str, Any]], fanned: str | None) -> list[dict[str, Any]]:
        """Each listed item with its detail merged over it; an item the ministry cannot detail yet
        (not complete, gone) is left out: it is listed again when it changes."""
        detail = self._listing().detail
        if detail is None:
            return items
        params = self._params(detail.params, fanned)
        if detail.batch is None:
            completed = []
            for item in items:
                found = self.call(detail.operation, {**params, detail.param: item.get(detail.key)})
                if found is not _NOT_FOUND and found:
                    completed.append({**item, **found[0]})
            return completed
        by_id: dict[str, dict[str, Any]] = {}
        for chunk in _chunks([item.get(detail.key) for item in items], detail.batch):
            found = self.call(detail.operation, {**params, detail.param: list(chunk)})
            if found is not _NOT_FOUND:
                by_id.update({str(record.get(detail.key)): record for record in found})
        return [{**item, **by_id[str(item.get(detail.key))]} for item in items if str(item.get(detail.key)) in by_id]

    # ------------------------------------------------------------------ push and status

    def _named(self, name: str, dossier: Dossier | None, dossier_no: str) -> Any:
        push = self.contract.push
        if name == "dossier_no":
            return dossier_no
        if name == "commune_unit":
            agency, day = self._agency_and_day(dossier, dossier_no)
            unit = commune_unit(agency, day, self.tables)
            if unit is None:
                raise ContractViolation(
                    self.partner, "push", f"{dossier_no}: agency {agency} has no commune unit code on {day}", side="hub"
                )
            return int(unit)  # the ministry's maDonVi is a number (Long)
        assert dossier is not None and push is not None  # the remaining names are a push's
        if name == "received":
            return (dossier.received_at or dossier.submitted_at).astimezone(VN_TZ).strftime(push.date_format)
        if name == "module":
            module = push.modules.get(dossier.procedure_code)
            if module is None:
                raise ContractViolation(
                    self.partner, "push", f"{dossier_no}: procedure {dossier.procedure_code} has no module", side="hub"
                )
            return module
        return registration_xml(dossier)  # "document"

    @staticmethod
    def _agency_and_day(dossier: Dossier | None, dossier_no: str) -> tuple[str, date]:
        if dossier is not None:
            return dossier.handling_agency, dossier.submitted_at.astimezone(VN_TZ).date()
        number = parse_dossier_number(dossier_no)
        return number.agency, number.day

    def register(self, dossier: Dossier) -> Registration:
        """Register one interconnected dossier; keyed by its number at the ministry, so a repeat
        (a retry, a re-run) registers nothing twice."""
        push = self.contract.push
        if push is None:
            raise TypeError(f"{self.partner}: the contract has no push")
        body = {key: self._named(name, dossier, dossier.dossier_no) for key, name in push.body.items()}
        self.call(push.operation, body)
        return Registration(dossier.dossier_no, 1, datetime.now(VN_TZ))

    def status(self, dossier_no: str) -> Status | None:
        """Where a pushed dossier stands, or None when the ministry does not hold it."""
        check = self.contract.status
        if check is None:
            raise TypeError(f"{self.partner}: the contract has no status check")
        body = {key: self._named(name, None, dossier_no) for key, name in check.body.items()}
        operation = check.operation
        spec = self.contract.operations[operation]
        reply = self.contract.reply_of(operation)

        def parse(document: Any) -> Any:
            found = self._read(operation, reply, document)
            return found if found is _NOT_FOUND else int(document[check.value])

        value = self.transport.post_json(spec.path, body, operation=operation, parse=parse, headers=self._headers)
        return None if value is _NOT_FOUND else Status(dossier_no, value, datetime.now(VN_TZ))

    # ------------------------------------------------------------------ look-ups

    def lookup(self, name: str, **values: Any) -> list[dict[str, Any]]:
        """A read-only look-up (``contract.lookups[name]``); empty when the ministry finds nothing."""
        spec = self.contract.lookups[name]
        unknown = set(values) - set(spec.keys)
        if unknown:
            raise ValueError(f"{self.partner} {name} takes {', '.join(spec.keys)}, not {', '.join(sorted(unknown))}")
        found = self.call(spec.operation, {key: values.get(key, "") for key in spec.keys})
        return [] if found is _NOT_FOUND else found


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> MinistryClient:
    """The client of a ministry's Airflow Connection: its contract is the one named like the
    transport's partner (``contracts/<partner>.yaml``), the password its bearer token (or, with
    the login, what opens its session), the
    contract's ``extras`` read from the Connection (the client refuses any missing)."""
    return MinistryClient(transport, contract_of(transport.partner), password, extras, login=login)


def probe(client: MinistryClient) -> str:
    """The first page of today's listing (``hub connections test``): it proves the token, the address
    the gateway sees and the contract's paths without looking anyone up."""
    today = datetime.now(VN_TZ).date()
    page = next(iter(client.iter_window(today, today)), [])
    return f"{client.contract.pull.operation} answered ({'records' if page else 'nothing'} listed today)"

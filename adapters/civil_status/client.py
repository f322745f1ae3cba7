"""Exchange civil-status dossiers with the Ministry of Justice (SOAP; civil_status.wsdl/.xsd here).

Built on the SOAP template (``adapters.soap``): the contract is parsed once per process, requests are
XSD-checked and signed, replies verified before they are read, faults mapped onto the taxonomy.
This module speaks the ministry's terms:

- push: :meth:`CivilStatusClient.register` sends an interconnected ("liên thông") dossier with
  ``dangKyHoTich``. It is idempotent on the ministry's side (keyed by dossier number) and its
  correlation id is derived from the dossier number, so a retry or a re-run registers nothing twice;
- status: :meth:`~CivilStatusClient.status` (``traTrangThaiHoSo``: 1 received, 2 needs supplement,
  3 eligible, 4 registered) and :meth:`~CivilStatusClient.result` (``ketQuaDangKyHS``);
- pull-back: :meth:`~CivilStatusClient.iter_registered` walks ``dsHoSoDangKy`` over any period
  (windows of at most 31 days, pages of at most 500); each dossier says its origin (``LIEN_THONG``
  pushed by the hub, ``PHAN_MEM_BO`` registered on the ministry's software), which the hub keeps
  when it stages the dossier.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from adapters.ministry import MinistryClient
from adapters.periods import numbered_pages, windows
from adapters.soap.connection import lgsp_soap
from adapters.transport import HttpTransport
from mappings.civil_status import to_ho_so
from mappings.dossier import VN_TZ, Dossier

PARTNER = "civil_status"  # the name transports for this partner are built with
WSDL = Path(__file__).with_name("civil_status.wsdl")
MAX_PERIOD_DAYS = 31  # dsHoSoDangKy refuses longer periods (fault 300)
MAX_PAGE_SIZE = 500
RECEIVED, NEEDS_SUPPLEMENT, ELIGIBLE, REGISTERED = 1, 2, 3, 4
_REGISTER_IDS = uuid.UUID("6f1c2b0e-4d52-4a39-9d7e-8a3f0c1b5e21")  # namespace of dangKyHoTich correlation ids


@dataclass(frozen=True, slots=True)
class Registration:
    """The ministry's answer to a push: its status, and whether it already held the dossier."""

    dossier_no: str
    status: int
    already_held: bool
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Status:
    dossier_no: str
    status: int
    message: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Result:
    """``registration`` (number, book, date, signer, result URL) is None until the status is 4."""

    dossier_no: str
    status: int
    registration: dict[str, Any] | None


class CivilStatusClient(MinistryClient):
    """One agency's (``MaDVC``) conversation with the civil-status system. Thread-safe."""

    # ----------------------------------------------------------------- push

    def register(self, dossier: Dossier) -> Registration:
        """Push one interconnected dossier (``dangKyHoTich``); safe to repeat."""
        correlation = uuid.uuid5(_REGISTER_IDS, dossier.dossier_no).hex
        reply = self.soap.call("dangKyHoTich", {**self.asker(correlation), "HoSo": to_ho_so(dossier)})
        return Registration(reply["MaHoSo"], reply["TrangThai"], reply["DaTonTai"], reply["ThoiDiemTiepNhan"])

    # ----------------------------------------------------------------- status

    def status(self, dossier_no: str) -> Status | None:
        """``traTrangThaiHoSo``, or None when the ministry does not hold the dossier."""
        reply = self.call_or_none("traTrangThaiHoSo", {"MaHoSo": dossier_no})
        if reply is None:
            return None
        return Status(reply["MaHoSo"], reply["TrangThai"], reply["NoiDung"], reply["ThoiDiemCapNhat"])

    def result(self, dossier_no: str) -> Result | None:
        """``ketQuaDangKyHS``, or None when the ministry does not hold the dossier."""
        reply = self.call_or_none("ketQuaDangKyHS", {"MaHoSo": dossier_no})
        if reply is None:
            return None
        return Result(reply["MaHoSo"], reply["TrangThai"], reply["KetQua"])

    # ----------------------------------------------------------------- pull-back

    def iter_registered(
        self, first: date, last: date, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of dossiers registered on a day in ``[first, last]`` (any length; walked in windows
        of at most 31 days). Each dossier is a dict of the contract's ``HoSoDaDangKy`` with ``Nguon``
        (origin). Arguments are checked at the call, not at the first ``next()``."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        spans = windows(first, last, MAX_PERIOD_DAYS)
        return (page for start, end in spans for page in self._period_pages(start, end, page_size))

    def _period_pages(self, first: date, last: date, page_size: int) -> Iterator[list[dict[str, Any]]]:
        def fetch(page_no: int) -> tuple[list[dict[str, Any]], int]:
            values = {**self.asker(), "TuNgay": first, "DenNgay": last, "Trang": page_no, "SoBanGhi": page_size}
            reply = self.soap.call("dsHoSoDangKy", values)
            return reply.get("HoSo") or [], reply["TongSo"]

        return numbered_pages(fetch, page_size, "MaHoSo")


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> CivilStatusClient:
    """The client of the Ministry of Justice's Airflow Connection, read as every LGSP SOAP partner's is
    (:func:`adapters.soap.connection.lgsp_soap`)."""
    return CivilStatusClient(*lgsp_soap(transport, WSDL, login, password, extras))


def probe(client: CivilStatusClient) -> str:
    """The first page (one dossier) of today's dsHoSoDangKy listing: the UsernameToken and the agency code."""
    today = datetime.now(VN_TZ).date()
    page = next(iter(client.iter_registered(today, today, page_size=1)), [])
    return f"dsHoSoDangKy answered ({'dossiers' if page else 'no dossier'} registered today)"

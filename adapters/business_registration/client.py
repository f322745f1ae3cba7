"""Read the national business registration system through the LGSP (REST/JSON; openapi.yaml here).

Why this partner matters: business-registration dossiers of city-authority procedures are
processed on the ministry's software, so the city system never sees them and the city's counts
fall short (DOMAIN.md, "The problem"). The hub pulls them back with ``danhSachHoSo``, which lists
the dossiers last updated in a window of **at most 5 days**: :func:`adapters.periods.windows` cuts any period into
such windows and :meth:`BusinessRegistrationClient.iter_period` walks them, page by page, so a
DAG asks for its data interval and never thinks about the limit.

Listed dossiers come in the national portal's ``DongBoHoSoMC`` shape plus ``NgayCapNhat`` and are
handed over as dicts: judging their content is the quality gate's job, as for the city feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError
from adapters.periods import numbered_pages, windows
from adapters.transport import HttpTransport
from mappings.dossier import VN_TZ

PARTNER = "business_registration"  # the name transports for this partner are built with
MAX_WINDOW_DAYS = 5  # danhSachHoSo refuses longer windows (error 300)
MAX_PAGE_SIZE = 500
# Ministry error codes (DOMAIN.md, "Ministry systems"), as the SOAP ministries send them in faults.
AUTH_FAILED, IP_NOT_ALLOWED, UNKNOWN_AGENCY, NOT_FOUND, MALFORMED, INTERNAL = 100, 101, 106, 201, 300, 500

T = TypeVar("T")
_REPLY = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)


class Envelope(BaseModel):
    """What every reply carries; ``message`` may be absent (read as "")."""

    model_config = _REPLY

    error_code: int
    message: str = ""


class _ListedDossier(BaseModel):
    """The only keys of a listed dossier the client itself relies on."""

    model_config = ConfigDict(strict=True, extra="allow")

    MaHoSo: str = Field(min_length=1)


class DossierPage(Envelope):
    total: int = Field(alias="tongSo", ge=0)
    data: list[dict[str, Any]]


class DossierStatus(BaseModel):
    """``tinhTrangHoSo``: the portal status code (1..10), when it last changed, and the history
    entries in ``CapNhatTienDoHoSoMC`` shape."""

    model_config = _REPLY

    dossier_no: str = Field(alias="MaHoSo")
    status: int = Field(alias="TrangThaiHoSo", ge=1, le=10)
    updated: str = Field(alias="NgayCapNhat")
    history: list[dict[str, Any]] = Field(alias="QuaTrinhXuLy")


class Company(BaseModel):
    """``chiTietDoanhNghiep``: a company as the national business register holds it."""

    model_config = _REPLY

    msdn: str = Field(alias="maSoDoanhNghiep")
    name: str = Field(alias="tenDoanhNghiep")
    kind: str = Field(alias="loaiHinhDoanhNghiep")
    first_registered: str = Field(alias="ngayCapLanDau")
    address: str = Field(alias="diaChiTruSo")
    state: str = Field(alias="tinhTrang")


class _StatusReply(Envelope):
    data: DossierStatus


class _CompanyReply(Envelope):
    data: Company


class BusinessRegistrationClient:
    """One agency's (``maDonVi``) read access to the business registration system. Thread-safe."""

    def __init__(self, transport: HttpTransport, token: str, agency_code: str) -> None:
        if not (token and agency_code):
            raise ValueError("business registration needs a token (the Connection password) and an agency code")
        self.transport = transport
        self.agency_code = agency_code
        self._token = token
        self._headers = {"Authorization": f"Bearer {token}"}

    # ----------------------------------------------------------------- listing (pull-back)

    def iter_period(self, first: date, last: date, page_size: int = MAX_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Pages of dossiers last updated on a day in ``[first, last]`` (any length), walked in
        windows of at most 5 days. Arguments are checked at the call, not at the first ``next()``."""
        spans = windows(first, last, MAX_WINDOW_DAYS)
        _check_page_size(page_size)
        return (page for start, end in spans for page in self._window_pages(start, end, page_size))

    def iter_window(self, first: date, last: date, page_size: int = MAX_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Pages of one window of at most 5 days (``ValueError`` for a longer one: the ministry
        would refuse it with error 300)."""
        span = (last - first).days + 1
        if not 1 <= span <= MAX_WINDOW_DAYS:
            raise ValueError(f"a danhSachHoSo window spans 1..{MAX_WINDOW_DAYS} days, not {span}")
        _check_page_size(page_size)
        return self._window_pages(first, last, page_size)

    def _window_pages(self, first: date, last: date, page_size: int) -> Iterator[list[dict[str, Any]]]:
        def fetch(page_no: int) -> tuple[list[dict[str, Any]], int]:
            params: dict[str, str | int] = {
                "maDonVi": self.agency_code,
                "tuNgay": f"{first:%Y%m%d}",
                "denNgay": f"{last:%Y%m%d}",
                "trang": page_no,
                "soBanGhi": page_size,
            }
            page = self._get("/danhSachHoSo", "danhSachHoSo", params, DossierPage.model_validate)
            return [item for item in page.data if _ListedDossier.model_validate(item)], page.total

        return numbered_pages(fetch, page_size, "MaHoSo")

    # ----------------------------------------------------------------- lookups

    def status(self, dossier_no: str) -> DossierStatus | None:
        """Status and history of one dossier (``tinhTrangHoSo``), or None if the ministry has no such dossier."""
        params = {"maDonVi": self.agency_code, "maHoSo": dossier_no}
        return self._get("/tinhTrangHoSo", "tinhTrangHoSo", params, lambda d: _StatusReply.model_validate(d).data)

    def company(self, msdn: str) -> Company | None:
        """A company by enterprise code (``chiTietDoanhNghiep?msdn=``), or None if unknown."""
        params = {"maDonVi": self.agency_code, "msdn": msdn}
        return self._get(
            "/chiTietDoanhNghiep", "chiTietDoanhNghiep", params, lambda d: _CompanyReply.model_validate(d).data
        )

    def _get(self, path: str, operation: str, params: dict[str, str | int], parse: Callable[[Any], T]) -> T:
        """GET, then map the ministry's error code (inside the transport's retry loop, so error 500
        is retried like an HTTP 503); 201 is None for the lookups."""

        def interpret(document: Any) -> Any:
            envelope = Envelope.model_validate(document)
            if envelope.error_code == NOT_FOUND and operation != "danhSachHoSo":
                return None
            if envelope.error_code != 0:
                raise self._error(operation, envelope.error_code, envelope.message)
            return parse(document)

        return self.transport.get_json(path, operation=operation, parse=interpret, params=params, headers=self._headers)

    def _error(self, operation: str, code: int, message: str) -> Exception:
        """The taxonomy class of a ministry error code: the same class per code as the SOAP
        ministries' faults (``adapters.soap.fault_error``), so a DAG treats every ministry alike."""
        where = (self.transport.partner, operation)
        text = f"error {code}: {message or 'no message'}"
        secrets = (self._token,)
        if code == AUTH_FAILED:
            return AuthenticationError(
                *where, f"{text} -- credentials refused; check the Airflow Connection", secrets=secrets
            )
        if code == IP_NOT_ALLOWED:
            hint = "not on the ministry's allow-list; ask the ministry to allow the hub's egress address"
            return AuthenticationError(*where, f"{text} -- the hub's address is {hint}", secrets=secrets)
        if code == UNKNOWN_AGENCY:
            return PermanentError(
                *where, f"{text} -- agency code {self.agency_code} unknown; check the Connection", secrets=secrets
            )
        if code == MALFORMED:
            return ContractViolation(*where, f"{text} -- request refused as malformed", side="hub", secrets=secrets)
        if code == INTERNAL:
            return RetryableError(*where, text, secrets=secrets)
        return ContractViolation(*where, f"{text} -- error_code not in the contract", secrets=secrets)


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> BusinessRegistrationClient:
    """The client of the registry's Airflow Connection: the password is the bearer token, extra
    ``madonvi`` the agency code (``maDonVi``) the hub speaks for (the client refuses neither missing)."""
    return BusinessRegistrationClient(transport, password, extras.get("madonvi") or "")


def probe(client: BusinessRegistrationClient) -> str:
    """The first page (one dossier) of today's danhSachHoSo listing: the token and the agency code."""
    today = datetime.now(VN_TZ).date()
    page = next(iter(client.iter_window(today, today, page_size=1)), [])
    return f"danhSachHoSo answered ({'dossiers' if page else 'no dossier'} updated today)"

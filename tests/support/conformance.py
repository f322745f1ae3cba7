"""The adapter conformance harness: one declarative :class:`AdapterCase` per partner adapter.

``tests/adapters/test_conformance.py`` runs the same properties (timeouts, retries, error mapping,
idempotency, signatures, masking) over every case. A case says only what differs between partners:
how to start its signed sandbox on loopback, how to build its client on a transport, one
representative read and, for adapters that write, one write and how to count what the partner
holds. Faults are provoked the same way everywhere, through the shared fault injector
(``POST /sandbox/faults``, :mod:`sandbox.faults`) and signing modes (``POST /sandbox/signing``), so
adding an adapter is adding one case to :data:`CASES`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import requests

from adapters.city_data_portal.client import CkanClient, UploadFile
from adapters.city_system.client import CitySystemClient
from adapters.errors import AdapterError
from adapters.exchange import ExchangeHook
from adapters.ihanoi.client import IHaNoiClient
from adapters.ministry.client import MinistryClient
from adapters.ministry.contract import contract_of
from adapters.national_portal.client import NationalPortalClient
from adapters.payment_platform.client import PaymentClient
from adapters.population_db.client import IdentityQuery, LookupPurpose, PopulationDbClient
from adapters.portal_scoreboard.client import ScoreboardClient, ScorePeriod
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap import SoapTransport
from adapters.transport import HttpTransport
from mappings.city_system import to_canonical
from mappings.dossier import VN_TZ, Dossier
from mappings.identity import BirthDate
from mappings.ihanoi import DossierEvent, EventCode, notification
from mappings.national_portal import to_dong_bo_ho_so
from sandbox.city_data_portal.app import create_app as create_data_portal
from sandbox.city_system.app import create_app as create_city
from sandbox.city_system.generator import generate
from sandbox.ihanoi.app import create_app as create_ihanoi
from sandbox.national_portal.app import create_app as create_portal
from sandbox.payment_platform.app import create_app as create_payment_platform
from sandbox.payment_platform.app import day_transactions
from sandbox.population_db.registry import applicants_of
from sandbox.portal_scoreboard.app import create_app as create_scoreboard
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from sandbox.social_insurance.store import insurance_number
from sandbox.tables import tables
from signing.pki import DevPki
from tests.support import ministry_sandboxes, population_sandbox, postal_sandboxes
from tests.support.population_sandbox import AuditList
from tests.support.postal_sandboxes import CarrierRig

__all__ = ["CASES", "JSON_REFUSALS", "XML_REFUSALS", "AdapterCase", "Partner", "connect"]

DAY, SCALE, SEED = date(2026, 11, 20), 0.02, 7
AGENCY = "000.00.00.H26"  # the provincial People's Committee: every simulator lets it call
UNKNOWN_AGENCY = "000.00.99.H26"
OFFICER = "hub-airflow"
# Fast backoff so retry tests take milliseconds; the timeout test sets its own read timeout.
FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0, "max_attempts": 3}
NO_FAULTS: dict[str, Any] = {"latency_ms": 0, "error_rate": 0, "timeout_rate": 0, "fail_next": 0, "malformed_rate": 0}
HTTP_503: dict[str, dict[str, Any]] = {"http_503": {"fail_next": 1000}}
SOAP_SERVER_FAULTS = {**HTTP_503, "soap_server_fault": {"soap_fault_rate": 1.0}}

# What the hub says when it refuses a reply, by sandbox signing mode (docs/security.md).
JSON_REFUSALS = {
    "unsigned": "carries no signature",
    "tampered": "does not match the payload bytes",
    "expired": "expired on",
    "wrong_ca": "is not in the trust store",
    "other_partner": "which may not sign for",
    "hub": "which may not sign for",
}
XML_REFUSALS = {
    "unsigned": "no ds:Signature",
    "tampered": "digest mismatch",
    "expired": "expired on",
    "wrong_ca": "is not in the trust store",
    "other_partner": "which may not sign for",
    "hub": "which may not sign for",
    "wrapped": "not a child of the document root",
}


@dataclass
class Partner:
    """A running, signing sandbox and what its case prepared: the credential the client must use,
    the headers its sandbox-only endpoints want, and writes no test has sent yet."""

    server: RunningServer
    signing: PartnerSigning | None  # None: the partner signs nothing (Viettel Post)
    secret: str
    control_headers: dict[str, str] = field(default_factory=dict)
    writes: Iterator[Any] = field(default_factory=lambda: iter(()))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str) -> Any:
        reply = requests.get(f"{self.url}{path}", headers=self.control_headers, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def faults(self, **changes: Any) -> None:
        reply = requests.post(f"{self.url}/sandbox/faults", json=changes, headers=self.control_headers, timeout=10)
        reply.raise_for_status()

    def reset(self) -> None:
        """No faults, valid signatures: the state every test starts from."""
        xml = self.signing is not None and self.signing.xml
        self.faults(**NO_FAULTS, **({"soap_fault_rate": 0.0} if xml else {}))
        if self.signing is not None:
            self.signing.set_mode("valid")

    def next_write(self) -> Any:
        """A write no test has sent yet (so each test sees its own effect at the partner)."""
        return next(self.writes)


@dataclass(frozen=True)
class AdapterCase:
    """One adapter, described by what the conformance properties need of it.

    - ``start(folder, pki, secret)``: its sandbox, signing with its own dev-PKI certificate, data loaded;
    - ``connect(transport, secret, agency)``: the client, built on ``transport``;
    - ``read(client, partner)``: one representative call that reads (and gets a signed reply);
    - ``read_numbers(partner, result)``: the full citizen IDs / phone numbers that read carried or
      its reply echoed -- none may appear in a log line or an error message;
    - ``write(client, item)``/``write_numbers(item)``/``held(partner)``: for adapters that write, one
      write of ``partner.next_write()``, the numbers it carries, and how many writes the partner
      holds (``None``: the adapter only reads; ``read_only`` says why that is the whole story);
    - ``server_faults``: how to make the partner fail on its side, by kind (retryable);
    - ``unsigned``: for a partner outside the signing regime, why (its client then neither signs
      nor verifies, as its hook configures it).
    """

    name: str
    transport_class: type[HttpTransport]
    start: Callable[[Path, DevPki, str], Partner]
    connect: Callable[[HttpTransport, str, str], Any]
    read: Callable[[Any, Partner], Any]
    read_numbers: Callable[[Partner, Any], list[str]]
    write: Callable[[Any, Any], Any] | None = None
    write_numbers: Callable[[Any], list[str]] = lambda _item: []
    held: Callable[[Partner], int] | None = None
    read_only: str = ""
    agency_scoped: bool = True
    unscoped: str = ""  # why a partner without agency scoping has none (the skip reason)
    unknown_unit_code: str = "106"  # the partner's code for a unit it does not know
    unsigned: str = ""  # why the partner signs nothing (then no signature property applies)
    public: str = ""  # why the partner takes no credentials and carries no personal data (a public API)
    impersonal: str = ""  # why a partner with credentials carries no personal number at all (nothing to mask)
    server_faults: Mapping[str, dict[str, Any]] = field(default_factory=lambda: HTTP_503)

    @property
    def xml(self) -> bool:
        return issubclass(self.transport_class, SoapTransport)

    @property
    def refusals(self) -> dict[str, str]:
        if self.unsigned:
            return {}
        return XML_REFUSALS if self.xml else JSON_REFUSALS

    def __str__(self) -> str:
        return self.name


def connect(
    case: AdapterCase,
    partner: Partner,
    pki: DevPki,
    *,
    on_exchange: ExchangeHook | None = None,
    secret: str | None = None,
    agency: str = AGENCY,
    **settings: Any,
) -> Any:
    """The case's client against its running sandbox: signing requests with the hub's dev key and
    verifying replies against the dev trust store, as the hooks configure it."""
    transport = case.transport_class(
        case.name,
        TransportSettings(base_url=partner.url, **{**FAST, **settings}),
        on_exchange=on_exchange,
        signatures=MessageSignatures() if case.unsigned else MessageSignatures(pki.identity("hub"), pki.trust_store()),
    )
    return case.connect(transport, partner.secret if secret is None else secret, agency)


def _numbers(*values: Any) -> list[str]:
    """The full personal numbers among ``values`` (12-digit citizen IDs, 10-digit phones)."""
    return [str(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) in (10, 12)]


def _citizen_records() -> list[dict[str, Any]]:
    """City records of the day whose applicant is a citizen with a full ID and a phone number."""
    generated = generate(DAY, SCALE, SEED)
    return [
        r
        for r in generated.records
        if r["id"] not in generated.defects
        and r["chu_ho_so"]["loai"] == "CONG_DAN"
        and _numbers(r["chu_ho_so"]["so_giay_to"])
        and _numbers(r["chu_ho_so"]["dien_thoai"])
    ]


# ------------------------------------------------------------------------------------------ city system


def _start_city(folder: Path, pki: DevPki, secret: str) -> Partner:
    signing = PartnerSigning(pki, "city_system")
    app = create_city(folder / "city.db", secret, signing=signing)
    app.state.store.load_day(DAY, SCALE, SEED)
    return Partner(serve_in_thread(app), signing, secret, control_headers={"Authorization": f"Bearer {secret}"})


def _city_read(client: CitySystemClient, _partner: Partner) -> list[dict[str, Any]]:
    start = datetime.combine(DAY, time(), VN_TZ)
    return next(client.iter_changes(start, start + timedelta(days=1), page_size=50))


def _applicant_numbers(records: list[dict[str, Any]], key: str, id_key: str, phone_key: str) -> list[str]:
    return [n for r in records for n in _numbers((r.get(key) or {}).get(id_key), (r.get(key) or {}).get(phone_key))]


CITY = AdapterCase(
    name="city_system",
    transport_class=HttpTransport,
    start=_start_city,
    connect=lambda transport, secret, _agency: CitySystemClient(transport, secret),
    read=_city_read,
    read_numbers=lambda _p, page: _applicant_numbers(page, "chu_ho_so", "so_giay_to", "dien_thoai"),
    read_only="the hub only reads the city change feed; a repeated read changes nothing there",
    agency_scoped=False,
)


# ------------------------------------------------------------------------------------------ national portal


def _portal_records() -> list[dict[str, Any]]:
    """DongBoHoSoMC records the portal stores (procedures it integrates), as the hub maps them."""
    code_tables = tables()
    records = []
    for record in _citizen_records():
        procedure = code_tables.procedures.get(record["ma_tthc"], DAY)
        if procedure is not None and procedure.integrated_on_portal:
            records.append(to_dong_bo_ho_so(to_canonical(record, code_tables), code_tables))
    return records


def _start_portal(folder: Path, pki: DevPki, secret: str) -> Partner:
    signing = PartnerSigning(pki, "national_portal")
    agencies = sorted({row.code for row in tables().agencies.all_rows()})
    app = create_portal(folder / "portal.db", OFFICER, secret, agencies, signing=signing)
    return Partner(serve_in_thread(app), signing, secret, writes=iter(_portal_records()))


def _portal_write(client: NationalPortalClient, record: dict[str, Any]) -> Any:
    (result,) = client.sync_dossiers([record], updating=False)
    return result


PORTAL = AdapterCase(
    name="national_portal",
    transport_class=HttpTransport,
    start=_start_portal,
    connect=lambda transport, secret, agency: NationalPortalClient(transport, OFFICER, secret, agency),
    read=lambda client, _p: client.list_agencies(),
    read_numbers=lambda _p, _agencies: [],  # the catalogue holds no personal data; the write does
    write=_portal_write,
    write_numbers=lambda record: _numbers(record["SoGiayToChuHoSo"], record["SoDienThoai"]),
    held=lambda partner: partner.get("/sandbox/stats")["held"]["dossiers"],
)


# ------------------------------------------------------------------------------------------ ministries


def _ministry_start(partner: str, **extra: Any) -> Callable[[Path, DevPki, str], Partner]:
    """A ministry's double (any of ``adapters/ministry/contracts``), its generated day loaded."""

    def start(folder: Path, pki: DevPki, secret: str) -> Partner:
        signing = PartnerSigning(pki, partner)
        app = ministry_sandboxes.start(partner, folder, signing, DAY, DAY, SCALE, SEED, token=secret)
        return Partner(serve_in_thread(app), signing, secret, **extra)

    return start


def _ministry_connect(partner: str) -> Callable[[HttpTransport, str, str], Any]:
    """The generic client on the partner's contract; an agency other than the hub's is a wrong unit."""

    def connect(transport: HttpTransport, secret: str, agency: str) -> MinistryClient:
        extras = {name: ("01" if agency == AGENCY else "99") for name in contract_of(partner).extras}
        login = ministry_sandboxes.LOGINS.get(partner, "")
        return MinistryClient(transport, contract_of(partner), secret, extras, login=login)

    return connect


def _pulled_numbers(pages: list[list[dict[str, Any]]]) -> list[str]:
    """The personal numbers pulled records carry, mapped or as the ministry sent them."""
    records = [record for page in pages for record in page]
    return [n for r in records for n in _numbers(r.get("SoGiayToChuHoSo"), *(r.get("BanGhiBo") or {}).values())]


BUSINESS_REGISTRATION = AdapterCase(
    name="business_registration",
    transport_class=HttpTransport,
    start=_ministry_start("business_registration"),
    connect=_ministry_connect("business_registration"),
    read=lambda client, _p: [next(client.iter_window(DAY, DAY))],
    read_numbers=lambda _p, pages: _pulled_numbers(pages),
    read_only="the hub only reads the business register (danhSachHoSo, tinhTrangHoSo, chiTietDoanhNghiep)",
    agency_scoped=False,
)


# ------------------------------------------------------------------------------------------ population database


def _start_population_db(folder: Path, pki: DevPki, _secret: str) -> Partner:
    """The population tests' own sandbox (its data and credentials): one register for both suites.
    The credential the bad-credentials property replaces is the LGSP secret key."""
    sandbox = population_sandbox.start(folder, pki)
    applicant = sandbox.applicant("match")
    return Partner(sandbox.server, sandbox.signing, population_sandbox.SECRET_KEY, extra={"applicant": applicant})


def _population_read(client: PopulationDbClient, partner: Partner) -> Any:
    applicant = partner.extra["applicant"]
    query = IdentityQuery(applicant["so_dinh_danh"], applicant["ho_ten"], BirthDate.parse(applicant["ngay_sinh"]))
    purpose = LookupPurpose(applicant["ma_ho_so"], "xác thực người nộp hồ sơ", population_sandbox.PROCEDURE)
    return client.lookup(query, purpose, AuditList())


def _population_connect(transport: HttpTransport, secret: str, _agency: str) -> PopulationDbClient:
    """The client with its LGSP token already fetched, outside the exchange report: like the portal's
    session, the token call is not the read the properties are about (a wrong secret still fails
    the read's own token call)."""
    if not isinstance(transport, SoapTransport):
        raise TypeError("the population database needs a SoapTransport")
    client = population_sandbox.client_on(transport, secret_key=secret)
    hook, transport.on_exchange = transport.on_exchange, None
    try:
        client.access_token()
    except AdapterError:
        pass
    finally:
        transport.on_exchange = hook
    return client


POPULATION_DB = AdapterCase(
    name="population_db",
    transport_class=SoapTransport,
    start=_start_population_db,
    connect=_population_connect,
    read=_population_read,
    read_numbers=lambda partner, _result: [partner.extra["applicant"]["so_dinh_danh"]],
    read_only="citizen lookup only reads the population register",
    agency_scoped=False,
    unscoped=(
        "population_db is scoped by procedure (MaDVC, refusal 004) and officer (AuthHash, refusal 005), "
        "not by agency: tests/adapters/population_db covers both refusals"
    ),
    server_faults=SOAP_SERVER_FAULTS,
)


# ------------------------------------------------------------------------------------------ civil status


def _civil_status_dossiers() -> list[Dossier]:
    code_tables = tables()
    return [to_canonical(r, code_tables) for r in _citizen_records() if r["ma_linh_vuc"] == "HT"]


CIVIL_STATUS = AdapterCase(
    name="civil_status",
    transport_class=HttpTransport,
    start=lambda folder, pki, secret: _ministry_start("civil_status", writes=iter(_civil_status_dossiers()))(
        folder, pki, secret
    ),
    connect=_ministry_connect("civil_status"),
    read=lambda client, _p: list(client.iter_window(DAY, DAY)),
    read_numbers=lambda _p, pages: _pulled_numbers(pages),
    write=lambda client, dossier: client.register(dossier),
    write_numbers=lambda dossier: _numbers(dossier.applicant_id_no, dossier.phone),
    held=lambda partner: partner.get("/sandbox/summary")["sent"],
    unknown_unit_code="108",  # the province its detail service names (PROVINCE_ID_INCORRECT)
)


# ------------------------------------------------------------------------------------------ social insurance


def _start_social_insurance(folder: Path, pki: DevPki, secret: str) -> Partner:
    applicant = next(iter(applicants_of(DAY, SCALE, SEED)))
    return _ministry_start("social_insurance", extra={"applicant": applicant})(folder, pki, secret)


SOCIAL_INSURANCE = AdapterCase(
    name="social_insurance",
    transport_class=HttpTransport,
    start=_start_social_insurance,
    connect=_ministry_connect("social_insurance"),
    read=lambda client, partner: client.lookup(
        "household", maSoBhxh=insurance_number(partner.extra["applicant"].citizen_id)
    ),
    read_numbers=lambda partner, _members: [
        partner.extra["applicant"].citizen_id,
        insurance_number(partner.extra["applicant"].citizen_id),
    ],
    read_only="household and number lookups only read the social-insurance register",
    agency_scoped=False,
)


def _pull_back_case(partner: str, read_only: str, **options: Any) -> AdapterCase:
    """A ministry the hub only pulls back from (its contract's listing, one window)."""
    return AdapterCase(
        name=partner,
        transport_class=HttpTransport,
        start=_ministry_start(partner),
        connect=_ministry_connect(partner),
        read=lambda client, _p: [next(client.iter_window(DAY, DAY))],
        read_numbers=lambda _p, pages: _pulled_numbers(pages),
        read_only=read_only,
        **options,
    )


DRIVING_LICENCE = _pull_back_case(
    "driving_licence",
    "the hub only reads the licensing system (DanhSachHoSo, TraCuuHoSo)",
    unknown_unit_code="-303",  # the unit every call names (donViXuLy)
)
LAND_REGISTRATION = _pull_back_case(
    "land_registration",
    "the hub only reads VBDLIS's (assumed) dossier listing; its callbacks are not built yet (interfaces 7.7)",
    agency_scoped=False,
    unscoped="the assumed VBDLIS listing names the province (TinhId, refusal 106) as a constant of the contract",
)
UNEMPLOYMENT_BENEFIT = _pull_back_case(
    "unemployment_benefit",
    "the hub only reads the unemployment-benefit listing",
    unknown_unit_code="106",  # the province code the Connection names (ma_tinh)
)
CERTIFICATION = _pull_back_case(
    "certification",
    "the hub only reads the electronic certification listing",
    agency_scoped=False,
    unscoped="the assumed certification listing names no unit: the token is the connection's scope",
)


# ------------------------------------------------------------------------------------------ postal carriers


def _carrier_start(rig: CarrierRig) -> Callable[[Path, DevPki, str], Partner]:
    """Its sandbox with one order already placed (what the read tracks), and fresh orders to write."""

    def start(folder: Path, pki: DevPki, secret: str) -> Partner:
        sandbox = rig.start(folder, pki, secret)
        client = rig.connect(sandbox, pki, secret)
        placed = client.create_order(rig.order(0))
        client.close()
        orders = (rig.order(n) for n in itertools.count(1))
        return Partner(sandbox.server, sandbox.signing, secret, writes=orders, extra={"placed": placed})

    return start


def _carrier_case(rig: CarrierRig, **options: Any) -> AdapterCase:
    return AdapterCase(
        name=rig.name,
        transport_class=HttpTransport,
        start=_carrier_start(rig),
        connect=lambda transport, secret, _agency: rig.client(transport, secret),
        read=lambda client, partner: rig.follow(client, [partner.extra["placed"]]),
        read_numbers=lambda _p, _histories: [],  # tracking carries codes and times; the order carries phones
        write=lambda client, order: client.create_order(order),
        write_numbers=lambda order: _numbers(order.receiver.phone, order.sender.phone),
        held=lambda partner: partner.get("/sandbox/stats")["held"]["orders"],
        agency_scoped=False,
        **options,
    )


# ------------------------------------------------------------------------------------------ portal scoreboard


def _start_scoreboard(folder: Path, pki: DevPki, secret: str) -> Partner:
    app = create_scoreboard([("000.00.01.H26", "Văn phòng")], seed=SEED)
    return Partner(serve_in_thread(app), None, secret)


SCOREBOARD = AdapterCase(
    name="portal_scoreboard",
    transport_class=HttpTransport,
    start=_start_scoreboard,
    connect=lambda transport, _secret, _agency: ScoreboardClient(transport, pause_s=0.0),
    read=lambda client, _partner: client.service_results(ScorePeriod("quarter", 2026, 4), refresh=True),
    read_numbers=lambda _partner, _rows: [],
    read_only="the scoreboard is a public, read-only API",
    agency_scoped=False,
    unsigned="the portal's public scoreboard signs nothing",
    public="a public API: no credentials to refuse, no personal data to mask (province scores only)",
)

# ------------------------------------------------------------------------------------------ payment platform

PAYMENT_CODE = "HNI-TTHC"


def _start_payment_platform(folder: Path, pki: DevPki, secret: str) -> Partner:
    transactions, _ = day_transactions(DAY, SCALE, SEED)
    app = create_payment_platform(PAYMENT_CODE, secret, transactions, token=secret)
    return Partner(serve_in_thread(app), None, secret)


PAYMENT_PLATFORM = AdapterCase(
    name="payment_platform",
    transport_class=HttpTransport,
    start=_start_payment_platform,
    # the case's one credential is both the bearer token and the MaXacThuc key
    connect=lambda transport, secret, _agency: PaymentClient(transport, PAYMENT_CODE, secret, secret),
    read=lambda client, _partner: client.transactions(DAY),
    read_numbers=lambda _partner, _rows: [],  # references, dossier numbers, amounts: nothing personal
    read_only="the hub's runs only read the platform (LIST, QUERY, GET_BILL); a citizen's INIT is tested "
    "in tests/adapters/payment_platform",
    agency_scoped=False,
    unscoped="the platform scopes by the partner code MaXacThuc covers: a wrong one is the credentials case",
    unsigned="the platform signs nothing; its confirmations carry a checksum the hub's receiver verifies",
    impersonal="the hub sends the platform no payer's name or ID (H sends SoCMNDNguoiNop; the hub leaves it out) "
    "and reads back references, dossier numbers and amounts",
)

# ------------------------------------------------------------------------------------------ iHaNoi


def _ihanoi_notifications() -> Iterator[dict[str, Any]]:
    """A new notification per write: the day's citizens told their dossier has a result."""
    for n, record in enumerate(itertools.cycle(_citizen_records())):
        event = DossierEvent(record["ma_ho_so"], EventCode.RESULT_READY, datetime.combine(DAY, time(10), VN_TZ))
        yield notification(f"conformance-{n:06d}", record["chu_ho_so"]["so_giay_to"], event)


def _start_ihanoi(folder: Path, pki: DevPki, secret: str) -> Partner:
    return Partner(serve_in_thread(create_ihanoi(secret)), None, secret, writes=_ihanoi_notifications())


IHANOI = AdapterCase(
    name="ihanoi",
    transport_class=HttpTransport,
    start=_start_ihanoi,
    connect=lambda transport, secret, _agency: IHaNoiClient(transport, secret),
    read=lambda client, _partner: client.event_codes(),
    read_numbers=lambda _partner, _codes: [],  # the code list names nobody; the push names its recipient
    write=lambda client, body: client.notify(body),
    write_numbers=lambda body: _numbers(body["recipient_id"]),
    held=lambda partner: partner.get("/sandbox/stats")["held"]["notifications"],
    agency_scoped=False,
    unscoped="the (assumed) iHaNoi API knows the city by its API key alone: no unit is named in a call",
    unsigned="iHaNoi's API is an assumed contract without signatures (docs/interfaces.md, iHaNoi notifications)",
)

# ------------------------------------------------------------------------------------------ city data portal

DATA_PORTAL_ORG = "ubnd-thanh-pho-ha-noi"


def _data_portal_months() -> Iterator[tuple[dict[str, Any], list[UploadFile]]]:
    """A fresh month's package per write: its fields and one small CSV resource."""
    for n in itertools.count(1):
        name = f"ho-so-tthc-ha-noi-{2000 + n}-01"
        table = UploadFile(
            "bang.csv", f"bang-{n}.csv", "text/csv", "CSV", "counts", f"so_ho_so\r\n{n + 10}\r\n".encode()
        )
        yield {"name": name, "title": f"Tháng 01/{2000 + n}"}, [table]


def _start_data_portal(folder: Path, pki: DevPki, secret: str) -> Partner:
    del folder, pki  # the portal keeps its state in memory and signs nothing
    server = serve_in_thread(create_data_portal(secret, DATA_PORTAL_ORG))
    partner = Partner(server, None, secret, writes=_data_portal_months())
    client = CkanClient(HttpTransport(DATA_PORTAL, TransportSettings(base_url=server.url)), secret, DATA_PORTAL_ORG)
    fields, files = next(_data_portal_months())
    # What the read finds: a private package, so that, as on CKAN, only the token reads it (a public
    # one is served to anyone, a wrong token being no user: the credentials property needs a refusal).
    client.publish({**fields, "name": "ho-so-tthc-ha-noi-1999-12", "private": True}, files)
    client.close()
    return partner


DATA_PORTAL = "city_data_portal"
CITY_DATA_PORTAL = AdapterCase(
    name=DATA_PORTAL,
    transport_class=HttpTransport,
    start=_start_data_portal,
    connect=lambda transport, secret, _agency: CkanClient(transport, secret, DATA_PORTAL_ORG),
    read=lambda client, _partner: client.package_show("ho-so-tthc-ha-noi-1999-12"),
    read_numbers=lambda _partner, _package: [],
    write=lambda client, item: client.publish(*item),
    held=lambda partner: partner.get("/sandbox/stats")["held"]["resources"],
    agency_scoped=False,
    unscoped="the portal scopes by organization (owner_org, a Validation Error when unknown): tested in "
    "tests/sandbox/city_data_portal",
    unsigned="CKAN signs nothing and checks no signature; its API token is the authentication",
    impersonal="the hub publishes aggregate counts only: tests/quality/open_data scans every published file",
)

VNPOST = _carrier_case(postal_sandboxes.VNPOST)
VIETTEL_POST = _carrier_case(
    postal_sandboxes.VIETTEL_POST,
    unsigned="Viettel Post is outside the LGSP and signs nothing; its login token is the authentication",
)

CASES: tuple[AdapterCase, ...] = (
    CITY, PORTAL, BUSINESS_REGISTRATION, POPULATION_DB, CIVIL_STATUS, SOCIAL_INSURANCE, DRIVING_LICENCE,
    LAND_REGISTRATION, UNEMPLOYMENT_BENEFIT, CERTIFICATION, VNPOST, VIETTEL_POST, SCOREBOARD, PAYMENT_PLATFORM, IHANOI,
    CITY_DATA_PORTAL,
)  # fmt: skip
SERVER_FAULT_KINDS = tuple(dict.fromkeys(itertools.chain.from_iterable(c.server_faults for c in CASES)))

"""Every partner of the hub, declared once: what hooks, pools, the dev PKI, the sandbox, the DAGs,
the CLI, the report and the deployment files need to know about it.

A partner's id is its Airflow Connection id, its pool's name, its dev-PKI identity and its key in
the sandbox state, so adding a partner is its own folders (adapter, sandbox double, mapping,
tests) plus one :class:`Partner` below; nothing else enumerates partners.

The DAG files read this module while the scheduler parses them, so it stays light: standard
library only, and the client factory and sandbox double are dotted paths (``module:attribute``)
resolved on use. ``tests/dags/test_integrity.py`` holds it to that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Flow = Literal[
    "city_source",
    "portal",
    "identity",
    "ministry_pull",
    "ministry_push",
    "carrier",
    "scoreboard",
    "payment",
    "notify",
    "open_data",
]
"""What the hub does with a partner: extract from the city system, deliver to the portal, check
people (population register, insurer), pull back what a ministry processed on its own software,
push interconnected dossiers to a ministry, send results home by post, read how the portal scores
the city (Decision 766), match the fees paid on the portal's payment platform to the dossiers,
tell citizens on their app what became of their dossier, publish the month's open data on the city
data portal."""

Transport = Literal["REST", "SOAP"]
Login = Literal["token", "account", "none"]
"""How a Connection authenticates: a bearer token as its password (empty login), login and password,
or not at all (a public API: the Connection carries only the URL and extras)."""


@dataclass(frozen=True)
class Pool:
    """The Airflow pool (named as the partner) capping concurrent calls to it across all workers."""

    slots: int
    description: str


@dataclass(frozen=True)
class SignerPin:
    """The certificate that may sign for a partner: its subject (an RFC 4514 name) and the SHA-256
    (hex) of its public key (the SubjectPublicKeyInfo DER, as RFC 7469 pins) or the subject of the
    CA that must have issued it.

    A trust store says only that a certificate is genuine; this says whose it is. Without it, a
    reply signed by any trusted certificate -- another partner's, or the hub's own -- would pass
    for the partner's (issue 17). A deployment names the partner's real certificate with the
    Connection extras ``signer_subject``, ``signer_key_sha256`` and ``signer_issuer``
    (:meth:`adapters.settings.TransportSettings.signer_pin`); the entries below name the ones the
    development PKI (``signing/pki.py``) issues.
    """

    subject: str
    key_sha256: str | None = None
    issuer: str | None = None


_DEV_NAME = "O=Hanoi Dossier Hub DEV - NOT FOR PRODUCTION,L=Hà Nội,C=VN"
_DEV_ISSUER = f"CN=Hanoi Hub DEV Issuing CA - DEV ONLY - NOT FOR PRODUCTION,{_DEV_NAME}"


def dev_signer(partner_id: str) -> SignerPin:
    """The signing certificate ``hub pki init`` issues a partner: its own subject, the dev issuing CA."""
    return SignerPin(subject=f"CN={partner_id} DEV signing,OU={partner_id},{_DEV_NAME}", issuer=_DEV_ISSUER)


@dataclass(frozen=True)
class Partner:
    """One external system, as every layer of the hub sees it."""

    id: str
    name_vi: str
    name_en: str
    flows: frozenset[Flow]
    transport: Transport
    client_factory: str
    """``module:function`` in its own adapter package building its client from a Connection's parts:
    ``(transport, login, password, extras) -> client``, where the transport is already the one its
    :attr:`transport` and :attr:`signed` call for and ``extras`` holds only its :attr:`extras`. A
    ValueError names what the Connection lacks. :class:`adapters.hooks.PartnerHook` calls it."""
    sandbox: str
    """``module:function`` building its sandbox double from a :class:`sandbox.doubles.DoubleContext`."""
    login: Login
    extras: tuple[str, ...] = ()
    """Connection extras its client reads, beside the transport settings (``timeout``, ...)."""
    signed: bool = True
    """The hub signs its requests (and may verify replies); False for a partner outside signing altogether."""
    replies_signed: bool = False
    """The partner is shown to sign its replies, so the hub verifies them by default. No public LGSP
    partner client checks a reply signature (EVIDENCE.md, docs/interfaces.md 2.3, 2.9), so none is;
    the Connection extra ``verify_replies=true`` turns verification on (the sandbox tests that
    exercise signed replies do). The hub seals what it sent and received in its message log either way."""
    signer: SignerPin | None = None
    """The certificate its signed replies must carry (None: it signs nothing the hub checks)."""
    pool: Pool | None = None
    sandbox_account: str = "hub-sandbox"
    """The login the sandbox gives the hub (VNPost's is an LGSP consumer key, so it looks like one)."""
    probe: str | None = None
    """``module:function`` in its adapter package: ``(client) -> str``, its cheapest read call -- a
    login, a catalogue or an empty listing -- saying in a few words what answered; what
    ``hub connections test`` calls. None where every operation reads a person's data: a probe would
    be a lookup of a citizen nobody asked for (and audited as one)."""
    read_only: bool = False
    """The hub only reads from it: every call -- a POST carrying a SOAP query included -- is a query,
    so a call whose reply was lost changed nothing there and its unknown outcome needs no looking
    into (``hub.pipeline.message_log`` resolves it at once, as it does a safe method's). False for
    every partner the hub writes to (the portal, the ministries it pushes to, the carriers)."""

    def name(self, language: str) -> str:
        """Its display name in the report's languages (``vi``, ``en``)."""
        return {"vi": self.name_vi, "en": self.name_en}[language]

    @property
    def connection_variable(self) -> str:
        """The environment variable Airflow reads its Connection from."""
        return f"AIRFLOW_CONN_{self.id.upper()}"

    @property
    def pushes(self) -> bool:
        return "ministry_push" in self.flows

    def factory(self) -> Callable[[Any, str, str, Mapping[str, Any]], Any]:
        """Its :attr:`client_factory` (imports the client: only where a client is built)."""
        return _resolve(self.client_factory)

    def sandbox_double(self) -> Any:
        """The function building its sandbox double."""
        return _resolve(self.sandbox)

    def probe_call(self) -> Callable[[Any], str] | None:
        """Its :attr:`probe` (imports the adapter), or None when it has none."""
        return _resolve(self.probe) if self.probe else None


_LGSP_SOAP = ("madonvi", "macanbo")  # agency code (MaDVC) and officer id (MaCanBo) every SOAP call names
# Every ministry system is one generic client reading the ministry's declarative contract
# (adapters/ministry/contracts/<id>.yaml, found by the partner id): docs/architecture.md, "Adding a ministry".
_MINISTRY_CLIENT = "adapters.ministry.client:from_connection"

PARTNERS: tuple[Partner, ...] = (
    Partner(
        id="city_system",
        name_vi="Hệ thống giải quyết TTHC Thành phố",
        name_en="City dossier system",
        flows=frozenset({"city_source"}),
        transport="REST",
        client_factory="adapters.city_system.client:from_connection",
        sandbox="sandbox.city_system.app:double",
        login="token",
        signer=dev_signer("city_system"),
        pool=Pool(2, "Concurrent calls to the city dossier system"),
        probe="adapters.city_system.client:probe",
        read_only=True,
    ),
    Partner(
        id="national_portal",
        name_vi="Cổng Dịch vụ công quốc gia",
        name_en="National public-service portal",
        flows=frozenset({"portal"}),
        transport="REST",
        client_factory="adapters.national_portal.client:from_connection",
        sandbox="sandbox.national_portal.app:double",
        login="account",
        # madonvi, then the three adapter paths, the dstcode header and the records per call (ledger 2.2, 2.4)
        extras=("madonvi", "auth_endpoint", "integration_endpoint", "share_endpoint", "dstcode", "batch_size"),
        signer=dev_signer("national_portal"),
        pool=Pool(2, "Concurrent calls to the national portal (LGSP adapter)"),
        probe="adapters.national_portal.client:probe",
    ),
    Partner(
        id="business_registration",
        name_vi="Hệ thống đăng ký doanh nghiệp",
        name_en="Business registration system",
        flows=frozenset({"ministry_pull"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.business_registration.app:double",
        login="token",
        signer=dev_signer("business_registration"),
        pool=Pool(1, "Concurrent calls to the national business registration system (REST)"),
        probe="adapters.ministry.client:probe",
        read_only=True,
    ),
    Partner(
        id="population_db",
        name_vi="Cơ sở dữ liệu quốc gia về dân cư",
        name_en="National population database",
        flows=frozenset({"identity"}),
        transport="SOAP",
        client_factory="adapters.population_db.client:from_connection",
        sandbox="sandbox.population_db.app:double",
        login="account",  # the LGSP access key and secret key
        # the officer's unit (MaDonVi), code (MaCanBo) and key secret (AuthHash), the LGSP partner code
        # (docs/interfaces.md 5.1)
        extras=(*_LGSP_SOAP, "officer_secret", "partner_code", "cache_ttl_s"),
        signer=dev_signer("population_db"),
        pool=Pool(2, "Concurrent batch tasks calling the population database (SOAP), each with a few calls in flight"),
        probe=None,  # every operation looks up a citizen
        read_only=True,
    ),
    Partner(
        id="civil_status",
        name_vi="Bộ Tư pháp (hộ tịch)",
        name_en="Ministry of Justice (civil status)",
        flows=frozenset({"ministry_pull", "ministry_push"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.civil_status.app:double",
        login="token",
        extras=("ma_tinh",),  # the province code its detail service names (docs/interfaces.md 7.2)
        signer=dev_signer("civil_status"),
        pool=Pool(2, "Concurrent calls to the civil-status system (Ministry of Justice, REST via the NGSP)"),
        probe="adapters.ministry.client:probe",
    ),
    Partner(
        id="driving_licence",
        name_vi="Hệ thống cấp, đổi giấy phép lái xe",
        name_en="Driving-licence system",
        flows=frozenset({"ministry_pull"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.driving_licence.app:double",
        login="account",  # the session API's account: /mapi/login opens the session (docs/interfaces.md 7.6)
        extras=("don_vi_xu_ly",),  # the unit every call names (donViXuLy)
        signer=dev_signer("driving_licence"),
        pool=Pool(1, "Concurrent calls to the driving-licence system (session API via the NGSP)"),
        probe="adapters.ministry.client:probe",
        read_only=True,
    ),
    Partner(
        id="land_registration",
        name_vi="Hệ thống thông tin đất đai VBDLIS",
        name_en="VBDLIS land registration system",
        flows=frozenset({"ministry_pull"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.land_registration.app:double",
        login="token",
        extras=("callback_security_code",),  # the code its callbacks carry (hub webhooks serve --vbdlis)
        signer=dev_signer("land_registration"),
        pool=Pool(1, "Concurrent calls to the VBDLIS land registration system (REST)"),
        probe="adapters.ministry.client:probe",
        read_only=True,
    ),
    Partner(
        id="unemployment_benefit",
        name_vi="Hệ thống giải quyết trợ cấp thất nghiệp",
        name_en="Unemployment-benefit system",
        flows=frozenset({"ministry_pull"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.unemployment_benefit.app:double",
        login="token",
        extras=("ma_tinh",),  # the province code its listing names (an assumed contract: 7.8)
        signer=dev_signer("unemployment_benefit"),
        pool=Pool(1, "Concurrent calls to the unemployment-benefit system (REST via the NGSP)"),
        probe="adapters.ministry.client:probe",
        read_only=True,
    ),
    Partner(
        id="certification",
        name_vi="Hệ thống chứng thực bản sao điện tử",
        name_en="Electronic certification system",
        flows=frozenset({"ministry_pull"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.certification.app:double",
        login="token",
        signer=dev_signer("certification"),
        pool=Pool(1, "Concurrent calls to the electronic certification system (REST via the NGSP)"),
        probe="adapters.ministry.client:probe",
        read_only=True,
    ),
    Partner(
        id="social_insurance",
        name_vi="Bảo hiểm xã hội Việt Nam",
        name_en="Viet Nam Social Security",
        flows=frozenset({"identity"}),
        transport="REST",
        client_factory=_MINISTRY_CLIENT,
        sandbox="sandbox.social_insurance.app:double",
        login="token",
        signer=dev_signer("social_insurance"),
        probe=None,  # every operation looks up a citizen
        read_only=True,
    ),
    Partner(
        id="vnpost",
        name_vi="Bưu điện Việt Nam (VNPost)",
        name_en="VNPost",
        flows=frozenset({"carrier"}),
        transport="REST",
        client_factory="adapters.postal.vnpost:from_connection",
        sandbox="sandbox.postal.vnpost:double",
        login="account",  # the LGSP consumer key and secret (OAuth client credentials)
        # its customer code, the S10 block it issued to the city (and when to warn it is running
        # out), the key and scheme of its callbacks' SignData (docs/interfaces.md 9)
        extras=("customer_code", "item_code_range", "item_code_alert_at", "callback_secret", "callback_sign_scheme"),
        pool=Pool(2, "Concurrent order batches and tracking polls at VNPost (LGSP)"),
        signer=dev_signer("vnpost"),
        sandbox_account="hub-hanoi-lgsp",
        probe="adapters.postal.vnpost:probe",
    ),
    Partner(
        id="viettel_post",
        name_vi="Viettel Post",
        name_en="Viettel Post",
        flows=frozenset({"carrier"}),
        transport="REST",
        client_factory="adapters.postal.viettel_post:from_connection",
        sandbox="sandbox.postal.viettel_post:double",
        login="account",
        extras=("webhook_token",),  # the shared TOKEN its callbacks carry
        signed=False,  # Viettel Post signs nothing: no JWS either way
        pool=Pool(2, "Concurrent order batches and tracking polls at Viettel Post"),
        probe="adapters.postal.viettel_post:probe",
    ),
    Partner(
        id="portal_scoreboard",
        name_vi="Cổng DVCQG: bảng điểm Quyết định 766",
        name_en="National portal's Decision 766 scoreboard",
        flows=frozenset({"scoreboard"}),
        transport="REST",
        client_factory="adapters.portal_scoreboard.client:from_connection",
        sandbox="sandbox.portal_scoreboard.app:double",
        login="none",  # a public API (docs/interfaces.md 2.8)
        extras=("root_department_id", "pause_s"),
        signed=False,  # the public API signs nothing and takes no signature
        pool=Pool(1, "One call at a time to the portal's public, rate-limited scoreboard"),
        probe="adapters.portal_scoreboard.client:probe",
        read_only=True,
    ),
    Partner(
        id="payment_platform",
        name_vi="Nền tảng thanh toán trực tuyến của Cổng DVCQG",
        name_en="National portal's online-payment platform",
        flows=frozenset({"payment"}),
        transport="REST",
        client_factory="adapters.payment_platform.client:from_connection",
        sandbox="sandbox.payment_platform.app:double",
        login="token",  # a bearer token when the platform issues one (H sends it when configured)
        extras=("ma_doi_tac", "checksum_secret"),  # the hub's partner code and its MaXacThuc key
        signed=False,  # the platform's messages carry a SHA-256 checksum (MaXacThuc), not a JWS
        pool=Pool(1, "One call at a time to the portal's payment platform"),
        probe="adapters.payment_platform.client:probe",
        read_only=True,  # the hub's runs LIST, QUERY and GET_BILL; it never opens a payment (INIT)
    ),
    Partner(
        id="ihanoi",
        name_vi="Ứng dụng iHaNoi",
        name_en="iHaNoi citizen app",
        flows=frozenset({"notify"}),
        transport="REST",
        client_factory="adapters.ihanoi.client:from_connection",
        sandbox="sandbox.ihanoi.app:double",
        login="token",  # the API key the app's operator issues (assumed: docs/interfaces.md, "iHaNoi notifications")
        signed=False,  # nothing suggests the app takes or gives signatures; the message log seals every push
        pool=Pool(2, "Concurrent notification batches to the iHaNoi citizen app"),
        probe="adapters.ihanoi.client:probe",
    ),
    Partner(
        id="city_data_portal",
        name_vi="Cổng dữ liệu mở Thành phố Hà Nội (CKAN)",
        name_en="City data portal (CKAN)",
        flows=frozenset({"open_data"}),
        transport="REST",
        client_factory="adapters.city_data_portal.client:from_connection",
        sandbox="sandbox.city_data_portal.app:double",
        login="token",  # a CKAN API token, sent in the Authorization header (docs/interfaces.md 12.1)
        extras=("owner_org",),  # the portal organization that owns the datasets
        signed=False,  # CKAN signs nothing and checks no JWS: the API token is the authentication
        pool=Pool(1, "One publication at a time to the city data portal (CKAN action API)"),
        probe="adapters.city_data_portal.client:probe",
    ),
)

_BY_ID = {partner.id: partner for partner in PARTNERS}


def partner(partner_id: str) -> Partner:
    """The partner ``partner_id``; a KeyError naming the known ones otherwise."""
    try:
        return _BY_ID[partner_id]
    except KeyError:
        raise KeyError(f"no partner {partner_id!r} in adapters/partners.py (known: {', '.join(_BY_ID)})") from None


def find(partner_id: str) -> Partner | None:
    return _BY_ID.get(partner_id)


def partner_ids() -> tuple[str, ...]:
    return tuple(_BY_ID)


def of_flow(flow: Flow) -> tuple[str, ...]:
    """Ids of the partners taking part in ``flow``, in declaration order (the DAGs' task-group order)."""
    return tuple(p.id for p in PARTNERS if flow in p.flows)


def ministries() -> tuple[str, ...]:
    """The ministry systems the hub pulls back from (each may also take pushes: :attr:`Partner.pushes`)."""
    return of_flow("ministry_pull")


def carriers() -> tuple[str, ...]:
    return of_flow("carrier")


def pools() -> dict[str, Pool]:
    """Every partner pool by name (= partner id), as ``hub airflow-init`` creates them."""
    return {p.id: p.pool for p in PARTNERS if p.pool is not None}


def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)

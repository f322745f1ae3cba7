"""Airflow hooks: Airflow Connection -> adapter client. The only Airflow-aware module of ``adapters``.

Connections are URIs such as
``AIRFLOW_CONN_NATIONAL_PORTAL='http://user:pass@127.0.0.1:8081/lgsp?madonvi=000.00.00.H26&timeout=10'``:
scheme, host, port and path (the Connection's schema) make the base URL; login/password are the
credentials (for the city system the password is the bearer token); query parameters (extras) set
:class:`~adapters.settings.TransportSettings` fields (``timeout``, ``read_timeout``,
``max_attempts``, ``verify``, ``ca_bundle``, ...) plus the client's own keys (``madonvi``).
Unknown extras are refused, so a typo cannot silently leave a default in force. Which extras a
client reads, and the Connection id, come from the partner's entry in :mod:`adapters.partners`.

Clients are cached per process and Connection, so every task in a worker reuses one pooled
``requests.Session`` per partner. The cache key includes the Connection's content: a rotated
password builds a new client instead of reusing the stale one.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from airflow.sdk.bases.hook import BaseHook
from pydantic import ValidationError

from adapters.business_registration.client import BusinessRegistrationClient
from adapters.city_system.client import CitySystemClient
from adapters.civil_status.client import WSDL as CIVIL_STATUS_WSDL
from adapters.civil_status.client import CivilStatusClient
from adapters.national_portal.client import NationalPortalClient
from adapters.partners import bound_to_hook
from adapters.population_db.client import WSDL as POPULATION_WSDL
from adapters.population_db.client import PopulationDbClient, ResultCache
from adapters.postal.viettel_post import ViettelPostClient
from adapters.postal.vnpost import VNPostClient
from adapters.redaction import describe_validation_error
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap.client import SoapClient, SoapTransport
from adapters.soap.contract import load_contract
from adapters.soap.envelope import Credentials
from adapters.social_insurance.client import WSDL as SOCIAL_INSURANCE_WSDL
from adapters.social_insurance.client import SocialInsuranceClient
from adapters.transport import HttpTransport
from signing.config import hub_identity, trust_store

C = TypeVar("C")

_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def _base_url(conn: Any) -> str:
    """``scheme://host[:port][/schema]`` from a Connection (the schema is the API path prefix)."""
    host = conn.host or ""
    if "://" not in host:
        if conn.conn_type not in ("http", "https"):
            raise ValueError(f"connection {conn.conn_id!r}: type must be http or https, not {conn.conn_type!r}")
        host = f"{conn.conn_type}://{host}"
    port = f":{conn.port}" if conn.port else ""
    path = f"/{conn.schema.strip('/')}" if conn.schema else ""
    return f"{host.rstrip('/')}{port}{path}"


class _ClientHook(BaseHook):
    """Shared mechanics: read the Connection, split extras, build or reuse the client.

    A hook class takes its partner's facts from the entry of :mod:`adapters.partners` that names
    it (``Partner.hook``), so the Connection id, the extras its client reads, the transport and
    whether the exchange is signed are written once, there; the class keeps only how a Connection
    becomes its client.
    """

    default_conn_name: ClassVar[str]
    partner: ClassVar[str]
    client_extras: ClassVar[tuple[str, ...]] = ()
    # SOAP partners use SoapTransport: the same template, signatures inside the XML.
    transport_class: ClassVar[type[HttpTransport]] = HttpTransport
    # False for a partner outside the signing regime (Viettel Post): no JWS either way, whatever the extras.
    signed: ClassVar[bool] = True
    replies_signed: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = bound_to_hook(f"{cls.__module__}:{cls.__qualname__}")
        if spec is None:
            return  # a shared base such as _SoapMinistryHook, not a partner's hook
        cls.default_conn_name = cls.partner = spec.id
        cls.client_extras = spec.extras
        cls.transport_class = SoapTransport if spec.transport == "SOAP" else HttpTransport
        cls.signed = spec.signed
        cls.replies_signed = spec.replies_signed

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name

    def _cached(self, build: Callable[[HttpTransport, Any, dict[str, Any]], C]) -> C:
        conn = self.get_connection(self.conn_id)
        fingerprint = hashlib.sha256(conn.get_uri().encode()).hexdigest()
        key = (type(self).__name__, self.conn_id, fingerprint)
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                extras = dict(conn.extra_dejson)
                own = {name: extras.pop(name) for name in self.client_extras if name in extras}
                try:
                    settings = TransportSettings.from_extras(_base_url(conn), extras)
                except ValidationError as exc:
                    # pydantic's own text quotes input values; name the fields and rules only.
                    raise ValueError(f"connection {self.conn_id!r}: {describe_validation_error(exc)}") from None
                signatures = MessageSignatures(
                    identity=hub_identity() if settings.sign_requests and self.signed else None,
                    trust=trust_store() if settings.verifies_replies(self.replies_signed) and self.signed else None,
                )
                client = build(self.transport_class(self.partner, settings, signatures=signatures), conn, own)
                for stale in [k for k in _clients if k[:2] == key[:2]]:
                    _clients.pop(stale).transport.close()  # the Connection changed since
                _clients[key] = client
        return client

    def get_conn(self) -> Any:
        """BaseHook's generic accessor (what Airflow tooling calls); the same as ``get_client()``."""
        return self.get_client()

    def get_client(self) -> Any:
        raise NotImplementedError


class CitySystemHook(_ClientHook):
    """Builds a :class:`CitySystemClient`; the Connection password is the bearer token."""

    def get_client(self) -> CitySystemClient:
        return self._cached(lambda transport, conn, _own: CitySystemClient(transport, conn.password or ""))


class NationalPortalHook(_ClientHook):
    """Builds a :class:`NationalPortalClient`; extra ``madonvi`` is the agency code it speaks for."""

    def get_client(self) -> NationalPortalClient:
        return self._cached(self._build)

    def _build(self, transport: HttpTransport, conn: Any, own: dict[str, Any]) -> NationalPortalClient:
        try:
            return NationalPortalClient.from_extras(transport, conn.login or "", conn.password or "", own)
        except ValueError as exc:
            raise ValueError(f"connection {self.conn_id!r}: {exc}") from None


class BusinessRegistrationHook(_ClientHook):
    """Builds a :class:`BusinessRegistrationClient`; the password is the bearer token, extra
    ``madonvi`` the agency code (``maDonVi``) the hub speaks for."""

    def get_client(self) -> BusinessRegistrationClient:
        return self._cached(
            lambda transport, conn, own: BusinessRegistrationClient(
                transport, conn.password or "", own.get("madonvi") or ""
            )
        )


class PopulationDbHook(_ClientHook):
    """Builds a :class:`PopulationDbClient` over SOAP: login/password are the LGSP UsernameToken,
    extras ``madonvi`` (MaDVC, required), ``macanbo`` (MaCanBo; default the login) and
    ``cache_ttl_s`` (how long answers are reused in this process; default 3600, 0 = never)."""

    def get_client(self) -> PopulationDbClient:
        return self._cached(self._build)

    def _build(self, transport: HttpTransport, conn: Any, own: dict[str, Any]) -> PopulationDbClient:
        if not isinstance(transport, SoapTransport):
            raise TypeError("the population database is reached through a SoapTransport")
        if not own.get("madonvi"):
            raise ValueError(f"connection {self.conn_id!r}: extra 'madonvi' (the agency code, MaDVC) is required")
        credentials = Credentials(conn.login, conn.password) if conn.login else None
        soap = SoapClient(transport, load_contract(POPULATION_WSDL), credentials)
        return PopulationDbClient(
            soap,
            agency=own["madonvi"],
            officer=own.get("macanbo") or conn.login or "",
            cache=ResultCache(float(own.get("cache_ttl_s", 3600))),
        )


class _SoapMinistryHook(_ClientHook):
    """SOAP ministries: login/password are the LGSP UsernameToken, extra ``madonvi`` the agency code
    (MaDVC, required) and ``macanbo`` the officer id (MaCanBo; default the login)."""

    wsdl: ClassVar[Path]
    client_class: ClassVar[Callable[[SoapClient, str, str], Any]]

    def _build_ministry(self, transport: HttpTransport, conn: Any, own: dict[str, Any]) -> Any:
        if not isinstance(transport, SoapTransport):
            raise TypeError(f"{self.partner} is reached through a SoapTransport")
        if not own.get("madonvi"):
            raise ValueError(f"connection {self.conn_id!r}: extra 'madonvi' (the agency code, MaDVC) is required")
        credentials = Credentials(conn.login, conn.password) if conn.login else None
        soap = SoapClient(transport, load_contract(self.wsdl), credentials)
        return self.client_class(soap, own["madonvi"], own.get("macanbo") or conn.login or "")


class CivilStatusHook(_SoapMinistryHook):
    """Builds a :class:`CivilStatusClient` (Ministry of Justice, SOAP)."""

    wsdl = CIVIL_STATUS_WSDL
    client_class = CivilStatusClient

    def get_client(self) -> CivilStatusClient:
        return self._cached(self._build_ministry)


class SocialInsuranceHook(_SoapMinistryHook):
    """Builds a :class:`SocialInsuranceClient` (SOAP)."""

    wsdl = SOCIAL_INSURANCE_WSDL
    client_class = SocialInsuranceClient

    def get_client(self) -> SocialInsuranceClient:
        return self._cached(self._build_ministry)


class VNPostHook(_ClientHook):
    """Builds a :class:`VNPostClient`: login is the LGSP customer code, password the ``access_token``,
    extra ``webhook_secret`` the HMAC key of VNPost's callbacks (Airflow masks extras named *secret*)."""

    def get_client(self) -> VNPostClient:
        return self._cached(self._build)

    def _build(self, transport: HttpTransport, conn: Any, own: dict[str, Any]) -> VNPostClient:
        if not (conn.login and own.get("webhook_secret")):
            raise ValueError(
                f"connection {self.conn_id!r}: login (customer code) and extra 'webhook_secret' are required"
            )
        return VNPostClient(transport, conn.password or "", conn.login, own["webhook_secret"])


class ViettelPostHook(_ClientHook):
    """Builds a :class:`ViettelPostClient`: login/password are the partner account, extra
    ``webhook_token`` the shared TOKEN its callbacks carry. Viettel Post signs nothing, so the
    transport neither signs nor verifies (``signed=False`` in its registry entry)."""

    def get_client(self) -> ViettelPostClient:
        return self._cached(self._build)

    def _build(self, transport: HttpTransport, conn: Any, own: dict[str, Any]) -> ViettelPostClient:
        if not (conn.login and own.get("webhook_token")):
            raise ValueError(f"connection {self.conn_id!r}: login (the account) and extra 'webhook_token' are required")
        return ViettelPostClient(transport, conn.login, conn.password or "", own["webhook_token"])

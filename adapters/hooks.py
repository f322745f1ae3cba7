"""The Airflow hook: Airflow Connection -> adapter client. The only Airflow-aware module of ``adapters``.

Connections are URIs such as
``AIRFLOW_CONN_NATIONAL_PORTAL='http://user:pass@127.0.0.1:8081/lgsp?madonvi=000.00.00.H26&timeout=10'``:
scheme, host, port and path (the Connection's schema) make the base URL; login/password are the
credentials (for the city system the password is the bearer token); query parameters (extras) set
:class:`~adapters.settings.TransportSettings` fields (``timeout``, ``read_timeout``,
``max_attempts``, ``verify``, ``ca_bundle``, ...) plus the client's own keys (``madonvi``).
Unknown extras are refused, so a typo cannot silently leave a default in force.

One hook serves every partner: what differs -- the extras its client reads, REST or SOAP, signed
or not, and how login, password and extras become its client -- is its entry in
:mod:`adapters.partners`, whose ``client_factory`` lives in the partner's own adapter package and
knows nothing of Airflow. A new partner therefore adds no hook.

Clients are cached per process and Connection, so every task in a worker reuses one pooled
``requests.Session`` per partner. The cache key includes the Connection's content: a rotated
password builds a new client instead of reusing the stale one.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from airflow.sdk.bases.hook import BaseHook
from pydantic import ValidationError

from adapters import partners
from adapters.redaction import describe_validation_error
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap.client import SoapTransport
from adapters.transport import HttpTransport
from signing.config import hub_identity, trust_store

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


class PartnerHook(BaseHook):
    """The client of one partner (an id of :mod:`adapters.partners`) from its Airflow Connection,
    whose id is the partner's unless ``conn_id`` names another (a second account, a test)."""

    def __init__(self, partner_id: str, conn_id: str | None = None) -> None:
        super().__init__()
        self.partner = partners.partner(partner_id)
        self.conn_id = conn_id or partner_id

    def get_conn(self) -> Any:
        """BaseHook's generic accessor (what Airflow tooling calls); the same as ``get_client()``."""
        return self.get_client()

    def get_client(self) -> Any:
        """The partner's client, built once per process and Connection content."""
        conn = self.get_connection(self.conn_id)
        fingerprint = hashlib.sha256(conn.get_uri().encode()).hexdigest()
        key = (self.partner.id, self.conn_id, fingerprint)
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = self._build(conn)
                for stale in [k for k in _clients if k[:2] == key[:2]]:
                    _clients.pop(stale).transport.close()  # the Connection changed since
                _clients[key] = client
        return client

    def _build(self, conn: Any) -> Any:
        extras = dict(conn.extra_dejson)
        own = {name: extras.pop(name) for name in self.partner.extras if name in extras}
        try:
            settings = TransportSettings.from_extras(_base_url(conn), extras)
        except ValidationError as exc:
            # pydantic's own text quotes input values; name the fields and rules only.
            raise ValueError(f"connection {self.conn_id!r}: {describe_validation_error(exc)}") from None
        # A partner outside the signing regime (Viettel Post) gets no JWS either way, whatever the extras.
        signed = self.partner.signed
        signatures = MessageSignatures(
            identity=hub_identity() if settings.sign_requests and signed else None,
            trust=trust_store() if settings.verifies_replies(self.partner.replies_signed) and signed else None,
            signer=settings.signer_pin(self.partner.signer),
        )
        # SOAP partners use SoapTransport: the same template, signatures inside the XML.
        transport_class = SoapTransport if self.partner.transport == "SOAP" else HttpTransport
        transport = transport_class(self.partner.id, settings, signatures=signatures)
        try:
            return self.partner.factory()(transport, conn.login or "", conn.password or "", own)
        except ValueError as exc:
            transport.close()
            raise ValueError(f"connection {self.conn_id!r}: {exc}") from exc

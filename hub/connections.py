"""Airflow Connection URIs for the partners, as ``AIRFLOW_CONN_*`` environment variables.

The demo, ``hub up`` and the end-to-end tests point Airflow at the sandbox this way; a real
deployment defines the same connection ids in its secrets backend instead: one per hook in
:mod:`adapters.hooks` (``city_system``, ``national_portal``, ``business_registration``,
``population_db``, ``civil_status``, ``social_insurance``, ``vnpost``, ``viettel_post``). Credentials
are URL-quoted, never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

Extras = dict[str, str | int | float]

# The Connection extras each hook reads for its client (beside the transport settings), and the
# keys of the sandbox state holding them: the agency code the hub speaks for and, for the SOAP
# partners, the officer id every request names.
_CLIENT_EXTRAS: dict[str, tuple[str, ...]] = {
    "city_system": (),
    "national_portal": ("madonvi",),
    "business_registration": ("madonvi",),
    "population_db": ("madonvi", "macanbo"),
    "civil_status": ("madonvi", "macanbo"),
    "social_insurance": ("madonvi", "macanbo"),
    "vnpost": ("webhook_secret",),  # login: the LGSP customer code; password: the access token
    "viettel_post": ("webhook_token",),
}


def _uri(url: str, login: str, password: str, extras: Extras) -> str:
    scheme, _, rest = url.partition("://")
    query = f"?{urlencode(extras)}" if extras else ""
    return f"{scheme}://{quote(login, safe='')}:{quote(password, safe='')}@{rest.rstrip('/')}{query}"


def connection_variable(conn_id: str) -> str:
    """The environment variable Airflow reads the Connection ``conn_id`` from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def partner_connections(
    *,
    city_url: str,
    city_token: str,
    portal_url: str,
    portal_username: str,
    portal_password: str,
    portal_agency: str,
    transport: Extras | None = None,
) -> dict[str, str]:
    """Environment variables defining the ``city_system`` and ``national_portal`` connections."""
    extras = dict(transport or {})
    return {
        connection_variable("city_system"): _uri(city_url, "", city_token, extras),
        connection_variable("national_portal"): _uri(
            portal_url, portal_username, portal_password, {"madonvi": portal_agency, **extras}
        ),
    }


def sandbox_connections(state: Mapping[str, Any], transport: Extras | None = None) -> dict[str, str]:
    """The connections of every partner of a sandbox started by ``python -m sandbox up`` (its state file).

    A partner with a bearer token (city system, business registration) gets it as the password
    with an empty login, as its hook reads it; the others log in with username and password.
    """
    extras = dict(transport or {})
    variables = {}
    for conn_id, own in _CLIENT_EXTRAS.items():
        partner = state[conn_id]
        login, password = ("", partner["token"]) if "token" in partner else (partner["username"], partner["password"])
        variables[connection_variable(conn_id)] = _uri(
            partner["url"], login, password, {**{key: partner[key] for key in own}, **extras}
        )
    return variables

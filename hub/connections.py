"""Airflow Connection URIs for the partners, as ``AIRFLOW_CONN_*`` environment variables.

The demo, ``hub up`` and the end-to-end tests point Airflow at the sandbox this way; a real
deployment defines the same connection ids in its secrets backend instead: one per partner of
:mod:`adapters.partners`. Credentials are URL-quoted, never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from adapters.partners import PARTNERS, partner

Extras = dict[str, str | int | float]


def _uri(url: str, login: str, password: str, extras: Extras) -> str:
    scheme, _, rest = url.partition("://")
    query = f"?{urlencode(extras)}" if extras else ""
    userinfo = f"{quote(login, safe='')}:{quote(password, safe='')}@" if login or password else ""
    return f"{scheme}://{userinfo}{rest.rstrip('/')}{query}"


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
        partner("city_system").connection_variable: _uri(city_url, "", city_token, extras),
        partner("national_portal").connection_variable: _uri(
            portal_url, portal_username, portal_password, {"madonvi": portal_agency, **extras}
        ),
    }


def sandbox_connections(state: Mapping[str, Any], transport: Extras | None = None) -> dict[str, str]:
    """The connections of every partner of a sandbox started by ``python -m sandbox up`` (its state file).

    A partner with a bearer token (city system, business registration) gets it as the password
    with an empty login, as its hook reads it; a public API (the portal's scoreboard) gets neither;
    the others log in with username and password. Its
    client's extras are those the state holds (the sandbox sets no optional ones such as
    ``cache_ttl_s``).
    """
    extras = dict(transport or {})
    variables = {}
    for spec in PARTNERS:
        served = state[spec.id]
        if spec.login == "none":  # a public API: no credentials at all
            login, password = "", ""
        elif spec.login == "token":
            login, password = "", served["token"]
        else:
            login, password = served["username"], served["password"]
        own = {key: served[key] for key in spec.extras if key in served}
        variables[spec.connection_variable] = _uri(served["url"], login, password, {**own, **extras})
    return variables

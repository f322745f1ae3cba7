"""Airflow Connection URIs for the partners, as ``AIRFLOW_CONN_*`` environment variables.

The demo, ``hub up`` and the end-to-end tests point Airflow at the sandbox this way; a real
deployment defines the same connection ids (``city_system``, ``national_portal``) in its
secrets backend instead. Credentials are URL-quoted, never logged.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode


def _uri(url: str, login: str, password: str, extras: dict[str, str | int | float]) -> str:
    scheme, _, rest = url.partition("://")
    query = f"?{urlencode(extras)}" if extras else ""
    return f"{scheme}://{quote(login, safe='')}:{quote(password, safe='')}@{rest.rstrip('/')}{query}"


def partner_connections(
    *,
    city_url: str,
    city_token: str,
    portal_url: str,
    portal_username: str,
    portal_password: str,
    portal_agency: str,
    transport: dict[str, str | int | float] | None = None,
) -> dict[str, str]:
    """Environment variables defining the ``city_system`` and ``national_portal`` connections."""
    extras = dict(transport or {})
    return {
        "AIRFLOW_CONN_CITY_SYSTEM": _uri(city_url, "", city_token, extras),
        "AIRFLOW_CONN_NATIONAL_PORTAL": _uri(
            portal_url, portal_username, portal_password, {"madonvi": portal_agency, **extras}
        ),
    }


def sandbox_connections(state: dict, transport: dict[str, str | int | float] | None = None) -> dict[str, str]:
    """The connections for a sandbox started by ``python -m sandbox up`` (its state file)."""
    city, portal = state["city_system"], state["national_portal"]
    return partner_connections(
        city_url=city["url"],
        city_token=city["token"],
        portal_url=portal["url"],
        portal_username=portal["username"],
        portal_password=portal["password"],
        portal_agency=portal["madonvi"],
        transport=transport,
    )

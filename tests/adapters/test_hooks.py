"""The Airflow hooks build clients from ``AIRFLOW_CONN_*`` URIs and those clients talk to the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from adapters.hooks import PartnerHook
from sandbox.national_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning

pytestmark = pytest.mark.timeout(120)

USERNAME = "hub-hanoi"
PASSWORD = "Pw/portal:7f3a@9c1e"  # URI-special characters on purpose
AGENCY = "000.00.00.H26"


@pytest.fixture
def portal(tmp_path: Path, partner_signing: Callable[[str], PartnerSigning]) -> Iterator[RunningServer]:
    app = create_app(tmp_path / "portal.db", USERNAME, PASSWORD, [AGENCY], signing=partner_signing("national_portal"))
    server = serve_in_thread(app)
    yield server
    server.stop()


def portal_uri(server: RunningServer, password: str = PASSWORD, query: str = "") -> str:
    host = server.url.removeprefix("http://")
    return f"http://{USERNAME}:{quote(password, safe='')}@{host}?madonvi={AGENCY}&timeout=5{query}"


def test_portal_hook_builds_a_working_client_from_an_env_connection(
    portal: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NATIONAL_PORTAL", portal_uri(portal, query="&max_attempts=2&pool_size=3"))
    client = PartnerHook("national_portal").get_client()
    settings = client.transport.settings
    assert settings.base_url == portal.url
    assert (settings.connect_timeout, settings.read_timeout, settings.max_attempts, settings.pool_size) == (
        5.0,
        5.0,
        2,
        3,
    )
    assert settings.verify is True and client.agency_code == AGENCY
    assert AGENCY in {agency.code for agency in client.list_agencies()}

    assert PartnerHook("national_portal").get_client() is client  # one client, one Session per process
    assert PartnerHook("national_portal").get_conn() is client


def test_a_changed_connection_builds_a_new_client(portal: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PORTAL_ROTATED", portal_uri(portal, password="old-password-1"))
    old = PartnerHook("national_portal", "portal_rotated").get_client()
    monkeypatch.setenv("AIRFLOW_CONN_PORTAL_ROTATED", portal_uri(portal))
    new = PartnerHook("national_portal", "portal_rotated").get_client()
    assert new is not old
    assert new.list_agencies()


def test_the_documented_uri_form_maps_path_and_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PORTAL_DOC",
        "http://user:pass@127.0.0.1:8081/lgsp?madonvi=000.00.00.H26&timeout=10",
    )
    client = PartnerHook("national_portal", "portal_doc").get_client()  # no network: login is lazy
    assert client.transport.settings.base_url == "http://127.0.0.1:8081/lgsp"
    assert client.transport.settings.read_timeout == 10.0
    assert client.agency_code == "000.00.00.H26"


def test_bad_extras_are_refused_by_name_without_echoing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PORTAL_TYPO", "http://user:s3cret-pw@127.0.0.1:8081?madonvi=000.00.00.H26&read_timout=3"
    )
    with pytest.raises(ValueError, match=r"portal_typo.*read_timout: Extra inputs are not permitted") as caught:
        PartnerHook("national_portal", "portal_typo").get_client()
    assert "s3cret-pw" not in str(caught.value)

    monkeypatch.setenv("AIRFLOW_CONN_PORTAL_NO_AGENCY", "http://user:pw@127.0.0.1:8081")
    with pytest.raises(ValueError, match="extra 'madonvi'"):
        PartnerHook("national_portal", "portal_no_agency").get_client()

"""The CKAN client against its sandbox double over loopback, and both against the golden messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.city_data_portal.client import (
    CkanClient,
    Package,
    UploadFile,
    _result,
    from_connection,
    probe,
)
from adapters.errors import AuthenticationError, ContractViolation, PermanentError
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from sandbox.city_data_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread

GOLDEN = Path(__file__).parent / "golden"
TOKEN = "ckan-token-2f9a"
ORG = "ubnd-thanh-pho-ha-noi"
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_attempts": 3, "read_timeout": 5.0}


def golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


@pytest.fixture
def portal() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(TOKEN, ORG))
    yield server
    server.stop()


def client(server: RunningServer, token: str = TOKEN) -> CkanClient:
    transport = HttpTransport("city_data_portal", TransportSettings(base_url=server.url, **FAST))
    return from_connection(transport, "", token, {"owner_org": ORG})


def _files(month: str, text: str) -> list[UploadFile]:
    return [
        UploadFile("bang.csv", f"bang-{month}.csv", "text/csv", "CSV", "a table", f"a,b\r\n{text},1\r\n".encode()),
        UploadFile(
            "dcat.jsonld", "dcat.jsonld", "application/ld+json", "JSON-LD", "DCAT", b'{"@type": "dcat:Dataset"}'
        ),
    ]


def _stats(server: RunningServer) -> dict[str, int]:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()["held"]


def test_publishing_a_month_twice_patches_the_same_package_and_resources(portal: RunningServer) -> None:
    ckan = client(portal)
    fields = golden("package_create.request.json")
    first = ckan.publish(fields, _files("2026-10", "first"))
    assert first.created and first.resources == {"bang.csv": "created", "dcat.jsonld": "created"}
    second = ckan.publish({**fields, "title": "Tháng 10/2026 (sửa)"}, _files("2026-10", "second"))
    assert not second.created and second.resources == {"bang.csv": "patched", "dcat.jsonld": "patched"}
    assert second.package.id == first.package.id
    assert _stats(portal) == {"packages": 1, "resources": 2, "files": 2}
    # The portal serves the second version of each file, and keeps the first publication's date.
    held = requests.post(
        f"{portal.url}/api/3/action/package_show",
        json={"id": fields["name"]},
        headers={"Authorization": TOKEN},
        timeout=5,
    ).json()["result"]
    assert held["title"] == "Tháng 10/2026 (sửa)" and held["issued"] == fields["issued"]
    table = next(r for r in held["resources"] if r["name"] == "bang.csv")
    assert requests.get(table["url"], timeout=5).content == b"a,b\r\nsecond,1\r\n"
    assert table["url_type"] == "upload" and table["mimetype"] == "text/csv"


def test_the_golden_request_is_what_the_sandbox_accepts_and_the_client_reads_the_golden_replies(
    portal: RunningServer,
) -> None:
    body = golden("package_create.request.json")
    reply = requests.post(
        f"{portal.url}/api/3/action/package_create", json=body, headers={"Authorization": TOKEN}, timeout=5
    )
    document = reply.json()
    assert reply.status_code == 200 and set(document) == {"help", "success", "result"} and document["success"]
    assert (
        document["result"]["name"] == body["name"] and document["result"]["temporal_coverage"][0]["end"] == "2026-10-31"
    )
    package = _result("package_show", Package)(golden("package_show.reply.json"))
    assert [r.name for r in package.resources] == ["ho-so-theo-kenh.csv", "dcat.jsonld"]
    with pytest.raises(ContractViolation, match="success=false"):
        _result("package_create")({**golden("validation_error.reply.json")})


@pytest.mark.parametrize(
    ("name", "token", "golden_reply", "status"),
    [
        ("ho-so-tthc-ha-noi-2026-10", "not-the-token", "authorization_error.reply.json", 403),
        ("Hồ sơ tháng 10", TOKEN, "validation_error.reply.json", 409),
    ],
)
def test_the_sandbox_refuses_as_ckan_does_and_the_client_maps_it(
    portal: RunningServer, name: str, token: str, golden_reply: str, status: int
) -> None:
    body = {**golden("package_create.request.json"), "name": name}
    reply = requests.post(
        f"{portal.url}/api/3/action/package_create", json=body, headers={"Authorization": token}, timeout=5
    )
    expected = golden(golden_reply)
    assert reply.status_code == status
    assert reply.json()["error"] == expected["error"] and reply.json()["success"] is False
    error = AuthenticationError if status == 403 else PermanentError
    with pytest.raises(error) as caught:
        client(portal, token).package_create(body)
    assert caught.value.status == status and not caught.value.retryable
    assert token not in str(caught.value)


def test_a_package_the_portal_does_not_hold_is_none(portal: RunningServer) -> None:
    assert client(portal).package_show("ho-so-tthc-ha-noi-1999-01") is None
    reply = requests.post(
        f"{portal.url}/api/3/action/package_show",
        json={"id": "nothing-here"},
        headers={"Authorization": TOKEN},
        timeout=5,
    )
    assert reply.status_code == 404 and reply.json()["error"] == golden("not_found.reply.json")["error"]


def test_two_files_with_one_resource_name_are_refused_before_anything_is_sent(portal: RunningServer) -> None:
    files = _files("2026-10", "x")
    with pytest.raises(ValueError, match="share a resource name"):
        client(portal).publish(golden("package_create.request.json"), [files[0], files[0]])
    assert _stats(portal)["packages"] == 0


def test_the_probe_reads_the_sites_status(portal: RunningServer) -> None:
    assert probe(client(portal)).startswith("CKAN 2.11")


def test_a_connection_without_a_token_is_refused() -> None:
    transport = HttpTransport("city_data_portal", TransportSettings(base_url="http://127.0.0.1:9"))
    with pytest.raises(ValueError, match="API token"):
        from_connection(transport, "", "", {})

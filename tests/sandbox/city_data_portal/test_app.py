"""The CKAN double answers as CKAN's action API does: envelopes, status codes, names, uploads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.city_data_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread

TOKEN = "sandbox-token-77"
KEY = {"Authorization": TOKEN}


@pytest.fixture(scope="module")
def portal() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(TOKEN, "ubnd-thanh-pho-ha-noi"))
    yield server
    server.stop()


def action(server: RunningServer, name: str, body: dict[str, Any] | None = None, **options: Any) -> requests.Response:
    options.setdefault("headers", KEY)
    return requests.post(f"{server.url}/api/3/action/{name}", json=body, timeout=5, **options)


def _package(server: RunningServer, name: str) -> dict[str, Any]:
    reply = action(server, "package_create", {"name": name, "owner_org": "ubnd-thanh-pho-ha-noi"})
    assert reply.status_code == 200, reply.text
    return reply.json()["result"]


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("ab", True), ("a" * 100, True), ("so_lieu-2026-11", True), ("a", False), ("a" * 101, False),
     ("Ho-so", False), ("hồ-sơ", False), ("ho so", False), ("ho.so", False)],
)  # fmt: skip
def test_package_names_follow_ckans_rule(portal: RunningServer, name: str, accepted: bool) -> None:
    reply = action(portal, "package_create", {"name": name, "owner_org": "ubnd-thanh-pho-ha-noi"})
    if accepted:
        assert reply.status_code == 200 and reply.json()["result"]["name"] == name
    else:
        assert reply.status_code == 409 and reply.json()["error"]["__type"] == "Validation Error"
        assert list(reply.json()["error"]) == ["__type", "name"]


def test_a_name_in_use_or_an_unknown_organization_is_a_validation_error(portal: RunningServer) -> None:
    _package(portal, "in-use")
    assert action(portal, "package_create", {"name": "in-use", "owner_org": "ubnd-thanh-pho-ha-noi"}).json()[
        "error"
    ] == {"__type": "Validation Error", "name": ["That URL is already in use."]}
    other = action(portal, "package_create", {"name": "elsewhere", "owner_org": "another-org"})
    assert other.status_code == 409 and "owner_org" in other.json()["error"]


def _upload(server: RunningServer, package: dict[str, Any], content: bytes) -> str:
    """A file on ``package``; its download URL."""
    reply = requests.post(
        f"{server.url}/api/3/action/resource_create",
        data={"package_id": package["id"], "name": "t.csv"},
        files={"upload": ("t.csv", content, "text/csv")},
        headers=KEY,
        timeout=5,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["result"]["url"])


ANONYMOUS = ({}, {"Authorization": "not-a-token-the-site-knows"})  # CKAN: an unknown token is no user


def test_anyone_reads_a_public_package_and_its_files_as_on_ckan(portal: RunningServer) -> None:
    package = _package(portal, "public-read")
    url = _upload(portal, package, b"so_ho_so\r\n12\r\n")
    for headers in ANONYMOUS:
        shown = requests.get(f"{portal.url}/api/3/action/package_show", params={"id": "public-read"}, headers=headers)
        assert shown.status_code == 200 and shown.json()["result"]["id"] == package["id"]
        found = action(portal, "package_search", {"q": "public-read"}, headers=headers).json()["result"]
        assert [p["name"] for p in found["results"]] == ["public-read"] and found["count"] == 1
        assert requests.get(url, headers=headers, timeout=5).content == b"so_ho_so\r\n12\r\n"
        status = requests.get(f"{portal.url}/api/3/action/status_show", headers=headers, timeout=5)
        assert status.json()["success"] is True


def test_a_private_package_is_the_editors_alone(portal: RunningServer) -> None:
    package = action(
        portal, "package_create", {"name": "private-read", "owner_org": "ubnd-thanh-pho-ha-noi", "private": True}
    ).json()["result"]
    url = _upload(portal, package, b"x\r\n")
    for headers in ANONYMOUS:
        shown = action(portal, "package_show", {"id": "private-read"}, headers=headers)
        assert shown.status_code == 403 and shown.json()["error"]["__type"] == "Authorization Error"
        search = {"q": "private-read", "include_private": True}
        assert action(portal, "package_search", search, headers=headers).json()["result"]["count"] == 0
        assert requests.get(url, headers=headers, timeout=5).status_code == 403
    assert action(portal, "package_show", {"id": "private-read"}).json()["result"]["id"] == package["id"]
    assert action(portal, "package_search", {"q": "private-read"}).json()["result"]["count"] == 0  # as CKAN: opt in
    assert (
        action(portal, "package_search", {"q": "private-read", "include_private": True}).json()["result"]["count"] == 1
    )
    assert requests.get(url, headers=KEY, timeout=5).content == b"x\r\n"


def test_every_write_wants_the_api_token_in_either_header(portal: RunningServer) -> None:
    body = {"name": "token-check", "owner_org": "ubnd-thanh-pho-ha-noi"}
    for headers in ANONYMOUS:
        reply = action(portal, "package_create", body, headers=headers)
        assert reply.status_code == 403 and reply.json()["error"] == {
            "__type": "Authorization Error",
            "message": "Access denied: User  not authorized to create packages",
        }
    created = action(portal, "package_create", body, headers={"X-CKAN-API-Key": TOKEN})
    assert created.status_code == 200
    patch = {"id": created.json()["result"]["id"], "title": "x"}
    assert action(portal, "package_patch", patch, headers={}).status_code == 403


def test_search_pages_and_refuses_a_count_that_is_not_one(portal: RunningServer) -> None:
    for n in range(3):
        _package(portal, f"paged-{n}")
    first = action(portal, "package_search", {"q": "paged", "rows": 2}).json()["result"]
    rest = requests.get(
        f"{portal.url}/api/3/action/package_search", params={"q": "paged", "rows": "2", "start": "2"}, timeout=5
    ).json()["result"]
    assert first["count"] == rest["count"] == 3
    assert len({p["name"] for p in first["results"] + rest["results"]}) == 3
    refused = action(portal, "package_search", {"rows": "many"})
    assert refused.status_code == 409 and refused.json()["error"] == {
        "__type": "Validation Error",
        "rows": ["Invalid integer"],
    }


def test_a_resource_is_uploaded_as_multipart_or_linked_by_url(portal: RunningServer) -> None:
    package = _package(portal, "uploads")
    uploaded = requests.post(
        f"{portal.url}/api/3/action/resource_create",
        data={"package_id": package["id"], "name": "t.csv", "format": "CSV"},
        files={"upload": ("t-2026-11.csv", b"a,b\r\n1,2\r\n", "text/csv")},
        headers=KEY,
        timeout=5,
    ).json()["result"]
    assert uploaded["url_type"] == "upload" and uploaded["size"] == 10
    assert requests.get(uploaded["url"], timeout=5).content == b"a,b\r\n1,2\r\n"
    linked = action(portal, "resource_create", {"package_id": "uploads", "name": "link", "url": "https://x.test/a.csv"})
    assert linked.json()["result"]["url"] == "https://x.test/a.csv" and "url_type" not in linked.json()["result"]
    patched = requests.post(
        f"{portal.url}/api/3/action/resource_patch",
        data={"id": uploaded["id"], "description": "v2"},
        files={"upload": ("t-2026-11.csv", b"a,b\r\n3,4\r\n", "text/csv")},
        headers=KEY,
        timeout=5,
    ).json()["result"]
    assert patched["id"] == uploaded["id"] and requests.get(patched["url"], timeout=5).content.endswith(b"3,4\r\n")
    held = action(portal, "package_show", {"id": "uploads"}).json()["result"]
    assert [r["name"] for r in held["resources"]] == ["t.csv", "link"] and held["num_resources"] == 2


def test_package_patch_changes_only_the_fields_given(portal: RunningServer) -> None:
    package = _package(portal, "patching")
    action(portal, "resource_create", {"package_id": package["id"], "name": "r", "url": "https://x.test/r"})
    patched = action(portal, "package_patch", {"id": "patching", "title": "New"}).json()["result"]
    assert patched["title"] == "New" and len(patched["resources"]) == 1 and patched["owner_org"] == package["owner_org"]
    # Naming resources replaces them, as CKAN's package_patch does: the hub never sends them.
    emptied = action(portal, "package_patch", {"id": "patching", "resources": []}).json()["result"]
    assert emptied["resources"] == [] and emptied["title"] == "New"


@pytest.mark.parametrize(
    ("name", "body", "status", "kind"),
    [
        ("package_show", {"id": "nobody"}, 404, "Not Found Error"),
        ("resource_patch", {"id": "no-such-resource"}, 404, "Not Found Error"),
        ("resource_create", {"package_id": "nobody", "name": "r"}, 404, "Not Found Error"),
        ("package_patch", {}, 409, "Validation Error"),
        ("package_delete", {"id": "x"}, 400, None),
    ],
)
def test_bad_requests_get_ckans_errors_never_a_500(
    portal: RunningServer, name: str, body: dict[str, Any], status: int, kind: str | None
) -> None:
    reply = action(portal, name, body)
    assert reply.status_code == status and reply.json()["success"] is False
    assert reply.json()["error"].get("__type") == kind


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_a_400(portal: RunningServer, raw: bytes) -> None:
    reply = requests.post(
        f"{portal.url}/api/3/action/package_create",
        data=raw,
        headers={**KEY, "Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == 400 and reply.json()["success"] is False

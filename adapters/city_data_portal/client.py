"""Publish datasets to the city data portal through the CKAN action API (REST/JSON).

CKAN's action API (docs/interfaces.md 12): ``POST /api/3/action/<action>`` with a JSON object
(``GET`` with query parameters for the reads, ``package_show`` and ``status_show``),
answered ``{"help", "success": true, "result"}``, or ``{"success": false, "error": {"__type":
...}}`` with HTTP 403 (``Authorization Error``), 404 (``Not Found Error``) or 409 (``Validation
Error``). The API token travels in the ``Authorization`` header, as CKAN 2.10+ reads it. A file is
uploaded as ``multipart/form-data`` with its bytes in the ``upload`` field (the hub has no public
URL the portal could fetch a file from).

Publishing is idempotent: :meth:`CkanClient.publish` looks the package up by name
(``package_show``), creates it only when the portal has none (``package_create``, with its
``issued`` date) and patches it otherwise (``package_patch``: the fields given, resources kept);
each file is matched to the package's resources by name and patched in place
(``resource_patch``), or added (``resource_create``). Publishing a month twice -- or again after
a call whose reply was lost -- changes the same package and the same resources, never adds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.errors import ContractViolation, PermanentError
from adapters.transport import HttpTransport

PARTNER = "city_data_portal"
ACTION_PATH = "/api/3/action"
DEFAULT_OWNER_ORG = "ubnd-thanh-pho-ha-noi"
_REPLY = ConfigDict(extra="allow", frozen=True)
# The message log's operation names: a write is one package's (or one named resource's) publication,
# whether this call creates or patches it -- so a publication resent after a lost reply settles the
# lost call (``hub.pipeline.message_log.resolve_by_resend``); the URL names the CKAN action.
PACKAGE_WRITE, RESOURCE_WRITE = "package_publish", "resource_publish"


class _Reply(BaseModel):
    """CKAN's envelope of every action reply."""

    model_config = _REPLY
    success: bool
    result: Any = None


class Resource(BaseModel):
    """A resource of a package as ``package_show`` lists it (the fields the hub reads)."""

    model_config = _REPLY
    id: str
    name: str | None = None
    url: str | None = None
    format: str | None = None
    size: int | None = None


class Package(BaseModel):
    """A package (dataset) as the portal holds it."""

    model_config = _REPLY
    id: str
    name: str
    resources: list[Resource] = []


@dataclass(frozen=True)
class UploadFile:
    """A file to publish as one resource: its ``name`` identifies it within the package."""

    name: str
    filename: str
    media_type: str
    format: str
    description: str
    content: bytes


@dataclass(frozen=True)
class Published:
    """What :meth:`CkanClient.publish` did: the package, and each resource created or patched."""

    package: Package
    created: bool
    resources: dict[str, str]  # resource name -> "created" | "patched"


def _result(operation: str, model: type[BaseModel] | None = None) -> Any:
    """A parser of one action's reply: the ``result`` (validated by ``model``), or a contract
    violation when a 2xx reply says ``success: false``."""

    def parse(document: Any) -> Any:
        reply = _Reply.model_validate(document)
        if not reply.success:
            raise ContractViolation(PARTNER, operation, "HTTP 2xx with success=false")
        return model.model_validate(reply.result) if model is not None else reply.result

    return parse


class CkanClient:
    """One portal account (an API token with editor rights in ``owner_org``). Thread-safe."""

    def __init__(self, transport: HttpTransport, api_token: str, owner_org: str = DEFAULT_OWNER_ORG) -> None:
        if not api_token:
            raise ValueError("the city data portal needs an API token (the Connection's password)")
        if not owner_org:
            raise ValueError("the city data portal needs the organization that owns the datasets (owner_org)")
        self.transport = transport
        self.owner_org = owner_org
        self._headers = {"Authorization": api_token}

    def _read(self, action: str, params: Mapping[str, str], model: type[BaseModel] | None = None) -> Any:
        """A side-effect-free action, as CKAN lets one be called: GET with query parameters."""
        return self.transport.get_json(
            f"{ACTION_PATH}/{action}",
            operation=action,
            parse=_result(action, model),
            params=params,
            headers=self._headers,
        )

    def _write(self, action: str, payload: Mapping[str, Any]) -> Package:
        return self.transport.post_json(
            f"{ACTION_PATH}/{action}",
            payload,
            operation=PACKAGE_WRITE,
            parse=_result(action, Package),
            headers=self._headers,
        )

    def _upload(self, action: str, fields: Mapping[str, str], file: UploadFile) -> Resource:
        return self.transport.post_multipart(
            f"{ACTION_PATH}/{action}",
            fields,
            {"upload": (file.filename, file.content, file.media_type)},
            operation=RESOURCE_WRITE,
            parse=_result(action, Resource),
            headers=self._headers,
        )

    def status(self) -> dict[str, Any]:
        """``status_show``: what the site says of itself (CKAN version, title, extensions)."""
        status = self._read("status_show", {})
        if not isinstance(status, dict):
            raise ContractViolation(PARTNER, "status_show", "the result is not an object")
        return status

    def package_show(self, name_or_id: str) -> Package | None:
        """The package, or None when the portal has none by that name or id (its 404)."""
        try:
            return self._read("package_show", {"id": name_or_id}, Package)
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def package_create(self, fields: Mapping[str, Any]) -> Package:
        return self._write("package_create", fields)

    def package_patch(self, package_id: str, fields: Mapping[str, Any]) -> Package:
        """Change the fields given; the others (resources included) stay as they are."""
        return self._write("package_patch", {**fields, "id": package_id})

    def resource_create(self, package_id: str, file: UploadFile) -> Resource:
        return self._upload("resource_create", {"package_id": package_id, **_resource_fields(file)}, file)

    def resource_patch(self, resource_id: str, file: UploadFile) -> Resource:
        return self._upload("resource_patch", {"id": resource_id, **_resource_fields(file)}, file)

    def publish(self, fields: Mapping[str, Any], files: list[UploadFile], *, now: datetime | None = None) -> Published:
        """Create or patch the package ``fields["name"]`` and its ``files``, matched by name."""
        names = [file.name for file in files]
        if len(set(names)) != len(names):
            raise ValueError(f"two files share a resource name: {sorted(n for n in names if names.count(n) > 1)}")
        fields = {**fields, "owner_org": fields.get("owner_org") or self.owner_org}
        existing = self.package_show(str(fields["name"]))
        if existing is None:
            issued = (now or datetime.now(UTC)).isoformat(timespec="seconds")
            package = self.package_create({**fields, "issued": fields.get("issued") or issued})
        else:
            package = self.package_patch(existing.id, fields)
        held = {resource.name: resource.id for resource in package.resources if resource.name}
        done: dict[str, str] = {}
        for file in files:
            if file.name in held:
                self.resource_patch(held[file.name], file)
                done[file.name] = "patched"
            else:
                self.resource_create(package.id, file)
                done[file.name] = "created"
        return Published(self.package_show(package.id) or package, existing is None, done)

    def close(self) -> None:
        self.transport.close()


def _resource_fields(file: UploadFile) -> dict[str, str]:
    """A resource's metadata as multipart form fields (strings: CKAN reads them as such)."""
    return {
        "name": file.name,
        "description": file.description,
        "format": file.format,
        "mimetype": file.media_type,
        "size": str(len(file.content)),
    }


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> CkanClient:
    """``city_data_portal`` Connection -> client: the API token as the password (empty login), and the
    organization that owns the datasets as the extra ``owner_org`` (default Hanoi's People's Committee)."""
    del login  # an API token is the whole credential
    return CkanClient(transport, password, str(extras.get("owner_org") or DEFAULT_OWNER_ORG))


def probe(client: CkanClient) -> str:
    """``status_show``: the portal's CKAN version and site title (public metadata, no dataset read)."""
    status = client.status()
    return f"CKAN {status.get('ckan_version', '?')} at {status.get('site_title', '?')!r}"

"""The city data portal, as a loopback double of a CKAN site's action API (docs/interfaces.md 12).

What it implements is what CKAN documents and its API view does (ckan/views/api.py):

- ``POST /api/3/action/<action>`` (and ``/api/action/<action>``) with a JSON object, or
  ``multipart/form-data`` for ``resource_create``/``resource_patch`` carrying a file in ``upload``;
  ``GET`` with query parameters for the read actions (``package_show``, ``package_search``,
  ``status_show``).
- Replies ``{"help", "success": true, "result"}``; failures ``{"help", "success": false, "error":
  {"__type", ...}}``: 403 ``Authorization Error``, 404 ``Not Found Error``, 409 ``Validation Error``
  (field -> list of messages), 400 for an unknown action or a body that is not a JSON object.
- The API token in the ``Authorization`` header (``X-CKAN-API-Key``, the older header, too) makes
  the caller the organization's editor; without it -- or with a token the site does not know, which
  CKAN takes as no user at all -- the caller is anonymous, as on CKAN (ckan/logic/auth/get.py,
  doc/authorization.rst): it reads public packages (``package_show``, ``package_search``, their
  files) and the site status; a private package is 403 ``Authorization Error`` to it, left out of its
  searches, and its files are not served to it; every write is 403.
- Package names as CKAN's ``name_validator`` has them: 2-100 characters of ``a-z0-9-_``, unique
  ("That URL is already in use."); ``owner_org`` must be the organization the token may edit.
- ``package_patch`` changes only the fields given (resources kept unless it names ``resources``,
  which then replace them, as in CKAN); ``resource_patch`` changes only the fields given too,
  and replaces the file when one is uploaded. An uploaded file is served back at
  ``/dataset/<id>/resource/<id>/download/<filename>`` (to anyone when its package is public, as
  CKAN serves it), which is how the tests read what was published.
- ``package_search``: ``q`` (words matched in name, title and notes; ``*:*`` or none = all),
  ``rows`` (default 10, at most 1000), ``start``, ``include_private`` (the editor's private
  packages too); the result ``{"count", "results", "sort", "facets", "search_facets"}``.

``/sandbox/faults`` (503s, hangs, cut replies) works as on every double; ``GET /sandbox/stats``
counts packages, resources and uploads held, ``GET /sandbox/files`` lists every file held with its
download path. State lives in memory: the portal forgets it when the sandbox stops.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control

NAME_RULE = re.compile(r"^[a-z0-9_-]{2,100}$")
NAME_MESSAGE = "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"
READ_ACTIONS = frozenset({"package_show", "package_search", "status_show"})  # anonymous callers too
MAX_ROWS = 1000  # CKAN's ckan.search.rows_max default
# What CKAN's auth functions say when an anonymous caller writes (ckan/logic/auth/create.py, update.py);
# the user's name in them is empty for an anonymous caller, hence the double space.
DENIED_WRITES = {
    "package_create": "User  not authorized to create packages",
    "package_patch": "User  not authorized to edit package",
    "resource_create": "User  not authorized to create resources",
    "resource_patch": "User  not authorized to edit resource",
}
WRITE_ACTIONS = frozenset(DENIED_WRITES)
ACTIONS = READ_ACTIONS | WRITE_ACTIONS
# Package fields the portal computes itself: a caller cannot set them.
COMPUTED = frozenset({"id", "resources", "metadata_created", "metadata_modified", "num_resources", "organization"})


class ActionError(Exception):
    """A CKAN action failure: its HTTP status and the ``error`` object of the reply."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("__type", "error"))
        self.status = status
        self.error = error


def _not_found(what: str) -> ActionError:
    return ActionError(404, {"__type": "Not Found Error", "message": f"Not found: {what}"})


def _invalid(**fields: str) -> ActionError:
    return ActionError(409, {"__type": "Validation Error", **{k: [v] for k, v in fields.items()}})


def _denied(what: str) -> ActionError:
    return ActionError(403, {"__type": "Authorization Error", "message": f"Access denied: {what}"})


def _is_private(package: dict[str, Any]) -> bool:
    """CKAN's ``private`` flag, as JSON (a boolean) or a form or query string sends it."""
    return str(package.get("private", False)).lower() == "true"


def _count(data: dict[str, Any], field: str, default: int, ceiling: int) -> int:
    try:
        value = int(data.get(field, default))
    except (TypeError, ValueError):
        raise _invalid(**{field: "Invalid integer"}) from None
    if value < 0:
        raise _invalid(**{field: "Must be a natural number"})
    return min(value, ceiling)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class Portal:
    """The site's packages, resources and files; thread-safe."""

    def __init__(self, api_token: str, organization: str) -> None:
        self.api_token = api_token
        self.organization = organization
        self.packages: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[str, str, bytes]] = {}  # resource id -> (filename, media type, bytes)
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    # -- lookups

    def _package(self, name_or_id: Any) -> dict[str, Any]:
        if not isinstance(name_or_id, str) or not name_or_id:
            raise _invalid(id="Missing value")
        for package in self.packages.values():
            if name_or_id in (package["id"], package["name"]):
                return package
        raise _not_found("Dataset")

    def _resource(self, resource_id: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(resource_id, str) or not resource_id:
            raise _invalid(id="Missing value")
        for package in self.packages.values():
            for resource in package["resources"]:
                if resource["id"] == resource_id:
                    return package, resource
        raise _not_found("Resource")

    def _check_fields(self, fields: dict[str, Any], package_id: str | None) -> None:
        name = fields.get("name")
        if package_id is None or "name" in fields:
            if not isinstance(name, str) or not name:
                raise _invalid(name="Missing value")
            if not NAME_RULE.match(name):
                raise _invalid(name=NAME_MESSAGE if 2 <= len(name) <= 100 else "Name must be 2 to 100 characters long")
            if any(p["name"] == name and p["id"] != package_id for p in self.packages.values()):
                raise _invalid(name="That URL is already in use.")
        if "owner_org" in fields and fields["owner_org"] != self.organization:
            raise _invalid(owner_org="Organization does not exist")

    # -- actions

    def readable(self, package: dict[str, Any], editor: bool) -> bool:
        """Anyone reads a public package; a private one only the organization's editor (CKAN's labels)."""
        return editor or not _is_private(package)

    def run(
        self, action: str, data: dict[str, Any], upload: tuple[str, str, bytes] | None, base: str, *, editor: bool
    ) -> Any:
        with self.lock:
            self.calls[action] += 1
            if action in WRITE_ACTIONS and not editor:
                raise _denied(DENIED_WRITES[action])
            if action == "status_show":
                return {"site_title": "Cổng dữ liệu mở Thành phố Hà Nội (sandbox)", "ckan_version": "2.11.0"}
            if action == "package_show":
                package = self._package(data.get("id"))
                if not self.readable(package, editor):
                    raise _denied(f"User  not authorized to read package {package['id']}")
                return package
            if action == "package_search":
                return self._search(data, editor)
            if action == "package_create":
                return self._create_package(data)
            if action == "package_patch":
                package = self._package(data.get("id"))
                changes = {k: v for k, v in data.items() if k not in COMPUTED}
                self._check_fields(changes, package["id"])
                if "resources" in data:
                    self._replace_resources(package, data["resources"])
                package.update(changes, metadata_modified=_now())
                return package
            if action == "resource_create":
                package = self._package(data.get("package_id"))
                resource = {"id": str(uuid.uuid4()), "package_id": package["id"], "created": _now(), "url": ""}
                package["resources"].append(resource)
                return self._set_resource(package, resource, data, upload, base)
            package, resource = self._resource(data.get("id"))  # resource_patch
            return self._set_resource(package, resource, data, upload, base)

    def _search(self, data: dict[str, Any], editor: bool) -> dict[str, Any]:
        """The packages the caller may read whose name, title or notes hold every word of ``q``,
        newest change first; private ones only with ``include_private`` and the editor's token."""
        rows, start = _count(data, "rows", 10, MAX_ROWS), _count(data, "start", 0, 10**9)
        words = [] if str(data.get("q") or "*:*") == "*:*" else str(data["q"]).lower().split()
        private = editor and str(data.get("include_private", False)).lower() == "true"
        found = [
            package
            for package in self.packages.values()
            if (private or not _is_private(package))
            and all(w in " ".join(str(package.get(f) or "") for f in ("name", "title", "notes")).lower() for w in words)
        ]
        found.sort(key=lambda package: package["metadata_modified"], reverse=True)
        return {
            "count": len(found),
            "results": found[start : start + rows],
            "sort": "score desc, metadata_modified desc",
            "facets": {},
            "search_facets": {},
        }

    def _replace_resources(self, package: dict[str, Any], given: Any) -> None:
        """A patch naming ``resources`` replaces them (CKAN): those it lists by id stay, with the
        fields given; new ones are added; the others are deleted, their files too."""
        if not isinstance(given, list) or not all(isinstance(r, dict) for r in given):
            raise _invalid(resources="Must be a list of resource objects")
        held = {r["id"]: r for r in package["resources"]}
        kept = []
        for item in given:
            resource = held.get(item.get("id")) or {"id": str(uuid.uuid4()), "package_id": package["id"], "url": ""}
            resource.update({k: v for k, v in item.items() if k not in {"id", "package_id"}})
            kept.append(resource)
        for dropped in held.keys() - {r["id"] for r in kept}:
            self.files.pop(dropped, None)
        package["resources"] = kept
        package["num_resources"] = len(kept)

    def _create_package(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in data.items() if k not in COMPUTED}
        if "owner_org" not in fields:
            raise _invalid(owner_org="Missing value")
        self._check_fields(fields, None)
        now = _now()
        package = {
            **fields,
            "id": str(uuid.uuid4()),
            "state": "active",
            "metadata_created": now,
            "metadata_modified": now,
            "resources": [],
        }
        self.packages[package["id"]] = package
        return package

    def _set_resource(
        self,
        package: dict[str, Any],
        resource: dict[str, Any],
        data: dict[str, Any],
        upload: tuple[str, str, bytes] | None,
        base: str,
    ) -> dict[str, Any]:
        resource.update({k: v for k, v in data.items() if k not in {"id", "package_id", "upload"}})
        if upload is not None:
            filename, media_type, content = upload
            self.files[resource["id"]] = upload
            resource.update(
                url=f"{base}/dataset/{package['id']}/resource/{resource['id']}/download/{filename}",
                url_type="upload",
                size=len(content),
                mimetype=resource.get("mimetype") or media_type,
            )
        resource["last_modified"] = _now()
        package["metadata_modified"] = resource["last_modified"]
        package["num_resources"] = len(package["resources"])
        return resource


async def _request_data(request: Request, action: str) -> tuple[dict[str, Any], tuple[str, str, bytes] | None]:
    """The action's parameters and uploaded file, as CKAN's API view reads them."""
    content_type = request.headers.get("content-type", "")
    if request.method == "GET":
        if action not in READ_ACTIONS:
            raise ActionError(400, {"message": f"Bad request - {action} must be called with POST"})
        return dict(request.query_params), None
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        data: dict[str, Any] = {}
        upload = None
        for key, value in form.multi_items():
            if isinstance(value, str):
                data[key] = value
            elif key == "upload":
                upload = (value.filename or "upload", value.content_type or "", await value.read())
        return data, upload
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ActionError(400, {"message": f"Bad request - JSON Error: {exc}"}) from exc
    if not isinstance(data, dict):
        raise ActionError(400, {"message": "Bad request - Bad request data: it needs to be a dictionary"})
    return data, None


def create_app(
    api_token: str,
    organization: str = "ubnd-thanh-pho-ha-noi",
    *,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
) -> FastAPI:
    """The double: ``api_token`` is the hub's key, an editor of ``organization``."""
    portal = Portal(api_token, organization)
    injector = FaultInjector(faults)
    app = FastAPI(title="City data portal, CKAN (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    app.state.faults = injector
    mount_fault_control(app, injector)

    def authorised(request: Request) -> bool:
        key = request.headers.get("authorization") or request.headers.get("x-ckan-api-key") or ""
        return bool(key) and key == portal.api_token

    async def action(name: str, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        envelope: dict[str, Any] = {"help": f"{base}/api/3/action/help_show?name={name}"}

        async def produce() -> tuple[bytes, int]:
            try:
                if name not in ACTIONS:
                    raise ActionError(400, {"message": f"Bad request - Action name not known: {name}"})
                data, upload = await _request_data(request, name)
                result = portal.run(name, data, upload, base, editor=authorised(request))
                reply = envelope | {"success": True, "result": result}
                status = 200
            except ActionError as exc:
                reply, status = envelope | {"success": False, "error": exc.error}, exc.status
            return json.dumps(reply, ensure_ascii=False).encode(), status

        return await faulty_json(injector, None, produce)

    for prefix in ("/api/3/action", "/api/action"):
        app.add_api_route(f"{prefix}/{{name}}", action, methods=["GET", "POST"])

    @app.get("/dataset/{package_id}/resource/{resource_id}/download/{filename}")
    async def download(package_id: str, resource_id: str, filename: str, request: Request) -> Response:
        held = portal.files.get(resource_id)
        package = portal.packages.get(package_id)
        if held is None or held[0] != filename or package is None:
            return JSONResponse({"message": "Not found"}, status_code=404)
        if not portal.readable(package, authorised(request)):  # CKAN checks resource_show first
            return JSONResponse({"message": "Not authorized to download resource"}, status_code=403)
        return Response(held[2], media_type=held[1] or "application/octet-stream")

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, Any]:
        with portal.lock:
            resources = sum(len(p["resources"]) for p in portal.packages.values())
            return {
                "held": {"packages": len(portal.packages), "resources": resources, "files": len(portal.files)},
                "calls": dict(portal.calls),
            }

    @app.get("/sandbox/files")
    async def files() -> list[dict[str, Any]]:
        with portal.lock:
            return [
                {"package": p["name"], "resource": r["name"], "url": r["url"], "size": r.get("size")}
                for p in portal.packages.values()
                for r in p["resources"]
                if r["id"] in portal.files
            ]

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's data portal: the hub's API token and organization from its credentials."""
    return create_app(context.credentials["token"], context.credentials.get("owner_org") or "ubnd-thanh-pho-ha-noi")

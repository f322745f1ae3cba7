"""Airflow UI in the deployment's time zone by default.

Airflow 3's UI has no server-side display zone: it shows times in the zone stored in the
browser's ``localStorage["timezone"]`` and, until a user picks one, in the browser's own zone.
On a UTC workstation (or the CI browser) the service center's runs then show as UTC although
``[core] default_timezone`` is Asia/Ho_Chi_Minh, and an operator compares a 07:00 schedule with a
00:00 timestamp. This plugin adds a root middleware that puts one line of script in the UI's page:
if the browser has no stored choice yet, store ``default_timezone``. A user who picks another
zone in the UI keeps it (the preset never overwrites a stored choice).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, ClassVar

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STORAGE_KEY = "timezone"  # the key the Airflow 3 UI reads its display zone from


def preset_script(zone: str) -> bytes:
    """The inline script: a classic script in <head> runs before the UI's deferred module."""
    key, value = json.dumps(STORAGE_KEY), json.dumps(json.dumps(zone))
    return (
        f"<script>try{{localStorage.getItem({key})||localStorage.setItem({key},{value})}}catch(e){{}}</script>"
    ).encode()


def display_zone() -> str:
    """The IANA name of ``[core] default_timezone`` as the browser's Intl API spells it."""
    zone = conf.get("core", "default_timezone", fallback="UTC")
    return "UTC" if zone.lower() in ("utc", "system") else zone


class PresetUiTimezone:
    """Pure ASGI middleware: only HTML answers change, so the API and static files stream as before."""

    def __init__(self, app: ASGIApp, zone: str | None = None) -> None:
        self.app = app
        self.script = preset_script(zone or display_zone())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and _is_html(message):
                start = message  # held until the whole page is read, so its length can be fixed
                return
            if start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = _inject(bytes(body), self.script)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, rewrite)


def _is_html(start: Message) -> bool:
    headers = dict(start.get("headers", []))
    return headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers


def _inject(page: bytes, script: bytes) -> bytes:
    """After the opening <head> tag; a page without one (an error page) is left as it is."""
    at = page.find(b"<head>")
    return page if at < 0 else page[: at + 6] + script + page[at + 6 :]


class UiTimezonePlugin(AirflowPlugin):
    name = "hub_ui_timezone"
    fastapi_root_middlewares: ClassVar[list[dict[str, Any]]] = [
        {"middleware": PresetUiTimezone, "name": "Preset the UI's display zone"}
    ]

"""Headless Debian Chromium driven over the DevTools protocol: a browser test as a user clicks.

Enough of the protocol for the hub's UI tests -- open a page, wait for text, type into a field,
click, read the DOM -- over one WebSocket (``websockets``' synchronous client; it ships with
Airflow's uvicorn), with no browser automation framework to install. CI sets
``HUB_REQUIRE_CHROMIUM=1`` (``.ci/run`` installs the package), so there the tests must run;
elsewhere they skip with the reason.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from websockets.sync.client import ClientConnection, connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_binary() -> str:
    """The ``chromium`` binary, or skip (fail under ``HUB_REQUIRE_CHROMIUM=1``) naming the package."""
    binary = shutil.which("chromium")
    if binary is None:
        if os.environ.get("HUB_REQUIRE_CHROMIUM") == "1":
            pytest.fail("HUB_REQUIRE_CHROMIUM=1 but the chromium binary is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed: apt-get install chromium (.ci/run does)")
    return binary


class BrowserError(AssertionError):
    """The page did not do what the test waited for; the message says what and shows the page's text."""


class Browser:
    """One headless Chromium with one page, driven through the DevTools protocol."""

    def __init__(self, binary: str, profile: Path, *, timezone: str | None = None) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **({"TZ": timezone} if timezone else {})}
        self._process = subprocess.Popen(
            [binary, *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        port = self._devtools_port(profile / "DevToolsActivePort")
        with urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            page = next(t for t in json.load(reply) if t["type"] == "page")
        self._exits = contextlib.ExitStack()
        self._socket: ClientConnection = self._exits.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        )
        self._ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self, path: Path, timeout_s: float = 30) -> int:
        """Chromium writes the port it chose into ``DevToolsActivePort`` in its profile."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserError(f"chromium exited with {self._process.returncode} before opening DevTools")
            if path.exists() and (first := path.read_text().split("\n", 1)[0]).isdigit():
                return int(first)
            time.sleep(0.2)
        raise BrowserError("chromium did not open its DevTools port")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One protocol command; its result (events arriving meanwhile are skipped)."""
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._socket.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for(self, what: str, expression: str, timeout_s: float = 60) -> Any:
        """Poll ``expression`` until it is truthy; fail naming ``what`` with the page's URL and text."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if value := self.evaluate(expression):
                    return value
            except BrowserError:
                pass  # the page is navigating: its context is gone for a moment
            time.sleep(0.5)
        page = f"{self.evaluate('location.href')}; the page shows:\n{self.text()[:1500]}"
        raise BrowserError(f"timed out after {timeout_s:.0f}s waiting for {what} at {page}")

    def wait_for_text(self, text: str, timeout_s: float = 60) -> None:
        self.wait_for(repr(text), f"document.body && document.body.innerText.includes({json.dumps(text)})", timeout_s)

    def type_into(self, selector: str, text: str) -> None:
        """Focus the field and type as a keyboard would (React sees real input events)."""
        self.wait_for(selector, f"!!document.querySelector({json.dumps(selector)})")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def click(self, selector: str) -> None:
        self.wait_for(selector, f"!!document.querySelector({json.dumps(selector)})")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def close(self) -> None:
        self._exits.close()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

"""serve_in_thread: binds a free loopback port itself, serves over a real socket, stops cleanly."""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from fastapi import FastAPI

from sandbox.server import serve_in_thread

pytestmark = pytest.mark.timeout(60)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "ok"}

    return app


def test_serves_on_a_free_loopback_port_and_stops() -> None:
    with serve_in_thread(_app()) as server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(f"{server.url}/ping", timeout=5).json() == {"pong": "ok"}
        thread = server.thread
    assert not thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/ping", timeout=2)


def test_two_servers_get_two_ports_and_stop_is_idempotent() -> None:
    first, second = serve_in_thread(_app()), serve_in_thread(_app())
    try:
        assert first.port != second.port
        assert requests.get(f"{second.url}/ping", timeout=5).ok
    finally:
        first.stop()
        second.stop()
        second.stop()
    assert threading.active_count() < 50


def test_a_taken_port_is_an_error_not_a_silent_other_port() -> None:
    with serve_in_thread(_app()) as server, pytest.raises(OSError):
        serve_in_thread(_app(), port=server.port)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "localhost.example"])
def test_refuses_anything_but_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve_in_thread(_app(), host=host)


def test_connections_are_accepted_as_soon_as_it_returns() -> None:
    with serve_in_thread(_app()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=1):
            pass
        assert requests.get(f"{server.url}/ping", timeout=5).ok

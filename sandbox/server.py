"""Run an ASGI app with uvicorn in a background thread, on a loopback port it bound itself.

Tests, benchmarks and the ``python -m sandbox`` runner all start the partner simulators this way.
The socket is bound here, before uvicorn starts, so asking for port 0 gives a free port with no
window in which another process could take it (the classic "find a free port, then bind it" race).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["RunningServer", "ServerStartError", "serve_in_thread"]


class ServerStartError(RuntimeError):
    """The server thread died or did not start accepting connections in time."""


@dataclass
class RunningServer:
    """A uvicorn server running in a daemon thread; stop it with :meth:`stop` or a ``with`` block."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit (``should_exit``) and wait for its thread; safe to call twice.

        If requests are still hanging (e.g. an injected timeout) uvicorn cancels them after its
        graceful-shutdown timeout; ``force_exit`` is the last resort so a test never hangs here.
        """
        if self._stopped:
            return
        self._stopped = True
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _check_loopback(host: str) -> None:
    """Refuse anything but a loopback address: simulators hold fake personal data and no auth to speak of."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"host must be a loopback IP address, got {host!r}") from exc
    if not address.is_loopback:
        raise ValueError(f"refusing to bind {host}: the sandbox only listens on loopback")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening now means connections made before uvicorn is ready queue instead of failing.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock  # not inheritable (the default): a child process must not keep the port open


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def serve_in_thread(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    access_log: bool = False,
    log_level: str = "warning",
    startup_timeout: float = 15.0,
    graceful_shutdown_s: float = 2.0,
    **uvicorn_options: Any,
) -> RunningServer:
    """Serve ``app`` on ``host:port`` (port 0 = a free one) and return once it accepts connections.

    Access logs stay off by default: a benchmark run makes hundreds of thousands of requests.
    ``log_config=None`` keeps uvicorn from reconfiguring the caller's logging (pytest's capture).
    Extra keyword arguments go to :class:`uvicorn.Config`.
    """
    _check_loopback(host)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    options: dict[str, Any] = {
        "log_config": None,
        "log_level": log_level,
        "access_log": access_log,
        "lifespan": "auto",
        "timeout_graceful_shutdown": graceful_shutdown_s,
        "ws": "none",
    }
    options.update(uvicorn_options)
    config = uvicorn.Config(app, host=host, port=bound_port, **options)
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on startup failure included
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{bound_port}", daemon=True)
    running = RunningServer(host=host, port=bound_port, server=server, thread=thread, sock=sock)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            running.stop()
            raise ServerStartError(f"server thread exited during start-up: {errors[:1]!r}")
        if server.started and _accepts_connections(host, bound_port):
            return running
        time.sleep(0.01)
    running.stop()
    raise ServerStartError(f"server on {host}:{bound_port} did not start within {startup_timeout}s")

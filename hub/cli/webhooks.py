"""``hub webhooks serve``: the partners' callback receiver (carriers; with ``--vbdlis`` the land
system; with ``--payments`` the payment platform's confirmations), a process of its own.

Mounted by ``hub/cli/main.py``. Separate from Airflow's API server on purpose: carriers call it from
outside, it must answer in milliseconds whatever the scheduler is doing, and it needs no Airflow
credentials -- only the store and each carrier's callback secret. Those come from the same
Airflow Connections the DAGs use (one per carrier of ``adapters.partners``, read through its
hook), so there is one place to rotate a secret. Heavy imports happen inside
the command so ``hub --help`` stays fast.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import IO, Annotated, Any

import requests
import typer

from adapters import partners

app = typer.Typer(
    help="Partner callbacks (carriers' postal results, the land system's), received apart from Airflow.",
    no_args_is_help=True,
)
LAND = "land_registration"
PAYMENTS = "payment_platform"


@dataclass(frozen=True)
class PartnerCallbacks:
    """Callbacks beside the carriers' that the receiver takes when its ``option`` is given, checked
    with the ``extras`` of the partner's Connection. A deployed receiver passes every option here
    (tests/deploy checks the compose and Helm commands against this list)."""

    option: str
    partner: str
    extras: tuple[str, ...]


CALLBACKS = (
    PartnerCallbacks("--vbdlis", LAND, ("callback_security_code",)),
    PartnerCallbacks("--payments", PAYMENTS, ("ma_doi_tac", "checksum_secret")),
)


def callback_extras(option: str) -> dict[str, str]:
    """The extras that check ``option``'s callbacks, from its partner's Connection; refuses to start
    without one of them (a receiver that cannot check a callback must not take it)."""
    from adapters.hooks import PartnerHook

    callbacks = next(c for c in CALLBACKS if c.option == option)
    hook = PartnerHook(callbacks.partner)
    extras = hook.get_connection(hook.conn_id).extra_dejson
    missing = [name for name in callbacks.extras if not extras.get(name)]
    if missing:
        raise typer.BadParameter(f"the {callbacks.partner} Connection lacks the {' and '.join(missing)} extra")
    return {name: str(extras[name]) for name in callbacks.extras}


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (a reverse proxy terminates TLS).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8088,
    carrier: Annotated[
        list[str] | None, typer.Option(help="Carrier to accept callbacks for (repeatable); default: all configured.")
    ] = None,
    vbdlis: Annotated[
        bool,
        typer.Option(
            help="Also take the VBDLIS land system's callbacks (the land_registration Connection's "
            "callback_security_code extra is the code they must carry)."
        ),
    ] = False,
    payments: Annotated[
        bool,
        typer.Option(
            help="Also take the payment platform's confirmations (the payment_platform Connection's "
            "ma_doi_tac and checksum_secret extras check them)."
        ),
    ] = False,
) -> None:
    """Receive ``POST /webhooks/<carrier>`` (and, with ``--vbdlis``, ``/webhooks/vbdlis/...``; with
    ``--payments``, ``/webhooks/payment_platform/confirm``) callbacks into the hub store until interrupted."""
    import uvicorn

    from adapters.hooks import PartnerHook
    from adapters.ministry.callbacks import land_callbacks
    from adapters.payment_platform.callbacks import ConfirmationParser
    from hub.observability.logging import configure_json_logging
    from hub.paths import store_url
    from hub.store import hub_store
    from hub.store.default import store_exists, store_location
    from hub.webhooks.app import create_app
    from hub.webhooks.ministry import VBDLIS_PATH, land_callback_routes
    from hub.webhooks.payment import PAYMENT_PATH, payment_callback_routes

    configure_json_logging()  # JSON lines, personal numbers masked (as every hub command)
    logging.getLogger().setLevel(logging.INFO)  # one line per stored batch of callbacks
    clients = {name: PartnerHook(name).get_client() for name in (carrier or partners.carriers())}
    if not store_exists(store_url()):  # the receiver writes, so it may create the store -- but says so
        typer.echo(f"no hub store at {store_location(store_url())} yet: creating it (set HUB_STORE_URL to use another)")
    store, routes = hub_store(), []
    if vbdlis:
        routes = land_callback_routes(store, land_callbacks(callback_extras("--vbdlis")["callback_security_code"]))
        typer.echo(f"VBDLIS callbacks on http://{host}:{port}{VBDLIS_PATH}/<Operation>/<code>")
    if payments:
        extras = callback_extras("--payments")
        routes += payment_callback_routes(store, ConfirmationParser(extras["ma_doi_tac"], extras["checksum_secret"]))
        typer.echo(f"payment confirmations on http://{host}:{port}{PAYMENT_PATH}")
    typer.echo(f"webhook receiver on http://{host}:{port}/webhooks/{{{','.join(clients)}}}")
    # No access log: one line per callback comes from the app, with nothing personal in it.
    uvicorn.run(create_app(store, clients, routes), host=host, port=port, access_log=False, log_level="info")


@contextmanager
def callback_receiver(
    env: Mapping[str, str],
    sandbox: Mapping[str, Any],
    carriers: Sequence[str],
    *,
    vbdlis: bool = False,
    payments: bool = False,
) -> Iterator[str]:
    """``hub webhooks serve`` as its own process (with ``env``: the store and the carriers' Connections)
    while the block runs, and the sandbox ``carriers`` calling it back; yields its base URL.

    The demo needs it for Viettel Post, whose tracking is its callbacks (``registerOrderHook`` asks
    Viettel to send them again; there is no history to poll), and, with ``vbdlis``, for the land
    system's callbacks (the land double sends them when asked: ``land_callbacks``), and, with
    ``payments``, for the payment platform's confirmations (``payment_confirmations``)."""
    with socket.socket() as probe:  # a free loopback port for the receiver to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "hub.cli", "webhooks", "serve", "--port", str(port)]
    command += [option for name in carriers for option in ("--carrier", name)]
    command += ["--vbdlis"] if vbdlis else []
    command += ["--payments"] if payments else []
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would stall the receiver
        process = subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(process, url, log)
            for name in carriers:
                reply = requests.post(f"{sandbox[name]['url']}/sandbox/webhook", json={"url": url}, timeout=10)
                reply.raise_for_status()
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: IO[bytes], timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the callback receiver exited {process.returncode}:\n{tail}")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the callback receiver did not answer at {url} within {timeout_s:.0f} s")


def land_callbacks(receiver: str, land: Mapping[str, Any], first: date, last: date) -> dict[str, int]:
    """Ask the land double (its sandbox state ``land``) to call the receiver back for the dossiers
    it received in ``[first, last]``, as VBDLIS does; returns what it sent and how it was answered."""
    ask = {
        "url": f"{receiver}/webhooks/vbdlis",
        "security_code": land["callback_security_code"],
        "from": first.isoformat(),
        "to": last.isoformat(),
    }
    reply = requests.post(f"{land['url']}/sandbox/callbacks", json=ask, timeout=300)
    reply.raise_for_status()
    return dict(reply.json()["sent"])


def payment_confirmations(
    receiver: str, platform: Mapping[str, Any], *, replay: int = 1, forge: int = 1
) -> dict[str, int]:
    """Ask the payment double (its sandbox state ``platform``) to confirm the day's paid transactions
    to the receiver, then to send ``replay`` of them again and ``forge`` with a wrong checksum (both
    must be refused); returns the receiver's answers by kind and HTTP status."""
    from hub.webhooks.payment import PAYMENT_PATH

    ask = {"url": f"{receiver}{PAYMENT_PATH}", "replay": replay, "forge": forge}
    reply = requests.post(f"{platform['url']}/sandbox/callbacks", json=ask, timeout=300)
    reply.raise_for_status()
    return dict(reply.json()["sent"])

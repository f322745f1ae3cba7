"""``hub webhooks serve``: the carriers' status-callback receiver, a process of its own.

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
from typing import IO, Annotated, Any

import requests
import typer

from adapters import partners

app = typer.Typer(help="Carrier status callbacks (postal results), received apart from Airflow.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (a reverse proxy terminates TLS).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8088,
    carrier: Annotated[
        list[str] | None, typer.Option(help="Carrier to accept callbacks for (repeatable); default: all configured.")
    ] = None,
) -> None:
    """Receive ``POST /webhooks/<carrier>`` callbacks into the hub store until interrupted."""
    import uvicorn

    from adapters.hooks import PartnerHook
    from hub.observability.logging import configure_json_logging
    from hub.store import hub_store
    from hub.webhooks.app import create_app

    configure_json_logging()  # JSON lines, personal numbers masked (as every hub command)
    logging.getLogger().setLevel(logging.INFO)  # one line per stored batch of callbacks
    clients = {name: PartnerHook(name).get_client() for name in (carrier or partners.carriers())}
    typer.echo(f"webhook receiver on http://{host}:{port}/webhooks/{{{','.join(clients)}}}")
    # No access log: one line per callback comes from the app, with nothing personal in it.
    uvicorn.run(create_app(hub_store(), clients), host=host, port=port, access_log=False, log_level="info")


@contextmanager
def callback_receiver(env: Mapping[str, str], sandbox: Mapping[str, Any], carriers: Sequence[str]) -> Iterator[str]:
    """``hub webhooks serve`` as its own process (with ``env``: the store and the carriers' Connections)
    while the block runs, and the sandbox ``carriers`` calling it back; yields its base URL.

    The demo needs it for Viettel Post, whose tracking is its callbacks (``registerOrderHook`` asks
    Viettel to send them again; there is no history to poll)."""
    with socket.socket() as probe:  # a free loopback port for the receiver to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "hub.cli", "webhooks", "serve", "--port", str(port)]
    command += [option for name in carriers for option in ("--carrier", name)]
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

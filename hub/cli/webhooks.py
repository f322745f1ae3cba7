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
from typing import Annotated

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
    from hub.paths import store_url
    from hub.store import hub_store
    from hub.store.default import store_exists, store_location
    from hub.webhooks.app import create_app

    configure_json_logging()  # JSON lines, personal numbers masked (as every hub command)
    logging.getLogger().setLevel(logging.INFO)  # one line per stored batch of callbacks
    clients = {name: PartnerHook(name).get_client() for name in (carrier or partners.carriers())}
    if not store_exists(store_url()):  # the receiver writes, so it may create the store -- but says so
        typer.echo(f"no hub store at {store_location(store_url())} yet: creating it (set HUB_STORE_URL to use another)")
    typer.echo(f"webhook receiver on http://{host}:{port}/webhooks/{{{','.join(clients)}}}")
    # No access log: one line per callback comes from the app, with nothing personal in it.
    uvicorn.run(create_app(hub_store(), clients), host=host, port=port, access_log=False, log_level="info")

"""A partner's client for a command typed by hand, built from the same Airflow Connection the DAGs use."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console


def partner_client_or_exit(partner_id: str, console: Console) -> Any:
    """The client, or a one-line error and exit status 2: a missing or malformed Connection is the
    operator's to fix, so it must read as such and not as a traceback."""
    from adapters.hooks import PartnerHook

    try:
        return PartnerHook(partner_id).get_client()
    except Exception as exc:  # whatever Airflow raises for a missing or malformed Connection
        console.print(
            f"[red]error:[/red] cannot build the {partner_id} client from its Airflow Connection: {exc}",
            highlight=False,
        )
        raise typer.Exit(2) from exc

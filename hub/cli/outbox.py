"""``hub outbox``: what waits for a partner, and how long the oldest has waited.

Also home of :func:`open_store`, the one way the operator commands reach the hub store: a store
that cannot be reached is a clear message and exit status 1, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from hub.store import HubStore

app = typer.Typer(help="Messages waiting for, or delivered to, partners.", no_args_is_help=True)
console = Console()

PartnerOption = Annotated[str, typer.Option(help="Partner whose outbox to show.")]


@contextmanager
def open_store() -> Iterator[HubStore]:
    """The store of HUB_STORE_URL, never a new empty one (``existing_store``); any database failure
    inside the block ends the command cleanly."""
    from hub.paths import store_url
    from hub.store.default import StoreMissing, existing_store, store_location

    where = store_location(store_url())
    try:
        store = existing_store()
    except StoreMissing as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        _store_failed(where, exc)
    try:
        yield store
    except SQLAlchemyError as exc:
        _store_failed(where, exc)


def _store_failed(where: str, exc: SQLAlchemyError) -> NoReturn:
    cause = getattr(exc, "orig", None) or exc
    console.print(f"[bold red]error:[/] cannot use the hub store at {where}: {str(cause).strip().splitlines()[0]}")
    console.print("Check HUB_STORE_URL and that the database server is running.")
    raise typer.Exit(1) from exc


@app.command("status")
def status(partner: PartnerOption = "national_portal") -> None:
    """Messages per operation and state, and the age of the oldest undelivered one.

    Reads the hub store named by HUB_STORE_URL (default: var/hub.db).

    Examples:
      hub outbox status
      HUB_STORE_URL=postgresql+psycopg2://hub@db/hub hub outbox status --partner national_portal
    """
    from adapters.partners import partner_ids

    if partner not in partner_ids():
        console.print(
            f"[bold red]error:[/] unknown --partner {partner!r}: the partners are {', '.join(partner_ids())}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    with open_store() as store:
        counts = store.outbox.counts(partner)
        age = store.outbox.oldest_pending_age(partner)
    table = Table("operation", "state", "messages", title=f"Outbox: {partner}")
    for operation, states in sorted(counts.items()):
        for state, n in sorted(states.items()):
            table.add_row(operation, state, f"{n:,}")
    console.print(table)
    console.print(f"Oldest undelivered message: {'none' if age is None else age}")

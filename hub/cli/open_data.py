"""``hub open-data publish``: publish a month's open data on the city data portal on demand.

The same step the ``open_data_publish`` DAG runs (``hub.jobs.open_data``), through the same
``city_data_portal`` Airflow Connection, so a month published by hand -- again after a correction,
or one the scheduler missed -- patches the same package the scheduler made.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from hub.cli.clients import partner_client_or_exit

console = Console()
open_data_app = typer.Typer(help="Open data on the city data portal (CKAN).", no_args_is_help=True)


@open_data_app.command("publish")
def publish(
    month: Annotated[str, typer.Option(help="The month to publish, e.g. 2026-11.")],
) -> None:
    """Publish a month: counts by agency, procedure and channel, on-time rates and Decision 766 KPIs,
    small cells hidden, as CSV, JSON and DCAT; prints what was published.

    Reads the hub store named by HUB_STORE_URL and the Connection AIRFLOW_CONN_CITY_DATA_PORTAL.
    Publishing a month again patches its package and resources; it never adds a second one.

    Example: hub open-data publish --month 2026-11
    """
    from adapters.errors import AdapterError
    from hub.jobs import open_data as jobs_open_data
    from quality.reconcile.model import Period

    try:
        if Period.parse(month).kind != "month":
            raise ValueError("give a month, e.g. 2026-11")
    except ValueError as exc:
        console.print(f"[red]error:[/red] --month {month!r}: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    client = partner_client_or_exit("city_data_portal", console)
    try:
        summary = jobs_open_data.publish_month(client, month)
    except AdapterError as exc:
        console.print(f"[red]error:[/red] the city data portal refused or did not answer: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    print_publication(console, summary)


def print_publication(out: Console, summary: dict) -> None:
    """What was published, as an official checks it: package, resources, rows, hidden cells."""
    verb = "created" if summary["package_created"] else "patched"
    out.print(
        f"Open data {summary['month']}: package {summary['package']} {verb} on the city data portal; "
        f"{summary['rows']:,} rows, {summary['cells_suppressed']:,} cells suppressed (1-4 and complements).",
        highlight=False,
        soft_wrap=True,
    )
    for name, action in summary["resources"].items():
        out.print(f"  {name}: {action}", highlight=False)
    out.print(f"  files as sent: {summary['files']}", highlight=False)

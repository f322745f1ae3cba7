"""``hub catalogue check``: does the portal still know the procedures and agencies the city sends?

The hub sends ``TenTTHC``, the field and ``DonViXuLy`` (the agency's name) from its versioned code
tables; this command asks the portal for its catalogue through the ``national_portal`` Connection
and lists every row that differs, so the code tables are corrected before dossiers are refused.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.clients import partner_client_or_exit

app = typer.Typer(help="The portal's catalogue against the city's code tables.", no_args_is_help=True)
console = Console()


@app.command("check")
def check(
    day: Annotated[str | None, typer.Option(help="Code tables valid on this day (YYYY-MM-DD); default today.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit with status 3 when any row differs.")] = False,
) -> None:
    """Ask the portal for its catalogue (LayDanhSachTTHC, LayDanhMucCoQuan, LayThuTuc) and compare."""
    from adapters.errors import AdapterError
    from hub.jobs.catalogue import check_portal_catalogue
    from mappings.masking import mask_personal_data

    try:
        on = date.fromisoformat(day) if day else None
    except ValueError as exc:
        console.print(f"[red]error:[/red] --day {day!r} is not a date (YYYY-MM-DD)", highlight=False)
        raise typer.Exit(2) from exc
    client = partner_client_or_exit("national_portal", console)
    try:
        report = check_portal_catalogue(client, on)
    except AdapterError as exc:
        console.print(f"[red]error:[/red] the portal did not answer: {mask_personal_data(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"{report['day']}: {report['procedures_checked']:,} integrated procedures and "
        f"{report['agencies_checked']:,} agencies of the code tables checked against the portal's "
        f"{report['portal_procedures']:,} procedures and {report['portal_agencies']:,} agencies.",
        highlight=False,
    )
    if not report["differences"]:
        console.print("The portal's catalogue agrees with the code tables.")
        return
    table = Table("kind", "code", "code tables", "portal", title=f"{len(report['differences']):,} rows differ")
    for row in report["differences"]:
        table.add_row(row["kind"], row["code"], row["city"], row["portal"] or "(absent)")
    console.print(table)
    for kind, meaning in sorted({(row["kind"], row["meaning"]) for row in report["differences"]}):
        console.print(f"{kind}: {meaning}", highlight=False)
    if strict:
        raise typer.Exit(3)

"""``hub reconcile``: reconcile a period on demand and print the verdict an official reads first.

The same step the reconcile DAGs run (``hub.jobs_reconcile``), so a report made by hand -- for a
past quarter, or in English for a ministry -- is the same report the scheduler would have made.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()

PeriodOption = Annotated[
    str,
    typer.Option(help="A day (2026-11-20), month (2026-11), quarter (2026-Q4) or year (2026)."),
]


def reconcile_command(
    period: PeriodOption,
    language: Annotated[str, typer.Option(help="Report language: vi (default) or en.")] = "vi",
    strict: Annotated[bool, typer.Option(help="Exit with status 3 when the period does not reconcile.")] = False,
) -> None:
    """Reconcile a period and write its report (HTML, CSV, JSON, signed PDF) under var/reports/<period>/.

    Reads the hub store named by HUB_STORE_URL (default: var/hub.db).

    Examples:
      hub reconcile --period 2026-11-20
      hub reconcile --period 2026-Q4 --language en
      hub reconcile --period 2026-11 --strict   # exit 3 if anything differs (for scripts)
    """
    from hub import jobs_reconcile
    from signing.errors import SigningError

    if language not in ("vi", "en"):
        console.print(f"[red]error:[/red] unknown language {language!r}: use vi or en")
        raise typer.Exit(2)
    try:
        result = jobs_reconcile.reconcile_and_report(period, language=language)
    except (ValueError, SigningError) as exc:  # a bad period, or no key to sign the PDF with
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    verdict = result["verdict"]
    if verdict["reconciled"]:
        console.print(f"[bold green]{result['period']}: reconciled[/bold green] -- every count agrees.")
    else:
        console.print(
            f"[bold red]{result['period']}: NOT reconciled[/bold red] -- {verdict['differing_dossiers']:,} dossiers "
            f"differ; largest class: {verdict['largest_class']} ({verdict['largest_class_count']:,})."
        )
    table = Table("difference", "dossiers", title="Differences by class")
    for kind, count in result["counts"].items():
        table.add_row(kind, f"{count:,}")
    console.print(table)
    for key, holds in result["identities"].items():
        console.print(f"identity {key}: {'holds' if holds else '[red]does not hold[/red]'}")
    for name, path in result["files"].items():
        console.print(f"{name}: {path}")
    if strict and not verdict["reconciled"]:
        raise typer.Exit(3)

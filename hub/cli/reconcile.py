"""``hub reconcile``: reconcile a period on demand and print the verdict an official reads first.

The same step the reconcile DAGs run (``hub.jobs.reconcile``), so a report made by hand -- for a
past quarter, or in English for a ministry -- is the same report the scheduler would have made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli.clients import partner_client_or_exit
from hub.cli.outbox import open_store

console = Console()

# ``--strict`` exit statuses: a script tells a period with differences from one with nothing to compare.
EXIT_STATUS = {"not_reconciled": 3, "no_data": 4}

PeriodOption = Annotated[
    str,
    typer.Option(help="A day (2026-11-20), month (2026-11), quarter (2026-Q4) or year (2026)."),
]


def reconcile_command(
    period: PeriodOption,
    language: Annotated[str, typer.Option(help="Report language: vi (default) or en.")] = "vi",
    strict: Annotated[
        bool,
        typer.Option(
            help="Exit with status 3 when the period is not reconciled (a difference not expected, an identity "
            "that fails) and 4 when there is no data for it; 0 when reconciled or every difference is explained."
        ),
    ] = False,
    fetch_portal: Annotated[
        bool,
        typer.Option(
            help="First fetch the portal's signed export of the period through the national_portal "
            "Connection (AIRFLOW_CONN_NATIONAL_PORTAL), as the reconcile DAGs do; without it the last "
            "fetch for the period is used, if any."
        ),
    ] = False,
    portal_file: Annotated[
        Path | None,
        typer.Option(
            help="First store the portal's figures from the dossier listing an official downloaded from the "
            "portal for this unit and period (.csv or .xlsx; columns MaHoSo, TrangThaiHoSo, NgayNopHoSo, optional "
            "MaDonVi). A file with a bad row is refused with the row and the reason, storing nothing.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    rebuild_copy: Annotated[
        bool,
        typer.Option(
            help="Rebuild the columnar copy of the store that reconciliation reads (var/reconcile/) from the "
            "store first, instead of bringing it up to date with what changed; it rebuilds itself when it "
            "cannot be trusted."
        ),
    ] = False,
) -> None:
    """Reconcile a period and write its report (HTML, CSV, JSON, signed PDF) under var/reports/<period>/.

    Reads the hub store named by HUB_STORE_URL (default: var/hub.db, where `make demo` writes) and
    refuses to create one. The verdict is "no data" (no source holds a dossier of the period: no
    signed PDF is written), "reconciled", "explained" (every differing dossier of an expected class,
    HUB_RECONCILE_EXPECTED) or "not reconciled"; printed in the report's language.

    Examples:
      hub reconcile --period 2026-11-20
      hub reconcile --period 2026-Q4 --language en
      hub reconcile --period 2026-11 --strict   # exit 3 if not reconciled, 4 if no data (for scripts)
      hub reconcile --period 2026-11-20 --fetch-portal   # the portal's own count, fetched now
      hub reconcile --period 2026-Q4 --portal-file portal-2026-Q4.xlsx   # the portal's listing, downloaded
    """
    import json

    from hub.jobs import reconcile as jobs_reconcile
    from quality.report.view import summary_lines
    from signing.errors import SigningError

    if language not in ("vi", "en"):
        console.print(f"[red]error:[/red] unknown language {language!r}: use vi or en")
        raise typer.Exit(2)
    if fetch_portal and portal_file is not None:
        console.print("[red]error:[/red] give either --fetch-portal or --portal-file, not both")
        raise typer.Exit(2)
    with open_store():  # an existing store, never a new empty one
        pass
    if fetch_portal:
        _fetch_portal(period)
    if portal_file is not None:
        _import_portal_file(portal_file, period)
    try:
        result = jobs_reconcile.reconcile_and_report(period, language=language, rebuild_copy=rebuild_copy)
    except (ValueError, SigningError) as exc:  # a bad period, a bad HUB_RECONCILE_EXPECTED, no signing key
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    document = json.loads(Path(result["files"]["json"]).read_text(encoding="utf-8"))
    for line in summary_lines(document, language):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for name, path in result["files"].items():
        console.print(f"{name}: {path}", highlight=False, soft_wrap=True)
    status = result["verdict"]["status"]
    if strict and status in EXIT_STATUS:
        raise typer.Exit(EXIT_STATUS[status])


def _fetch_portal(period: str) -> None:
    """The DAG's first step by hand: a refused or unverifiable export stops here, storing nothing."""
    from adapters.errors import AdapterError
    from hub.jobs import reconcile as jobs_reconcile
    from mappings.masking import mask_personal_data

    client = partner_client_or_exit("national_portal", console)
    try:
        fetched = jobs_reconcile.fetch_portal_snapshot(client, period)
    except ValueError as exc:  # a bad period
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except AdapterError as exc:
        console.print(f"[red]error:[/red] the portal's export was not stored: {mask_personal_data(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"portal export for {fetched['period']}: {fetched['dossiers']:,} dossiers held")


def _import_portal_file(path: Path, period: str) -> None:
    """The portal's figures from a downloaded file: refused whole, with the row and reason, or stored."""
    from hub.jobs import reconcile as jobs_reconcile
    from mappings.masking import mask_personal_data

    try:
        stored = jobs_reconcile.import_portal_file(path, period)
    except ValueError as exc:  # a bad period, or PortalFileError naming the row and the reason
        console.print(f"[red]error:[/red] the portal file was not stored: {mask_personal_data(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(
        f"portal file for {stored['period']}: {stored['dossiers']:,} dossiers held "
        f"({stored['file']}, sha256 {stored['sha256'][:16]}...)",
        highlight=False,
    )

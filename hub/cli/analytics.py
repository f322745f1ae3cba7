"""``hub analytics``: write a day into the analytics warehouse and read the warehouse back with DuckDB.

The warehouse is the catalog ``hub.analytics.catalog`` opens (``var/warehouse`` unless pyiceberg's
configuration names another, docs/operations.md "The analytics warehouse"); what is read back is
read through the tables' Iceberg scans, as any engine would read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.outbox import open_store

app = typer.Typer(help="The analytics warehouse (Apache Iceberg): export a day, count, query.", no_args_is_help=True)
console = Console()

DayOption = Annotated[str, typer.Option(help="A day, YYYY-MM-DD.")]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --day {text!r} is not a date (YYYY-MM-DD)", highlight=False)
        raise typer.Exit(2) from exc


@contextmanager
def _reading() -> Iterator[None]:
    """A warehouse never written, or SQL DuckDB refuses: a one-line error and a non-zero exit."""
    import duckdb
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        yield
    except (NoSuchTableError, NoSuchNamespaceError) as exc:
        console.print(
            f"[red]error:[/red] the warehouse has no such table yet ({exc}); write a day first: "
            "hub analytics export --day YYYY-MM-DD",
            highlight=False,
        )
        raise typer.Exit(1) from exc
    except duckdb.Error as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc


def warehouse_check(day: date, hub: dict[str, int] | None) -> tuple[str, bool]:
    """The line ``warehouse: N facts = hub N`` for ``day`` (per source after it), read back with
    DuckDB, and whether the counts agree; ``hub`` is the reconciliation's dossiers per source
    (``hub.analytics.export.hub_counts``), None when the day was not reconciled."""
    from hub.analytics.catalog import open_catalog
    from hub.analytics.query import facts_by_source

    warehouse = facts_by_source(open_catalog(), day)
    by_source = ", ".join(f"{source} {n:,}" for source, n in warehouse.items())
    total = sum(warehouse.values())
    if hub is None:
        return f"warehouse: {total:,} facts ({by_source or 'none'}); the day has no reconciliation to compare", False
    agrees = {k: v for k, v in hub.items() if v} == warehouse
    sign = "=" if agrees else "≠"
    return f"warehouse: {total:,} facts {sign} hub {sum(hub.values()):,} ({by_source or 'none'})", agrees


def _hub_counts(day: date) -> dict[str, int] | None:
    from hub.analytics.export import hub_counts
    from hub.jobs.analytics import reconciliation_of

    document = reconciliation_of(day)
    return hub_counts(document) if document is not None else None


@app.command("export")
def export(
    day: DayOption,
    refresh_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Days before --day whose facts are written again, with their dossiers' newer versions "
            "(default HUB_WAREHOUSE_REFRESH_DAYS or 30, as the DAG).",
        ),
    ] = None,
) -> None:
    """Write the day's de-identified facts and reconciliation results into the warehouse.

    Re-running a day replaces it (one Iceberg commit per table), so it is never counted twice.
    Reads the hub store of HUB_STORE_URL (never creates one) and the day's reconciliation report.

    Example: hub analytics export --day 2026-11-20 --refresh-days 0
    """
    from hub.analytics.catalog import open_catalog
    from hub.analytics.export import export_day
    from hub.jobs import analytics as jobs_analytics

    on = _day(day)
    refresh = jobs_analytics.refresh_days() if refresh_days is None else refresh_days
    with open_store() as store:
        summary = export_day(open_catalog(), store.db, on, jobs_analytics.reconciliation_of(on), refresh_days=refresh)
    days = summary["day"] if refresh == 0 else f"{summary['refreshed_from']}..{summary['day']}"
    console.print(f"{days}: {summary['facts_written']:,} facts written to {summary['catalog']}.", highlight=False)
    if summary["reconciliation"] is None:
        console.print("No reconciliation report for the day: run `hub reconcile --period <day>` and export again.")
    line, agrees = warehouse_check(on, summary["hub"])
    console.print(line, highlight=False)
    if summary["hub"] is not None and not agrees:
        raise typer.Exit(3)


@app.command("counts")
def counts(
    day: Annotated[str | None, typer.Option(help="A day, YYYY-MM-DD.")] = None,
    month: Annotated[str | None, typer.Option(help="A month, YYYY-MM (instead of --day).")] = None,
) -> None:
    """Dossiers by agency and status (TrangThaiHoSo) from the warehouse, read back with DuckDB.

    For a day, the total is matched against the hub's own count (the day's reconciliation).

    Examples:
      hub analytics counts --day 2026-11-20
      hub analytics counts --month 2026-11
    """
    from hub.analytics.catalog import open_catalog
    from hub.analytics.query import counts_by_agency_status, day_filter, month_filter

    if (day is None) == (month is None):
        console.print("[red]error:[/red] give --day or --month")
        raise typer.Exit(2)
    if month is not None:
        try:
            year, number = (int(part) for part in month.split("-"))
            row_filter, label = month_filter(year, number), f"{year}-{number:02d}"
        except ValueError as exc:
            console.print(f"[red]error:[/red] --month {month!r} is not a month (YYYY-MM)", highlight=False)
            raise typer.Exit(2) from exc
    else:
        on = _day(day or "")
        row_filter, label = day_filter(on), on.isoformat()
    with _reading():
        rows = counts_by_agency_status(open_catalog(), row_filter)
    table = Table("agency", "status", "dossiers", title=f"Warehouse {label}: dossiers by agency and status")
    for agency, status, n in rows:
        table.add_row(agency or "(none)", "(no facts)" if status is None else str(status), f"{n:,}")
    console.print(table)
    console.print(f"{sum(n for _, _, n in rows):,} dossiers in the warehouse for {label}.", highlight=False)
    if day is not None:
        with _reading():
            console.print(warehouse_check(on, _hub_counts(on))[0], highlight=False)


@app.command("query")
def query(sql: Annotated[str, typer.Argument(help="DuckDB SQL over dossier_facts, reconciliation_day, ...")]) -> None:
    """Run an analyst's SQL over the warehouse tables with DuckDB and print the result.

    Each table the query names is its Iceberg scan; name each once (a self-join through a CTE).

    Example: hub analytics query "SELECT agency, count(*) FROM dossier_facts GROUP BY 1"
    """
    from hub.analytics.catalog import open_catalog
    from hub.analytics.query import run_query

    with _reading():
        columns, rows = run_query(open_catalog(), sql)
    table = Table(*columns)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _cell(value: Any) -> str:
    return (
        "" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    )

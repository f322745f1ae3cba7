"""The ``hub`` command line: what a data engineer types to run, watch and inspect the hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.airflow_env import airflow_environment
from hub.paths import REPO_ROOT

app = typer.Typer(help="Hanoi dossier integration hub.", no_args_is_help=True, add_completion=False)
sandbox_app = typer.Typer(help="Sandbox partners (city system, national portal) on 127.0.0.1.", no_args_is_help=True)
outbox_app = typer.Typer(help="Messages waiting for, or delivered to, partners.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Records held back because they broke a rule.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(outbox_app, name="outbox")
app.add_typer(quarantine_app, name="quarantine")
console = Console()

DayOption = Annotated[date, typer.Option(formats=["%Y-%m-%d"], help="Sample day the city system generates.")]
ScaleOption = Annotated[float, typer.Option(help="Share of a full day (~11,000 dossiers at 1.0).")]
SeedOption = Annotated[int, typer.Option(help="Generator seed: same seed, same dossiers.")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def run_airflow(*args: str, env: dict[str, str], quiet: bool = False) -> None:
    """Run the Airflow CLI of this environment; its failure is ours, with its last lines shown."""
    command = [sys.executable, "-m", "airflow", *args]
    result = subprocess.run(command, env=env, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(((result.stdout or "") + (result.stderr or "")).splitlines()[-30:])
        _fail(f"`airflow {' '.join(args)}` exited {result.returncode}\n{tail}")


def prepare_airflow(env: dict[str, str]) -> None:
    """Migrate the metadata DB and create the partner pools; both are idempotent."""
    run_airflow("db", "migrate", env=env, quiet=True)
    run_airflow("pools", "import", str(REPO_ROOT / "config" / "pools.json"), env=env, quiet=True)


@app.command("airflow-init")
def airflow_init() -> None:
    """Migrate Airflow's metadata DB under var/ and create the partner pools.

    Example: hub airflow-init
    """
    prepare_airflow(airflow_environment())
    console.print("Airflow metadata DB migrated, pools created.")


@outbox_app.command("status")
def outbox_status(partner: str = "national_portal") -> None:
    """Messages per operation and state, and the age of the oldest undelivered one.

    Example: hub outbox status --partner national_portal
    """
    from hub.jobs import hub_store

    store = hub_store()
    table = Table("operation", "state", "messages", title=f"Outbox: {partner}")
    for operation, states in sorted(store.outbox_counts(partner).items()):
        for state, n in sorted(states.items()):
            table.add_row(operation, state, f"{n:,}")
    console.print(table)
    age = store.oldest_pending_age(partner)
    console.print(f"Oldest undelivered message: {'none' if age is None else age}")


@quarantine_app.command("list")
def quarantine_list(
    rule: Annotated[str | None, typer.Option(help="Only this rule, e.g. dates.due_after_received.")] = None,
    limit: int = 50,
) -> None:
    """Open quarantine entries with the rule each broke and why (personal numbers masked).

    Example: hub quarantine list --rule dossier_no.format
    """
    from hub.jobs import hub_store

    entries = [e for e in hub_store().open_quarantine() if rule is None or e["rule"] == rule]
    table = Table("dossier", "rule", "reason", "seen", title=f"Quarantine: {len(entries):,} open")
    for entry in entries[:limit]:
        table.add_row(entry["dossier_no"], entry["rule"], entry["reason"], str(entry["occurrences"]))
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

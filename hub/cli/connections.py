"""``hub connections test [PARTNER...]``: does each partner's Connection work, before the DAGs find out?

Mounted by ``hub/cli/main.py``. For pointing the hub at real endpoints: each partner of
:mod:`adapters.partners` gets its client built from its Airflow Connection through its hook (as a
task would: URL, credentials, extras, TLS and signing settings all checked) and its registry
``probe`` called -- the cheapest read the partner offers, a login or a catalogue, never an order
and never a citizen lookup. Partners whose every operation reads a person's data are built but not
called, and say so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from adapters import partners
from adapters.partners import Partner

app = typer.Typer(help="The partners' Airflow Connections: set, valid, answering.", no_args_is_help=True)
console = Console()


@dataclass(frozen=True)
class Check:
    """What one partner's check found: ``works``, ``not called``, ``not configured`` or ``fails``."""

    partner: str
    outcome: str
    detail: str
    seconds: float | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "fails"


def check(spec: Partner, client_of: Any) -> Check:
    """Build ``spec``'s client with ``client_of(partner_id)`` and call its probe; never raises."""
    try:
        client = client_of(spec.id)
    except Exception as exc:  # Airflow's "not defined" or a Connection the client refuses
        if type(exc).__name__ == "AirflowNotFoundException":
            return Check(spec.id, "not configured", f"no Connection {spec.id!r} ({spec.connection_variable})")
        return Check(spec.id, "fails", f"the Connection is refused: {exc}")
    probe = spec.probe_call()
    if probe is None:
        return Check(spec.id, "not called", "Connection valid; every operation looks up a citizen, so none is made")
    started = time.monotonic()
    try:
        said = probe(client)
    except Exception as exc:  # the adapters' errors name the operation and mask every credential
        return Check(spec.id, "fails", f"{type(exc).__name__}: {exc}", time.monotonic() - started)
    return Check(spec.id, "works", said, time.monotonic() - started)


@app.command("test")
def test_connections(
    partner: Annotated[
        list[str] | None, typer.Argument(help="Partner ids (adapters/partners.py); default: every partner.")
    ] = None,
) -> None:
    """Build each partner's client from its Connection and make its cheapest read call (login or catalogue).

    Exits 1 when a check fails, or when a partner named on the command line has no Connection.

    Examples:
      hub connections test
      hub connections test national_portal vnpost
    """
    from adapters.hooks import PartnerHook

    unknown = [p for p in partner or [] if partners.find(p) is None]
    if unknown:
        known = ", ".join(partners.partner_ids())
        console.print(f"[bold red]error:[/] unknown partner {', '.join(unknown)}; known: {known}")
        raise typer.Exit(2)
    chosen = [partners.partner(p) for p in partner] if partner else list(partners.PARTNERS)
    table = Table("partner", "result", "what answered or went wrong", "s", title="Partner connections")
    checks = []
    for spec in chosen:
        with console.status(f"{spec.id} ..."):
            found = check(spec, lambda pid: PartnerHook(pid).get_client())
        checks.append(found)
        style = {"works": "green", "fails": "bold red", "not configured": "yellow"}.get(found.outcome, "")
        seconds = f"{found.seconds:.1f}" if found.seconds is not None else ""
        table.add_row(spec.id, f"[{style}]{found.outcome}[/]" if style else found.outcome, found.detail, seconds)
    console.print(table)
    named_missing = bool(partner) and any(c.outcome == "not configured" for c in checks)
    if any(c.failed for c in checks) or named_missing:
        raise typer.Exit(1)

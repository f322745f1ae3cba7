"""``hub quarantine``: the dossiers held back, why, and sending them once they can pass.

Personal numbers (citizen IDs, phones) are masked in everything printed here, reasons included:
a reason may quote a partner's reply.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.clients import partner_client_or_exit
from hub.cli.outbox import open_store
from mappings.masking import mask_personal_data, mask_personal_fields

app = typer.Typer(help="Dossiers held back because they broke a rule.", no_args_is_help=True)
console = Console()

RuleOption = Annotated[str | None, typer.Option(help="Only this rule, e.g. delivery.retries_exhausted.")]
SourceOption = Annotated[str, typer.Option(help="Where the dossiers came from: city, or ministry:<partner>.")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


@app.command("list")
def list_entries(
    rule: RuleOption = None,
    source: Annotated[str | None, typer.Option(help="Only this source, e.g. city.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
) -> None:
    """Open quarantine entries with the rule each broke and why.

    Examples:
      hub quarantine list
      hub quarantine list --rule dossier_no.format --limit 200
    """
    with open_store() as store:
        entries = [e for e in store.quarantine.open_entries(source) if rule is None or e["rule"] == rule]
    table = Table("dossier", "source", "rule", "reason", "seen", title=f"Quarantine: {len(entries):,} open")
    for entry in entries[:limit]:
        table.add_row(
            entry["dossier_no"],
            entry["source"],
            entry["rule"],
            mask_personal_data(entry["reason"]),
            str(entry["occurrences"]),
        )
    console.print(table)
    if len(entries) > limit:
        console.print(f"... {len(entries) - limit:,} more (--limit)")


@app.command("show")
def show(
    dossier_no: Annotated[str, typer.Argument(help="Dossier number, e.g. 000.00.00.H26-261120-0001.")],
) -> None:
    """One dossier's quarantine entries (rules, reasons, when) and the record as it was held.

    Example:
      hub quarantine show 000.00.00.H26-261120-0001
    """
    with open_store() as store:
        entries = store.quarantine.entries_of(dossier_no)
    if not entries:
        _fail(f"dossier {dossier_no} was never quarantined")
    table = Table("rule", "reason", "first seen", "last seen", "seen", "state", title=f"Dossier {dossier_no}")
    for e in entries:
        table.add_row(
            e["rule"],
            mask_personal_data(e["reason"]),
            f"{e['first_seen']:%Y-%m-%d %H:%M}",
            f"{e['last_seen']:%Y-%m-%d %H:%M}",
            str(e["occurrences"]),
            "open" if e["resolved_at"] is None else f"resolved {e['resolved_at']:%Y-%m-%d %H:%M}",
        )
    console.print(table)
    payload: Any = entries[0]["payload"]
    record = json.loads(payload) if isinstance(payload, str) else payload
    console.print("Record held (names, birth dates, e-mails, street addresses, ID and phone numbers masked):")
    console.print_json(json.dumps(mask_personal_fields(record), ensure_ascii=False))


@app.command("replay")
def replay(
    dossier: Annotated[list[str] | None, typer.Option(help="A dossier to replay (repeatable).")] = None,
    rule: RuleOption = None,
    source: SourceOption = "city",
    send: Annotated[bool, typer.Option(help="Deliver now; --no-send leaves it to the next DAG run.")] = True,
) -> None:
    """Re-validate quarantined dossiers and resend those that now pass, through the same gate and outbox.

    For dossiers whose fix is not in the city record: a corrected code table, a portal that
    accepts what it refused, an outage that outlasted the retries. Those still breaking a rule
    stay quarantined, with that rule. Sending uses the national_portal Airflow Connection
    (AIRFLOW_CONN_NATIONAL_PORTAL), like the DAG.

    Examples:
      hub quarantine replay --rule delivery.retries_exhausted
      hub quarantine replay --dossier 000.00.00.H26-261120-0001 --dossier 000.00.00.H26-261120-0002
      hub quarantine replay --rule portal.rejected --no-send
    """
    from hub.jobs.quality import new_run_id, stored_gate
    from hub.pipeline.portal_sync import PARTNER
    from hub.quarantine_admin import replay as replay_dossiers

    if not dossier and not rule:
        _fail("name the dossiers to replay: --dossier NUMBER (repeatable) or --rule RULE")
    with open_store() as store:
        chosen = sorted(
            {
                e["dossier_no"]
                for e in store.quarantine.open_entries(source)
                if (not dossier or e["dossier_no"] in dossier) and (rule is None or e["rule"] == rule)
            }
        )
        if not chosen:
            _fail("no open quarantine entry matches")
        # The plan's own gate: validations stored under a run id of their own, as for a DAG run.
        result = replay_dossiers(store, stored_gate(store, new_run_id()), source=source, dossier_nos=chosen)
        console.print(
            f"{len(chosen):,} dossiers re-validated: {len(chosen) - len(result.still_quarantined):,} pass, "
            f"{len(result.still_quarantined):,} still break a rule; "
            f"{result.requeued_messages:,} dead messages requeued."
        )
        if send and result.batches:
            _deliver(result.batches)
        states = store.deliveries.states(PARTNER, chosen)
    table = Table("dossier", "now", "rules still broken", title="Replay")
    for dossier_no in chosen:
        table.add_row(dossier_no, states.get(dossier_no, "-"), ", ".join(result.still_quarantined.get(dossier_no, [])))
    console.print(table)
    if send and any(states.get(d) == "pending" for d in chosen):
        console.print(
            "Some dossiers are still pending (the portal did not acknowledge them yet); the next run retries."
        )


def _deliver(batches: list[str]) -> None:
    """Send the replayed batches, then the progress entries they unblock, with a progress bar."""
    from adapters.errors import AdapterError
    from hub.jobs import portal

    client = partner_client_or_exit("national_portal", console)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        try:
            step = progress.add_task("dossier batches", total=len(batches))
            for batch_id in batches:
                portal.deliver_portal_dossiers(client, batch_id)
                progress.advance(step)
            progress_batches = portal.plan_portal_progress()
            step = progress.add_task("progress batches", total=len(progress_batches))
            for batch_id in progress_batches:
                portal.deliver_portal_progress(client, batch_id)
                progress.advance(step)
        except AdapterError as exc:
            _fail(f"the portal refused the delivery: {mask_personal_data(str(exc))}")

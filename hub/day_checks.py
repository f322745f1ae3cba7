"""What a sync day must show once it ran: counts that add up, a re-run that sends nothing twice, a
message log that verifies -- and how to print it.

Shared by ``hub demo`` (DAGs run with ``airflow dags test``) and the distributed end-to-end run
(``scripts/e2e_distributed.py``: the same DAGs on Celery workers), so both hold the hub to the
same acceptance test and report it the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from hub.paths import var_dir

# Portal services that carry dossier data; logins and look-ups are not "sending".
SENDING_SERVICES = ("DongBoHoSoMC", "CapNhatTienDoHoSoMC")


def portal_send_calls(portal_url: str) -> int:
    """Calls the sandbox portal received that carry dossier data (its own counter, not the hub's)."""
    stats = requests.get(f"{portal_url}/sandbox/stats", timeout=10).json()
    return sum(c["total"] for service, c in stats["calls"].items() if service in SENDING_SERVICES)


def latest_report(kind: str) -> dict[str, Any]:
    """The last run report a DAG's summary task wrote under ``var/reports/<kind>/``."""
    return json.loads((var_dir() / "reports" / kind / "latest.json").read_text(encoding="utf-8"))


def evidence_status(store_url: str) -> dict[str, Any]:
    """Verify the message log as an auditor would: chain, bodies and seal signatures."""
    from hub.store import HubStore
    from signing.config import trust_store
    from signing.evidence import verify_chain

    store = HubStore(store_url)
    try:
        report = verify_chain(store, trust=trust_store())
    finally:
        store.engine.dispose()
    return {"ok": report.ok, "entries": report.entries, "seals": report.seals, "problem": report.reason}


def day_problems(
    first: dict[str, Any],
    rerun_calls: int,
    evidence: dict[str, Any],
    population: dict[str, Any],
    ministries: dict[str, Any],
) -> list[str]:
    """Every way the day failed its acceptance test, in words; empty when it passed."""
    problems = []
    if not first["identity_holds"]:
        problems.append("the portal sync counts do not add up")
    if rerun_calls != 0:
        problems.append(f"the re-run sent {rerun_calls} messages to the portal again")
    if not evidence["ok"]:
        problems.append(f"the message log does not verify: {evidence['problem']}")
    if not population["identity_holds"]:
        problems.append("the population register counts do not add up")
    if not ministries["identity_holds"]:
        problems.append("the ministry exchange counts do not add up")
    return problems


def print_sync_summary(console: Console, summary: dict, rerun_calls: int, path: Path) -> None:
    """The portal sync's counts as the identity extracted = delivered + quarantined + pending + out of scope."""
    counts = summary["counts"]
    table = Table("", "dossiers", title="City -> national portal sync")
    for label, key in (
        ("extracted from the city system", "extracted"),
        ("synced to the portal (acknowledged)", "delivered"),
        ("quarantined (rule broken)", "quarantined"),
        ("pending (will retry)", "pending"),
        ("out of scope (procedure not on the portal)", "out_of_scope"),
    ):
        table.add_row(label, f"{counts[key]:,}")
    console.print(table)
    added = counts["delivered"] + counts["quarantined"] + counts["pending"] + counts["out_of_scope"]
    verdict = "[green]add up[/]" if summary["identity_holds"] else "[red]DO NOT add up[/]"
    console.print(
        f"{counts['delivered']:,} + {counts['quarantined']:,} + {counts['pending']:,} + {counts['out_of_scope']:,}"
        f" = {added:,}; extracted {counts['extracted']:,}: the counts {verdict}."
    )
    for rule, n in sorted(summary["quarantine_by_rule"].items()):
        console.print(f"  quarantined by {rule}: {n}")
    console.print(f"Re-running the same day sent {rerun_calls} messages to the portal.")
    console.print(f"Summary JSON: {path}")


def print_partner_summaries(console: Console, population: dict[str, Any], ministries: dict[str, Any]) -> None:
    """The population register checks and the ministry exchange of the first run, in a few lines."""
    counts = population["counts"]
    console.print(
        f"Population register: {counts['candidates']:,} citizen applicants = {counts['match']:,} match + "
        f"{counts['mismatch']:,} mismatch ({counts['mismatch_diacritics_only']:,} only in diacritics) + "
        f"{counts['not_found']:,} not found + {counts['invalid']:,} invalid + {counts['pending']:,} pending "
        f"({'adds up' if population['identity_holds'] else 'DOES NOT add up'}); mismatches are quarantined."
    )
    for partner, ministry in ministries["ministries"].items():
        push, pull = ministry["push"], ministry["pull_back"]
        pushed = (
            f"{push['to_push']:,} interconnected dossiers pushed = {push['acknowledged']:,} acknowledged + "
            f"{push['pending']:,} pending + {push['failed']:,} failed + {push['quarantined']:,} quarantined; "
            if ministry["pushes"]
            else ""
        )
        console.print(
            f"Ministry {partner}: {pushed}{pull['pulled']:,} processed on ministry software pulled back "
            f"({pull['staged_new']:,} new, {pull['unchanged']:,} unchanged).",
            highlight=False,
        )


def print_evidence(console: Console, evidence: dict[str, Any], store_url: str) -> None:
    """The message log's verdict and the command that checks it again."""
    console.print(
        f"Message log: {evidence['entries']:,} exchanges, hash chain {'intact' if evidence['ok'] else 'BROKEN'}, "
        f"{evidence['seals']:,} signed seals checked against the trust store "
        f"(again: HUB_STORE_URL={store_url} uv run hub evidence verify)."
    )

"""What a sync day must show once it ran: counts that add up, a re-run that sends nothing twice, a
message log that verifies -- and how to print it.

Shared by ``hub demo`` (DAGs run with ``airflow dags test``) and the distributed end-to-end run
(``scripts/e2e_distributed.py``: the same DAGs on Celery workers), so both hold the hub to the
same acceptance test and report it the same way.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from adapters.partners import carriers
from hub.paths import reports_dir, var_dir
from mappings.sources import PULLBACK_PREFIX
from quality.report.portal_figure import portal_figure
from quality.report.view import fmt_int, identity_view, printed_sum, summary_lines

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
    from signing.evidence.chain import verify_chain

    store = HubStore(store_url)
    try:
        report = verify_chain(store.message_log, trust=trust_store())
        open_intents = len(store.message_log.open_intents())
    finally:
        store.db.engine.dispose()
    return {
        "ok": report.ok,
        "entries": report.entries,
        "seals": report.seals,
        "problem": report.reason,
        "open_intents": open_intents,
    }


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
    if evidence.get("open_intents"):
        problems.append(f"{evidence['open_intents']} requests sent after the day's runs have no recorded outcome")
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
            f"({pull['staged_new']:,} new, {pull['unchanged']:,} unchanged, {pull['quarantined']:,} quarantined).",
            highlight=False,
        )


def advance_carriers(state: dict[str, Any], *, days: int) -> None:
    """Move the sandbox carriers' simulated clocks on, so parcels reach their doors (or come back)."""
    for carrier in carriers():
        url = state[carrier]["url"]
        requests.post(f"{url}/sandbox/clock", json={"advance_hours": 24 * days}, timeout=120).raise_for_status()


def ministry_syncs(portal_url: str, day: date) -> dict[str, Any]:
    """What the ministries synced to the sandbox portal themselves for ``day`` (per partner, and the numbers)."""
    listing = requests.get(
        f"{portal_url}/sandbox/ministry-syncs", params={"from": day.isoformat(), "to": day.isoformat()}, timeout=30
    )
    listing.raise_for_status()
    return listing.json()


def lose_one_portal_dossier(portal_url: str, day: date) -> str:
    """Make the sandbox portal lose one dossier of ``day`` the hub synced and the portal acknowledged:
    a difference the reconciliation must find (missing at the portal) although the hub's own books
    say delivered. (A ministry's own sync is not the hub's to lose.)"""
    page = requests.get(
        f"{portal_url}/sandbox/export/dossiers", params={"from": day.isoformat(), "to": day.isoformat()}, timeout=60
    )
    page.raise_for_status()
    by_ministry = {item["MaHoSo"] for item in ministry_syncs(portal_url, day)["items"]}
    number = next(item["MaHoSo"] for item in page.json()["items"] if item["MaHoSo"] not in by_ministry)
    requests.post(f"{portal_url}/sandbox/export/forget", json={"dossier_no": number}, timeout=30).raise_for_status()
    return number


def reconciliation_document(day: date) -> dict[str, Any]:
    """The day's reconciliation document as the reconcile_daily DAG wrote it."""
    return json.loads((reports_dir(day.isoformat()) / "reconciliation.json").read_text(encoding="utf-8"))


def postal_problems(postal: dict[str, Any]) -> list[str]:
    dispatch = postal["dispatch"]
    problems = [] if dispatch["identity_holds"] else [f"postal dispatch counts do not add up: {dispatch['dispatch']}"]
    if postal["tracking"]["anomalies"]:
        problems.append(f"postal tracking flagged anomalies: {postal['tracking']['anomaly_reasons']}")
    delivery = postal["tracking"]["delivery"]
    for carrier, counts in delivery.items():
        if sum(counts["by_state"].values()) != counts["orders"]:
            states, orders = counts["by_state"], counts["orders"]
            problems.append(f"{carrier}: delivery states {states} do not add up to {orders} orders")
    tracked = sum(counts["orders"] for counts in delivery.values())
    if tracked != dispatch["dispatch"]["ordered"]:
        problems.append(f"carriers' orders {tracked} differ from the {dispatch['dispatch']['ordered']} results ordered")
    return problems


def notifications_seen(ihanoi_url: str) -> dict[str, Any]:
    """The hub's last notification summary beside what the iHaNoi sandbox holds (its own counters)."""
    summary = latest_report("notifications")
    summary["app"] = requests.get(f"{ihanoi_url}/sandbox/stats", timeout=10).json()
    return summary


def notification_problems(notifications: dict[str, Any]) -> list[str]:
    """Counts that add up, notifications actually sent, each held once by the app and none sent twice."""
    counts, app = notifications["counts"], notifications["app"]
    problems = [] if notifications["identity_holds"] else [f"notification counts do not add up: {counts}"]
    if not counts["sent"]:
        problems.append("no citizen notification was sent")
    if app["held"]["notifications"] != counts["sent"] or app["duplicates"]:
        problems.append(
            f"iHaNoi holds {app['held']['notifications']} notifications for {counts['sent']} sent, "
            f"{app['duplicates']} sent twice"
        )
    return problems


def _notification_sum(counts: dict[str, Any]) -> str:
    return (
        f"{counts['planned']:,} planned = {counts['sent']:,} sent + {counts['pending']:,} pending + "
        f"{counts['refused']:,} refused + {counts.get('too_old', 0):,} too old"
    )


def print_notifications(console: Console, notifications: dict[str, Any], reconciliation: dict[str, Any]) -> None:
    """Two bases, each named: every notification the hub has planned to date (the DAG's summary), and
    those of the reconciled day's events (the reconciliation's identity) -- each adds up on its own."""
    counts, app = notifications["counts"], notifications["app"]
    adds_up = "adds up" if notifications["identity_holds"] else "DOES NOT add up"
    day = next((i for i in reconciliation["identities"] if i["key"] == "notifications"), None)
    on_day = (
        "none"
        if day is None
        else _notification_sum({k.removeprefix("notifications_"): v for k, v in day["terms"].items()})
    )
    console.print(
        f"iHaNoi notifications, all events to date: {_notification_sum(counts)} ({adds_up}); "
        f"of events on {reconciliation['period']['label']} (the reconciliation's identity): {on_day}; "
        f"the app holds {app['held']['notifications']:,}, {app['duplicates']} sent twice, by event {app['by_event']}.",
        highlight=False,
        soft_wrap=True,
    )


def reconciliation_problems(document: dict[str, Any], expected: tuple[str, ...], lost: str) -> list[str]:
    """The reconciliation must find each difference class the day was given -- the dossier the
    portal lost, and no other, missing at the portal -- conclude "explained", and every identity
    must hold and add up as the report prints it, once those differences are counted."""
    verdict = document["verdict"]
    problems = [] if verdict["status"] == "explained" else [f"the verdict is {verdict['status']}, not explained"]
    problems += [f"identity {i['key']} does not hold: {i['formula']}" for i in document["identities"] if not i["holds"]]
    for identity in document["identities"]:
        printed = identity_view(identity, "en")["with_figures"]
        left, right = printed_sum(printed, "en")
        if left != right:
            problems.append(f"identity {identity['key']} does not add up as printed: {printed}")
    if verdict["differing_dossiers"] != sum(document["counts"].values()):
        problems.append(f"{verdict['differing_dossiers']} dossiers differ but the classes count {document['counts']}")
    found = {kind for kind, n in {**document["counts"], **document["flags"]}.items() if n}
    problems += [f"no dossier found as {kind}" for kind in expected if kind not in found]
    missing = {d["dossier_no"] for d in document["differences"] if d["kind"] == "missing_at_portal"}
    if missing != {lost}:
        problems.append(f"missing at the portal: {sorted(missing)}, where only the lost dossier {lost} should be")
    return problems


def portal_count_problems(document: dict[str, Any], synced: dict[str, Any]) -> list[str]:
    """The portal must hold more than the city, by the dossiers the ministries synced themselves, and
    the reconciliation must explain each of them by the pull-back of the ministry that synced it."""
    explained = (document.get("portal_side") or {}).get("explained")
    if not explained:
        return ["the reconciliation did not check the portal's own figures"]
    problems = [] if explained["holds"] else ["the portal's figure is not explained by its parts"]
    if explained["portal"] <= explained["city"]:
        problems.append(f"the portal holds {explained['portal']:,}, not more than the city's {explained['city']:,}")
    found = {row["source"].removeprefix(PULLBACK_PREFIX): row["dossiers"] for row in explained["by_ministry"]}
    if not sum(found.values()):
        problems.append("no dossier on the portal is explained as processed on ministry software")
    if found != synced["by_partner"]:
        problems.append(f"dossiers explained per ministry {found} differ from what each synced {synced['by_partner']}")
    if explained["portal_only"]:
        problems.append(f"{explained['portal_only']:,} dossiers on the portal are explained by no source")
    return problems


def print_postal(console: Console, postal: dict[str, Any]) -> None:
    dispatch, tracking = postal["dispatch"]["dispatch"], postal["tracking"]
    console.print(
        f"Postal return: {dispatch['ready']:,} results ready = {dispatch['ordered']:,} ordered + "
        f"{dispatch['pending']:,} pending + {dispatch['quarantined']:,} quarantined "
        f"({'adds up' if postal['dispatch']['identity_holds'] else 'DOES NOT add up'}); "
        f"{tracking['events']:,} carrier events, {tracking['anomalies']} anomalies.",
        highlight=False,
    )
    for carrier, delivery in tracking["delivery"].items():
        states = " + ".join(f"{state} {n:,}" for state, n in sorted(delivery["by_state"].items()))
        adds_up = "adds up" if sum(delivery["by_state"].values()) == delivery["orders"] else "DOES NOT add up"
        console.print(
            f"  {carrier}: {delivery['orders']:,} orders = {states} ({adds_up}); "
            f"overdue {delivery['overdue']:,} of them (a flag beside the state, not a state)",
            highlight=False,
        )


def print_reconciliation(console: Console, document: dict[str, Any], folder: Path) -> None:
    """The verdict an official reads first, the classes and flags, every identity written out, the
    portal's figure by road, example dossiers, and where the report is (in English, as the demo)."""
    for line in summary_lines(document, "en"):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    examples: dict[str, list[str]] = {}
    for difference in document["differences"]:
        if "counted_as" not in difference:
            examples.setdefault(difference["kind"], []).append(difference["dossier_no"])
    for kind, numbers in examples.items():
        console.print(f"  e.g. {kind}: {', '.join(numbers[:3])}", highlight=False, soft_wrap=True)
    for line in portal_figure(document, "en", fmt_int):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"Report (HTML, CSV, JSON, signed PDF): {folder}", highlight=False, soft_wrap=True)


def print_evidence(console: Console, evidence: dict[str, Any], store_url: str | None = None) -> None:
    """The message log's verdict and the command that checks it again (``store_url``: a store other
    than the default one the command reads)."""
    setting = f"HUB_STORE_URL={store_url} " if store_url else ""
    console.print(
        f"Message log: {evidence['entries']:,} exchanges, hash chain {'intact' if evidence['ok'] else 'BROKEN'}, "
        f"{evidence['seals']:,} signed seals checked against the trust store "
        f"(again: {setting}uv run hub evidence verify).",
        highlight=False,
    )

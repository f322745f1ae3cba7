"""Reconcile a period and write its report: the step behind the reconcile DAGs and ``hub reconcile``.

One function serves the daily and quarterly DAGs and the command line, so an official reading a
report produced by the scheduler and an engineer re-running it by hand get the same files.
Reports land in ``var/reports/<period label>/`` (HTML, CSV, JSON and the PDF signed with the hub's
certificate); the task returns only the verdict and the paths, never the differences themselves.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from adapters.errors import AdapterError
from adapters.national_portal.client import NationalPortalClient
from adapters.portal_scoreboard.client import (
    GROUPS,
    HANOI_CODE,
    TREES,
    Evaluation,
    ScoreboardClient,
    ScorePeriod,
    TreeNode,
)
from hub.jobs.common import recorded
from hub.observability import metrics
from hub.paths import reconcile_copy, reports_dir, var_dir
from hub.pipeline import citizen_notifications
from hub.store import hub_store
from hub.store.portal_scores import Score
from quality.reconcile.engine import DEFAULT_MEMORY_LIMIT, reconcile
from quality.reconcile.model import DEFAULT_EXPECTED, HANOI, DifferenceClass, Period, VerdictStatus, parse_classes
from quality.reconcile.notifications import notification_identity
from quality.reconcile.portal_file import read_portal_file
from quality.reconcile.scoreboard import compare as compare_scoreboard
from quality.report import write_reconciliation_report
from signing.config import hub_identity

log = logging.getLogger(__name__)

PeriodKind = Literal["day", "quarter"]


def period_before(moment: datetime, kind: PeriodKind) -> str:
    """The period a run at ``moment`` reconciles, as ``Period.parse`` reads it.

    A daily run reconciles the Hanoi day that ended before it (the syncs for day D finish just
    after midnight of D+1); a quarterly run the quarter holding that day -- quarter to date while
    the quarter runs, the whole quarter on the first run after it ends.
    """
    day: date = moment.astimezone(HANOI).date() - timedelta(days=1)
    if kind == "day":
        return day.isoformat()
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def expected_classes() -> frozenset[DifferenceClass]:
    """The difference classes a period may show and still be "explained": ``HUB_RECONCILE_EXPECTED``
    (comma-separated class names; empty: none is expected) or the engine's default."""
    text = os.environ.get("HUB_RECONCILE_EXPECTED")
    return DEFAULT_EXPECTED if text is None else parse_classes(text)


def reconcile_and_report(period_text: str, *, language: str = "vi", rebuild_copy: bool = False) -> dict[str, Any]:
    """Reconcile ``period_text`` (``2026-11-20``, ``2026-11``, ``2026-Q4``, ``2026``) and write the report.

    The store is read through its columnar copy (``hub.paths.reconcile_copy``), brought up to date
    first; ``rebuild_copy`` rebuilds it from the store instead."""
    period = Period.parse(period_text)
    expected = expected_classes()
    memory_limit = os.environ.get("HUB_RECONCILE_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    # Read before reconciling: the engine's DuckDB attaches a SQLite store, which a new
    # connection opened after it then finds locked.
    board, scores, fetched_at = _stored_scoreboard(period)
    notified = citizen_notifications.period_counts(hub_store(), period.first, period.last)
    extra = [notification_identity(asdict(notified))] if notified.planned else []
    store = hub_store().db
    result = reconcile(
        store,
        period,
        memory_limit=memory_limit,
        expected=expected,
        extra_identities=extra,
        columnar=reconcile_copy(store.url),
        rebuild_columnar=rebuild_copy,
    )
    metrics.reconciliation(result)
    document = result.to_dict()
    document["portal_scoreboard"] = compare_scoreboard(
        document["kpis"], scores, scoreboard_period=board.label, province_code=HANOI_CODE, fetched_at=fetched_at
    )
    label = document["period"]["label"]
    if (data_docs := var_dir() / "gx" / "data_docs" / "index.html").exists():
        # Relative, so the report still links the quality gate's Data Docs when var/ is copied or moved.
        document["data_docs"] = os.path.relpath(data_docs, reports_dir(label))
    verdict = document["verdict"]
    # Nothing compared, nothing to certify: a period without data gets no signed PDF (and loses a stale one).
    signer = None if verdict["status"] == VerdictStatus.NO_DATA else hub_identity()
    files = write_reconciliation_report(document, reports_dir(label), signer=signer, language=language)
    log.info(
        "reconciliation %s: %s, %d dossiers differ (largest class: %s); report in %s",
        label,
        verdict["status"],
        verdict["differing_dossiers"],
        verdict["largest_class"],
        files.html.parent,
    )
    return {
        "period": label,
        "verdict": verdict,
        "sources": document["sources"],
        "compared": document["compared"],
        "counts": document["counts"],
        "flags": document["flags"],
        "identities": document["identities"],
        "files": {name: str(path) for name, path in asdict(files).items() if path is not None},
    }


def fetch_portal_snapshot(client: NationalPortalClient, period_text: str) -> dict[str, Any]:
    """Store what the portal's export holds for ``period_text`` (this unit's dossiers), replacing the
    period's previous snapshot, so the reconciliation that follows checks the portal side.

    The export is read whole and verified (signed replies) before anything is written: a refused
    page raises and leaves the previous snapshot as it was. Its exchanges go to the message log,
    the evidence of what the portal said it held.
    """
    period = Period.parse(period_text)
    with recorded(client, None):
        held = client.export_dossiers(period.first, period.last)
    rows = [(h.dossier_no, h.status, h.updated_at) for h in held]
    stored = hub_store().portal_snapshots.replace(period.label, rows, datetime.now(UTC))
    log.info("portal snapshot %s: the portal holds %d dossiers of unit %s", period.label, stored, client.agency_code)
    return {"period": period.label, "dossiers": stored}


def import_portal_file(path: Path, period_text: str) -> dict[str, Any]:
    """Store the portal's figures for ``period_text`` from the listing an official downloaded
    (``quality.reconcile.portal_file``), replacing the period's snapshot as a fetch would.

    The file is checked whole first: a bad row raises ``PortalFileError`` (row and reason) and the
    previous snapshot stays. Its SHA-256 is logged and returned, so the report's portal side can be
    traced to the exact file it was compared with.
    """
    period = Period.parse(period_text)
    rows = read_portal_file(path, period)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    stored = hub_store().portal_snapshots.replace(
        period.label, [(row.dossier_no, row.status, "") for row in rows], datetime.now(UTC)
    )
    log.info("portal snapshot %s: %d dossiers from file %s (sha256 %s)", period.label, stored, path.name, digest)
    return {"period": period.label, "dossiers": stored, "file": path.name, "sha256": digest}


def scoreboard_period(period: Period) -> ScorePeriod:
    """The scoreboard period a reconciliation period is compared with: a day or any span is read
    against its month (the scoreboard has no days), a quarter or a year against itself."""
    kind = period.kind
    if kind == "quarter":
        return ScorePeriod("quarter", period.first.year, (period.first.month - 1) // 3 + 1)
    if kind == "year":
        return ScorePeriod("year", period.first.year)
    return ScorePeriod("month", period.last.year, period.last.month)


def fetch_portal_scoreboard(client: ScoreboardClient, period_text: str, *, refresh: bool = False) -> dict[str, Any]:
    """Store the portal's public Decision 766 scoreboard for the period ``period_text`` falls in.

    A scoreboard period already stored is not fetched again unless ``refresh`` (the API is public
    and rate-limited). Never raises for the partner's sake: when the API is down or answers what
    the client cannot read, it logs why and returns ``available: False``, and the reconciliation
    goes on (its report says the scoreboard was not available).
    """
    board = scoreboard_period(Period.parse(period_text))
    store = hub_store().portal_scores
    if not refresh and store.fetched_at(board.label) is not None:
        log.info("portal scoreboard %s: already stored, not fetched again", board.label)
        return {"period": board.label, "available": True, "cached": True}
    try:
        evaluations = client.service_results(board, refresh=refresh)
        trees = {endpoint: client.tree(endpoint, board, refresh=refresh) for endpoint in TREES}
    except AdapterError as exc:
        log.warning("portal scoreboard %s: not available (%s); the reconciliation goes on without it", board.label, exc)
        return {"period": board.label, "available": False, "reason": str(exc)}
    maximum = {endpoint: top for endpoint, top in GROUPS.values()}
    group_of = {endpoint: group for group, (endpoint, _) in GROUPS.items()}
    scores = [Score(_code(e), e.department_name, "total", e.total_score, 100.0, "service-results") for e in evaluations]
    scores += [
        Score(_code(e), e.department_name, group, value, GROUPS[group][1], "service-results")
        for e in evaluations
        for group, value in e.group_scores.items()
        if group in GROUPS
    ]
    scores += [
        Score(_code(n), n.department_name, group_of[endpoint], n.score, n.max_score or maximum[endpoint], endpoint)
        for endpoint, nodes in trees.items()
        for n in nodes
    ]
    stored = store.replace(board.label, scores, datetime.now(UTC))
    log.info("portal scoreboard %s: stored %d figures (%d provinces)", board.label, stored, len(evaluations))
    return {"period": board.label, "available": True, "cached": False, "figures": stored}


def _code(row: Evaluation | TreeNode) -> str:
    return row.department_code or row.department_id


def _stored_scoreboard(period: Period) -> tuple[ScorePeriod, list[dict[str, Any]], str | None]:
    """The scoreboard period of ``period``, its stored figures and when they were fetched."""
    board = scoreboard_period(period)
    store = hub_store().portal_scores
    fetched = store.fetched_at(board.label)
    when = fetched.isoformat(timespec="seconds") if fetched else None
    return board, [vars(score) for score in store.of_period(board.label)], when


def scoreboard_part(period: Period, kpis: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's ``portal_scoreboard``: the hub's KPIs beside the stored scoreboard of the period."""
    board, scores, fetched_at = _stored_scoreboard(period)
    return compare_scoreboard(
        kpis, scores, scoreboard_period=board.label, province_code=HANOI_CODE, fetched_at=fetched_at
    )

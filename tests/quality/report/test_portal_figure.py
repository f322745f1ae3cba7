"""The report states the portal's own figure with what it is made of, instead of a trimmed one.

What an official reads in the quarterly report: "the portal holds N = city M + Ministry of Justice
(civil status) a + Business registration system b + ...", the ministries named as the registry
names them, and whether the parts add up. Rendered from a reconciliation of a real store (SQLite
and PostgreSQL) and from a document alone.
"""

from __future__ import annotations

from pathlib import Path

from hub.store import HubStore
from quality.reconcile import Period, reconcile
from quality.report import write_reconciliation_report
from tests.quality.reconcile.test_engine import (
    BEHIND,
    BUSINESS,
    IN_STEP,
    MINISTRY_ONLY,
    _record,
    _store_with_differences,
)
from tests.quality.reconcile.test_portal_side import (
    BUSINESS_SYNCED,
    FETCHED,
    PORTAL_ONLY,
)
from tests.quality.report.test_html import text_of
from tests.support.report_documents import differing_day

QUARTER = Period.parse("2026-Q4")


def _quarter_report(store: HubStore, folder: Path, language: str) -> str:
    _store_with_differences(store)
    store.staging.stage(BUSINESS, [_record(no, "m") for no in BUSINESS_SYNCED], "m3")
    held = [BEHIND, IN_STEP, MINISTRY_ONLY, *BUSINESS_SYNCED, PORTAL_ONLY]
    store.portal_snapshots.replace(QUARTER.label, [(no, 4, "") for no in held], FETCHED)
    document = reconcile(store.db, QUARTER).to_dict()
    files = write_reconciliation_report(document, folder, signer=None, language=language)
    return text_of(files.html.read_text(encoding="utf-8"), "portal-figure")


def test_the_quarterly_report_states_the_portals_figure_explained_by_ministry(store: HubStore, tmp_path: Path) -> None:
    shown = _quarter_report(store, tmp_path, "en")

    # The quarter holds OTHER_DAY (19 Nov) too: 7 city dossiers, 2 of procedures not integrated; the portal
    # lacks MISSING, QUARANTINED and PENDING. Every ministry of the registry is a term, those with none too.
    assert shown.startswith(
        "The national portal holds 6 dossiers of the period = city 7 + Business registration system 2 + "
        "Ministry of Justice (civil status) 1 + Driving-licence system 0 + VBDLIS land registration system 0 + "
        "Unemployment-benefit system 0 + Electronic certification system 0 + only on the portal 1 − "
        "procedure not integrated 2 − "
        "not on the portal 3."
    )
    assert "explained dossier by dossier, not trimmed" in shown


def test_the_vietnamese_report_names_the_ministries_as_the_registry_does(store: HubStore, tmp_path: Path) -> None:
    shown = _quarter_report(store, tmp_path, "vi")

    assert shown.startswith("Cổng DVCQG đang có 6 hồ sơ của kỳ = của Thành phố 7 + Hệ thống đăng ký doanh nghiệp 2 + ")
    assert "Bộ Tư pháp (hộ tịch) 1" in shown and "không cắt giảm số liệu" in shown


def test_without_the_portals_figures_the_report_says_they_were_not_checked(tmp_path: Path) -> None:
    files = write_reconciliation_report(differing_day(), tmp_path, signer=None, language="en")

    shown = text_of(files.html.read_text(encoding="utf-8"), "portal-figure")
    assert shown == "The portal's own figures were not checked for this period (no portal listing was read)."

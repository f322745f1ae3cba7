"""Online payments end to end through Airflow (`dag.test()`): the daily reconciliation fetches the
payment platform's day, settles what it left open, and lists every injected payment discrepancy by
dossier, with identities that add up and the online-payment KPI on matched payments."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sandbox.payment_platform.app import create_app, day_transactions
from sandbox.server import RunningServer, serve_in_thread
from tests.e2e.test_portal_sync import DAY, HANOI, SCALE, SEED, Partners, partners  # noqa: F401

pytestmark = pytest.mark.timeout(600)
SECRET, TOKEN, CODE = "e2e-checksum-key-7d", "e2e-bearer-2c", "HNI-TTHC"
EXPECTED = {
    "no_transaction": ("payment_not_paid", "payment_no_transaction"),
    "failed": ("payment_not_paid", "payment_failed"),
    "amount_differs": ("payment_amount_differs", None),
    "unclaimed": ("payment_unclaimed", "payment_not_claimed"),
}


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch, partners: Partners) -> Iterator[tuple[RunningServer, dict[str, str]]]:  # noqa: F811
    transactions, injected = day_transactions(DAY, SCALE, SEED)
    with serve_in_thread(create_app(CODE, SECRET, transactions, token=TOKEN)) as server:
        extras = urlencode({"ma_doi_tac": CODE, "checksum_secret": SECRET, "max_attempts": 2})
        monkeypatch.setenv(
            "AIRFLOW_CONN_PAYMENT_PLATFORM", f"http://:{TOKEN}@{server.url.removeprefix('http://')}?{extras}"
        )
        yield server, injected


def _run(dagbag, dag_id: str) -> None:
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)
    run = dagbag.dags[dag_id].test(logical_date=day_end)
    assert run.state == "success", f"{dag_id} ended {run.state}"


def test_the_daily_reconciliation_matches_the_platforms_day_to_the_dossiers(dagbag, platform) -> None:
    _, injected = platform
    for dag_id in ("city_dossiers_extract", "national_portal_sync", "reconcile_daily"):
        _run(dagbag, dag_id)

    report = Path(os.environ["HUB_VAR_DIR"]) / "reports" / DAY.isoformat()
    document = json.loads((report / "reconciliation.json").read_text())
    assert document["payments"] == {"checked": True, "basis": "platform", "days_fetched": [DAY.isoformat()]}
    quarantined = {d["dossier_no"] for d in document["differences"] if d["kind"] == "quarantined"}
    payments = {d["dossier_no"]: d for d in document["differences"] if d["source"] == "payment_platform"}
    for number, kind in injected.items():
        if number in quarantined or kind == "pending":
            continue  # a quarantined dossier claims nothing yet; a pending payment was settled by QUERY
        expected_kind, detail = EXPECTED[kind]
        assert payments[number]["kind"] == expected_kind, (number, kind)
        assert detail is None or payments[number]["detail"] == detail
    for number, kind in injected.items():
        if kind == "pending" and number not in quarantined:
            assert number not in payments  # settled by the task's QUERY, then matched
    identities = {i["key"]: i for i in document["identities"]}
    assert all(identities[key]["holds"] for key in ("payments_paid", "payments_claimed", "payments_vnd"))
    assert identities["payments_claimed"]["terms"]["matched"] > 0
    kpi = next(k for k in document["kpis"] if k["key"] == "paid_online")
    assert kpi["basis"] == "platform"
    page = (report / "reconciliation.html").read_text(encoding="utf-8")
    assert "Số tiền thanh toán khác phí, lệ phí của hồ sơ" in page

"""`hub quarantine` and `hub outbox` as an operator types them, on a real store and real partners.

The scenario: the portal is down longer than the retries last, so a day's dossiers die and are
quarantined (``delivery.retries_exhausted``); the operator lists and inspects them, the portal
comes back, and `hub quarantine replay` sends them through the same gate and outbox.
"""

from __future__ import annotations

import re
import socket
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from tests.e2e.test_portal_sync import DAY, HANOI, Partners, partners  # noqa: F401  (fixture)

FULL_ID_OR_PHONE = re.compile(r"(?<![0-9])(?:[0-9]{12}|0[0-9]{9})(?![0-9])")
RULE = "delivery.retries_exhausted"


def hub(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _outage_day(sandbox: Partners, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Extract the day and try to deliver it while the portal fails every call; one attempt allowed."""
    from adapters.hooks import PartnerHook
    from hub.jobs import portal as portal_jobs
    from hub.jobs.extract import extract
    from hub.store import hub_store

    monkeypatch.setenv("HUB_RETRY_MAX_ATTEMPTS", "1")
    sandbox.set_faults(error_rate=1.0)
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=HANOI)
    extract(PartnerHook("city_system").get_client(), start, start + timedelta(days=1))
    portal = PartnerHook("national_portal").get_client()
    for batch_id in portal_jobs.plan_portal_sync():
        portal_jobs.deliver_portal_dossiers(portal, batch_id)
    sandbox.set_faults(error_rate=0.0)
    monkeypatch.delenv("HUB_RETRY_MAX_ATTEMPTS")
    return {e["dossier_no"] for e in hub_store().quarantine.open_entries() if e["rule"] == RULE}


def test_dossiers_dead_after_an_outage_are_listed_shown_and_replayed(
    partners: Partners,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hub.pipeline.portal_sync import PARTNER
    from hub.pipeline.summary import sync_summary
    from hub.store import hub_store
    from mappings.sources import CITY_SOURCE

    dead = _outage_day(partners, monkeypatch)
    assert dead and partners.portal_dossiers() == set()

    listed = hub("quarantine", "list", "--rule", RULE, "--limit", "1000")
    assert listed.exit_code == 0, listed.output
    assert f"Quarantine: {len(dead):,} open" in listed.output
    assert all(d in listed.output for d in sorted(dead)[:5])

    one = sorted(dead)[0]
    shown = hub("quarantine", "show", one)
    assert shown.exit_code == 0, shown.output
    assert RULE in shown.output and one in shown.output and "open" in shown.output
    assert "Record held" in shown.output and "*" in shown.output
    assert not FULL_ID_OR_PHONE.search(shown.output), FULL_ID_OR_PHONE.search(shown.output)

    defects_before = set(partners.city_defects())
    replayed = hub("quarantine", "replay", "--rule", RULE)
    assert replayed.exit_code == 0, replayed.output
    assert f"{len(dead):,} dossiers re-validated: {len(dead):,} pass" in replayed.output
    assert "dossier batches" in replayed.output  # the progress bar
    # Every replayed dossier is at the portal, the quarantine keeps only the city's real defects.
    assert dead <= partners.portal_dossiers()
    still_open = {e["dossier_no"] for e in hub_store().quarantine.open_entries()}
    assert still_open == defects_before
    counts = sync_summary(hub_store(), source=CITY_SOURCE, partner=PARTNER)["counts"]
    assert counts["pending"] == 0 and counts["delivered"] == len(partners.portal_dossiers())
    assert counts["extracted"] == counts["delivered"] + counts["quarantined"] + counts["out_of_scope"]

    status = hub("outbox", "status")
    assert status.exit_code == 0, status.output
    assert "acknowledged" in status.output and "Oldest undelivered message: none" in status.output

    again = hub("quarantine", "replay", "--rule", RULE)
    assert again.exit_code == 1 and "no open quarantine entry matches" in again.output


def test_a_dossier_breaking_a_rule_stays_quarantined_when_replayed(
    partners: Partners,  # noqa: F811
) -> None:
    """Replaying a city defect without a fix re-validates it and keeps it, under the same rule."""
    from adapters.hooks import PartnerHook
    from hub.jobs import portal as portal_jobs
    from hub.jobs.extract import extract
    from hub.store import hub_store

    start = datetime.combine(DAY, datetime.min.time(), tzinfo=HANOI)
    extract(PartnerHook("city_system").get_client(), start, start + timedelta(days=1))
    portal_jobs.plan_portal_sync()
    entry = hub_store().quarantine.open_entries()[0]

    replayed = hub("quarantine", "replay", "--dossier", entry["dossier_no"], "--no-send")
    assert replayed.exit_code == 0, replayed.output
    assert "1 dossiers re-validated: 0 pass, 1 still break a rule" in replayed.output
    (again,) = [e for e in hub_store().quarantine.open_entries() if e["dossier_no"] == entry["dossier_no"]]
    assert again["rule"] == entry["rule"] and again["occurrences"] == entry["occurrences"] + 1


@pytest.mark.parametrize(
    "command",
    [("outbox", "status"), ("quarantine", "list"), ("quarantine", "show", "000.00.00.H26-261120-0001")],
)
def test_an_unreachable_store_is_a_clear_error(command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HUB_STORE_URL", f"postgresql+psycopg2://hub:secret@127.0.0.1:{port}/hub")
    result = hub(*command)
    assert result.exit_code == 1
    assert "cannot use the hub store at postgresql+psycopg2://hub:***@127.0.0.1" in result.output
    assert "secret" not in result.output and "Traceback" not in result.output


def test_replay_without_a_selection_is_refused() -> None:
    result = hub("quarantine", "replay")
    assert result.exit_code == 1 and "--dossier NUMBER" in result.output


@pytest.mark.parametrize(
    "command", [("quarantine", "list"), ("quarantine", "show"), ("quarantine", "replay"), ("outbox", "status")]
)
def test_every_command_has_help_with_examples(command: tuple[str, ...]) -> None:
    result = hub(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"hub {' '.join(command)}" in result.output


def test_show_masks_names_birth_dates_emails_and_street_addresses(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``show`` says it masks, it masks: nothing of the applicant's identity is printed whole."""
    from hub.store import QuarantineItem, hub_store
    from tests.support.factories import RECORD

    monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    record = {
        **RECORD,
        "chu_ho_so": {**RECORD["chu_ho_so"], "ngay_sinh": "1990-03-14"},
        "dia_chi_nhan_ket_qua": {
            "ho_ten": "Trần Thị Bích Ngọc",
            "dien_thoai": "0987654321",
            "dia_chi": "Số 12 ngõ 34 phố Kim Mã",
            "ma_xa": "00001",
        },
    }
    hub_store().quarantine.add(
        [QuarantineItem("city", RECORD["ma_ho_so"], "procedure.known_on_date", "unknown procedure", "h", record)]
    )
    shown = hub("quarantine", "show", RECORD["ma_ho_so"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    for personal in ("Nguyễn Văn An", "Nguyễn", "1990-03-14", "an.nguyen@example.vn", "Trần Thị Bích Ngọc", "Kim Mã"):
        assert personal not in text, personal
    assert not FULL_ID_OR_PHONE.search(text), FULL_ID_OR_PHONE.search(text)
    assert "N***** V** A*" in text and "****-**-**" in text and "a********@example.vn" in text
    assert RECORD["ma_ho_so"] in text and RECORD["ma_tthc"] in text  # the facts an officer needs stay

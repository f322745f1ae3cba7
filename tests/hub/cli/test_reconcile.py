"""`hub reconcile` as an operator types it: an honest verdict, in one language, exit codes a script
can use, and no store conjured out of nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.paths import reports_dir
from hub.store import HubStore


def hub(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    HubStore(url).create_schema()
    monkeypatch.setenv("HUB_STORE_URL", url)
    return url


def test_an_empty_store_is_no_data_and_strict_exits_non_zero(empty_store: str) -> None:
    """It once said "reconciled -- every count agrees" over zeros, and signed a green PDF."""
    result = hub("reconcile", "--period", "2030-01", "--strict")
    assert result.exit_code == 4, result.output
    assert "Tháng 01/2030: KHÔNG CÓ SỐ LIỆU" in result.output
    assert "reconciled" not in result.output.lower() and "ĐÃ KHỚP" not in result.output
    assert not (reports_dir("2030-01") / "reconciliation.pdf").exists()  # nothing to certify
    assert (reports_dir("2030-01") / "reconciliation.html").exists()
    assert hub("reconcile", "--period", "2030-01").exit_code == 0  # without --strict, a report and 0


def test_the_console_speaks_the_reports_language_and_names_what_it_did_not_compare(empty_store: str) -> None:
    english = hub("reconcile", "--period", "2030-02", "--language", "en")
    assert english.exit_code == 0, english.output
    assert "Month 2030-02: NO DATA" in english.output
    assert "Could not compare: the national portal's dossier listing: not fetched for 2030-02" in english.output
    assert "extracted = delivered + quarantined + pending + procedure not integrated (out_of_scope)" in english.output
    assert "Không" not in english.output and "hồ sơ" not in english.output
    vietnamese = hub("reconcile", "--period", "2030-02")
    assert "Chưa đối chiếu được: danh sách hồ sơ của Cổng DVCQG" in vietnamese.output
    assert "đã trích xuất (extracted) = đã gửi thành công (delivered)" in vietnamese.output
    assert "identity" not in vietnamese.output and "NO DATA" not in vietnamese.output


def test_a_bad_expected_class_setting_is_refused_with_the_known_ones(
    empty_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_RECONCILE_EXPECTED", "quarantined,lost")
    result = hub("reconcile", "--period", "2030-03")
    assert result.exit_code == 2
    assert "unknown difference class lost: the classes are missing_at_portal, quarantined" in result.output


def test_no_store_is_said_and_none_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI once created an empty var/hub.db and reported on it while the demo's data sat elsewhere."""
    monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'absent.db'}")
    result = hub("reconcile", "--period", "2026-11-20")
    assert result.exit_code == 1
    assert "there is no hub store at" in result.output and "make demo" in result.output
    assert not (tmp_path / "absent.db").exists()


def test_the_periods_citizen_notifications_are_printed_and_add_up(empty_store: str) -> None:
    """Counted by the day each event happened: a notification of another month is not in the sum."""
    import sqlalchemy as sa

    from hub.store import OutboxMessage
    from hub.store import schema as t

    store = HubStore(empty_store)
    days = ["2030-04-02", "2030-04-02", "2030-04-15", "2030-04-30", "2030-05-01"]
    store.outbox.enqueue(
        [
            OutboxMessage(f"key-{n}", "ihanoi", "notify", f"D{n}", f"h{n}", {"event_time": f"{day}T09:00:00+07:00"})
            for n, day in enumerate(days)
        ]
    )
    states = {"key-0": "acknowledged", "key-1": "acknowledged", "key-2": "failed", "key-3": "dead"}
    with store.db.engine.begin() as conn:
        for key, state in states.items():
            conn.execute(sa.update(t.outbox).where(t.outbox.c.idempotency_key == key).values(state=state))
    result = hub("reconcile", "--period", "2030-04")
    assert result.exit_code == 0, result.output
    assert "Thông báo cho công dân qua iHaNoi: Cân" in result.output
    assert (
        "thông báo cần gửi (notifications_planned) = đã gửi (notifications_sent) + chờ gửi (notifications_pending) "
        "+ bị từ chối (notifications_refused) + quá cũ, không gửi (notifications_too_old)" in result.output
    )
    assert "4 = 2 + 1 + 1 + 0" in result.output

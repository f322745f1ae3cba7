"""The export job's settings: how many days before the exported one are refreshed."""

from __future__ import annotations

import pytest

from hub.jobs.analytics import DEFAULT_REFRESH_DAYS, refresh_days


def test_the_refresh_window_is_the_setting_or_thirty_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_WAREHOUSE_REFRESH_DAYS", raising=False)
    assert refresh_days() == DEFAULT_REFRESH_DAYS == 30
    monkeypatch.setenv("HUB_WAREHOUSE_REFRESH_DAYS", "0")
    assert refresh_days() == 0


@pytest.mark.parametrize("bad", ["-1", "a week", ""])
def test_a_bad_refresh_window_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("HUB_WAREHOUSE_REFRESH_DAYS", bad)
    with pytest.raises(ValueError, match="HUB_WAREHOUSE_REFRESH_DAYS"):
        refresh_days()

"""The notification age limit an operator sets (``HUB_NOTIFY_MAX_AGE_DAYS``): a week by default,
a clear error for a value that is not a positive number of days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.jobs.notifications import max_age


def test_a_week_by_default_and_the_setting_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_NOTIFY_MAX_AGE_DAYS", raising=False)
    assert max_age() == timedelta(days=7)
    monkeypatch.setenv("HUB_NOTIFY_MAX_AGE_DAYS", "2.5")
    assert max_age() == timedelta(days=2, hours=12)


@pytest.mark.parametrize("value", ["a week", "0", "-3"])
def test_a_value_that_is_not_a_positive_number_of_days_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HUB_NOTIFY_MAX_AGE_DAYS", value)
    with pytest.raises(ValueError, match="HUB_NOTIFY_MAX_AGE_DAYS"):
        max_age()

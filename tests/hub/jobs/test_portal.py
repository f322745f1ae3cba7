"""How many partitions the portal sync's plan is mapped over: the setting, else the pool's slots."""

from __future__ import annotations

import pytest

from adapters.partners import pools
from hub.jobs.portal import PLAN_PARTITIONS_ENV, plan_partitions


def test_by_default_the_plan_has_as_many_partitions_as_the_portal_pool_has_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PLAN_PARTITIONS_ENV, raising=False)
    slots = pools()["national_portal"].slots
    assert plan_partitions() == [[index, slots] for index in range(slots)]


def test_the_setting_gives_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PLAN_PARTITIONS_ENV, "3")
    assert plan_partitions() == [[0, 3], [1, 3], [2, 3]]


@pytest.mark.parametrize("setting", ["0", "-2", "two", "1.5"])
def test_a_setting_that_is_no_count_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv(PLAN_PARTITIONS_ENV, setting)
    with pytest.raises(ValueError, match=f"{PLAN_PARTITIONS_ENV}='{setting}'"):
        plan_partitions()

"""The store of the pull-back-only ministry doubles (``sandbox/held_records.py``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sandbox.certification.store import held_dossiers, records
from sandbox.held_records import HeldRecordStore
from sandbox.ministry_dossiers import DayConflictError

DAY = date(2026, 11, 20)


def test_a_day_is_held_once_and_listed_by_the_day_received(tmp_path: Path) -> None:
    store = HeldRecordStore(tmp_path / "held.db", held_dossiers, records)
    added = store.load_days(DAY, DAY, 0.05, 7)
    assert added > 0
    assert store.load_days(DAY, DAY, 0.05, 7) == 0  # loading again adds nothing
    with pytest.raises(DayConflictError):
        store.load_days(DAY, DAY, 0.1, 7)
    listed = store.page(DAY, DAY)
    numbers = store.numbers(DAY, DAY)
    assert len(listed) == len(numbers) <= added  # a dossier received on a later day is listed then
    assert [r["MaHoSo"] for r in listed] == numbers == sorted(numbers)
    assert store.page(DAY, DAY, offset=1, limit=2) == listed[1:3]
    assert store.detail(numbers[0]) == listed[0] and store.detail("0") is None
    assert all(r["MaTTHC"] == "2.000815.000.00.02.H26" for r in listed)

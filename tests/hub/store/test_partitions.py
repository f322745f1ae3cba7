"""Partitions of the staged dossiers: disjoint, together every dossier, a shared number's records in one."""

from __future__ import annotations

import pytest

from hub.store import WHOLE, Partition, partitions
from hub.store.staging import number_of, shared_key

NUMBERS = [f"000.00.12.H26-261120-{i:04d}" for i in range(1, 2001)]


def test_each_dossier_is_in_exactly_one_partition_and_the_partitions_are_balanced() -> None:
    split = partitions(3)
    owners = [[p.index for p in split if p.holds(n)] for n in NUMBERS]
    assert all(len(found) == 1 for found in owners)
    sizes = [sum(1 for found in owners if found == [p.index]) for p in split]
    assert min(sizes) > len(NUMBERS) / 3 * 0.8, sizes
    assert all(WHOLE.holds(n) for n in NUMBERS)


def test_records_sharing_a_number_land_in_the_partition_of_the_number() -> None:
    twin = shared_key(NUMBERS[0], "9000001")
    assert number_of(twin) == NUMBERS[0] != twin
    for partition in partitions(4):
        assert partition.holds(twin) == partition.holds(NUMBERS[0])


def test_a_partition_outside_its_count_is_refused() -> None:
    with pytest.raises(ValueError, match="no partition 2 of 2"):
        Partition(2, 2)

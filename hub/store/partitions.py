"""Disjoint partitions of the staged dossiers, so that several task instances can plan at once.

A dossier belongs to the partition its dossier *number* hashes to (CRC-32, the same in every
process and on every run, unlike Python's ``hash``), not its staged key: a record that shares its
number with another source record is staged as ``<number>#<record id>``
(``hub.store.staging.shared_key``), and both records must land in one partition, so that the plan
that holds them back sees them together. Every dossier is in exactly one partition of a count.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from hub.store.staging import number_of


@dataclass(frozen=True)
class Partition:
    """Partition ``index`` of ``count``; the one partition of 1 is the whole store."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"no partition {self.index} of {self.count}: the index runs from 0 to count - 1")

    @property
    def whole(self) -> bool:
        return self.count == 1

    def holds(self, dossier_key: str) -> bool:
        """Whether the dossier staged under ``dossier_key`` is planned in this partition."""
        return self.whole or zlib.crc32(number_of(dossier_key).encode("utf-8")) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


WHOLE = Partition()


def partitions(count: int) -> list[Partition]:
    """The ``count`` partitions that together hold every dossier once."""
    return [Partition(index, count) for index in range(count)]

"""UPU S10 item codes (``EE123456785VN``): the barcode a carrier prints on every registered item.

The hub refuses any order reply whose item code fails the check digit: a wrong digit means the
carrier (or a mangled reply) handed us a number no post office can scan, and a result sent under
it could never be traced or reconciled. Where the city supplies the code itself (VNPost's
``OrderLGSPWithItemCode``), it comes from an :class:`ItemCodeRange` the carrier issued.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^[A-Z]{2}[0-9]{8}[0-9][A-Z]{2}$")
_SERIAL = re.compile(r"^[0-9]{8}$")
_LETTERS2 = re.compile(r"^[A-Z]{2}$")


def s10_check_digit(serial8: str) -> int:
    """The check digit over the 8 serial digits (UPU S10: 11 - weighted sum mod 11; 10 -> 0, 11 -> 5)."""
    if not _SERIAL.match(serial8):
        raise ValueError(f"an S10 serial is exactly 8 digits, got {serial8!r}")
    c = 11 - sum(int(serial8[i]) * w for i, w in enumerate(_WEIGHTS)) % 11
    return {10: 0, 11: 5}.get(c, c)


def is_valid_s10(code: str) -> bool:
    """True when ``code`` has the S10 shape and its ninth digit is the serial's check digit."""
    if not _S10.match(code):
        return False
    return int(code[10]) == s10_check_digit(code[2:10])


def make_s10(prefix2: str, serial8: str, country2: str = "VN") -> str:
    """Build a valid item code from its service indicator, serial and country: ``EE`` + serial + digit + ``VN``."""
    for part, label in ((prefix2, "service indicator"), (country2, "country code")):
        if not _LETTERS2.match(part):
            raise ValueError(f"an S10 {label} is two capital letters, got {part!r}")
    return f"{prefix2}{serial8}{s10_check_digit(serial8)}{country2}"


_RANGE = re.compile(r"^([A-Z]{2})([0-9]{8})(?:[A-Z]{2})?-([A-Z]{2})?([0-9]{8})([A-Z]{2})?$")


@dataclass(frozen=True)
class ItemCodeRange:
    """A block of S10 serials the carrier issued to the city (VNPost: the customer supplies each
    order's ``ItemCode`` from its own block), and how many left should already raise the alarm.

    Written ``"RH10000000-RH10099999"`` (service indicator and 8-digit serial at each end; the
    country is ``VN`` unless the ends say otherwise: ``"RH10000000VN-RH10099999VN"``).
    """

    prefix: str
    first: int
    last: int
    country: str = "VN"
    alert_remaining: int = 0
    """Alert once this few serials or fewer are left (0: 10 % of the block)."""

    def __post_init__(self) -> None:
        if not _LETTERS2.match(self.prefix) or not _LETTERS2.match(self.country):
            raise ValueError(f"an item-code range needs two-letter service and country codes, got {self!r}")
        if not 0 <= self.first <= self.last <= 99_999_999:
            raise ValueError(f"an item-code range runs from a lower to a higher 8-digit serial, got {self!r}")
        if self.alert_remaining < 0:
            raise ValueError("alert_remaining cannot be negative")

    @classmethod
    def parse(cls, text: str, alert_remaining: int = 0) -> ItemCodeRange:
        """``"RH10000000-RH10099999"`` -> the range (``ValueError`` saying what shape is expected)."""
        match = _RANGE.match(text.strip().upper())
        if match is None:
            raise ValueError(f"item-code range {text!r}: expected e.g. RH10000000-RH10099999 (two blocks of 8 digits)")
        prefix, first, prefix_end, last, country = match.groups()
        if prefix_end not in (None, prefix):
            raise ValueError(f"item-code range {text!r}: both ends must use the same service indicator")
        return cls(prefix, int(first), int(last), country or "VN", alert_remaining)

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    @property
    def alert_at(self) -> int:
        """Remaining serials at or below which the block is reported as running out."""
        return self.alert_remaining or max(self.size // 10, 1)

    @property
    def series(self) -> str:
        """The block's name in the hub store: ``RH10000000-RH10099999VN``."""
        return f"{self.prefix}{self.first:08d}-{self.prefix}{self.last:08d}{self.country}"

    def code(self, serial: int) -> str:
        """The item code of ``serial`` (``ValueError`` outside the block)."""
        if not self.first <= serial <= self.last:
            raise ValueError(f"serial {serial} is outside the item-code range {self.series}")
        return make_s10(self.prefix, f"{serial:08d}", self.country)

    def __contains__(self, code: object) -> bool:
        """Whether ``code`` is a valid S10 code of this block."""
        return (
            isinstance(code, str)
            and is_valid_s10(code)
            and code[:2] == self.prefix
            and code[11:] == self.country
            and self.first <= int(code[2:10]) <= self.last
        )

"""UPU S10 item codes (``EE123456785VN``): the barcode a carrier prints on every registered item.

The hub refuses any order reply whose item code fails the check digit: a wrong digit means the
carrier (or a mangled reply) handed us a number no post office can scan, and a result sent under
it could never be traced or reconciled.
"""

from __future__ import annotations

import re

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

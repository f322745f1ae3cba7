"""Masking of personal data (Decree 13/2023): logs and reports show only the last 3 digits.

Every log line and report that may carry an ID or phone number goes through
:func:`mask_personal_data`, so a forgotten field cannot leak a full number.
"""

from __future__ import annotations

import re

VISIBLE = 3

# 10-12 digits in a row (citizen ID or phone), or a phone written in groups
# ("0912 345 678", "+84 912.345.678"). The look-arounds keep dotted codes such as
# "1.003560.000.00.00.H26" and longer numbers such as portal dates "20261120081500" intact.
_PERSONAL = re.compile(
    r"(?<![0-9])(?<![0-9]\.)"
    r"(?:[0-9]{10,12}|(?:\+84[ .]?|0)[0-9]{2,3}[ .]?[0-9]{3,4}[ .]?[0-9]{3,4})"
    r"(?![0-9])(?!\.[0-9])"
)


def mask_citizen_id(s: str) -> str:
    """``001090012345`` -> ``*********345``; three characters or fewer are masked entirely."""
    if len(s) <= VISIBLE:
        return "*" * len(s)
    return "*" * (len(s) - VISIBLE) + s[-VISIBLE:]


def mask_phone(s: str) -> str:
    """Mask every digit but the last three, keeping the layout: ``+84 912 345 678`` -> ``+** *** *** 678``."""
    digits = sum(c.isdigit() for c in s)
    to_mask = digits - VISIBLE if digits > VISIBLE else digits
    out = []
    for c in s:
        if c.isdigit() and to_mask:
            out.append("*")
            to_mask -= 1
        else:
            out.append(c)
    return "".join(out)


def mask_personal_data(text: str) -> str:
    """Mask every citizen ID (12 digits) and phone number (10-11 digits) inside free text."""
    return _PERSONAL.sub(lambda m: mask_phone(m.group()), text)

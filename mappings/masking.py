"""Masking of personal data (Decree 13/2023): logs and reports show only the last 3 digits.

Every log line and report that may carry an ID or phone number goes through
:func:`mask_personal_data`, so a forgotten field cannot leak a full number. A whole record shown
to an operator (``hub quarantine show``) goes through :func:`mask_personal_fields`, which also
masks full names, birth dates, e-mails and street addresses, found by field name.
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


# Field names (compared without case and underscores) whose values are a person's full name,
# birth date, e-mail or street address, in the city's records, the portal's payloads, the
# population register's replies and the carriers' orders.
_NAME_KEYS = frozenset({"hoten", "hovaten", "chuhoso", "nguoinhan", "tennguoinhan", "receivername", "sendername"})
_BIRTH_KEYS = frozenset({"ngaysinh", "ngaythangnamsinh", "ngaythangnam", "namsinh"})
_EMAIL_KEYS = frozenset({"email", "thudientu"})
_ADDRESS_KEYS = frozenset({"diachi", "chitiet", "sonha", "receiveraddress", "senderaddress", "diachinhanketqua"})


def mask_words(text: str) -> str:
    """Each word's first character kept, the rest starred: ``Nguyễn Văn An`` -> ``N***** V** A*``."""
    return re.sub(r"\w+", lambda m: m.group()[0] + "*" * (len(m.group()) - 1), text)


def mask_email(text: str) -> str:
    """The mailbox starred but its first character, the domain kept: ``an.nguyen@x.vn`` -> ``a********@x.vn``."""
    local, at, domain = text.partition("@")
    return local[:1] + "*" * (len(local) - 1) + at + domain if at else mask_words(text)


def mask_personal_fields(value: object) -> object:
    """A record (dicts and lists of it) with full names, birth dates, e-mails and street addresses
    masked by field name, and every ID and phone number in any string masked by shape
    (:func:`mask_personal_data`). What an operator's screen may show of a held record."""
    if isinstance(value, dict):
        masked: dict[object, object] = {}
        for key, item in value.items():
            kind = str(key).replace("_", "").lower()
            if isinstance(item, str) and kind in _BIRTH_KEYS:
                masked[key] = re.sub(r"[0-9]", "*", item)
            elif isinstance(item, str) and kind in _EMAIL_KEYS:
                masked[key] = mask_email(item)
            elif isinstance(item, str) and kind in _NAME_KEYS | _ADDRESS_KEYS:
                masked[key] = mask_words(mask_personal_data(item))
            elif isinstance(item, dict) and kind in _BIRTH_KEYS:  # NgayThangNamSinh {NgayThangNam | Nam}
                masked[key] = {k: re.sub(r"[0-9]", "*", str(v)) for k, v in item.items()}
            else:
                masked[key] = mask_personal_fields(item)
        return masked
    if isinstance(value, list):
        return [mask_personal_fields(item) for item in value]
    if isinstance(value, str):
        return mask_personal_data(value)
    return value

"""Keep secrets and personal numbers out of messages, logs and the logged copy of bodies.

Partner replies are untrusted text: a portal may echo the session it rejected, or a validation
message may quote the citizen ID it refused. Everything an adapter puts into an exception, a log
line or a result message goes through :func:`scrub`, so the guarantee does not depend on each
call site remembering it (Decree 13/2023: logs never show a full ID or phone number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from mappings.masking import mask_personal_data

# The project's masking rule (mappings.masking) covers citizen IDs and phones, also written in
# groups. Runs of 9 (old ID card) to 13 (tax code with branch) digits are masked on top of it.
# Longer runs are left alone on purpose: 14 digits is a yyyyMMddHHmmss timestamp, useful in a message.
_PERSONAL_NUMBER = re.compile(r"(?<![\d+])\+?\d{9,13}(?!\d)")
_KEEP_LAST = 3
REDACTED = "***"
MAX_PARTNER_TEXT = 300


def _mask(match: re.Match[str]) -> str:
    number = match.group(0)
    return "*" * (len(number) - _KEEP_LAST) + number[-_KEEP_LAST:]


def mask_personal_numbers(text: str) -> str:
    """Mask ID, phone and tax numbers, keeping the last digits so a human can still match them."""
    return _PERSONAL_NUMBER.sub(_mask, mask_personal_data(text))


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove known secret values, mask personal numbers and bound the length of partner text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = mask_personal_numbers(text)
    if len(text) > MAX_PARTNER_TEXT:
        text = text[:MAX_PARTNER_TEXT] + "..."
    return text


def redact_json_keys(body: bytes, keys: frozenset[str]) -> tuple[bytes, bool]:
    """Return a copy of a JSON object body with the values of top-level ``keys`` replaced.

    The message log keeps bodies as evidence, but a session token or a password in it would be a
    credential at rest. Only bodies that actually held one of the keys are rewritten (and flagged),
    every other body is kept byte for byte.
    """
    if not keys or not body:
        return body, False
    try:
        document: Any = json.loads(body)
    except ValueError:
        return body, False
    if not isinstance(document, dict):
        return body, False
    redacted = redacted_document(document, keys)
    return (body, False) if redacted is None else (redacted, True)


def redacted_document(document: Mapping[str, Any], keys: frozenset[str]) -> bytes | None:
    """The logged copy :func:`redact_json_keys` makes of a body encoding ``document``, made from the
    document itself (a caller that just encoded it need not decode it again); None when it holds
    none of ``keys``."""
    if not keys.intersection(document):
        return None
    redacted = {key: (REDACTED if key in keys else value) for key, value in document.items()}
    return json.dumps(redacted, ensure_ascii=False).encode("utf-8")


def describe_validation_error(exc: ValidationError) -> str:
    """Summarise a pydantic error by location and rule only: its default text quotes the input
    values, which may be personal data or secrets."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")

"""How VNPost's callbacks are signed: ``SignData`` over the callback's ``Data`` and ``SendDate``.

The callback's outer shape (``{Data, SendDate, SignData}``, ``Data`` a JSON string) is public; how
``SignData`` is computed is not (docs/interfaces.md 9.5: **assumption**, confirmed only by VNPost's
integration guide for the city's customer code). So the scheme is configuration
(Connection extra ``callback_sign_scheme``), and both schemes seen in Vietnamese public-service
integrations are offered, each over the exact ``Data`` string followed by ``SendDate``:

- ``hmac-sha256`` (default): lower-case hex HMAC-SHA256 keyed with the shared callback secret;
- ``sha256-secret``: lower-case hex SHA-256 of the text with the secret appended (the checksum
  style of the national portal's payment platform, EVIDENCE.md).

One module for the hub's check and the sandbox double's signing, as a WSDL is shared: the scheme
is the contract, not either side's implementation.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

__all__ = ["DEFAULT_SCHEME", "SCHEMES", "sign_data", "signature_holds"]

DEFAULT_SCHEME = "hmac-sha256"


def _hmac_sha256(text: bytes, secret: bytes) -> str:
    return hmac.new(secret, text, hashlib.sha256).hexdigest()


def _sha256_secret(text: bytes, secret: bytes) -> str:
    return hashlib.sha256(text + secret).hexdigest()


SCHEMES: dict[str, Callable[[bytes, bytes], str]] = {"hmac-sha256": _hmac_sha256, "sha256-secret": _sha256_secret}


def sign_data(data: str, send_date: str, secret: str, scheme: str = DEFAULT_SCHEME) -> str:
    """The ``SignData`` of a callback carrying ``data`` (the JSON string, exactly as sent) and ``send_date``."""
    try:
        compute = SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown SignData scheme {scheme!r}; known: {', '.join(sorted(SCHEMES))}") from None
    return compute(f"{data}{send_date}".encode(), secret.encode())


def signature_holds(data: str, send_date: str, given: str, secret: str, scheme: str = DEFAULT_SCHEME) -> bool:
    """Whether ``given`` is the callback's ``SignData`` (constant-time; case of the hex ignored)."""
    return hmac.compare_digest(given.strip().lower().encode(), sign_data(data, send_date, secret, scheme).encode())

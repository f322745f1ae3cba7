"""What the transport does about message signatures for one partner.

Outgoing: a detached JWS over the exact request bytes, so the partner (and our own message
log) can prove who sent what. Incoming: the partner's detached JWS over the exact reply bytes is
verified against the hub's trust store *before* the reply is parsed -- an unsigned, altered or
untrusted reply is refused whole, and the records it answered stay undelivered.
"""

from __future__ import annotations

from dataclasses import dataclass

from signing.errors import SigningError
from signing.jws import SIGNATURE_HEADER, sign_detached, verify_detached
from signing.keys import SigningIdentity
from signing.trust import TrustStore

__all__ = ["SIGNATURE_HEADER", "MessageSignatures"]


@dataclass(frozen=True)
class MessageSignatures:
    """``identity`` signs our requests (None: the partner takes unsigned requests); ``trust``
    verifies the partner's replies (None: the partner signs nothing -- a documented risk)."""

    identity: SigningIdentity | None = None
    trust: TrustStore | None = None

    def request_headers(self, body: bytes | None) -> dict[str, str]:
        if self.identity is None or not body:
            return {}
        return {SIGNATURE_HEADER: sign_detached(body, self.identity)}

    def refusal(self, body: bytes, token: str | None) -> str | None:
        """Why the reply must not be trusted, or None when its signature holds."""
        if self.trust is None:
            return None
        if not token:
            return f"the reply carries no signature ({SIGNATURE_HEADER})"
        try:
            verify_detached(body, token, self.trust)
        except SigningError as exc:
            return exc.reason
        return None

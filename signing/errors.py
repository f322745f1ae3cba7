"""Why a signature, a signer or a document was refused.

Every refusal names its reason in words an operator can act on ("certificate expired on
2026-01-01", "signed element is not the document root"), because a refused reply is kept as
pending and someone must decide what to do about the partner.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base of every refusal raised by ``signing``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureInvalid(SigningError):
    """The signature is missing, malformed, or does not match the bytes it claims to cover."""


class UntrustedSigner(SigningError):
    """The signature is intact but its certificate does not chain to the trust store, is outside
    its validity period, or may not be used for signing."""


class UnsafeXml(SigningError):
    """An XML document was refused before parsing finished (DTD, entities, size)."""


class KeySourceError(SigningError):
    """A configured signing key could not be loaded."""

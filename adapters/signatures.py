"""What the transport does about message signatures for one partner.

Outgoing: a detached JWS over the exact request bytes, so the partner (and our own message
log) can prove who sent what. Incoming: the partner's detached JWS over the exact reply bytes is
verified against the hub's trust store *before* the reply is parsed -- an unsigned, altered or
untrusted reply is refused whole, and the records it answered stay undelivered. A trusted
signature is not enough: the signer must be the partner's own certificate as the registry (or
the Connection) names it (:class:`adapters.partners.SignerPin`), so a reply signed by another
partner, or by the hub itself, is refused with both names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters import partners
from adapters.partners import SignerPin
from signing.errors import SigningError
from signing.jws import SIGNATURE_HEADER, sign_detached, verify_detached
from signing.keys import SigningIdentity
from signing.trust import TrustStore

__all__ = ["SIGNATURE_HEADER", "MessageSignatures", "key_sha256"]


def key_sha256(cert: x509.Certificate) -> str:
    """The pin of a certificate's key: SHA-256 (hex) of its SubjectPublicKeyInfo DER."""
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


@lru_cache(maxsize=64)
def _name(rfc4514: str) -> str:
    """One spelling of a distinguished name, so a pin written by hand matches the certificate's
    (remembered: parsing the pin's name again for every reply cost more than verifying it)."""
    return x509.Name.from_rfc4514_string(rfc4514).rfc4514_string()


@dataclass(frozen=True)
class MessageSignatures:
    """``identity`` signs our requests (None: the partner takes unsigned requests); ``trust``
    verifies the partner's replies (None: the partner signs nothing -- a documented risk) and
    ``signer`` names whose certificate they must carry (the transport fills in the registry's
    for its partner: :meth:`bound_to`)."""

    identity: SigningIdentity | None = None
    trust: TrustStore | None = None
    signer: SignerPin | None = None
    partner: str = ""

    def bound_to(self, partner_id: str) -> MessageSignatures:
        """These signatures for ``partner_id``: its registry signer unless one was given."""
        registered = partners.find(partner_id)
        return replace(self, partner=partner_id, signer=self.signer or (registered and registered.signer))

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
            certificate = verify_detached(body, token, self.trust)
        except SigningError as exc:
            return exc.reason
        return self.signer_refusal(certificate)

    def signer_refusal(self, certificate: x509.Certificate) -> str | None:
        """Why a verified signature is still not the partner's (another certificate signed), or None."""
        return _signer_refusal(self.partner or "this partner", self.signer, certificate)


@lru_cache(maxsize=64)
def _signer_refusal(who: str, pin: SignerPin | None, certificate: x509.Certificate) -> str | None:
    """:meth:`MessageSignatures.signer_refusal`, remembered: the verdict depends on the pin and the
    certificate only (both immutable, compared by value), and a partner signs every reply with the
    same certificate, whose names and key cost more to read out again than the reply's RS256 check."""
    if pin is None:
        return (
            f"no signing certificate is named for {who} (adapters/partners.py signer, or the Connection's "
            "signer_subject): a signed reply cannot be tied to it"
        )
    signed_by = certificate.subject.rfc4514_string()
    if signed_by != _name(pin.subject):
        return f"the reply is signed by {signed_by}, which may not sign for {who}: its certificate is {pin.subject}"
    if pin.key_sha256 is not None and key_sha256(certificate) != pin.key_sha256.lower():
        return (
            f"the reply is signed by {signed_by} with key {key_sha256(certificate)}, not {who}'s pinned key "
            f"{pin.key_sha256.lower()} ({pin.subject})"
        )
    if pin.issuer is not None and certificate.issuer.rfc4514_string() != _name(pin.issuer):
        return (
            f"the reply is signed by {signed_by} issued by {certificate.issuer.rfc4514_string()}, "
            f"not by {who}'s CA {pin.issuer}"
        )
    return None

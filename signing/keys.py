"""Who signs: a private key, its certificate and the chain up to (not including) the root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    private_key: RSAPrivateKey
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate] = field(default_factory=tuple)

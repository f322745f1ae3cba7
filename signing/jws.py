"""Detached JWS (RS256, certificate chain in ``x5c``): the signature on JSON the hub sends and receives.

The LGSP-style JSON exchanges carry their signature beside the body, in the ``X-Hub-Signature``
HTTP header, as a compact JWS whose payload part is empty (RFC 7797, ``"b64": false`` listed in
``"crit"``): the signature covers the exact bytes on the wire, so nobody has to re-serialise JSON
the same way to check it, and the body is not sent twice. PyJWT does the JOSE work; this module
fixes the choices a verifier must not leave to the token:

* the algorithm is RS256 and nothing else (the verifier object does not even know ``none`` or the
  HMAC family, so the classic "HS256 with the public key as secret" confusion cannot happen);
* the payload part must be empty -- a token carrying its own payload is refused rather than
  checked against something the caller did not give;
* the key comes from the first ``x5c`` certificate, and the hub's trust store (not the token)
  decides whether that certificate may sign. ``jku``/``x5u``/``jwk`` headers are ignored: nothing
  is fetched and no key is taken from the token except through a certificate we validate.

Per call, the work that does not depend on the body is done once. Signing: the protected header
(``x5c`` as base64 DER, the JSON, its base64url) is encoded once per certificate chain and only the
RSA signature is computed per body -- the same bytes PyJWT's ``encode`` writes. Verifying: a
partner's replies carry the same protected header call after call. The first time, everything
runs (header rules, certificate parsing, PyJWT's full decode, the trust store's path checks); the
trust store then remembers that this exact header segment names a signer it accepts, and until
when. A later reply with the byte-identical header segment, at a time inside that span, is
checked for its signature only -- with PyJWT's RS256 algorithm object over
``header_segment + "." + body``, on every reply. Anything else (another header, another trust
store, a time outside the span, an earlier refusal, which is never remembered) takes the full path.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from jwt.api_jws import PyJWS
from jwt.utils import base64url_decode, base64url_encode

from signing.errors import SignatureInvalid
from signing.keys import SigningIdentity

if TYPE_CHECKING:
    from signing.trust import TrustStore

SIGNATURE_HEADER = "X-Hub-Signature"
ALGORITHM = "RS256"

# Only RS256 is registered: ``none`` and HS* do not exist for this object. Keys under 2048 bits are
# refused rather than warned about.
_JWS = PyJWS(algorithms=[ALGORITHM], options={"enforce_minimum_key_length": True})
_RS256 = _JWS.get_algorithm_by_name(ALGORITHM)
_UNDERSTOOD_CRITICAL = frozenset({"b64"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_MISMATCH = "JWS signature does not match the payload bytes (body altered, or signed by another key)"


def sign_detached(payload: bytes, identity: SigningIdentity) -> str:
    """Sign ``payload`` (the exact bytes sent) and return ``header..signature`` (empty payload part).

    ``x5c`` carries the signing certificate then the chain up to (not including) the root, as
    standard base64 DER (RFC 7515 §4.1.6). No ``typ``: this is a JWS over a body, not a JWT.
    """
    if not isinstance(identity.private_key, RSAPrivateKey):
        raise TypeError("the hub signs with RSA keys only (RS256)")
    key = _RS256.prepare_key(identity.private_key)
    if too_short := _RS256.check_key_length(key):
        raise jwt.InvalidKeyError(too_short)
    header_segment = _protected_segment(identity.certificate, tuple(identity.chain))
    signature = _RS256.sign(header_segment + b"." + payload, key)
    return f"{header_segment.decode('ascii')}..{base64url_encode(signature).decode('ascii')}"


@functools.lru_cache(maxsize=16)
def _protected_segment(certificate: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> bytes:
    """The base64url protected header for this chain, as PyJWT's ``encode`` writes it (sorted keys, no spaces)."""
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in (certificate, *chain)]
    header = {"alg": ALGORITHM, "b64": False, "crit": ["b64"], "x5c": x5c}
    return base64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


def verify_detached(
    payload: bytes,
    token: str,
    trust: TrustStore,
    *,
    at: datetime | None = None,
) -> x509.Certificate:
    """Check that ``token`` signs exactly ``payload`` with a certificate the trust store accepts.

    Returns the signing certificate (who signed, for the message log). Raises
    ``SignatureInvalid`` for a malformed token, a refused algorithm or header, or bytes that do
    not match; ``UntrustedSigner`` (from the trust store) for a certificate we do not accept at
    ``at`` (default: now).
    """
    header_segment, signature = _segments(token)
    signer = trust.recall_signer(header_segment, at=at)
    if signer is not None:
        # The same header already passed every check below and its signer holds at ``at``: only
        # the signature over these bytes is left to check.
        if not _RS256.verify(header_segment.encode("ascii") + b"." + payload, signer.public_key(), signature):
            raise SignatureInvalid(_MISMATCH)
        return signer
    header = _header(header_segment)
    certificate, chain = _x5c(header)
    public_key = certificate.public_key()
    if not isinstance(public_key, RSAPublicKey):
        raise SignatureInvalid("the x5c signing certificate does not hold an RSA key (RS256 requires one)")
    try:
        _JWS.decode_complete(token, key=public_key, algorithms=[ALGORITHM], detached_payload=payload)
    except jwt.InvalidSignatureError as exc:
        raise SignatureInvalid(_MISMATCH) from exc
    except jwt.InvalidKeyError as exc:
        raise SignatureInvalid(f"signing key refused: {exc}") from exc
    except jwt.PyJWTError as exc:
        raise SignatureInvalid(f"malformed JWS: {exc}") from exc
    trust.verify_signer(certificate, chain, at=at, remember_as=header_segment)
    return certificate


def _segments(token: str) -> tuple[str, bytes]:
    """The protected header segment and the decoded signature of a detached compact JWS.

    The signature must be base64url without padding, in its one canonical spelling (RFC 7515 §2),
    so that one signature has one token.
    """
    if not isinstance(token, str) or not token:
        raise SignatureInvalid("no JWS: the signature header is empty")
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureInvalid(f"not a compact JWS: expected 3 dot-separated parts, found {len(parts)}")
    header_segment, payload_segment, signature_segment = parts
    if payload_segment:
        raise SignatureInvalid("JWS carries its own payload; the hub accepts only detached JWS (empty payload part)")
    if not _BASE64URL.fullmatch(signature_segment) or len(signature_segment) % 4 == 1:
        raise SignatureInvalid("JWS signature is not unpadded base64url")
    signature = base64url_decode(signature_segment)
    if base64url_encode(signature).decode("ascii") != signature_segment:
        raise SignatureInvalid("JWS signature is not in canonical base64url (stray bits in its last character)")
    return header_segment, signature


def _b64url_json(segment: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (ValueError, binascii.Error) as exc:
        raise SignatureInvalid(f"JWS {what} is not base64url JSON: {exc}") from exc


def _header(segment: str) -> dict[str, Any]:
    """Parse and judge the protected header before any key is touched."""
    header = _b64url_json(segment, "header")
    if not isinstance(header, dict):
        raise SignatureInvalid("JWS header is not a JSON object")
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise SignatureInvalid(f"JWS algorithm {alg!r} is refused; only {ALGORITHM} is accepted")
    crit = header.get("crit", [])
    if not isinstance(crit, list) or any(name not in _UNDERSTOOD_CRITICAL for name in crit):
        raise SignatureInvalid(f"JWS declares critical header parameters the hub does not implement: {crit!r}")
    if header.get("b64") is not False or "b64" not in crit:
        raise SignatureInvalid('JWS must sign the raw payload bytes ("b64": false, listed in "crit"; RFC 7797)')
    return header


def _x5c(header: dict[str, Any]) -> tuple[x509.Certificate, Sequence[x509.Certificate]]:
    """The signing certificate (first, per RFC 7515) and the rest of the chain."""
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(item, str) for item in x5c):
        raise SignatureInvalid("JWS header has no x5c certificate chain (a non-empty list of base64 DER)")
    certificates: list[x509.Certificate] = []
    for index, item in enumerate(x5c):
        try:
            certificates.append(x509.load_der_x509_certificate(base64.b64decode(item, validate=True)))
        except (ValueError, binascii.Error) as exc:
            raise SignatureInvalid(f"x5c[{index}] is not a base64 DER certificate: {exc}") from exc
    return certificates[0], tuple(certificates[1:])

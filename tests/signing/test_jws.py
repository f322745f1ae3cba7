"""Detached JWS: round trip, every classic JOSE trap refused, and interoperability checked by
code paths that share nothing with PyJWT (cryptography by hand, and the openssl command line)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.api_jws import PyJWS

from signing.errors import SignatureInvalid, UntrustedSigner
from signing.jws import SIGNATURE_HEADER, sign_detached, verify_detached
from signing.keys import SigningIdentity
from signing.pki import (
    init_dev_pki,
    mint_expired_identity,
    mint_foreign_identity,
    mint_identity,
    mint_identity_without_signing_usage,
)
from signing.trust import TrustStore
from tests.conftest import SigningKit

OPENSSL = shutil.which("openssl")
PAYLOAD = json.dumps(
    {"service": "DongBoHoSoMC", "data": [{"MaHoSo": "000.00.12.H26-261120-0001", "ChuHoSo": "Nguyễn Văn An"}]},
    ensure_ascii=False,
).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def x5c(identity: SigningIdentity) -> list[str]:
    return [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in (identity.certificate, *identity.chain)]


def rfc7797_header(identity: SigningIdentity, **changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "RS256", "b64": False, "crit": ["b64"], "x5c": x5c(identity)}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def hand_made_token(header: dict[str, Any], payload: bytes, key: RSAPrivateKey) -> str:
    """A detached RFC 7797 JWS built with nothing but ``cryptography``: no PyJWT involved."""
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    signature = key.sign(protected.encode() + b"." + payload, PKCS1v15(), hashes.SHA256())
    return f"{protected}..{b64url(signature)}"


# -- round trip -------------------------------------------------------------------------------------


def test_header_name_is_fixed() -> None:
    assert SIGNATURE_HEADER == "X-Hub-Signature"


def test_round_trip_returns_the_signers_certificate(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, pki.hub)
    protected, payload_part, signature = token.split(".")
    assert payload_part == ""
    header = json.loads(unb64url(protected))
    assert header == {"alg": "RS256", "b64": False, "crit": ["b64"], "x5c": x5c(pki.hub)}
    assert len(unb64url(signature)) == 256  # RSA-2048
    assert verify_detached(PAYLOAD, token, pki.trust) == pki.hub.certificate


def test_any_payload_bytes_round_trip(pki: SigningKit) -> None:
    for payload in (b"", b".", b"..a.b..", bytes(range(256)), PAYLOAD * 50):
        assert verify_detached(payload, sign_detached(payload, pki.hub), pki.trust) == pki.hub.certificate


# -- refusals ---------------------------------------------------------------------------------------


def test_one_changed_payload_byte_is_refused(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, pki.hub)
    for position in (0, len(PAYLOAD) // 2, len(PAYLOAD) - 1):
        tampered = bytearray(PAYLOAD)
        tampered[position] ^= 0x01
        with pytest.raises(SignatureInvalid, match="does not match the payload"):
            verify_detached(bytes(tampered), token, pki.trust)
    with pytest.raises(SignatureInvalid):
        verify_detached(PAYLOAD + b" ", token, pki.trust)


def test_a_changed_header_is_refused(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, pki.hub)
    protected, _, signature = token.split(".")
    header = json.loads(unb64url(protected))
    header["kid"] = "someone-else"
    altered = f"{b64url(json.dumps(header).encode())}..{signature}"
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_detached(PAYLOAD, altered, pki.trust)


def test_alg_none_is_refused(pki: SigningKit) -> None:
    header = rfc7797_header(pki.hub, alg="none")
    token = f"{b64url(json.dumps(header).encode())}.."
    with pytest.raises(SignatureInvalid, match="'none' is refused"):
        verify_detached(PAYLOAD, token, pki.trust)


def test_hs256_with_the_public_key_as_secret_is_refused(pki: SigningKit) -> None:
    """The key-confusion attack: an attacker MACs with the (public) certificate key as the secret."""
    public_pem = pki.hub.certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    protected = b64url(json.dumps(rfc7797_header(pki.hub, alg="HS256")).encode())
    mac = hmac.new(public_pem, protected.encode() + b"." + PAYLOAD, hashlib.sha256).digest()
    token = f"{protected}..{b64url(mac)}"
    with pytest.raises(SignatureInvalid, match="'HS256' is refused"):
        verify_detached(PAYLOAD, token, pki.trust)


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "rs256", None])
def test_any_other_alg_is_refused(pki: SigningKit, alg: str | None) -> None:
    token = hand_made_token(rfc7797_header(pki.hub, alg=alg), PAYLOAD, pki.hub.private_key)
    with pytest.raises(SignatureInvalid, match="refused; only RS256"):
        verify_detached(PAYLOAD, token, pki.trust)


def test_a_token_carrying_its_payload_is_refused(pki: SigningKit) -> None:
    attached = PyJWS().encode(PAYLOAD, pki.hub.private_key, algorithm="RS256", headers={"x5c": x5c(pki.hub)})
    assert attached.split(".")[1] != ""
    with pytest.raises(SignatureInvalid, match="carries its own payload"):
        verify_detached(PAYLOAD, attached, pki.trust)
    # Even when it carries the right payload: the caller's bytes are what must be signed.
    with pytest.raises(SignatureInvalid, match="carries its own payload"):
        verify_detached(b"something else", attached, pki.trust)


def test_an_encoded_payload_detached_token_is_refused(pki: SigningKit) -> None:
    """RFC 7515 appendix F (b64 payload, then removed) signs different bytes: one form only."""
    header = {"alg": "RS256", "x5c": x5c(pki.hub)}
    protected = b64url(json.dumps(header).encode())
    signature = pki.hub.private_key.sign(f"{protected}.{b64url(PAYLOAD)}".encode(), PKCS1v15(), hashes.SHA256())
    with pytest.raises(SignatureInvalid, match="b64"):
        verify_detached(PAYLOAD, f"{protected}..{b64url(signature)}", pki.trust)


def test_unknown_critical_headers_are_refused(pki: SigningKit) -> None:
    token = hand_made_token(rfc7797_header(pki.hub, crit=["b64", "exp"], exp=1), PAYLOAD, pki.hub.private_key)
    with pytest.raises(SignatureInvalid, match="critical"):
        verify_detached(PAYLOAD, token, pki.trust)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!!..sig", "e30..", "W10.."])
def test_malformed_tokens_are_refused(pki: SigningKit, token: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify_detached(PAYLOAD, token, pki.trust)


def test_missing_or_broken_x5c_is_refused(pki: SigningKit) -> None:
    for header in (
        rfc7797_header(pki.hub, x5c=None),
        rfc7797_header(pki.hub, x5c=[]),
        rfc7797_header(pki.hub, x5c=["!!"]),
    ):
        token = hand_made_token(header, PAYLOAD, pki.hub.private_key)
        with pytest.raises(SignatureInvalid, match="x5c"):
            verify_detached(PAYLOAD, token, pki.trust)


def test_a_certificate_without_an_rsa_key_is_refused_before_any_signature_check(pki: SigningKit) -> None:
    """An EC certificate (ES256 is common elsewhere) cannot sign RS256: said plainly, not as a bad signature."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ec-signer")])
    now = datetime.now(UTC)
    certificate = x509.CertificateBuilder(
        name, name, key.public_key(), x509.random_serial_number(), now - timedelta(days=1), now + timedelta(days=1)
    ).sign(key, hashes.SHA256())
    ec_x5c = [base64.b64encode(certificate.public_bytes(Encoding.DER)).decode()]
    token = hand_made_token(rfc7797_header(pki.hub, x5c=ec_x5c), PAYLOAD, pki.hub.private_key)
    with pytest.raises(SignatureInvalid) as refused:
        verify_detached(PAYLOAD, token, pki.trust)
    assert str(refused.value) == "the x5c signing certificate does not hold an RSA key (RS256 requires one)"


def test_a_trusted_certificate_swapped_into_x5c_is_refused(pki: SigningKit) -> None:
    """Naming another trusted partner's certificate does not make the hub's signature theirs."""
    other = pki.dev.identity("national_portal")
    token = hand_made_token(rfc7797_header(pki.hub, x5c=x5c(other)), PAYLOAD, pki.hub.private_key)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_detached(PAYLOAD, token, pki.trust)


def test_expired_certificate_is_refused(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, mint_expired_identity(pki.dev, "hub"))
    with pytest.raises(UntrustedSigner, match="expired"):
        verify_detached(PAYLOAD, token, pki.trust)


def test_foreign_ca_is_refused(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, mint_foreign_identity("hub"))
    with pytest.raises(UntrustedSigner, match="not in the trust store"):
        verify_detached(PAYLOAD, token, pki.trust)


def test_certificate_without_signing_usage_is_refused(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, mint_identity_without_signing_usage(pki.dev, "hub"))
    with pytest.raises(UntrustedSigner, match="may not sign"):
        verify_detached(PAYLOAD, token, pki.trust)


def test_verification_time_is_the_callers(pki: SigningKit) -> None:
    token = sign_detached(PAYLOAD, pki.hub)
    with pytest.raises(UntrustedSigner, match="expired"):
        verify_detached(PAYLOAD, token, pki.trust, at=datetime.now(UTC) + timedelta(days=5000))


def test_short_keys_are_refused_on_both_sides(pki: SigningKit) -> None:
    weak = mint_identity(pki.dev, "hub", key_size=1024)
    with pytest.raises(Exception, match=r"(?i)key"):
        sign_detached(PAYLOAD, weak)
    assert isinstance(weak.private_key, RSAPrivateKey)
    token = hand_made_token(rfc7797_header(weak), PAYLOAD, weak.private_key)
    with pytest.raises(SignatureInvalid, match=r"(?i)key"):
        verify_detached(PAYLOAD, token, pki.trust)


# -- the work done once per header or identity -------------------------------------------------------


def test_signing_writes_the_bytes_pyjwt_encode_wrote(pki: SigningKit) -> None:
    """The header encoded once per identity changes nothing on the wire: RSA PKCS#1 v1.5 is
    deterministic, so the token PyJWT's ``encode`` produced before is the token produced now."""
    assert isinstance(pki.hub.private_key, RSAPrivateKey)
    for payload in (PAYLOAD, b"", b"second body"):
        before = PyJWS(algorithms=["RS256"]).encode(
            payload,
            pki.hub.private_key,
            algorithm="RS256",
            headers={"x5c": x5c(pki.hub), "typ": None},
            is_payload_detached=True,
        )
        assert sign_detached(payload, pki.hub) == before
    other = pki.dev.identity("national_portal")
    assert sign_detached(PAYLOAD, other).split(".")[0] == b64url(
        json.dumps(rfc7797_header(other), separators=(",", ":"), sort_keys=True).encode()
    )


def _fresh_trust(pki: SigningKit) -> TrustStore:
    """A trust store of the session PKI that has remembered nothing yet."""
    return pki.dev.trust_store()


def test_a_tampered_body_under_a_remembered_header_is_refused(pki: SigningKit) -> None:
    trust = _fresh_trust(pki)
    token = sign_detached(PAYLOAD, pki.hub)
    assert verify_detached(PAYLOAD, token, trust) == pki.hub.certificate
    assert trust.recall_signer(token.split(".")[0]) == pki.hub.certificate  # the next reply takes the short path
    with pytest.raises(SignatureInvalid, match="does not match the payload"):
        verify_detached(PAYLOAD + b" ", token, trust)
    second = sign_detached(b"the next reply", pki.hub)
    assert verify_detached(b"the next reply", second, trust) == pki.hub.certificate
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_detached(PAYLOAD, second, trust)  # a valid signature, over other bytes


def test_a_remembered_header_does_not_lend_its_certificate_to_another_key(pki: SigningKit) -> None:
    """The header is public: copying the partner's header onto one's own signature gains nothing."""
    trust = _fresh_trust(pki)
    verify_detached(PAYLOAD, sign_detached(PAYLOAD, pki.hub), trust)
    intruder = mint_identity(pki.dev, "intruder")
    assert isinstance(intruder.private_key, RSAPrivateKey)
    forged = hand_made_token(rfc7797_header(pki.hub), PAYLOAD, intruder.private_key)
    assert forged.split(".")[0] == sign_detached(PAYLOAD, pki.hub).split(".")[0]
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_detached(PAYLOAD, forged, trust)


def test_a_remembered_header_past_its_certificates_end_is_refused(pki: SigningKit) -> None:
    now = datetime.now(UTC)
    short_lived = mint_identity(
        pki.dev, "portal", not_before=now - timedelta(hours=1), not_after=now + timedelta(hours=2)
    )
    trust = _fresh_trust(pki)
    token = sign_detached(PAYLOAD, short_lived)
    assert verify_detached(PAYLOAD, token, trust, at=now) == short_lived.certificate
    assert verify_detached(PAYLOAD, token, trust, at=now + timedelta(hours=1)) == short_lived.certificate
    for when in (now + timedelta(hours=2, seconds=1), now - timedelta(hours=1, seconds=1)):
        with pytest.raises(UntrustedSigner, match=r"expired|not valid before"):
            verify_detached(PAYLOAD, token, trust, at=when)


def test_a_refused_header_is_refused_again(pki: SigningKit) -> None:
    trust = _fresh_trust(pki)
    token = sign_detached(PAYLOAD, mint_identity_without_signing_usage(pki.dev, "hub"))
    for _ in range(2):
        with pytest.raises(UntrustedSigner, match="may not sign"):
            verify_detached(PAYLOAD, token, trust)
    late = datetime.now(UTC) + timedelta(days=5000)
    good = sign_detached(PAYLOAD, pki.hub)
    for _ in range(2):
        with pytest.raises(UntrustedSigner, match="expired"):
            verify_detached(PAYLOAD, good, trust, at=late)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_detached(b"altered", good, trust)  # refused before the trust store is asked: nothing remembered
    assert trust.recall_signer(good.split(".")[0]) is None


def test_another_trust_store_does_not_reuse_the_verdict(pki: SigningKit, tmp_path: Path) -> None:
    """A store that no longer trusts the partner's CA (replaced, or the CA withdrawn) checks afresh."""
    token = sign_detached(PAYLOAD, pki.hub)
    trusting = _fresh_trust(pki)
    assert verify_detached(PAYLOAD, token, trusting) == pki.hub.certificate
    replaced = init_dev_pki(tmp_path / "other", partners=()).trust_store()  # same CA names, other keys
    for _ in range(2):
        with pytest.raises(UntrustedSigner, match="does not verify with the public key"):
            verify_detached(PAYLOAD, token, replaced)
    assert verify_detached(PAYLOAD, token, trusting) == pki.hub.certificate


def test_a_remembered_header_returns_its_own_signer(pki: SigningKit) -> None:
    trust = _fresh_trust(pki)
    portal = pki.dev.identity("national_portal")
    for _ in range(3):
        for identity in (pki.hub, portal):
            token = sign_detached(PAYLOAD, identity)
            assert verify_detached(PAYLOAD, token, trust) == identity.certificate


def test_a_padded_or_non_canonical_signature_is_refused(pki: SigningKit) -> None:
    """One signature, one spelling (RFC 7515 §2: base64url without padding), on the first reply and later ones."""
    trust = _fresh_trust(pki)
    token = sign_detached(PAYLOAD, pki.hub)
    header, _, signature = token.split(".")
    assert len(signature) % 4 == 2  # 256 signature bytes: two characters of padding would follow
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(signature[-1])
    stray = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
    for _ in range(2):  # before and after the header is remembered
        with pytest.raises(SignatureInvalid, match="unpadded base64url"):
            verify_detached(PAYLOAD, f"{header}..{signature}==", trust)
        with pytest.raises(SignatureInvalid, match="canonical base64url"):
            verify_detached(PAYLOAD, f"{header}..{signature[:-1]}{stray}", trust)
        verify_detached(PAYLOAD, token, trust)


# -- interoperability -------------------------------------------------------------------------------


def test_our_token_verifies_by_hand_with_cryptography(pki: SigningKit) -> None:
    """RFC 7797 §3: signing input = ASCII(BASE64URL(header)) || '.' || payload bytes, RSASSA-PKCS1-v1_5 SHA-256."""
    token = sign_detached(PAYLOAD, pki.hub)
    protected, _, signature = token.split(".")
    header = json.loads(unb64url(protected))
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    public = leaf.public_key()
    assert isinstance(public, RSAPublicKey)
    public.verify(unb64url(signature), protected.encode() + b"." + PAYLOAD, PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public.verify(unb64url(signature), protected.encode() + b"." + PAYLOAD + b"x", PKCS1v15(), hashes.SHA256())


def test_a_hand_made_token_verifies(pki: SigningKit) -> None:
    token = hand_made_token(rfc7797_header(pki.hub), PAYLOAD, pki.hub.private_key)
    assert verify_detached(PAYLOAD, token, pki.trust) == pki.hub.certificate


@pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
def test_openssl_signs_what_we_verify_and_verifies_what_we_sign(pki: SigningKit, tmp_path: Path) -> None:
    partner = "national_portal"
    identity = pki.dev.identity(partner)
    protected = b64url(json.dumps(rfc7797_header(identity)).encode())
    signing_input = tmp_path / "input.bin"
    signing_input.write_bytes(protected.encode() + b"." + PAYLOAD)
    signature = tmp_path / "sig.bin"
    subprocess.run(
        [OPENSSL or "openssl", "dgst", "-sha256", "-sign", str(pki.dev.key_path(partner)), "-out", str(signature),
         str(signing_input)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    token = f"{protected}..{b64url(signature.read_bytes())}"
    assert verify_detached(PAYLOAD, token, pki.trust) == identity.certificate

    ours = sign_detached(PAYLOAD, pki.hub)
    ours_protected, _, ours_signature = ours.split(".")
    signing_input.write_bytes(ours_protected.encode() + b"." + PAYLOAD)
    signature.write_bytes(unb64url(ours_signature))
    public = tmp_path / "hub.pub.pem"
    public.write_bytes(pki.hub.certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    checked = subprocess.run(
        [OPENSSL or "openssl", "dgst", "-sha256", "-verify", str(public), "-signature", str(signature),
         str(signing_input)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and "Verified OK" in checked.stdout, checked.stdout + checked.stderr

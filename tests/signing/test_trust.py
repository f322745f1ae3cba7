"""The trust store: the dev PKI's signers pass, and every way a certificate can be unfit is refused
with a reason that names the certificate and the problem."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.partners import partner_ids
from signing import pki as pki_module
from signing.errors import SigningError, UntrustedSigner
from signing.keys import SigningIdentity
from signing.pki import (
    HUB,
    ISSUING_CN,
    ROOT_CN,
    TLS_SERVER,
    DevPki,
    init_dev_pki,
    mint_expired_identity,
    mint_foreign_identity,
    mint_identity,
    mint_identity_without_signing_usage,
)
from signing.trust import REMEMBERED_SIGNERS, TrustStore

PARTNER_IDS = partner_ids()
NOW = datetime.now(UTC)
Extensions = list[tuple[x509.ExtensionType, bool]]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _refusal(trust: TrustStore, cert: x509.Certificate, chain: Sequence[x509.Certificate] = (), **kw: object) -> str:
    with pytest.raises(UntrustedSigner) as info:
        trust.verify_signer(cert, chain, **kw)  # type: ignore[arg-type]
    assert isinstance(info.value, SigningError)
    return info.value.reason


def _issue(
    issuer: tuple[object, x509.Certificate],
    cn: str,
    extensions: Extensions,
    *,
    key_size: int = 2048,
) -> tuple[object, x509.Certificate]:
    return pki_module._issue(
        issuer,  # type: ignore[arg-type]
        pki_module._name(cn),
        extensions,
        NOW - timedelta(hours=1),
        NOW + timedelta(days=30),
        key_size=key_size,
    )


def _signing(*extra: tuple[x509.ExtensionType, bool]) -> Extensions:
    return [*pki_module._signing_extensions(), *extra]


def _ca_extensions(path_length: int | None = 0, *extra: tuple[x509.ExtensionType, bool]) -> Extensions:
    return [(x509.BasicConstraints(ca=True, path_length=path_length), True), (pki_module._CA_USAGE, True), *extra]


@pytest.fixture(scope="module")
def issuing_ca(dev_pki: DevPki) -> tuple[object, x509.Certificate]:
    return dev_pki.issuing_ca()


# --- accepted -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [HUB, *PARTNER_IDS])
def test_hub_and_partner_certificates_are_trusted(
    trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity], name: str
) -> None:
    identity = pki_identity(name)
    trust_store.verify_signer(identity.certificate, identity.chain)


def test_the_verified_path_runs_leaf_issuing_root(
    dev_pki: DevPki, trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    path = trust_store.build_path(hub.certificate, hub.chain)
    assert path == (hub.certificate, _cert(dev_pki.issuing_cert), _cert(dev_pki.root_cert))


def test_chain_order_and_a_root_in_the_chain_do_not_matter(
    dev_pki: DevPki, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    root_only = TrustStore([_cert(dev_pki.root_cert)])
    root_only.verify_signer(hub.certificate, [_cert(dev_pki.root_cert), *hub.chain])
    root_only.verify_signer(hub.certificate, [*hub.chain, _cert(dev_pki.root_cert)])


def test_trust_store_from_files_and_folder(dev_pki: DevPki, pki_identity: Callable[[str], SigningIdentity]) -> None:
    hub = pki_identity(HUB)
    from_root_file = TrustStore.from_pem_files([dev_pki.root_cert])
    assert from_root_file.roots == (_cert(dev_pki.root_cert),) and from_root_file.intermediates == ()
    from_root_file.verify_signer(hub.certificate, hub.chain)
    from_folder = TrustStore.from_folder(dev_pki.trust_dir)
    assert from_folder.roots == (_cert(dev_pki.root_cert),)
    assert from_folder.intermediates == (_cert(dev_pki.issuing_cert),)
    from_folder.verify_signer(hub.certificate)  # the store's intermediate completes the path


def test_an_issuing_ca_can_be_the_anchor(dev_pki: DevPki, pki_identity: Callable[[str], SigningIdentity]) -> None:
    """Trusting one agency's CA without its whole national hierarchy (a partial chain)."""
    hub = pki_identity(HUB)
    assert TrustStore([_cert(dev_pki.issuing_cert)]).build_path(hub.certificate) == (
        hub.certificate,
        _cert(dev_pki.issuing_cert),
    )


def test_verification_happens_at_the_time_asked(tmp_path: Path) -> None:
    """Evidence is re-verified as of when it was signed: a certificate expired today was fine back then."""
    signed_at = NOW - timedelta(days=900)
    old = init_dev_pki(tmp_path, partners=(), now=signed_at)
    hub = old.identity(HUB)
    store = old.trust_store()
    assert "expired on" in _refusal(store, hub.certificate, hub.chain)
    store.verify_signer(hub.certificate, hub.chain, at=signed_at + timedelta(days=1))
    store.verify_signer(
        hub.certificate, hub.chain, at=(signed_at + timedelta(days=1)).replace(tzinfo=None)
    )  # naive = UTC


def _build(
    signer_key: object,
    issuer_name: x509.Name,
    cn: str,
    extensions: Extensions,
    *,
    key: rsa.RSAPrivateKey | None = None,
    not_before: datetime = NOW - timedelta(hours=1),
    not_after: datetime = NOW + timedelta(days=30),
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A certificate exactly as asked (no capping to the issuer's validity, unlike the PKI's own)."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(pki_module._name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(signer_key, hashes.SHA256())  # type: ignore[arg-type]


def test_a_pinned_self_signed_signer_is_trusted_as_its_own_anchor(trust_store: TrustStore) -> None:
    """Some partners only have a self-signed certificate: trusting exactly that certificate works."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _, pinned = _build(key, pki_module._name("lone partner"), "lone partner", _signing(), key=key)
    TrustStore([pinned]).verify_signer(pinned)
    assert _refusal(trust_store, pinned) == "root CN=lone partner is not in the trust store"


# --- refused: the brief's cases ------------------------------------------------------------------------------


def test_expired_certificate_is_refused(dev_pki: DevPki, trust_store: TrustStore) -> None:
    expired = mint_expired_identity(dev_pki, "old_partner")
    reason = _refusal(trust_store, expired.certificate, expired.chain)
    assert reason.startswith("certificate for CN=old_partner DEV signing expired on ")
    assert expired.certificate.not_valid_after_utc.strftime("%Y-%m-%d") in reason


def test_not_yet_valid_certificate_is_refused(
    trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    reason = _refusal(
        trust_store, hub.certificate, hub.chain, at=hub.certificate.not_valid_before_utc - timedelta(days=1)
    )
    assert "is not valid before" in reason and "CN=hub DEV signing" in reason


def test_certificate_from_a_foreign_ca_is_refused(trust_store: TrustStore) -> None:
    foreign = mint_foreign_identity("intruder")
    reason = _refusal(trust_store, foreign.certificate, foreign.chain)
    assert reason == (
        "issuer CN=Untrusted DEV ROOT CA - NOT IN ANY TRUST STORE of certificate "
        "CN=Untrusted DEV Issuing CA - NOT IN ANY TRUST STORE is not in the trust store"
    )


def test_impostor_ca_copying_the_trusted_names_is_refused(trust_store: TrustStore) -> None:
    impostor = mint_foreign_identity("intruder", root_cn=ROOT_CN, issuing_cn=ISSUING_CN)
    assert impostor.certificate.issuer == trust_store.intermediates[0].subject  # same names...
    reason = _refusal(trust_store, impostor.certificate, impostor.chain)
    assert "does not verify with the public key of" in reason  # ...different keys


def test_certificate_without_signing_usage_is_refused(dev_pki: DevPki, trust_store: TrustStore) -> None:
    identity = mint_identity_without_signing_usage(dev_pki, "encrypt_only")
    reason = _refusal(trust_store, identity.certificate, identity.chain)
    assert reason == (
        "keyUsage of certificate CN=encrypt_only DEV signing (key_encipherment) allows neither "
        "digitalSignature nor nonRepudiation: it may not sign"
    )


def test_tampered_certificate_is_refused(
    trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    der = bytearray(hub.certificate.public_bytes(serialization.Encoding.DER))
    der[-10] ^= 0x01  # a byte of the signature value (the last field of the certificate)
    tampered = x509.load_der_x509_certificate(bytes(der))
    assert tampered.signature != hub.certificate.signature
    reason = _refusal(trust_store, tampered, hub.chain)
    assert reason.startswith("signature on certificate CN=hub DEV signing does not verify with the public key of ")


def test_certificate_with_an_edited_subject_is_refused(
    trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    der = hub.certificate.public_bytes(serialization.Encoding.DER)
    edited = x509.load_der_x509_certificate(der.replace(b"hub DEV signing", b"hub DEV signinG"))
    assert "does not verify" in _refusal(trust_store, edited, hub.chain)


def test_missing_intermediate_is_refused(dev_pki: DevPki, pki_identity: Callable[[str], SigningIdentity]) -> None:
    hub = pki_identity(HUB)
    reason = _refusal(TrustStore([_cert(dev_pki.root_cert)]), hub.certificate, chain=())
    assert reason == (
        f"issuer CN={ISSUING_CN} of certificate CN=hub DEV signing is not in the trust store "
        "and no chain certificate was supplied for it"
    )


def test_sha1_signed_certificate_is_refused(dev_pki: DevPki, trust_store: TrustStore, tmp_path: Path) -> None:
    """cryptography no longer signs with SHA-1, so OpenSSL makes the legacy certificate."""
    ext = tmp_path / "ext.cnf"
    ext.write_text("[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
    key, csr, out = tmp_path / "k.pem", tmp_path / "r.csr", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-subj",
            "/CN=legacy sha1",
            "-out",
            csr,
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *("openssl", "x509", "-req", "-in", csr, "-CA", dev_pki.issuing_cert, "-CAkey", dev_pki.issuing_key),
            *("-sha1", "-days", "10", "-extfile", ext, "-extensions", "v3", "-out", out),
        ],
        check=True,
        capture_output=True,
    )
    legacy = _cert(out)
    assert legacy.signature_hash_algorithm is not None and legacy.signature_hash_algorithm.name == "sha1"
    reason = _refusal(trust_store, legacy, [_cert(dev_pki.issuing_cert)])
    assert reason.startswith("certificate CN=legacy sha1 is signed with SHA-1, which is refused")


# --- refused: roles, sizes, extensions ----------------------------------------------------------------------


def test_tls_server_certificate_is_not_a_signer(
    trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    tls = pki_identity(TLS_SERVER)
    reason = _refusal(trust_store, tls.certificate, tls.chain)
    assert reason.startswith("extendedKeyUsage of certificate CN=localhost (serverAuth) names no signing purpose")


def test_a_ca_certificate_is_not_a_signer(dev_pki: DevPki, trust_store: TrustStore) -> None:
    reason = _refusal(trust_store, _cert(dev_pki.issuing_cert))
    assert "is a CA certificate" in reason


def test_certificate_without_key_usage_is_refused(
    issuing_ca: tuple[object, x509.Certificate], trust_store: TrustStore
) -> None:
    _, cert = _issue(issuing_ca, "no usage", [(x509.BasicConstraints(ca=False, path_length=None), True)])
    assert "has no keyUsage extension" in _refusal(trust_store, cert, [issuing_ca[1]])


def test_leaf_issued_by_a_leaf_is_refused(
    trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    _, cert = _issue((hub.private_key, hub.certificate), "child of hub", _signing())
    reason = _refusal(trust_store, cert, [hub.certificate, *hub.chain])
    assert reason == "issuer CN=hub DEV signing is not a CA (basicConstraints CA:FALSE)"


def test_path_length_constraint_is_enforced(
    issuing_ca: tuple[object, x509.Certificate], trust_store: TrustStore
) -> None:
    sub_ca = _issue(issuing_ca, "sub CA", _ca_extensions(0))
    _, cert = _issue(sub_ca, "too deep", _signing())
    reason = _refusal(trust_store, cert, [sub_ca[1], issuing_ca[1]])
    assert "may have 0 intermediate CA(s) below it (pathLenConstraint), found 1" in reason


def test_weak_rsa_key_is_refused(dev_pki: DevPki, trust_store: TrustStore) -> None:
    weak = mint_identity(dev_pki, "weak", key_size=1024)
    reason = _refusal(trust_store, weak.certificate, weak.chain)
    assert reason == "certificate CN=weak DEV signing has an RSA key of 1024 bits; at least 2048 are required"


def test_unprocessed_critical_extension_is_refused(
    issuing_ca: tuple[object, x509.Certificate], trust_store: TrustStore
) -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    _, cert = _issue(issuing_ca, "odd", _signing((odd, True)))
    assert "critical extension this verifier does not process (1.3.6.1.4.1.99999.1)" in _refusal(
        trust_store, cert, [issuing_ca[1]]
    )


def test_critical_certificate_policies_are_accepted(
    issuing_ca: tuple[object, x509.Certificate], trust_store: TrustStore
) -> None:
    """Government CAs may mark certificatePolicies critical; refusing them would refuse the agency."""
    policies = x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.16.704.1.1.1"), None)])
    _, cert = _issue(issuing_ca, "with policies", _signing((policies, True)))
    trust_store.verify_signer(cert, [issuing_ca[1]])


def test_self_signed_unknown_certificate_is_refused(trust_store: TrustStore) -> None:
    key, root = pki_module._make_root("self made", NOW, 30)
    assert (
        _refusal(trust_store, root)
        == "certificate CN=self made is a CA certificate; CA keys sign certificates, not documents"
    )
    _, leaf = _issue((key, root), "by self made", _signing())
    assert _refusal(trust_store, leaf, [root]) == "root CN=self made is not in the trust store"


def test_expired_intermediate_and_root_are_refused() -> None:
    past = NOW - timedelta(days=400)
    old_root_key, old_root = pki_module._make_root("old root", past, 100)
    _, leaf = _build(old_root_key, old_root.subject, "leaf", _signing())
    assert _refusal(TrustStore([old_root]), leaf).startswith("certificate for CN=old root expired on ")

    root_key, root = pki_module._make_root("fresh root", NOW, 3650)
    issuing_key, old_issuing = _build(
        root_key, root.subject, "old issuing", _ca_extensions(0), not_before=past, not_after=past + timedelta(days=100)
    )
    _, leaf = _build(issuing_key, old_issuing.subject, "leaf", _signing())
    assert _refusal(TrustStore([root]), leaf, [old_issuing]).startswith("certificate for CN=old issuing expired on ")


def test_issuer_with_non_critical_basic_constraints_is_refused() -> None:
    root = pki_module._make_root("strict root", NOW, 3650)
    sloppy = _issue(
        root, "sloppy CA", [(x509.BasicConstraints(ca=True, path_length=0), False), (pki_module._CA_USAGE, True)]
    )
    _, leaf = _issue(sloppy, "leaf", _signing())
    assert _refusal(TrustStore([root[1]]), leaf, [sloppy[1]]) == (
        "issuer CN=sloppy CA has a non-critical basicConstraints extension (RFC 5280 requires it critical)"
    )


def test_name_constraints_are_enforced_by_the_second_opinion() -> None:
    """cryptography's RFC 5280 validator runs after the explicit checks and catches what they do not model."""
    root = pki_module._make_root("constrained root", NOW, 3650)
    constraint = x509.NameConstraints(permitted_subtrees=[x509.DNSName("hanoi.gov.vn")], excluded_subtrees=None)
    agency_ca = _issue(root, "agency CA", _ca_extensions(0, (constraint, True)))
    store = TrustStore([root[1]])
    inside = _issue(
        agency_ca, "inside", _signing((x509.SubjectAlternativeName([x509.DNSName("so.hanoi.gov.vn")]), False))
    )
    store.verify_signer(inside[1], [agency_ca[1]])
    outside = _issue(
        agency_ca, "outside", _signing((x509.SubjectAlternativeName([x509.DNSName("evil.example")]), False))
    )
    reason = _refusal(store, outside[1], [agency_ca[1]])
    assert reason.startswith("certificate path of CN=outside fails RFC 5280 validation:")
    assert "name constraint" in reason


# --- remembered verdicts ----------------------------------------------------------------------------------


def test_a_remembered_verdict_holds_only_while_every_certificate_on_the_path_does() -> None:
    """The span is the intersection of the path's validities: here the issuing CA ends before the leaf."""
    root_key, root = pki_module._make_root("span root", NOW - timedelta(days=1), 3650)
    issuing_key, issuing = _build(
        root_key, root.subject, "span issuing", _ca_extensions(0), not_after=NOW + timedelta(days=10)
    )
    _, leaf = _build(issuing_key, issuing.subject, "span leaf", _signing(), not_after=NOW + timedelta(days=30))
    store = TrustStore([root])
    store.verify_signer(leaf, [issuing], at=NOW, remember_as="header")
    assert store.recall_signer("header", at=NOW) == leaf
    assert store.recall_signer("header", at=NOW + timedelta(days=9)) == leaf
    assert store.recall_signer("header", at=(NOW + timedelta(days=9)).replace(tzinfo=None)) == leaf  # naive = UTC
    late, early = NOW + timedelta(days=10, seconds=1), leaf.not_valid_before_utc - timedelta(seconds=1)
    assert store.recall_signer("header", at=late) is None
    assert store.recall_signer("header", at=early) is None
    assert _refusal(store, leaf, [issuing], at=late).startswith("certificate for CN=span issuing expired on ")
    assert store.recall_signer("other header", at=NOW) is None


def test_a_refusal_is_never_remembered(dev_pki: DevPki, trust_store: TrustStore) -> None:
    unfit = mint_identity_without_signing_usage(dev_pki, "hub")
    for _ in range(2):
        assert "may not sign" in _refusal(trust_store, unfit.certificate, unfit.chain, remember_as="unfit header")
        assert trust_store.recall_signer("unfit header") is None


def test_remembered_verdicts_are_bounded_and_belong_to_one_store(
    dev_pki: DevPki, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    hub = pki_identity(HUB)
    store = dev_pki.trust_store()
    for index in range(REMEMBERED_SIGNERS + 1):
        store.verify_signer(hub.certificate, hub.chain, remember_as=f"header {index}")
    assert store.recall_signer("header 0") is None  # the least recently used went first
    assert store.recall_signer(f"header {REMEMBERED_SIGNERS}") == hub.certificate
    assert dev_pki.trust_store().recall_signer(f"header {REMEMBERED_SIGNERS}") is None


def test_an_empty_trust_store_or_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one root"):
        TrustStore([])
    with pytest.raises(ValueError, match="does not exist"):
        TrustStore.from_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no certificate files"):
        TrustStore.from_folder(tmp_path)

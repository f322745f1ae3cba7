"""The development PKI: files, permissions, chains that OpenSSL accepts, a TLS handshake on loopback,
PKCS#12 that opens with its password, idempotence, and the test helpers' certificates."""

from __future__ import annotations

import socket
import ssl
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from adapters.partners import partner_ids
from signing import pki as pki_module
from signing.keys import SigningIdentity
from signing.pki import (
    DOCUMENT_SIGNING,
    HUB,
    ROOT_CN,
    TLS_SERVER,
    DevPki,
    init_dev_pki,
    mint_expired_identity,
    mint_foreign_identity,
    mint_identity_without_signing_usage,
)

PARTNER_IDS = partner_ids()
ALL_NAMES = (HUB, *PARTNER_IDS, TLS_SERVER)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _openssl_verify(root: Path, chain: Path, leaf: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", *extra, "-CAfile", str(root), "-untrusted", str(chain), str(leaf)],
        capture_output=True,
        text=True,
        check=False,
    )


# --- files --------------------------------------------------------------------------------------------------


def test_every_identity_has_its_files_with_private_ones_readable_by_the_owner_only(dev_pki: DevPki) -> None:
    assert dev_pki.names == ALL_NAMES
    for name in ALL_NAMES:
        for secret in (dev_pki.key_path(name), dev_pki.p12_path(name), dev_pki.p12_password_path(name)):
            assert secret.is_file(), secret
            assert _mode(secret) == 0o600, secret
        for public in (dev_pki.cert_path(name), dev_pki.chain_path(name), dev_pki.fullchain_path(name)):
            assert public.is_file(), public
            assert _mode(public) & 0o077 == 0o044, public  # readable, never writable by others
    for ca_key in (dev_pki.root_key, dev_pki.issuing_key):
        assert _mode(ca_key) == 0o600
    assert _mode(dev_pki.folder) == 0o700
    assert sorted(p.name for p in dev_pki.trust_dir.iterdir()) == ["issuing-ca.cert.pem", "root-ca.cert.pem"]
    assert not list(dev_pki.folder.glob(".*.tmp")), "no temp file left behind"


def test_root_says_dev_only_and_the_hierarchy_is_root_issuing_leaf(dev_pki: DevPki) -> None:
    root, issuing = _cert(dev_pki.root_cert), _cert(dev_pki.issuing_cert)
    assert root.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == ROOT_CN
    assert "DEV ONLY - NOT FOR PRODUCTION" in ROOT_CN
    root_bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    issuing_bc = issuing.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root_bc.critical and root_bc.value.ca and root_bc.value.path_length == 1
    assert issuing_bc.critical and issuing_bc.value.ca and issuing_bc.value.path_length == 0
    issuing.verify_directly_issued_by(root)
    for name in ALL_NAMES:
        leaf = _cert(dev_pki.cert_path(name))
        leaf.verify_directly_issued_by(issuing)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert x509.load_pem_x509_certificates(dev_pki.chain_path(name).read_bytes()) == [issuing]
        assert x509.load_pem_x509_certificates(dev_pki.fullchain_path(name).read_bytes()) == [leaf, issuing]
        assert leaf.signature_hash_algorithm is not None and leaf.signature_hash_algorithm.name == "sha256"
        assert leaf.public_key().key_size == 2048  # type: ignore[union-attr]


def test_signing_certificates_allow_signing_and_nothing_else(dev_pki: DevPki) -> None:
    for name in (HUB, *PARTNER_IDS):
        cert = _cert(dev_pki.cert_path(name))
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical
        assert usage.value.digital_signature and usage.value.content_commitment
        assert not (usage.value.key_encipherment or usage.value.key_cert_sign)
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [DOCUMENT_SIGNING]
        assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == name


def test_tls_certificate_names_loopback_and_is_for_servers(dev_pki: DevPki) -> None:
    cert = _cert(dev_pki.cert_path(TLS_SERVER))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]


# --- OpenSSL agrees --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_openssl_verifies_every_chain(dev_pki: DevPki, name: str) -> None:
    result = _openssl_verify(dev_pki.root_cert, dev_pki.chain_path(name), dev_pki.cert_path(name))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_openssl_refuses_a_leaf_without_its_intermediate(dev_pki: DevPki) -> None:
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(dev_pki.root_cert), str(dev_pki.cert_path(HUB))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "unable to get local issuer certificate" in result.stdout + result.stderr


def test_signing_certificates_cannot_serve_tls_but_the_tls_certificate_can(dev_pki: DevPki) -> None:
    """The documentSigning EKU keeps signing keys out of TLS (X-Road's sign/auth separation)."""
    tls = _openssl_verify(
        dev_pki.root_cert, dev_pki.chain_path(TLS_SERVER), dev_pki.cert_path(TLS_SERVER), "-purpose", "sslserver"
    )
    assert tls.returncode == 0, tls.stderr
    signing = _openssl_verify(
        dev_pki.root_cert, dev_pki.chain_path(HUB), dev_pki.cert_path(HUB), "-purpose", "sslserver"
    )
    assert signing.returncode != 0
    assert "unsuitable certificate purpose" in signing.stdout + signing.stderr


# --- TLS on loopback ---------------------------------------------------------------------------------------


@contextmanager
def _tls_server(certfile: Path, keyfile: Path) -> Iterator[int]:
    """A one-connection-at-a-time TLS echo server on 127.0.0.1; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile=str(certfile), keyfile=str(keyfile))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so the loop notices ``stop`` promptly
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(1024))
            except (ssl.SSLError, OSError):
                pass  # a client that refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def _client_context(cafile: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl.create_default_context()
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default: RFC 5280 conformance
    return context


def _handshake(port: int, context: ssl.SSLContext, server_hostname: str) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        tls.sendall(b"xin chao")
        return tls.recv(1024)


@pytest.mark.parametrize("server_hostname", ["127.0.0.1", "localhost"])
def test_tls_certificate_serves_a_real_handshake_on_loopback(dev_pki: DevPki, server_hostname: str) -> None:
    with _tls_server(dev_pki.tls_cert, dev_pki.tls_key) as port:
        assert _handshake(port, _client_context(dev_pki.root_cert), server_hostname) == b"xin chao"


def test_tls_client_without_the_dev_root_refuses_the_server(dev_pki: DevPki) -> None:
    with _tls_server(dev_pki.tls_cert, dev_pki.tls_key) as port, pytest.raises(ssl.SSLCertVerificationError):
        _handshake(port, _client_context(None), "localhost")


def test_tls_client_refuses_a_signing_certificate_as_server(dev_pki: DevPki) -> None:
    with (
        _tls_server(dev_pki.fullchain_path(HUB), dev_pki.key_path(HUB)) as port,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        _handshake(port, _client_context(dev_pki.root_cert), "localhost")


# --- PKCS#12 -----------------------------------------------------------------------------------------------


def test_pkcs12_opens_with_its_generated_password(dev_pki: DevPki) -> None:
    password = dev_pki.p12_password_path(HUB).read_bytes()
    assert len(password) >= 32 and not password.endswith(b"\n")
    bundle = pkcs12.load_pkcs12(dev_pki.p12_path(HUB).read_bytes(), password)
    assert bundle.cert is not None and bundle.key is not None
    assert bundle.cert.certificate == _cert(dev_pki.cert_path(HUB))
    assert bundle.cert.friendly_name == b"hub"
    assert [c.certificate for c in bundle.additional_certs] == [_cert(dev_pki.issuing_cert)]
    assert bundle.key.public_key() == bundle.cert.certificate.public_key()
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(dev_pki.p12_path(HUB).read_bytes(), b"wrong password")


def test_openssl_opens_the_pkcs12_with_the_password_file(dev_pki: DevPki) -> None:
    result = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-in",
            str(dev_pki.p12_path(HUB)),
            "-passin",
            f"file:{dev_pki.p12_password_path(HUB)}",
            "-nokeys",
            "-info",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "AES-256-CBC" in result.stderr
    assert "hub DEV signing" in result.stdout


def test_passwords_differ_per_identity(dev_pki: DevPki) -> None:
    passwords = {dev_pki.p12_password_path(name).read_bytes() for name in ALL_NAMES}
    assert len(passwords) == len(ALL_NAMES)


# --- identities, idempotence ----------------------------------------------------------------------------------


def test_identity_loads_key_certificate_and_chain(
    dev_pki: DevPki, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    identity = pki_identity("national_portal")
    assert identity.certificate == _cert(dev_pki.cert_path("national_portal"))
    assert list(identity.chain) == [_cert(dev_pki.issuing_cert)]
    assert identity.private_key.public_key() == identity.certificate.public_key()
    with pytest.raises(KeyError, match="not an identity"):
        dev_pki.identity("unknown_partner")


def test_second_run_keeps_everything(dev_pki: DevPki) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dev_pki.folder.rglob("*.pem")}
    again = init_dev_pki(dev_pki.folder, partners=PARTNER_IDS)
    assert again == dev_pki
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dev_pki.folder.rglob("*.pem")}
    assert after == before


def test_new_partner_is_added_under_the_existing_ca_and_force_starts_over(tmp_path: Path) -> None:
    first = init_dev_pki(tmp_path, partners=("city_system",))
    root = first.root_cert.read_bytes()
    city = first.cert_path("city_system").read_bytes()
    second = init_dev_pki(tmp_path, partners=("city_system", "vnpost"))
    assert second.signers == (HUB, "city_system", "vnpost")
    assert second.root_cert.read_bytes() == root
    assert second.cert_path("city_system").read_bytes() == city
    _cert(second.cert_path("vnpost")).verify_directly_issued_by(_cert(second.issuing_cert))

    forced = init_dev_pki(tmp_path, partners=("city_system",), force=True)
    assert forced.root_cert.read_bytes() != root
    assert not forced.cert_path("vnpost").exists()
    assert _openssl_verify(forced.root_cert, forced.chain_path(HUB), forced.cert_path(HUB)).returncode == 0


def test_expired_leaves_are_renewed_and_the_ca_kept(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first = init_dev_pki(tmp_path, partners=(), days=30, now=start)
    root, hub = first.root_cert.read_bytes(), _cert(first.cert_path(HUB))
    assert hub.not_valid_after_utc == start + timedelta(days=30)
    assert hub.not_valid_before_utc == start - timedelta(hours=1)
    later = init_dev_pki(tmp_path, partners=(), days=30, now=start + timedelta(days=45))
    assert later.root_cert.read_bytes() == root
    renewed = _cert(later.cert_path(HUB))
    assert renewed.serial_number != hub.serial_number
    assert renewed.not_valid_after_utc == start + timedelta(days=75)


def test_concurrent_initialisations_agree_on_one_ca(tmp_path: Path) -> None:
    results: list[DevPki] = []
    threads = [
        threading.Thread(target=lambda: results.append(init_dev_pki(tmp_path, partners=("vnpost",)))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    issuing = _cert(tmp_path / "issuing-ca.cert.pem")
    issuing.verify_directly_issued_by(_cert(tmp_path / "root-ca.cert.pem"))
    for name in (HUB, "vnpost", TLS_SERVER):
        _cert(results[0].cert_path(name)).verify_directly_issued_by(issuing)


def test_default_folder_is_var_pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    created = init_dev_pki(partners=())
    assert created.folder == tmp_path / "var" / "pki"
    assert created.root_cert.is_file()


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", "hà_nội"])
def test_identity_names_must_be_safe_file_names(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="identity name"):
        init_dev_pki(tmp_path, partners=(bad,))


# --- test helpers -----------------------------------------------------------------------------------------


def test_expired_identity_lies_wholly_in_the_past(dev_pki: DevPki) -> None:
    now = datetime.now(UTC)
    expired = mint_expired_identity(dev_pki, "old_partner")
    assert expired.certificate.not_valid_after_utc < now
    assert expired.certificate.not_valid_before_utc < expired.certificate.not_valid_after_utc
    expired.certificate.verify_directly_issued_by(_cert(dev_pki.issuing_cert))
    assert list(expired.chain) == [_cert(dev_pki.issuing_cert)]


def test_foreign_identity_comes_from_another_ca(dev_pki: DevPki, tmp_path: Path) -> None:
    foreign = mint_foreign_identity("intruder")
    assert foreign.certificate.issuer != _cert(dev_pki.issuing_cert).subject
    leaf, chain = tmp_path / "leaf.pem", tmp_path / "chain.pem"
    leaf.write_bytes(pki_module._pem(foreign.certificate))
    chain.write_bytes(b"".join(pki_module._pem(c) for c in foreign.chain))
    assert _openssl_verify(dev_pki.root_cert, chain, leaf).returncode != 0


def test_identity_without_signing_usage_has_key_encipherment_only(dev_pki: DevPki) -> None:
    identity = mint_identity_without_signing_usage(dev_pki, "encrypt_only")
    usage = identity.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment
    assert not (usage.digital_signature or usage.content_commitment)

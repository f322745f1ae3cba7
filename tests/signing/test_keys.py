"""Key sources: file, PKCS#12, environment and PKCS#11 (refused clearly), with the rules every source
shares -- RSA >= 2048 only, the certificate belongs to the key, no secret in any error message."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.errors import KeySourceError, SigningError
from signing.keys import SigningIdentity, load_identity, order_chain, pem_bundle
from signing.pki import HUB, DevPki, mint_identity
from signing.trust import TrustStore

SECRET = "Mật-khẩu-bí-mật-42"


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(identity: SigningIdentity, password: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return identity.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _same(a: SigningIdentity, b: SigningIdentity) -> None:
    assert a.certificate == b.certificate
    assert list(a.chain) == list(b.chain)
    assert a.private_key.private_numbers() == b.private_key.private_numbers()


def _refused(source: str) -> str:
    with pytest.raises(KeySourceError) as info:
        load_identity(source)
    assert isinstance(info.value, SigningError)
    assert SECRET not in str(info.value)
    return info.value.reason


@pytest.fixture
def hub(pki_identity: Callable[[str], SigningIdentity]) -> SigningIdentity:
    return pki_identity(HUB)


# --- file: ------------------------------------------------------------------------------------------------


def test_file_source_loads_key_certificate_and_chain(
    dev_pki: DevPki, hub: SigningIdentity, trust_store: TrustStore
) -> None:
    loaded = load_identity(
        f"file:{dev_pki.key_path(HUB)}?cert={dev_pki.cert_path(HUB)}&chain={dev_pki.chain_path(HUB)}"
    )
    _same(loaded, hub)
    trust_store.verify_signer(loaded.certificate, loaded.chain)


def test_file_source_with_fullchain_as_cert_and_url_form(dev_pki: DevPki, hub: SigningIdentity) -> None:
    _same(load_identity(f"file://{dev_pki.key_path(HUB)}?cert={dev_pki.fullchain_path(HUB)}"), hub)


def test_file_source_where_the_key_file_holds_the_certificates_too(tmp_path: Path, hub: SigningIdentity) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem_bundle(hub))
    _same(load_identity(f"file:{bundle}"), hub)


def test_encrypted_key_with_password_from_env_or_file(
    tmp_path: Path, hub: SigningIdentity, dev_pki: DevPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "enc.key.pem"
    key.write_bytes(_key_pem(hub, SECRET))
    cert = f"cert={dev_pki.fullchain_path(HUB)}"
    monkeypatch.setenv("HUB_TEST_KEY_PASSWORD", SECRET)
    _same(load_identity(f"file:{key}?{cert}&password_env=HUB_TEST_KEY_PASSWORD"), hub)
    password_file = tmp_path / "password"
    password_file.write_text(SECRET + "\n")
    _same(load_identity(f"file:{key}?{cert}&password_file={password_file}"), hub)

    monkeypatch.setenv("HUB_TEST_KEY_PASSWORD", "wrong " + SECRET[::-1])
    assert "wrong password?" in _refused(f"file:{key}?{cert}&password_env=HUB_TEST_KEY_PASSWORD")
    monkeypatch.delenv("HUB_TEST_KEY_PASSWORD")
    assert "password variable HUB_TEST_KEY_PASSWORD is not set" in _refused(
        f"file:{key}?{cert}&password_env=HUB_TEST_KEY_PASSWORD"
    )
    assert "private key is encrypted" in _refused(f"file:{key}?{cert}")


def test_a_password_written_in_the_source_is_refused_without_echoing_it(dev_pki: DevPki) -> None:
    reason = _refused(f"file:{dev_pki.key_path(HUB)}?cert={dev_pki.cert_path(HUB)}&password={SECRET}")
    assert "secrets are never written in the source" in reason


def test_file_source_errors_name_the_file_or_parameter(tmp_path: Path, dev_pki: DevPki) -> None:
    assert "does not exist" in _refused(f"file:{tmp_path / 'missing.pem'}?cert={dev_pki.cert_path(HUB)}")
    assert "holds no certificate" in _refused(f"file:{dev_pki.key_path(HUB)}")
    assert "unknown parameter 'certificate'" in _refused(f"file:{dev_pki.key_path(HUB)}?certificate=x")
    assert "holds no PEM private key" in _refused(f"file:{dev_pki.cert_path(HUB)}?cert={dev_pki.cert_path(HUB)}")
    assert "given more than once" in _refused(
        f"file:{dev_pki.key_path(HUB)}?cert={dev_pki.cert_path(HUB)}&cert={dev_pki.cert_path(HUB)}"
    )


def test_certificate_of_another_key_is_refused(dev_pki: DevPki) -> None:
    reason = _refused(f"file:{dev_pki.key_path(HUB)}?cert={dev_pki.cert_path('vnpost')}")
    assert reason.endswith("no certificate matches the private key")


def test_rsa_keys_under_2048_bits_are_refused(tmp_path: Path, dev_pki: DevPki) -> None:
    weak = mint_identity(dev_pki, "weak", key_size=1024)
    bundle = tmp_path / "weak.pem"
    bundle.write_bytes(pem_bundle(weak))
    assert _refused(f"file:{bundle}") == f"key file {bundle}: RSA key is 1024 bits; at least 2048 bits are required"


def test_non_rsa_keys_are_refused(tmp_path: Path, dev_pki: DevPki) -> None:
    key = tmp_path / "ec.pem"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert "only RSA signing keys are accepted" in _refused(f"file:{key}?cert={dev_pki.cert_path(HUB)}")


# --- pkcs12: ----------------------------------------------------------------------------------------------


def test_pkcs12_source_with_password_file_or_env(
    dev_pki: DevPki, hub: SigningIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same(load_identity(dev_pki.p12_source(HUB)), hub)
    monkeypatch.setenv("HUB_TEST_P12_PASSWORD", dev_pki.p12_password_path(HUB).read_text())
    _same(load_identity(f"pkcs12:{dev_pki.p12_path(HUB)}?password_env=HUB_TEST_P12_PASSWORD"), hub)


def test_pkcs12_wrong_or_missing_password(dev_pki: DevPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_P12_PASSWORD", SECRET)
    assert "wrong password?" in _refused(f"pkcs12:{dev_pki.p12_path(HUB)}?password_env=HUB_TEST_P12_PASSWORD")
    assert "password-protected" in _refused(f"pkcs12:{dev_pki.p12_path(HUB)}")
    assert "give password_env or password_file, not both" in _refused(
        f"pkcs12:{dev_pki.p12_path(HUB)}?password_env=A&password_file=/b"
    )


# --- env: -------------------------------------------------------------------------------------------------


def test_env_source_reads_a_pem_bundle_in_any_order(
    dev_pki: DevPki, hub: SigningIdentity, monkeypatch: pytest.MonkeyPatch, trust_store: TrustStore
) -> None:
    root = x509.load_pem_x509_certificate(dev_pki.root_cert.read_bytes())
    blocks = [_key_pem(hub), _pem(hub.certificate), *(_pem(c) for c in hub.chain), _pem(root)]
    random.Random(7).shuffle(blocks)
    monkeypatch.setenv("HUB_TEST_SIGNING_PEM", b"".join(blocks).decode())
    loaded = load_identity("env:HUB_TEST_SIGNING_PEM")
    _same(loaded, hub)  # the root that came along is dropped: trust comes from the verifier's store
    trust_store.verify_signer(loaded.certificate, loaded.chain)


def test_env_source_with_encrypted_key(hub: SigningIdentity, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_SIGNING_PEM", (_key_pem(hub, SECRET) + _pem(hub.certificate)).decode())
    monkeypatch.setenv("HUB_TEST_SIGNING_PASSWORD", SECRET)
    loaded = load_identity("env:HUB_TEST_SIGNING_PEM?password_env=HUB_TEST_SIGNING_PASSWORD")
    assert loaded.certificate == hub.certificate


def test_env_source_errors(hub: SigningIdentity, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_TEST_SIGNING_PEM", raising=False)
    assert _refused("env:HUB_TEST_SIGNING_PEM") == (
        "environment variable HUB_TEST_SIGNING_PEM (signing key PEM bundle) is not set or empty"
    )
    monkeypatch.setenv("HUB_TEST_SIGNING_PEM", _key_pem(hub).decode())
    assert "holds no PEM certificate beside the key" in _refused("env:HUB_TEST_SIGNING_PEM")
    monkeypatch.setenv("HUB_TEST_SIGNING_PEM", SECRET)
    assert "holds no PEM private key" in _refused("env:HUB_TEST_SIGNING_PEM")


# --- pkcs11: ------------------------------------------------------------------------------------------------


def test_pkcs11_is_refused_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_PKCS11_MODULE", raising=False)
    reason = _refused("pkcs11:token=Hanoi%20Hub;object=hub-signing")
    assert "needs python-pkcs11 and a token module" in reason
    assert "HUB_PKCS11_MODULE" in reason and "HUB_PKCS11_PIN" in reason
    assert "'Hanoi Hub'" in reason


def test_pkcs11_never_takes_a_pin_in_the_source_and_needs_token_and_object() -> None:
    reason = _refused(f"pkcs11:token=t;object=o?pin-value={SECRET}")
    assert "a PIN is never written in the source" in reason
    assert "needs token=<label> and object=<key label>" in _refused("pkcs11:object=o")


def test_pkcs11_pin_source_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_PKCS11_MODULE", raising=False)
    assert "put the PIN in HUB_TOKEN_PIN" in _refused("pkcs11:token=t;object=o?pin-source=env:HUB_TOKEN_PIN")


# --- everything else ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["", "hub.pem", "vault:secret/hub", "file:"])
def test_malformed_or_unknown_sources_are_refused(source: str) -> None:
    reason = _refused(source)
    assert "key source" in reason or "unknown key source scheme" in reason or "names no file" in reason


def test_order_chain_puts_issuers_in_order_and_drops_roots(dev_pki: DevPki, hub: SigningIdentity) -> None:
    root = x509.load_pem_x509_certificate(dev_pki.root_cert.read_bytes())
    issuing = x509.load_pem_x509_certificate(dev_pki.issuing_cert.read_bytes())
    assert order_chain(hub.certificate, [root, issuing, issuing, hub.certificate]) == (issuing,)

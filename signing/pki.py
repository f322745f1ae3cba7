"""A development PKI shaped like the government one, so the hub signs and verifies for real.

Production keys come from a licensed CA (and, for agencies, the Government Cipher Committee's
root); the sandbox and the tests need the same *shape* without any of that: a root, an issuing
CA below it and end-entity certificates below that. Three levels, not two, because that is what
the government PKI looks like and because a two-level toy PKI hides the classic bug of a
verifier that forgets the intermediate.

Layout written by :func:`init_dev_pki` (default ``var/pki``)::

    root-ca.cert.pem          the trust anchor (CN says DEV ONLY - NOT FOR PRODUCTION)
    root-ca.key.pem           0600; kept only because this is a dev PKI (a real root is offline)
    issuing-ca.cert.pem       CA:true, pathlen 0, signed by the root
    issuing-ca.key.pem        0600; signs every end-entity certificate and the test helpers' ones
    trust/                    what a verifier loads (TrustStore.from_folder): root + issuing CA
    <name>.key.pem            0600, PKCS#8, unencrypted (dev only; production uses pkcs12:/pkcs11:)
    <name>.cert.pem           the end-entity certificate alone
    <name>.chain.pem          intermediates up to, not including, the root (the issuing CA)
    <name>.fullchain.pem      certificate + intermediates: what a TLS server sends
    <name>.p12                key + certificate + chain, PBES2/AES-256-CBC, HMAC-SHA256
    <name>.p12.password       0600; a generated secret (no trailing newline)

for ``hub``, each partner and ``tls_server``. Every file is written atomically (temp + rename)
with its final mode set at creation, under an exclusive lock so that two processes starting the
sandbox at once cannot end up with certificates from two different CAs.

Signing certificates carry keyUsage digitalSignature + nonRepudiation (critical) and
extendedKeyUsage id-kp-documentSigning (RFC 9336). The EKU is there to *separate* signing from
TLS, as X-Road separates its sign and auth certificates: OpenSSL and browsers refuse a
documentSigning-only certificate for TLS, and :class:`signing.trust.TrustStore` refuses a
serverAuth-only certificate as a signer.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import ipaddress
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.keys import SigningIdentity, load_identity
from signing.trust import TrustStore

HUB = "hub"
TLS_SERVER = "tls_server"

ROOT_CN = "Hanoi Hub DEV ROOT CA - DEV ONLY - NOT FOR PRODUCTION"
ISSUING_CN = "Hanoi Hub DEV Issuing CA - DEV ONLY - NOT FOR PRODUCTION"
FOREIGN_ROOT_CN = "Untrusted DEV ROOT CA - NOT IN ANY TRUST STORE"
FOREIGN_ISSUING_CN = "Untrusted DEV Issuing CA - NOT IN ANY TRUST STORE"
ORGANISATION = "Hanoi Dossier Hub DEV - NOT FOR PRODUCTION"

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336): the purpose of a certificate that signs documents/messages."""

_KeyAndCert = tuple[RSAPrivateKey, x509.Certificate]

KEY_BITS = 2048
CA_MIN_DAYS = 3650
BACKDATE = timedelta(hours=1)
"""Certificates start an hour before ``now`` so a partner whose clock is slightly behind accepts them."""


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """A KeyUsage extension allowing exactly the ``allowed`` uses (the rest False)."""
    flags = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")  # fmt: skip
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


_SIGNING_USAGE = _key_usage("digital_signature", "content_commitment")
_CA_USAGE = _key_usage("key_cert_sign", "crl_sign")
_TLS_USAGE = _key_usage("digital_signature", "key_encipherment")
_ENCIPHER_ONLY_USAGE = _key_usage("key_encipherment")


@dataclass(frozen=True)
class DevPki:
    """Where a development PKI lives, and how to get its identities and trust store."""

    folder: Path
    signers: tuple[str, ...]
    """``hub`` and the partners: the names that have signing certificates."""

    @classmethod
    def existing(cls, folder: Path) -> DevPki:
        """The PKI already in ``folder``, its signers found from the certificate files there."""
        named = sorted(path.name.removesuffix(".cert.pem") for path in folder.glob("*.cert.pem"))
        others = {"root-ca", "issuing-ca", TLS_SERVER}
        return cls(folder, tuple(dict.fromkeys((HUB, *(n for n in named if n not in others)))))

    @property
    def root_cert(self) -> Path:
        return self.folder / "root-ca.cert.pem"

    @property
    def root_key(self) -> Path:
        return self.folder / "root-ca.key.pem"

    @property
    def issuing_cert(self) -> Path:
        return self.folder / "issuing-ca.cert.pem"

    @property
    def issuing_key(self) -> Path:
        return self.folder / "issuing-ca.key.pem"

    @property
    def trust_dir(self) -> Path:
        return self.folder / "trust"

    @property
    def names(self) -> tuple[str, ...]:
        """Every end-entity identity: the signers and the TLS server."""
        return (*self.signers, TLS_SERVER)

    def key_path(self, name: str) -> Path:
        return self.folder / f"{name}.key.pem"

    def cert_path(self, name: str) -> Path:
        return self.folder / f"{name}.cert.pem"

    def chain_path(self, name: str) -> Path:
        return self.folder / f"{name}.chain.pem"

    def fullchain_path(self, name: str) -> Path:
        return self.folder / f"{name}.fullchain.pem"

    def p12_path(self, name: str) -> Path:
        return self.folder / f"{name}.p12"

    def p12_password_path(self, name: str) -> Path:
        return self.folder / f"{name}.p12.password"

    @property
    def tls_cert(self) -> Path:
        """Leaf + issuing CA, ready for ``ssl.SSLContext.load_cert_chain`` or uvicorn's ``ssl_certfile``."""
        return self.fullchain_path(TLS_SERVER)

    @property
    def tls_key(self) -> Path:
        return self.key_path(TLS_SERVER)

    def source(self, name: str) -> str:
        """The ``file:`` key source (see :func:`signing.keys.load_identity`) of ``name``."""
        self._check(name)
        return f"file:{self.key_path(name)}?cert={self.cert_path(name)}&chain={self.chain_path(name)}"

    def p12_source(self, name: str) -> str:
        """The ``pkcs12:`` key source of ``name`` (password read from the ``.p12.password`` file)."""
        self._check(name)
        return f"pkcs12:{self.p12_path(name)}?password_file={self.p12_password_path(name)}"

    def identity(self, name: str) -> SigningIdentity:
        """The signing identity of ``name`` (``hub``, a partner, or ``tls_server``), read from disk."""
        return load_identity(self.source(name))

    def trust_store(self) -> TrustStore:
        """A trust store holding this PKI's root (anchor) and issuing CA (intermediate)."""
        return TrustStore.from_folder(self.trust_dir)

    def issuing_ca(self) -> tuple[RSAPrivateKey, x509.Certificate]:
        """The issuing CA's key and certificate: what the test helpers mint with."""
        key = serialization.load_pem_private_key(self.issuing_key.read_bytes(), password=None, **_OWN_KEY)
        assert isinstance(key, RSAPrivateKey)
        return key, x509.load_pem_x509_certificate(self.issuing_cert.read_bytes())

    def _check(self, name: str) -> None:
        if name not in self.names:
            raise KeyError(
                f"{name!r} is not an identity of the dev PKI in {self.folder} (known: {', '.join(self.names)})"
            )


_REPO_VAR = Path(__file__).resolve().parent.parent / "var"


def default_pki_dir() -> Path:
    """``var/pki`` (``HUB_VAR_DIR`` moves ``var/``, as for the rest of the hub's generated state).

    The variable is read here rather than through ``hub.paths``: ``signing`` sits below ``hub``.
    """
    return Path(os.environ.get("HUB_VAR_DIR", _REPO_VAR)).resolve() / "pki"


def init_dev_pki(
    folder: Path | None = None,
    *,
    partners: Sequence[str] = (),
    days: int = 825,
    now: datetime | None = None,
    force: bool = False,
) -> DevPki:
    """Write (or keep) the development PKI in ``folder`` and return where everything is.

    ``partners`` get signing certificates beside ``hub``; the callers that run partners (the
    sandbox, ``hub pki init``) pass the ids of :mod:`adapters.partners`, a caller that only needs
    the hub's identity and the trust store passes none.

    Idempotent: an existing, usable PKI is kept. Without ``force`` only what is missing or no
    longer valid at ``now`` is (re)issued -- a new partner name gets a certificate from the
    existing issuing CA, an expired leaf is renewed, and a missing or expired CA regenerates
    everything below it. ``force=True`` starts from scratch. ``days`` is the end-entity validity
    (825 days: the old CA/Browser ceiling, long enough that a dev checkout rarely renews); the
    CAs live at least ten years, and no leaf outlives its issuer.
    """
    folder = Path(folder) if folder is not None else default_pki_dir()
    now = _utc(now)
    signers = tuple(dict.fromkeys((HUB, *partners)))
    for name in (*signers, TLS_SERVER):
        _check_name(name)
    pki = DevPki(folder, signers)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(folder):
        if force:
            _remove_generated(folder)
        ca_days = max(CA_MIN_DAYS, 2 * days)
        root = None if force else _load_ca(pki.root_key, pki.root_cert, now)
        if root is None:
            root = _make_root(ROOT_CN, now, ca_days)
            _write_key(pki.root_key, root[0])
            _write_public(pki.root_cert, _pem(root[1]))
        issuing = _load_ca(pki.issuing_key, pki.issuing_cert, now)
        if issuing is None or not _issued_by(issuing[1], root[1]):
            issuing = _make_issuing(ISSUING_CN, root, now, ca_days)
            _write_key(pki.issuing_key, issuing[0])
            _write_public(pki.issuing_cert, _pem(issuing[1]))
        pki.trust_dir.mkdir(exist_ok=True)
        _write_public(pki.trust_dir / "root-ca.cert.pem", _pem(root[1]))
        _write_public(pki.trust_dir / "issuing-ca.cert.pem", _pem(issuing[1]))

        for name in pki.names:
            if _leaf_usable(pki, name, issuing[1], now):
                continue
            if name == TLS_SERVER:
                key, cert = _issue_tls_server(issuing, now, days)
            else:
                key, cert = _issue(
                    issuing, _leaf_subject(name), _signing_extensions(), now - BACKDATE, now + timedelta(days=days)
                )
            _write_identity(pki, name, key, cert, (issuing[1],))
    return pki


# --- test helpers (public: other modules' tests use them) -----------------------------------------


def mint_identity(
    pki: DevPki,
    name: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_usage: x509.KeyUsage = _SIGNING_USAGE,
    extended_key_usage: Sequence[x509.ObjectIdentifier] | None = (DOCUMENT_SIGNING,),
    key_size: int = KEY_BITS,
) -> SigningIdentity:
    """A fresh in-memory identity issued by ``pki``'s issuing CA, shaped as the arguments say.

    Nothing is written to disk. ``key_size`` below 2048 is for testing refusals only (cryptography
    still generates 1024-bit keys).
    """
    ca = pki.issuing_ca()
    start = _utc(not_before) if not_before else datetime.now(UTC) - BACKDATE
    end = _utc(not_after) if not_after else start + timedelta(days=30)
    extensions = _signing_extensions(key_usage, extended_key_usage)
    key, cert = _issue(ca, _leaf_subject(name), extensions, start, end, key_size=key_size)
    return SigningIdentity(key, cert, (ca[1],))


def mint_expired_identity(pki: DevPki, name: str, *, now: datetime | None = None) -> SigningIdentity:
    """An identity from the trusted issuing CA whose validity lies wholly in the past (ended 30 days ago)."""
    now = _utc(now)
    return mint_identity(pki, name, not_before=now - timedelta(days=400), not_after=now - timedelta(days=30))


def mint_identity_without_signing_usage(pki: DevPki, name: str) -> SigningIdentity:
    """An identity from the trusted issuing CA whose keyUsage is keyEncipherment only (and no EKU)."""
    return mint_identity(pki, name, key_usage=_ENCIPHER_ONLY_USAGE, extended_key_usage=None)


def mint_foreign_identity(
    name: str,
    *,
    root_cn: str = FOREIGN_ROOT_CN,
    issuing_cn: str = FOREIGN_ISSUING_CN,
    now: datetime | None = None,
    days: int = 30,
) -> SigningIdentity:
    """An identity from a second, untrusted CA (its own root and issuing CA, generated on the spot).

    Everything else about it is right (usage, validity, chain), so a refusal can only come from
    the trust anchor. Pass ``root_cn=ROOT_CN, issuing_cn=ISSUING_CN`` for an impostor CA that copies
    the dev CAs' names but not their keys.
    """
    now = _utc(now)
    issuing = _foreign_ca(root_cn, issuing_cn)
    if not _valid_at(issuing[1], now):
        issuing = _make_issuing(issuing_cn, _make_root(root_cn, now, CA_MIN_DAYS), now, CA_MIN_DAYS)
    key, cert = _issue(issuing, _leaf_subject(name), _signing_extensions(), now - BACKDATE, now + timedelta(days=days))
    return SigningIdentity(key, cert, (issuing[1],))


@functools.cache
def _foreign_ca(root_cn: str, issuing_cn: str) -> _KeyAndCert:
    """One untrusted CA per name pair and process: minting foreign identities then costs one key each."""
    now = datetime.now(UTC)
    return _make_issuing(issuing_cn, _make_root(root_cn, now, CA_MIN_DAYS), now, CA_MIN_DAYS)


# --- certificate building ----------------------------------------------------------------------------


def _name(cn: str, unit: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Hà Nội"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
    ]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _leaf_subject(name: str) -> x509.Name:
    return _name(f"{name} DEV signing", unit=name)


def _signing_extensions(
    key_usage: x509.KeyUsage = _SIGNING_USAGE,
    extended_key_usage: Sequence[x509.ObjectIdentifier] | None = (DOCUMENT_SIGNING,),
) -> list[tuple[x509.ExtensionType, bool]]:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage, True),
    ]
    if extended_key_usage:
        extensions.append((x509.ExtendedKeyUsage(list(extended_key_usage)), False))
    return extensions


def _new_key(bits: int = KEY_BITS) -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _make_root(cn: str, now: datetime, days: int) -> _KeyAndCert:
    key = _new_key()
    name = _name(cn)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_issuing(cn: str, root: _KeyAndCert, now: datetime, days: int) -> _KeyAndCert:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_CA_USAGE, True),
    ]
    return _issue(root, _name(cn), extensions, now - BACKDATE, now + timedelta(days=days))


def _issue_tls_server(issuing: _KeyAndCert, now: datetime, days: int) -> _KeyAndCert:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_TLS_USAGE, True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            False,
        ),
    ]
    return _issue(issuing, _name("localhost", unit=TLS_SERVER), extensions, now - BACKDATE, now + timedelta(days=days))


def _issue(
    issuer: _KeyAndCert,
    subject: x509.Name,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    not_before: datetime,
    not_after: datetime,
    *,
    key_size: int = KEY_BITS,
) -> _KeyAndCert:
    """Sign a new key's certificate with ``issuer`` (RSA PKCS#1 v1.5 + SHA-256), never outliving it."""
    issuer_key, issuer_cert = issuer
    key = _new_key(key_size)
    not_after = min(not_after, issuer_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(issuer_key, hashes.SHA256())


# --- files -------------------------------------------------------------------------------------------


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_identity(
    pki: DevPki, name: str, key: RSAPrivateKey, cert: x509.Certificate, chain: Sequence[x509.Certificate]
) -> None:
    chain_pem = b"".join(_pem(c) for c in chain)
    password = secrets.token_urlsafe(24).encode()
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    p12 = pkcs12.serialize_key_and_certificates(name.encode(), key, cert, list(chain), encryption)
    # Secrets first: a reader that finds the certificate finds its key and password too.
    _write_key(pki.key_path(name), key)
    _write_private(pki.p12_password_path(name), password)
    _write_private(pki.p12_path(name), p12)
    _write_public(pki.chain_path(name), chain_pem)
    _write_public(pki.fullchain_path(name), _pem(cert) + chain_pem)
    _write_public(pki.cert_path(name), _pem(cert))


def _write_key(path: Path, key: RSAPrivateKey) -> None:
    _write_private(
        path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _write_private(path: Path, data: bytes) -> None:
    _write_atomic(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    _write_atomic(path, data, 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Temp file created with ``mode`` (never readable by others, even for an instant), then renamed."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_generated(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file() and path.name.endswith((".pem", ".p12", ".p12.password")):
            path.unlink()
    shutil.rmtree(folder / "trust", ignore_errors=True)


def _load_ca(key_path: Path, cert_path: Path, now: datetime) -> _KeyAndCert | None:
    """An existing CA if its files are readable, match each other and are valid at ``now``."""
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None, **_OWN_KEY)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, RSAPrivateKey) or not _valid_at(cert, now):
        return None
    if cert.public_key() != key.public_key():
        return None
    return key, cert


_OWN_KEY = {"unsafe_skip_rsa_key_validation": True}
"""Keys this module wrote itself are only compared with their certificates here, not used: skip the
RSA consistency check (tens of milliseconds per key) so an idempotent re-run stays fast."""


def _leaf_usable(pki: DevPki, name: str, issuer: x509.Certificate, now: datetime) -> bool:
    paths = (
        pki.key_path(name),
        pki.cert_path(name),
        pki.chain_path(name),
        pki.fullchain_path(name),
        pki.p12_path(name),
        pki.p12_password_path(name),
    )
    if not all(p.is_file() for p in paths):
        return False
    try:
        cert = x509.load_pem_x509_certificate(pki.cert_path(name).read_bytes())
        key = serialization.load_pem_private_key(pki.key_path(name).read_bytes(), password=None, **_OWN_KEY)
    except (ValueError, TypeError):
        return False
    if not isinstance(key, RSAPrivateKey) or cert.public_key() != key.public_key():
        return False
    return _valid_at(cert, now) and _issued_by(cert, issuer)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:
        return False
    return True


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_name(name: str) -> None:
    if not name or not name.isascii() or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"identity name {name!r} must be letters, digits, '_' or '-' (it becomes a file name)")

"""Who signs: a private key, its certificate and the chain up to (not including) the root.

A signing identity is configuration, not code: ``load_identity(source)`` turns one string (an
Airflow Connection extra, an environment variable) into a :class:`SigningIdentity`, so the same
DAG signs with a development key in the sandbox and with the organisation's certificate in
production. Sources:

``file:/path/key.pem?cert=/path/cert.pem&chain=/path/chain.pem&password_env=VAR``
    PEM files. ``cert`` may be left out when the key file also holds the certificate; further
    certificates in the cert file count as chain. An encrypted key takes its password from
    ``password_env`` (the *name* of an environment variable) or ``password_file``.
``pkcs12:/path/id.p12?password_env=VAR`` (or ``password_file=/path``)
    What a licensed Vietnamese CA usually hands an organisation; key, certificate and chain in
    one file.
``env:VAR`` (optionally ``env:VAR?password_env=OTHER``)
    A PEM bundle (key + certificate + chain, any order) in an environment variable: the shape a
    container secret or ``AIRFLOW_VAR_*`` takes.
``pkcs11:token=...;object=...``
    A key that never leaves a token or HSM (RFC 7512 URI). The library is
    ``HUB_PKCS11_MODULE`` (or ``module-path=`` in the URI) and the PIN comes from the environment
    (``HUB_PKCS11_PIN``, or ``pin-source=env:VAR``); a ``pin-value`` in the URI is refused.
    This hub release does not drive tokens yet -- it needs python-pkcs11 and an RSA key object
    that delegates signing to the token -- so the source is parsed, checked, and refused with a
    message that says what to install and configure. It is never silently replaced by a file key.

Rules for every source: RSA keys of at least 2048 bits only (the government PKI profile:
RSA-2048 + SHA-256), the certificate must belong to the key, a self-signed root found among the
chain certificates is dropped (a verifier must never take the root from the message), and no
error message ever contains a password, a PIN or key material -- only paths and variable names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.errors import KeySourceError

MIN_RSA_BITS = 2048
"""Smallest RSA modulus accepted for a signing key (Decree 23/2025 practice: RSA-2048 + SHA-256)."""

PKCS11_MODULE_ENV = "HUB_PKCS11_MODULE"
PKCS11_PIN_ENV = "HUB_PKCS11_PIN"


@dataclass(frozen=True)
class SigningIdentity:
    """A private key, its certificate and the intermediates between it and a trusted root.

    ``chain`` is ordered from the certificate's issuer upwards and never contains the root: a
    verifier anchors on its own trust store, so sending the root adds bytes and no trust.
    """

    private_key: RSAPrivateKey
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate] = field(default_factory=tuple)


def load_identity(source: str) -> SigningIdentity:
    """Load the signing identity that ``source`` (see the module docstring) points at.

    Raises :class:`signing.errors.KeySourceError` with a reason that names the file, variable or
    parameter at fault and never the secret itself.
    """
    scheme, sep, rest = source.partition(":")
    if not sep or not rest:
        raise KeySourceError(
            "key source must look like 'file:/path/key.pem?cert=...', 'pkcs12:/path/id.p12?password_env=VAR', "
            "'env:VAR' or 'pkcs11:token=...;object=...'"
        )
    scheme = scheme.strip().lower()
    if scheme == "file":
        return _load_file_source(rest)
    if scheme == "pkcs12":
        return _load_pkcs12_source(rest)
    if scheme == "env":
        return _load_env_source(rest)
    if scheme == "pkcs11":
        return _load_pkcs11_source(rest)
    raise KeySourceError(f"unknown key source scheme {scheme!r}: use file:, pkcs12:, env: or pkcs11:")


def identity_from_pem(data: bytes, *, password: bytes | None = None, origin: str = "PEM bundle") -> SigningIdentity:
    """Build an identity from one PEM bundle holding a private key and its certificate (+ chain).

    The certificate is the one whose public key matches the private key, whatever the order in
    the bundle; the remaining certificates become the chain.
    """
    key = _load_pem_key(data, password, origin)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeySourceError(f"{origin} holds no PEM certificate beside the key") from None
    return _assemble(key, certificates, origin)


def pem_bundle(identity: SigningIdentity) -> bytes:
    """The identity as one unencrypted PEM bundle (key, certificate, chain): what ``env:VAR`` reads.

    For development and tests; production keys live in PKCS#12 files or tokens.
    """
    key = identity.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certs = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (identity.certificate, *identity.chain))
    return key + certs


def order_chain(leaf: x509.Certificate, others: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """Order ``others`` from ``leaf``'s issuer upwards; drop self-signed roots and duplicates.

    Certificates that do not link into the path are kept at the end (a verifier may still use
    them to build an alternative path); only roots are removed, because trust must come from the
    verifier's store, never from the message.
    """
    pool: list[x509.Certificate] = []
    for cert in others:
        if cert == leaf or cert in pool or is_self_signed(cert):
            continue
        pool.append(cert)
    ordered: list[x509.Certificate] = []
    current = leaf
    while True:
        nxt = next((c for c in pool if c.subject == current.issuer and c not in ordered), None)
        if nxt is None:
            break
        ordered.append(nxt)
        current = nxt
    return (*ordered, *(c for c in pool if c not in ordered))


def check_signing_key(key: object, origin: str) -> RSAPrivateKey:
    """Refuse anything but an RSA private key of at least :data:`MIN_RSA_BITS` bits."""
    if not isinstance(key, RSAPrivateKey):
        kind = type(key).__name__.lstrip("_")
        raise KeySourceError(f"{origin}: only RSA signing keys are accepted (found {kind})")
    if key.key_size < MIN_RSA_BITS:
        raise KeySourceError(f"{origin}: RSA key is {key.key_size} bits; at least {MIN_RSA_BITS} bits are required")
    return key


# --- sources -------------------------------------------------------------------------------------


def _load_file_source(rest: str) -> SigningIdentity:
    path_part, params = _split_query(rest, allowed={"cert", "chain", "password_env", "password_file"}, scheme="file")
    key_path = _path(path_part, "file")
    key_data = _read(key_path, "private key")
    password = _password(params, f"key file {key_path}")
    key = _load_pem_key(key_data, password, f"key file {key_path}")

    if "cert" in params:
        cert_path = _path(params["cert"], "file")
        certificates = _load_certs(_read(cert_path, "certificate"), f"certificate file {cert_path}")
    else:
        try:
            certificates = x509.load_pem_x509_certificates(key_data)
        except ValueError:
            raise KeySourceError(
                f"key file {key_path} holds no certificate: add ?cert=/path/cert.pem to the source"
            ) from None
    if "chain" in params:
        chain_path = _path(params["chain"], "file")
        certificates = [*certificates, *_load_certs(_read(chain_path, "chain"), f"chain file {chain_path}")]
    return _assemble(key, certificates, f"key file {key_path}")


def _load_pkcs12_source(rest: str) -> SigningIdentity:
    path_part, params = _split_query(rest, allowed={"password_env", "password_file"}, scheme="pkcs12")
    p12_path = _path(path_part, "pkcs12")
    data = _read(p12_path, "PKCS#12")
    password = _password(params, f"PKCS#12 file {p12_path}")
    origin = f"PKCS#12 file {p12_path}"
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except ValueError:
        hint = "wrong password?" if password else "it is password-protected: set password_env=VAR or password_file=PATH"
        raise KeySourceError(f"could not open {origin} ({hint})") from None
    if bundle.key is None or bundle.cert is None:
        raise KeySourceError(f"{origin} must hold a private key and its certificate")
    key = check_signing_key(bundle.key, origin)
    return _assemble(key, [bundle.cert.certificate, *(c.certificate for c in bundle.additional_certs)], origin)


def _load_env_source(rest: str) -> SigningIdentity:
    var, params = _split_query(rest, allowed={"password_env", "password_file"}, scheme="env")
    var = var.strip()
    if not var:
        raise KeySourceError("env: key source needs a variable name, e.g. env:HUB_SIGNING_PEM")
    value = os.environ.get(var)
    if not value:
        raise KeySourceError(f"environment variable {var} (signing key PEM bundle) is not set or empty")
    origin = f"PEM bundle in environment variable {var}"
    return identity_from_pem(value.encode(), password=_password(params, origin), origin=origin)


def _load_pkcs11_source(rest: str) -> SigningIdentity:
    """Parse and check an RFC 7512 URI, then refuse: token signing is documented, not shipped.

    The path it will take: python-pkcs11 opens ``HUB_PKCS11_MODULE`` (the vendor's ``.so``, e.g.
    the Government Cipher Committee token driver or SoftHSM2 for tests), logs into ``token`` with
    the PIN from the environment, finds the private key and certificate labelled ``object`` and
    wraps the key in an ``RSAPrivateKey`` whose ``sign`` calls ``CKM_SHA256_RSA_PKCS`` on the
    token. Until that wrapper exists and is tested against a real token, this refuses.
    """
    path_attrs, _, query = rest.partition("?")
    attrs: dict[str, str] = {}
    for part in filter(None, path_attrs.split(";")):
        name, eq, value = part.partition("=")
        if not eq:
            raise KeySourceError(f"pkcs11: attribute {name!r} has no value (expected name=value)")
        attrs[name.strip().lower()] = unquote(value)
    query_attrs: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        query_attrs[name.strip().lower()] = unquote(value)
    if "pin-value" in query_attrs:
        raise KeySourceError("pkcs11: a PIN is never written in the source; put it in HUB_PKCS11_PIN")
    if "token" not in attrs or not ({"object", "id"} & attrs.keys()):
        raise KeySourceError("pkcs11: source needs token=<label> and object=<key label> (or id=<key id>)")

    module = query_attrs.get("module-path") or os.environ.get(PKCS11_MODULE_ENV)
    pin_source = query_attrs.get("pin-source", f"env:{PKCS11_PIN_ENV}")
    needs = (
        "needs python-pkcs11 and a token module: install python-pkcs11 (uv add python-pkcs11), "
        f"set {PKCS11_MODULE_ENV} to the token's PKCS#11 library (.so) and put the PIN in "
        f"{pin_source.removeprefix('env:')}"
    )
    try:
        import pkcs11  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        raise KeySourceError(f"pkcs11 key source for token {attrs['token']!r} {needs}") from None
    if not module or not Path(module).is_file():
        where = f"{module} does not exist" if module else f"{PKCS11_MODULE_ENV} is not set"
        raise KeySourceError(f"pkcs11 key source for token {attrs['token']!r}: {where}; it {needs}")
    raise KeySourceError(
        f"pkcs11 key source for token {attrs['token']!r}: signing through a PKCS#11 token is not supported by "
        "this hub release yet; export the organisation certificate to a PKCS#12 file (pkcs12:) meanwhile"
    )


# --- helpers ---------------------------------------------------------------------------------------


def _split_query(rest: str, *, allowed: set[str], scheme: str) -> tuple[str, dict[str, str]]:
    """``path?a=1&b=2`` -> (path, {a: 1, b: 2}); unknown or repeated parameters are refused.

    Parameter values are never echoed: a user who typed ``password=...`` must not find the
    password in a task log.
    """
    path, _, query = rest.partition("?")
    params: dict[str, str] = {}
    for part in query.split("&") if query else ():
        name, eq, value = part.partition("=")
        if not eq or not name:
            raise KeySourceError(f"{scheme}: malformed parameters after '?' (expected name=value&name=value)")
        if name in ("password", "pin"):
            raise KeySourceError(
                f"{scheme}: secrets are never written in the source; use password_env=VAR or password_file=PATH"
            )
        if name not in allowed:
            raise KeySourceError(f"{scheme}: unknown parameter {name!r} (allowed: {', '.join(sorted(allowed))})")
        if name in params:
            raise KeySourceError(f"{scheme}: parameter {name!r} given more than once")
        params[name] = unquote(value)
    if "password_env" in params and "password_file" in params:
        raise KeySourceError(f"{scheme}: give password_env or password_file, not both")
    return path, params


def _path(raw: str, scheme: str) -> Path:
    raw = raw.strip()
    if raw.startswith("///"):  # file:///abs/path written as a URL
        raw = raw[2:]
    if not raw:
        raise KeySourceError(f"{scheme}: source names no file")
    return Path(unquote(raw)).expanduser()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeySourceError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise KeySourceError(f"cannot read {what} file {path}: {exc.strerror}") from None


def _password(params: Mapping[str, str], origin: str) -> bytes | None:
    if "password_env" in params:
        var = params["password_env"]
        value = os.environ.get(var)
        if value is None:
            raise KeySourceError(f"{origin}: password variable {var} is not set")
        return value.encode()
    if "password_file" in params:
        path = _path(params["password_file"], "password_file")
        data = _read(path, "password")
        return data.rstrip(b"\r\n")
    return None


def _load_pem_key(data: bytes, password: bytes | None, origin: str) -> RSAPrivateKey:
    if b"PRIVATE KEY-----" not in data:
        raise KeySourceError(f"{origin} holds no PEM private key")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise KeySourceError(
                f"{origin}: private key is encrypted; give its password with password_env=VAR or password_file=PATH"
            ) from None
        raise KeySourceError(f"{origin}: private key is not encrypted but a password was given") from None
    except ValueError:
        hint = " (wrong password?)" if password is not None else ""
        raise KeySourceError(f"{origin}: could not load the private key{hint}") from None
    except Exception:  # cryptography raises UnsupportedAlgorithm for exotic keys
        raise KeySourceError(f"{origin}: unsupported private key type") from None
    return check_signing_key(key, origin)


def _load_certs(data: bytes, origin: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeySourceError(f"{origin} holds no PEM certificate") from None


def _assemble(key: RSAPrivateKey, certificates: Sequence[x509.Certificate], origin: str) -> SigningIdentity:
    """Pick the certificate that belongs to ``key``; the others become the ordered chain."""
    key_numbers = key.public_key().public_numbers()
    leaf = next((c for c in certificates if _public_numbers(c) == key_numbers), None)
    if leaf is None:
        raise KeySourceError(f"{origin}: no certificate matches the private key")
    return SigningIdentity(key, leaf, order_chain(leaf, (c for c in certificates if c is not leaf)))


def _public_numbers(cert: x509.Certificate) -> object:
    public = cert.public_key()
    return public.public_numbers() if hasattr(public, "public_numbers") else None


def is_self_signed(cert: x509.Certificate) -> bool:
    """A root: issuer is subject and its own key verifies it (a mere name match is not enough)."""
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        return False
    return True

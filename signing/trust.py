"""Whom the hub believes: trust anchors, and the check that a signer's certificate chains to one.

A signature proves only that *some* key signed; this module decides whether that key speaks
for a partner. :meth:`TrustStore.verify_signer` builds the path leaf -> intermediates -> anchor
and refuses, with one specific reason, anything an operator would need to act on:

- no path: "issuer CN=... of CN=... is not in the trust store (and was not supplied in the chain)"
- a broken link: "signature on certificate CN=... does not verify with the public key of CN=..."
  (an altered certificate, or an impostor CA copying a trusted CA's name)
- time: "certificate for CN=... expired on ..." / "is not valid before ..." (every certificate
  on the path, anchors included, at ``at``)
- roles: an issuer that is not a CA (basicConstraints), lacks keyCertSign, or exceeds its
  pathLenConstraint; a leaf that is itself a CA, whose keyUsage allows neither
  digitalSignature nor nonRepudiation (contentCommitment), or whose extendedKeyUsage names no
  signing purpose (a TLS server certificate is not a signing certificate)
- algorithms: SHA-1/MD5 signatures and RSA keys under 2048 bits; unknown critical extensions.

Why explicit checks rather than only ``cryptography.x509.verification``: that verifier (the
PolicyBuilder/ExtensionPolicy API of cryptography >= 45) implements a Web PKI profile and
answers "candidates exhausted" with little detail, while a refused partner reply stays pending
until a person reads the reason. So the checks above run first and produce the message; then, as
a second, independent implementation, the same path is handed to cryptography's client verifier
with a signing profile (end-entity: keyUsage digitalSignature or nonRepudiation required, other
extensions free; CA: its Web PKI CA defaults). It adds what hand-written code tends to miss --
name constraints, RFC 5280 name chaining, extension encoding rules -- and costs well under a
millisecond per path. Signatures are verified per batch (Merkle root), not per record, so the
double check never dominates. A partner signs reply after reply with the same certificate chain,
so a verdict that held is remembered, per trust store, under the exact bytes that carried the
chain (the JWS protected header: :meth:`TrustStore.verify_signer` ``remember_as``,
:meth:`TrustStore.recall_signer`), together with the span of time in which every certificate of
the path holds; a later message with byte-identical bytes at a time inside that span is the same
question with the same answer. Refusals are never remembered, the memory is bounded, and a new
trust store starts with none. Revocation (CRL/OCSP) is not checked yet: the government CAs
publish CRLs and the evidence log records which certificate signed, so it can be added without
changing this API.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from signing.errors import UntrustedSigner
from signing.keys import is_self_signed

MIN_RSA_BITS = 2048
MAX_PATH_LENGTH = 8
"""Certificates between leaf and anchor; government paths have one or two, loops are cut here."""

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
SIGNING_EKUS: frozenset[x509.ObjectIdentifier] = frozenset(
    {
        DOCUMENT_SIGNING,  # id-kp-documentSigning, RFC 9336: the dev PKI's signing certificates
        ExtendedKeyUsageOID.EMAIL_PROTECTION,  # what Vietnamese licensed CAs put on signing tokens
        ExtendedKeyUsageOID.CLIENT_AUTH,  # ditto (their USB-token certificates sign and log in)
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # Microsoft document signing
        x509.ObjectIdentifier("1.2.840.113583.1.1.5"),  # Adobe Authentic Documents Trust
    }
)
"""Extended key usages that make a certificate acceptable as a signer. A certificate without the
EKU extension is unrestricted and passes; one whose EKU lists none of these (serverAuth only,
codeSigning only) is refused."""

_WEAK_HASHES = (hashes.SHA1, hashes.MD5)
_E = TypeVar("_E", bound=x509.ExtensionType)
_PROCESSED_CRITICAL = (
    x509.BasicConstraints,
    x509.KeyUsage,
    x509.ExtendedKeyUsage,
    x509.SubjectAlternativeName,
    x509.NameConstraints,
    x509.CertificatePolicies,  # accepted, not processed: the trust store, not a policy OID, says who is trusted
)
"""Extensions that may be critical: RFC 5280 obliges a verifier to refuse a critical extension it does
not process, and cryptography's verifier below refuses the same ones."""
_PEM_SUFFIXES = (".pem", ".crt", ".cer")
REMEMBERED_SIGNERS = 32
"""Verdicts a trust store keeps (least recently used dropped first): a hub talks to a handful of
partners, each signing with one chain at a time, so a few dozen cover key rollovers too."""


@dataclass(frozen=True)
class _Verdict:
    """A signer whose certificate path verified, and the span in which every certificate on it holds."""

    signer: x509.Certificate
    valid_from: datetime
    valid_until: datetime

    def holds_at(self, when: datetime) -> bool:
        return self.valid_from <= when <= self.valid_until


class TrustStore:
    """Trust anchors (``roots``) plus known intermediates that help build paths but anchor nothing.

    A root need not be self-signed: passing a ministry's issuing CA as a root trusts exactly that
    CA and what it issues (a "partial chain"), which is how one trusts a single agency without its
    whole national hierarchy. A supplied certificate matches an anchor by subject *and* public
    key, never by name alone.
    """

    def __init__(
        self,
        roots: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        *,
        signing_ekus: Collection[x509.ObjectIdentifier] = SIGNING_EKUS,
    ) -> None:
        if not roots:
            raise ValueError("a trust store needs at least one root certificate")
        self.roots: tuple[x509.Certificate, ...] = tuple(dict.fromkeys(roots))
        self.intermediates: tuple[x509.Certificate, ...] = tuple(
            c for c in dict.fromkeys(intermediates) if c not in self.roots
        )
        self.signing_ekus = frozenset(signing_ekus)
        self._library_store = verification.Store(list(self.roots))
        self._verdicts: OrderedDict[str, _Verdict] = OrderedDict()
        self._verdicts_lock = threading.Lock()  # one client's store serves its delivery threads

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    def from_pem_files(cls, paths: Iterable[Path | str]) -> TrustStore:
        """Every certificate in the given PEM files: self-signed ones are roots, the rest intermediates.

        To anchor on a certificate that is not self-signed, use the constructor.
        """
        roots: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        for path in paths:
            data = Path(path).read_bytes()
            try:
                certs = x509.load_pem_x509_certificates(data)
            except ValueError:
                raise ValueError(f"{path} holds no PEM certificate") from None
            for cert in certs:
                (roots if is_self_signed(cert) else intermediates).append(cert)
        if not roots:
            raise ValueError("no self-signed root certificate among the trust files")
        return cls(roots, intermediates)

    @classmethod
    def from_folder(cls, path: Path | str) -> TrustStore:
        """Every ``*.pem``/``*.crt``/``*.cer`` (PEM) file in ``path``, as :meth:`from_pem_files`."""
        folder = Path(path)
        if not folder.is_dir():
            raise ValueError(f"trust folder {folder} does not exist")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _PEM_SUFFIXES)
        if not files:
            raise ValueError(f"trust folder {folder} holds no certificate files")
        return cls.from_pem_files(files)

    # --- verification ---------------------------------------------------------------------------

    def verify_signer(
        self,
        cert: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        at: datetime | None = None,
        remember_as: str | None = None,
    ) -> None:
        """Raise :class:`UntrustedSigner` unless ``cert`` may sign and chains to an anchor at ``at``.

        ``chain`` is what the message carried (KeyInfo, ``x5c``), in any order, root or not: it is
        only a source of candidate issuers, never of trust. ``remember_as``: the exact text that
        carried ``cert`` and ``chain`` (a JWS protected header); when the path verifies, the verdict
        is kept under it for :meth:`recall_signer`, with the span in which it holds.
        """
        when = _utc(at)
        path, library_path = self._verified_paths(cert, chain, when)
        if remember_as is not None:
            on_paths = {*path, *library_path}
            verdict = _Verdict(
                signer=cert,
                valid_from=max(c.not_valid_before_utc for c in on_paths),
                valid_until=min(c.not_valid_after_utc for c in on_paths),
            )
            with self._verdicts_lock:
                self._verdicts[remember_as] = verdict
                self._verdicts.move_to_end(remember_as)
                while len(self._verdicts) > REMEMBERED_SIGNERS:
                    self._verdicts.popitem(last=False)

    def recall_signer(self, remembered_as: str, *, at: datetime | None = None) -> x509.Certificate | None:
        """The signer whose path verified under ``remembered_as``, if that verdict holds at ``at``; else None.

        None means "not known here": the caller runs :meth:`verify_signer` in full. A verdict holds
        while ``at`` lies inside every certificate's validity on the verified path (ours and the
        second opinion's); nothing else the checks look at depends on the time.
        """
        when = _utc(at)
        with self._verdicts_lock:
            verdict = self._verdicts.get(remembered_as)
            if verdict is None or not verdict.holds_at(when):
                return None
            self._verdicts.move_to_end(remembered_as)
            return verdict.signer

    def build_path(
        self, cert: x509.Certificate, chain: Sequence[x509.Certificate] = (), *, at: datetime | None = None
    ) -> tuple[x509.Certificate, ...]:
        """:meth:`verify_signer`, returning the verified path (leaf first, anchor last) for the evidence log."""
        return self._verified_paths(cert, chain, _utc(at))[0]

    def _verified_paths(
        self, cert: x509.Certificate, chain: Sequence[x509.Certificate], when: datetime
    ) -> tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...]]:
        """Our path (leaf first, anchor last) and the one cryptography's verifier chose (empty for a pinned leaf)."""
        self._check_leaf(cert, when)
        pool = tuple(dict.fromkeys((*chain, *self.intermediates, *self.roots)))
        path = self._extend([cert], pool, when)
        return tuple(path), self._library_check(path, chain, when)

    # --- the checks -------------------------------------------------------------------------------

    def _check_leaf(self, cert: x509.Certificate, when: datetime) -> None:
        _check_common(cert, when)
        who = _cn(cert)
        constraints = _extension(cert, x509.BasicConstraints)
        if constraints is not None and constraints.ca:
            raise UntrustedSigner(f"certificate {who} is a CA certificate; CA keys sign certificates, not documents")
        usage = _extension(cert, x509.KeyUsage)
        if usage is None:
            raise UntrustedSigner(
                f"certificate {who} has no keyUsage extension; a signing certificate must allow "
                "digitalSignature or nonRepudiation"
            )
        if not (usage.digital_signature or usage.content_commitment):
            raise UntrustedSigner(
                f"keyUsage of certificate {who} ({_usage_names(usage)}) allows neither digitalSignature "
                "nor nonRepudiation: it may not sign"
            )
        ekus = _extension(cert, x509.ExtendedKeyUsage)
        if ekus is not None and not (set(ekus) & self.signing_ekus):
            names = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in ekus)
            raise UntrustedSigner(
                f"extendedKeyUsage of certificate {who} ({names}) names no signing purpose "
                "(documentSigning, emailProtection, clientAuth): it may not sign"
            )

    def _extend(
        self, path: list[x509.Certificate], pool: Sequence[x509.Certificate], when: datetime
    ) -> list[x509.Certificate]:
        """Depth-first search for an anchor; the first failure met is the one reported."""
        current = path[-1]
        anchor = self._anchor_for(current)
        if anchor is not None:
            if len(path) > 1:  # a pinned leaf-as-anchor was checked as a leaf; an issuing anchor is checked here
                _check_issuer(anchor, len(path) - 2, when)
                _check_common(anchor, when)
            return path
        if len(path) > MAX_PATH_LENGTH:
            raise UntrustedSigner(f"no trust anchor within {MAX_PATH_LENGTH} certificates of {_cn(path[0])}")
        candidates = [c for c in pool if c.subject == current.issuer and c not in path]
        if not candidates:
            if is_self_signed(current):
                raise UntrustedSigner(f"root {_cn(current)} is not in the trust store")
            supplied = "" if len(path) > 1 else " and no chain certificate was supplied for it"
            raise UntrustedSigner(
                f"issuer {_name(current.issuer)} of certificate {_cn(current)} is not in the trust store{supplied}"
            )
        # An anchor first, then candidates whose key identifier matches, then the rest.
        aki = _aki(current)
        candidates.sort(key=lambda c: (self._anchor_for(c) is None, aki is not None and _ski(c) != aki))
        first_failure: UntrustedSigner | None = None
        for issuer in candidates:
            try:
                _check_link(current, issuer)
                issuer_anchor = self._anchor_for(issuer)
                if issuer_anchor is None:
                    _check_issuer(issuer, len(path) - 1, when)
                    _check_common(issuer, when)
                return self._extend([*path, issuer_anchor or issuer], pool, when)
            except UntrustedSigner as failure:
                first_failure = first_failure or failure
        assert first_failure is not None
        raise first_failure

    def _anchor_for(self, cert: x509.Certificate) -> x509.Certificate | None:
        for root in self.roots:
            if root.subject == cert.subject and root.public_key() == cert.public_key():
                return root
        return None

    def _library_check(
        self, path: Sequence[x509.Certificate], chain: Sequence[x509.Certificate], when: datetime
    ) -> tuple[x509.Certificate, ...]:
        """Second opinion from cryptography's RFC 5280 path validation, on the path just built.

        Returns the path the library validated (it may pick other intermediates than ours).
        """
        if len(path) == 1:
            return ()  # a pinned leaf-as-anchor: nothing for a path validator to add
        verifier = (
            verification.PolicyBuilder()
            .store(self._library_store)
            .time(when)
            .max_chain_depth(MAX_PATH_LENGTH)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        try:
            verified = verifier.verify(path[0], list(dict.fromkeys((*path[1:-1], *chain, *self.intermediates))))
        except verification.VerificationError as exc:
            raise UntrustedSigner(f"certificate path of {_cn(path[0])} fails RFC 5280 validation: {exc}") from None
        return tuple(verified.chain)


def _signing_key_usage(policy: object, cert: x509.Certificate, usage: x509.KeyUsage) -> None:
    if not (usage.digital_signature or usage.content_commitment):
        raise ValueError("keyUsage allows neither digitalSignature nor nonRepudiation")


def _ca_basic_constraints(policy: object, cert: x509.Certificate, constraints: x509.BasicConstraints) -> None:
    if not constraints.ca:
        raise ValueError("basicConstraints CA:FALSE on an issuer")


def _ca_key_usage(policy: object, cert: x509.Certificate, usage: x509.KeyUsage) -> None:
    if not usage.key_cert_sign:
        raise ValueError("keyUsage lacks keyCertSign on an issuer")


# A signing profile, not the Web PKI one: webpki_defaults_ca() also enforces CA/Browser Forum
# rules (no critical certificatePolicies, no authorityCertIssuer in AKI, ...) that government and
# enterprise CAs do not follow, and would refuse them with an opaque reason.
_AGNOSTIC = verification.Criticality.AGNOSTIC
_EE_POLICY = (
    verification.ExtensionPolicy.permit_all()
    .require_present(x509.KeyUsage, _AGNOSTIC, _signing_key_usage)
    .may_be_present(x509.CertificatePolicies, _AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, _AGNOSTIC, None)
    .may_be_present(x509.SubjectAlternativeName, _AGNOSTIC, None)
)
_CA_POLICY = (
    verification.ExtensionPolicy.permit_all()
    .may_be_present(x509.CertificatePolicies, _AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, _AGNOSTIC, None)
    .may_be_present(x509.SubjectAlternativeName, _AGNOSTIC, None)
    .may_be_present(x509.NameConstraints, _AGNOSTIC, None)
    .require_present(x509.BasicConstraints, verification.Criticality.CRITICAL, _ca_basic_constraints)
    .require_present(x509.KeyUsage, verification.Criticality.AGNOSTIC, _ca_key_usage)
)


# --- single-certificate checks -------------------------------------------------------------------------


def _check_common(cert: x509.Certificate, when: datetime) -> None:
    """Validity at ``when``, signature hash, key size and critical extensions of one certificate."""
    who = _cn(cert)
    if when < cert.not_valid_before_utc:
        raise UntrustedSigner(f"certificate for {who} is not valid before {_fmt(cert.not_valid_before_utc)}")
    if when > cert.not_valid_after_utc:
        raise UntrustedSigner(f"certificate for {who} expired on {_fmt(cert.not_valid_after_utc)}")
    public = cert.public_key()
    if isinstance(public, RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise UntrustedSigner(
            f"certificate {who} has an RSA key of {public.key_size} bits; at least {MIN_RSA_BITS} are required"
        )
    for ext in cert.extensions:
        if ext.critical and not isinstance(ext.value, _PROCESSED_CRITICAL):
            raise UntrustedSigner(
                f"certificate {who} has a critical extension this verifier does not process ({_ext_name(ext)})"
            )


def _check_link(child: x509.Certificate, issuer: x509.Certificate) -> None:
    """``issuer``'s key verifies ``child``'s signature, with an acceptable hash."""
    who = _cn(child)
    try:
        algorithm = child.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise UntrustedSigner(
            f"certificate {who} uses an unsupported signature algorithm {child.signature_algorithm_oid.dotted_string}"
        ) from None
    if isinstance(algorithm, _WEAK_HASHES):
        label = "SHA-1" if isinstance(algorithm, hashes.SHA1) else "MD5"
        raise UntrustedSigner(f"certificate {who} is signed with {label}, which is refused (collisions are practical)")
    try:
        child.verify_directly_issued_by(issuer)
    except InvalidSignature:
        raise UntrustedSigner(
            f"signature on certificate {who} does not verify with the public key of {_cn(issuer)} "
            "(altered certificate, or a CA impersonating a trusted one)"
        ) from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UntrustedSigner(f"certificate {who} cannot be checked against {_cn(issuer)}: {exc}") from None


def _check_issuer(issuer: x509.Certificate, below: int, when: datetime) -> None:
    """``issuer`` may issue certificates, with ``below`` intermediate CAs already under it."""
    who = _cn(issuer)
    try:
        constraints_ext = issuer.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise UntrustedSigner(f"issuer {who} is not a CA (no basicConstraints extension)") from None
    constraints = constraints_ext.value
    if not constraints.ca:
        raise UntrustedSigner(f"issuer {who} is not a CA (basicConstraints CA:FALSE)")
    if not constraints_ext.critical:
        raise UntrustedSigner(
            f"issuer {who} has a non-critical basicConstraints extension (RFC 5280 requires it critical)"
        )
    if constraints.path_length is not None and below > constraints.path_length:
        raise UntrustedSigner(
            f"issuer {who} may have {constraints.path_length} intermediate CA(s) below it "
            f"(pathLenConstraint), found {below}"
        )
    usage = _extension(issuer, x509.KeyUsage)
    if usage is None or not usage.key_cert_sign:
        raise UntrustedSigner(f"issuer {who} lacks keyUsage keyCertSign")
    if when < issuer.not_valid_before_utc:
        raise UntrustedSigner(f"certificate for {who} is not valid before {_fmt(issuer.not_valid_before_utc)}")
    if when > issuer.not_valid_after_utc:
        raise UntrustedSigner(f"certificate for {who} expired on {_fmt(issuer.not_valid_after_utc)}")


# --- small helpers -------------------------------------------------------------------------------------------


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _aki(cert: x509.Certificate) -> bytes | None:
    value = _extension(cert, x509.AuthorityKeyIdentifier)
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else None


def _ski(cert: x509.Certificate) -> bytes | None:
    value = _extension(cert, x509.SubjectKeyIdentifier)
    return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None


def _ext_name(ext: x509.Extension[x509.ExtensionType]) -> str:
    name = getattr(ext.oid, "_name", None)
    return ext.oid.dotted_string if not name or name == "Unknown OID" else f"{name} {ext.oid.dotted_string}"


def _name(name: x509.Name) -> str:
    cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return f"CN={cns[0].value}" if cns else name.rfc4514_string() or "(empty name)"


def _cn(cert: x509.Certificate) -> str:
    return _name(cert.subject)


def _usage_names(usage: x509.KeyUsage) -> str:
    names = []
    for attr in (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    ):
        if getattr(usage, attr):
            names.append(attr)
    return ", ".join(names) or "none"


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""The report as a signed PDF: WeasyPrint draws the same HTML, pyHanko signs it (PAdES).

The signature is a certification signature that permits no change, made with the hub's own
:class:`~signing.keys.SigningIdentity` (whatever key source configured it), so a ministry filing
the PDF can check it in any PAdES-aware reader against the hub's root. Verification goes through
pyHanko's validator, not our own byte checks, and refuses anything appended after signing:
a report is never updated, only re-issued.
"""

from __future__ import annotations

import io
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from weasyprint import HTML

from signing.errors import SignatureInvalid, UntrustedSigner
from signing.keys import SigningIdentity
from signing.trust import TrustStore

SIGNATURE_FIELD = "HubSignature"
LOCATION = "Hà Nội"


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def render_pdf(html: str, base_url: Path) -> bytes:
    """``base_url`` resolves relative links (the CSV, the JSON) the way the HTML file does."""
    return HTML(string=html, base_url=str(base_url) + "/").write_pdf()


def sign_pdf(pdf: bytes, signer: SigningIdentity, *, reason: str) -> bytes:
    """Certify ``pdf`` with ``signer``: PAdES baseline (ETSI.CAdES.detached), SHA-256, no changes allowed."""
    key = asn1_keys.PrivateKeyInfo.load(
        signer.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pdf_signer = signers.SimpleSigner(
        signing_cert=_asn1(signer.certificate),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in signer.chain]),
        embed_roots=False,  # trust comes from the verifier's store, never from the document
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        reason=reason,
        location=LOCATION,
    )
    output = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), metadata, signer=pdf_signer, output=output)
    return output.getvalue()


def verify_report_pdf(path: Path, trust_roots: TrustStore) -> str:
    """The signer's subject (RFC 4514) when ``path`` carries one intact, trusted, whole-file signature.

    Raises :class:`~signing.errors.SignatureInvalid` when the PDF is unreadable, unsigned, altered
    or extended after signing, and :class:`~signing.errors.UntrustedSigner` when the signature is
    intact but its certificate does not chain to ``trust_roots`` or may not sign documents.
    """
    path = Path(path)
    try:
        signatures = PdfFileReader(io.BytesIO(path.read_bytes()), strict=False).embedded_signatures
    except Exception as exc:  # pyHanko raises several parser errors for damaged files
        raise SignatureInvalid(f"{path}: not a readable PDF ({exc})") from None
    if len(signatures) != 1:
        found = "no signature" if not signatures else f"{len(signatures)} signatures"
        raise SignatureInvalid(f"{path}: a hub report carries exactly one signature, this PDF has {found}")
    context = ValidationContext(
        trust_roots=[_asn1(c) for c in trust_roots.roots],
        other_certs=[_asn1(c) for c in trust_roots.intermediates],
    )
    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"},
        extd_key_usage={asn1_x509.KeyPurposeId.map(oid.dotted_string) for oid in trust_roots.signing_ekus},
        explicit_extd_key_usage_required=False,
    )
    try:
        status = validate_pdf_signature(signatures[0], context, key_usage_settings=usage)
    except Exception as exc:  # malformed CMS, digest over a damaged byte range
        raise SignatureInvalid(f"{path}: the signature cannot be checked ({exc})") from None
    subject = x509.load_der_x509_certificate(status.signing_cert.dump()).subject.rfc4514_string()
    if not (status.intact and status.valid):
        raise SignatureInvalid(f"{path}: the document was altered after {subject} signed it")
    if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        raise SignatureInvalid(f"{path}: content was added after {subject} signed it")
    if not status.bottom_line:
        raise UntrustedSigner(f"{path}: signer {subject} is not trusted for signing reports ({status.summary()})")
    return subject

"""Enveloped XML signatures (XMLDSig): what the hub puts on XML it sends and checks on XML it receives.

Agencies exchange XML with an enveloped XMLDSig over the whole document (RSA-SHA256, SHA-256
digest, exclusive C14N, the signer's certificate and chain in ``KeyInfo``); see DOMAIN.md,
"Signatures and evidence". The cryptography and the XMLDSig processing rules are signxml's; this
module adds what signxml leaves to its caller:

* **One parser.** Every parse signxml performs (the document, its copies, the canonical bytes it
  hands back) goes through :func:`signing.safe_xml.parse_xml`: no DTD, no entities, no network.
  No URI resolver is passed, so an external reference is refused instead of fetched.
* **One shape.** Exactly one ``ds:Signature``, a child of the document root, with exactly one
  ``Reference`` that covers the document root (``URI=""`` or the root's own ``Id``), enveloped
  transform plus at most one canonicalization. Anything else -- several signatures, a signature
  over a sub-element, XPath/XSLT transforms -- is refused by name before any cryptography runs.
  This is what defeats signature-wrapping: an attacker cannot make a valid signature over one
  element vouch for a document in which they placed other elements.
* **Our trust decision.** signxml verifies the signature with the certificate taken from
  ``KeyInfo`` (passed explicitly as ``x509_cert``, so its own CA store is never consulted); the
  hub's :class:`signing.trust.TrustStore` then decides whether that certificate may sign for us.
* **See what is signed.** :func:`verify_enveloped` returns signxml's ``VerifyResult.signed_xml``:
  the element rebuilt from the exact canonical bytes that were digested, without the signature.
  Callers read that and nothing else, so an unsigned sibling can never reach them.
* **SHA-1** (``rsa-sha1`` / ``sha1`` digest) is refused unless ``allow_sha1=True``, a flag for a
  named legacy partner only.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from lxml import etree
from lxml.etree import _Element
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    VerifyResult,
    XMLSigner,
    XMLVerifier,
)
from signxml import methods as construction
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature, SignXMLException

from signing.errors import SignatureInvalid, UntrustedSigner
from signing.keys import SigningIdentity
from signing.safe_xml import parse_xml

# signxml logs every canonicalised document at DEBUG: payloads full of ID numbers and names. A
# worker running at DEBUG must not copy them into task logs (Decree 13/2023), so its floor is INFO
# wherever XML is signed or verified.
logging.getLogger("signxml").setLevel(logging.INFO)

if TYPE_CHECKING:
    from signing.trust import TrustStore

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"ds": DS_NS}

SIGNATURE_METHOD = SignatureMethod.RSA_SHA256
DIGEST_ALGORITHM = DigestAlgorithm.SHA256
C14N_METHOD = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0

# What a partner may use. Stronger SHA-2 variants of the same RSA PKCS#1 v1.5 scheme are accepted:
# refusing a partner for hashing with SHA-512 would protect nothing.
ACCEPTED_SIGNATURE_METHODS = frozenset(
    {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
)
ACCEPTED_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
LEGACY_SHA1_SIGNATURE_METHODS = frozenset({SignatureMethod.RSA_SHA1})
LEGACY_SHA1_DIGESTS = frozenset({DigestAlgorithm.SHA1})

_ENVELOPED_TRANSFORM = construction.enveloped.value
_C14N_URIS = frozenset(method.value for method in CanonicalizationMethod)
_ID_ATTRIBUTES = ("Id", "ID", "id")  # the names signxml resolves "#..." references against (plus xml:id)
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


class _SafeParsing:
    """Route every parse signxml makes through the project's one safe parser."""

    def _fromstring(self, xml_string: bytes | str, **kwargs: Any) -> _Element:
        if isinstance(xml_string, str):
            xml_string = xml_string.encode("utf-8")
        return parse_xml(xml_string)


class _Signer(_SafeParsing, XMLSigner):
    """signxml's signer with the safe parser."""


class _Verifier(_SafeParsing, XMLVerifier):
    """signxml's verifier with the safe parser."""


def sign_enveloped(root: _Element, identity: SigningIdentity) -> _Element:
    """Sign the whole document with an enveloped signature and return the signed copy.

    The input is not modified (signxml signs a copy). The reference is ``URI=""`` (or ``#Id`` when
    the root carries an ``Id`` attribute): either way it covers the document root, which is the
    only shape :func:`verify_enveloped` accepts. ``KeyInfo`` holds the signing certificate first,
    then the chain up to (not including) the root CA, as the receiving side needs to build the path.
    """
    if not isinstance(identity.private_key, RSAPrivateKey):
        raise TypeError("the hub signs XML with RSA keys only (RSA-SHA256)")
    if root.find(".//ds:Signature", _NS) is not None or _local(root) == "Signature":
        raise ValueError("document already carries a ds:Signature; the hub signs unsigned documents only")
    signer = _Signer(
        method=construction.enveloped,
        signature_algorithm=SIGNATURE_METHOD,
        digest_algorithm=DIGEST_ALGORITHM,
        c14n_algorithm=C14N_METHOD,
    )
    certificates = [identity.certificate, *identity.chain]
    return signer.sign(root, key=identity.private_key, cert=certificates)


def verify_enveloped(
    data: bytes,
    trust: TrustStore,
    *,
    allow_sha1: bool = False,
    at: datetime | None = None,
) -> _Element:
    """Verify an enveloped signature over the whole document; return only what was signed.

    Order: safe parse (``UnsafeXml``), shape and algorithm checks (``SignatureInvalid``), signxml's
    cryptographic verification with the ``KeyInfo`` certificate (``SignatureInvalid``), then the
    trust store's decision on that certificate and its chain at ``at`` (``UntrustedSigner``).

    The returned element is the signed document without its ``ds:Signature``, re-parsed from the
    canonical bytes that were digested: comments and anything else outside the signature's scope
    are gone. Never read the bytes you passed in after calling this; read the return value.
    """
    root = parse_xml(data)
    signature = _the_signature(root)
    methods, digests = _accepted_algorithms(allow_sha1)
    _check_signed_info(signature, root, methods, digests, allow_sha1)
    certificate, chain = _certificates(signature)

    config = SignatureConfiguration(
        require_x509=True,
        location="./",  # the signature must be a child of the root
        expect_references=1,
        signature_methods=methods,
        digest_algorithms=digests,
        ignore_ambiguous_key_info=False,  # a KeyValue that disagrees with the certificate is refused
        verification_time=at,
    )
    try:
        # x509_cert: signxml verifies with this certificate and never consults a CA store of its own.
        # No uri_resolver: any non-local reference is refused, nothing is fetched.
        result = _Verifier().verify(root, x509_cert=certificate, expect_config=config)
    except InvalidCertificate as exc:
        # signxml found the certificate outside its validity period at ``at``; let the trust store
        # word the refusal (it knows the dates and the chain), and refuse anyway if it does not.
        trust.verify_signer(certificate, chain, at=at)
        raise UntrustedSigner(f"signing certificate refused: {exc}") from exc
    except InvalidDigest as exc:
        raise SignatureInvalid(
            "digest mismatch: the signed document was altered after signing (the content no longer "
            "matches the DigestValue)"
        ) from exc
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "signature value does not verify with the KeyInfo certificate: SignedInfo or "
            f"SignatureValue was altered, or another key signed ({exc})"
        ) from exc
    except etree.DocumentInvalid as exc:
        raise SignatureInvalid(f"ds:Signature does not conform to the XMLDSig schema: {exc}") from exc
    except (InvalidInput, SignXMLException, ValueError, binascii.Error) as exc:
        raise SignatureInvalid(f"malformed signature: {exc}") from exc

    trust.verify_signer(certificate, chain, at=at)

    if not isinstance(result, VerifyResult) or result.signed_xml is None:
        raise SignatureInvalid("the signed content is not an XML element")
    return result.signed_xml


def signer_certificate(data: bytes) -> x509.Certificate:
    """The signing certificate in a document's KeyInfo -- who signed it, once
    :func:`verify_enveloped` has accepted it (on its own this proves nothing)."""
    return _certificates(_the_signature(parse_xml(data)))[0]


def _local(element: _Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _the_signature(root: _Element) -> _Element:
    """Exactly one ds:Signature, a direct child of the document root."""
    if root.tag == f"{{{DS_NS}}}Signature":
        raise SignatureInvalid("the document root is a ds:Signature: enveloping signatures are not accepted")
    signatures = root.findall(".//ds:Signature", _NS)
    if not signatures:
        raise SignatureInvalid("document is not signed: no ds:Signature element")
    if len(signatures) > 1:
        raise SignatureInvalid(
            f"document carries {len(signatures)} ds:Signature elements; exactly one enveloped signature is expected"
        )
    signature = signatures[0]
    if signature.getparent() is not root:
        raise SignatureInvalid("ds:Signature is not a child of the document root: only whole-document signatures")
    return signature


def _accepted_algorithms(allow_sha1: bool) -> tuple[frozenset[SignatureMethod], frozenset[DigestAlgorithm]]:
    if allow_sha1:
        return ACCEPTED_SIGNATURE_METHODS | LEGACY_SHA1_SIGNATURE_METHODS, ACCEPTED_DIGESTS | LEGACY_SHA1_DIGESTS
    return ACCEPTED_SIGNATURE_METHODS, ACCEPTED_DIGESTS


def _algorithm(element: _Element | None, what: str) -> str:
    if element is None:
        raise SignatureInvalid(f"SignedInfo has no {what}")
    value = element.get("Algorithm")
    if not value:
        raise SignatureInvalid(f"{what} has no Algorithm")
    return value


def _check_signed_info(
    signature: _Element,
    root: _Element,
    methods: frozenset[SignatureMethod],
    digests: frozenset[DigestAlgorithm],
    allow_sha1: bool,
) -> None:
    """Refuse, with a reason, every shape and algorithm the hub does not accept.

    signxml enforces the algorithm sets too (from the same ``SignatureConfiguration``); checking
    here first turns its generic errors into reasons an operator can act on.
    """
    signed_info = signature.find("ds:SignedInfo", _NS)
    if signed_info is None:
        raise SignatureInvalid("ds:Signature has no SignedInfo")

    c14n = _algorithm(signed_info.find("ds:CanonicalizationMethod", _NS), "CanonicalizationMethod")
    if c14n not in _C14N_URIS:
        raise SignatureInvalid(f"canonicalization method {c14n} is not accepted")

    method_uri = _algorithm(signed_info.find("ds:SignatureMethod", _NS), "SignatureMethod")
    method = next((m for m in SignatureMethod if m.value == method_uri), None)
    if method in LEGACY_SHA1_SIGNATURE_METHODS and not allow_sha1:
        raise SignatureInvalid(
            f"signature method {method_uri} uses SHA-1 and is refused (allow_sha1 is for a named legacy partner only)"
        )
    if method not in methods:
        raise SignatureInvalid(f"signature method {method_uri} is not accepted; expected RSA with SHA-256 or stronger")

    references = signed_info.findall("ds:Reference", _NS)
    if len(references) != 1:
        raise SignatureInvalid(f"expected exactly one Reference, found {len(references)}")
    reference = references[0]

    digest_uri = _algorithm(reference.find("ds:DigestMethod", _NS), "DigestMethod")
    digest = next((d for d in DigestAlgorithm if d.value == digest_uri), None)
    if digest in LEGACY_SHA1_DIGESTS and not allow_sha1:
        raise SignatureInvalid(
            f"digest method {digest_uri} is SHA-1 and is refused (allow_sha1 is for a named legacy partner only)"
        )
    if digest not in digests:
        raise SignatureInvalid(f"digest method {digest_uri} is not accepted; expected SHA-256 or stronger")

    transforms = [t.get("Algorithm") or "" for t in reference.findall("ds:Transforms/ds:Transform", _NS)]
    if transforms.count(_ENVELOPED_TRANSFORM) != 1:
        raise SignatureInvalid("the Reference does not carry the enveloped-signature transform exactly once")
    others = [t for t in transforms if t != _ENVELOPED_TRANSFORM]
    if len(others) > 1 or any(t not in _C14N_URIS for t in others):
        raise SignatureInvalid(f"transforms {others} are not accepted: enveloped-signature plus one canonicalization")

    uri = reference.get("URI")
    if uri is None:
        raise SignatureInvalid("the Reference has no URI")
    if uri == "":
        return
    if not uri.startswith("#") or uri.startswith("#xpointer("):
        raise SignatureInvalid(f"Reference URI {uri!r} does not point into this document's root")
    _check_reference_is_root(uri[1:], root)


def _check_reference_is_root(identifier: str, root: _Element) -> None:
    """A ``#id`` reference must name the root, and no other element may carry that id.

    signxml resolves ``#id`` by trying each id attribute name in turn, so an element elsewhere with
    ``Id="x"`` would win over a root with ``ID="x"``. Requiring the id to be unique across all
    names and to sit on the root closes that door: the referenced element *is* the document.
    """
    carriers = [
        element
        for element in root.iter()
        if isinstance(element.tag, str)
        and any(
            value == identifier
            for name, value in element.attrib.items()
            if name == _XML_ID or etree.QName(name).localname in _ID_ATTRIBUTES
        )
    ]
    if not carriers:
        raise SignatureInvalid(f"Reference URI #{identifier} does not resolve to any element")
    if len(carriers) > 1:
        raise SignatureInvalid(f"Reference URI #{identifier} is ambiguous: {len(carriers)} elements carry that id")
    if carriers[0] is not root:
        raise SignatureInvalid(
            f"signed element #{identifier} is not the document root: a signature over part of the document "
            "could be wrapped in unsigned content"
        )


def _certificates(signature: _Element) -> tuple[x509.Certificate, Sequence[x509.Certificate]]:
    """The signing certificate and the rest of the chain from ``KeyInfo/X509Data``.

    XMLDSig implies no order inside X509Data, so the signer is the certificate that issued none of
    the others (the end of the path); signxml's signer and most tools put it first, which is the
    tie-breaker. Whichever is chosen, signxml verifies the signature with that same certificate and
    the trust store validates that same certificate, so a reordering cannot mix the two decisions.
    """
    texts = [el.text or "" for el in signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS)]
    if not texts:
        raise SignatureInvalid("KeyInfo carries no X509Certificate; only certificate-based signatures are accepted")
    certificates: list[x509.Certificate] = []
    for index, text in enumerate(texts):
        try:
            der = base64.b64decode("".join(text.split()), validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (ValueError, binascii.Error) as exc:
            raise SignatureInvalid(f"X509Certificate {index} in KeyInfo is not a valid certificate: {exc}") from exc
    ends = [c for c in certificates if not any(other is not c and other.issuer == c.subject for other in certificates)]
    leaf = ends[0] if len(ends) == 1 else certificates[0]
    return leaf, tuple(c for c in certificates if c is not leaf)

"""Enveloped XMLDSig: the hub's signatures verify with an independent tool (xmlsec1), xmlsec1's
verify with ours, and every way to slip an unsigned, altered, weak or wrongly signed document past
``verify_enveloped`` is refused -- or, for wrapping attacks, never reaches the caller."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidInput

from signing.errors import SignatureInvalid, SigningError, UnsafeXml, UntrustedSigner
from signing.keys import SigningIdentity
from signing.pki import (
    mint_expired_identity,
    mint_foreign_identity,
    mint_identity_without_signing_usage,
)
from signing.xmldsig import DS_NS, sign_enveloped, verify_enveloped
from tests.conftest import SigningKit

NS = "urn:hanoi:hub:test"
DS = {"ds": DS_NS}
XMLSEC1 = shutil.which("xmlsec1")
needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed (CI installs Debian's xmlsec1)")

DOSSIER = f"""<HoSo xmlns="{NS}">
  <MaHoSo>000.00.12.H26-261120-0001</MaHoSo>
  <TrichYeu>Cấp giấy phép xây dựng nhà ở riêng lẻ</TrichYeu>
  <!-- a comment is not part of what the caller may read -->
  <ChuHoSo loai="1">Nguyễn Văn An</ChuHoSo>
  <TrangThai>4</TrangThai>
</HoSo>""".encode()


def document(xml: bytes = DOSSIER) -> etree._Element:
    return etree.fromstring(xml)


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signed_bytes(pki: SigningKit, xml: bytes = DOSSIER, identity: SigningIdentity | None = None) -> bytes:
    return serialise(sign_enveloped(document(xml), identity or pki.hub))


def c14n(root: etree._Element) -> bytes:
    return etree.tostring(root, method="c14n", exclusive=True, with_comments=False)


def text_of(root: etree._Element, tag: str) -> str | None:
    return root.findtext(f"{{{NS}}}{tag}")


# -- what the hub signs -----------------------------------------------------------------------------


def test_round_trip_returns_exactly_the_signed_document_without_its_signature(pki: SigningKit) -> None:
    data = signed_bytes(pki)
    signed = etree.fromstring(data)
    assert signed.find("ds:Signature", DS) is not None
    info = signed.find("ds:Signature/ds:SignedInfo", DS)
    assert info is not None
    assert info.find("ds:SignatureMethod", DS).get("Algorithm") == SignatureMethod.RSA_SHA256.value  # type: ignore[union-attr]
    assert (
        info.find("ds:CanonicalizationMethod", DS).get("Algorithm")
        == CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
    )  # type: ignore[union-attr]
    assert info.find("ds:Reference/ds:DigestMethod", DS).get("Algorithm") == DigestAlgorithm.SHA256.value  # type: ignore[union-attr]
    assert info.find("ds:Reference", DS).get("URI") == ""  # type: ignore[union-attr]
    # KeyInfo: the hub's certificate, then the issuing CA (the root is the verifier's business).
    certs = [el.text for el in signed.findall("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS)]
    assert len(certs) == 2

    result = verify_enveloped(data, pki.trust)
    assert result.find(".//ds:Signature", DS) is None
    assert text_of(result, "MaHoSo") == "000.00.12.H26-261120-0001"
    assert text_of(result, "ChuHoSo") == "Nguyễn Văn An"
    assert not any(isinstance(node, etree._Comment) for node in result.iter())  # comments are never signed content
    assert c14n(result) == c14n(document())


def test_signing_does_not_modify_the_input_and_refuses_a_signed_document(pki: SigningKit) -> None:
    root = document()
    before = c14n(root)
    signed = sign_enveloped(root, pki.hub)
    assert c14n(root) == before
    with pytest.raises(ValueError, match="already carries"):
        sign_enveloped(signed, pki.hub)


def test_a_root_with_an_id_is_signed_by_reference_to_that_id_and_verifies(pki: SigningKit) -> None:
    xml = DOSSIER.replace(b'<HoSo xmlns="urn:hanoi:hub:test">', b'<HoSo xmlns="urn:hanoi:hub:test" Id="hs-1">')
    data = signed_bytes(pki, xml)
    assert etree.fromstring(data).find("ds:Signature/ds:SignedInfo/ds:Reference", DS).get("URI") == "#hs-1"  # type: ignore[union-attr]
    assert text_of(verify_enveloped(data, pki.trust), "MaHoSo") == "000.00.12.H26-261120-0001"


def test_every_parse_goes_through_the_safe_parser_and_nothing_touches_the_network(
    pki: SigningKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import signing.xmldsig as xmldsig
    from signing import safe_xml

    data = signed_bytes(pki)
    calls: list[int] = []

    def counting_parse(raw: bytes, **kwargs: object) -> etree._Element:
        calls.append(len(raw))
        return safe_xml.parse_xml(raw)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify_enveloped tried to open a network connection")

    monkeypatch.setattr(xmldsig, "parse_xml", counting_parse)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    result = verify_enveloped(data, pki.trust)
    assert text_of(result, "MaHoSo") == "000.00.12.H26-261120-0001"
    # The document, signxml's working copies, SignedInfo and the signed content it hands back.
    assert len(calls) >= 4


# -- xmlsec1, the independent implementation --------------------------------------------------------


@pytest.fixture
def pems(pki: SigningKit, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    root = tmp_path / "root.pem"
    chain = tmp_path / "chain.pem"
    shutil.copy(pki.dev.root_cert, root)
    shutil.copy(pki.dev.issuing_cert, chain)
    yield root, chain


def xmlsec1_verify(path: Path, root: Path, chain: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """xmlsec1 checks the signature with the X509Data certificate and that certificate's path to ``root``."""
    command = [XMLSEC1 or "xmlsec1", "--verify", "--enabled-key-data", "x509", "--trusted-pem", str(root),
               "--untrusted-pem", str(chain), *extra, str(path)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@needs_xmlsec1
def test_xmlsec1_verifies_what_the_hub_signs_and_refuses_it_tampered(
    pki: SigningKit, pems: tuple[Path, Path], tmp_path: Path
) -> None:
    root_pem, chain_pem = pems
    signed = tmp_path / "signed.xml"
    signed.write_bytes(signed_bytes(pki))
    ok = xmlsec1_verify(signed, root_pem, chain_pem)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stderr.splitlines()
    assert "SignedInfo References (ok/all): 1/1" in ok.stderr

    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(signed.read_bytes().replace(b"<TrangThai>4<", b"<TrangThai>9<"))
    assert tampered.read_bytes() != signed.read_bytes()
    bad = xmlsec1_verify(tampered, root_pem, chain_pem)
    assert bad.returncode != 0, bad.stderr
    assert "OK" not in bad.stderr.splitlines()
    assert "digest" in bad.stderr.lower()  # "data and digest do not match"


@needs_xmlsec1
def test_xmlsec1_refuses_the_hub_signature_under_another_root(pki: SigningKit, tmp_path: Path) -> None:
    """xmlsec1 is really checking the certificate path, not only the signature arithmetic."""
    foreign = mint_foreign_identity("stranger")
    other_root = tmp_path / "other-root.pem"
    other_root.write_bytes(foreign.chain[0].public_bytes(Encoding.PEM))
    signed = tmp_path / "signed.xml"
    signed.write_bytes(signed_bytes(pki))
    result = xmlsec1_verify(signed, other_root, other_root)
    assert result.returncode != 0, result.stderr
    assert "OK" not in result.stderr.splitlines()


@needs_xmlsec1
def test_xmlsec1_verifies_an_id_referenced_signature(pki: SigningKit, pems: tuple[Path, Path], tmp_path: Path) -> None:
    xml = DOSSIER.replace(b'<HoSo xmlns="urn:hanoi:hub:test">', b'<HoSo xmlns="urn:hanoi:hub:test" Id="hs-1">')
    signed = tmp_path / "signed.xml"
    signed.write_bytes(signed_bytes(pki, xml))
    result = xmlsec1_verify(signed, *pems, "--id-attr:Id", f"{NS}:HoSo")
    assert result.returncode == 0, result.stderr


@needs_xmlsec1
def test_what_xmlsec1_signs_verifies_with_the_hub(pki: SigningKit, tmp_path: Path) -> None:
    """The other direction: a partner using xmlsec1 (libxmlsec) produces something we accept."""
    template = DOSSIER.replace(
        b"</HoSo>",
        b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
        b'<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        b'<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        b'<Reference URI=""><Transforms>'
        b'<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        b'<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms>'
        b'<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>'
        b"</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature></HoSo>",
    )
    (tmp_path / "template.xml").write_bytes(template)
    dev, partner = pki.dev, "national_portal"
    keys = f"{dev.key_path(partner)},{dev.cert_path(partner)},{dev.chain_path(partner)}"
    out = tmp_path / "out.xml"
    command = [
        XMLSEC1 or "xmlsec1",
        "--sign",
        "--privkey-pem",
        keys,
        "--output",
        str(out),
        str(tmp_path / "template.xml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    verified = verify_enveloped(out.read_bytes(), pki.trust)
    assert text_of(verified, "TrichYeu") == "Cấp giấy phép xây dựng nhà ở riêng lẻ"
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_enveloped(out.read_bytes().replace(b"<TrangThai>4<", b"<TrangThai>5<"), pki.trust)


# -- refusals ---------------------------------------------------------------------------------------


def test_unsigned_document_is_refused(pki: SigningKit) -> None:
    with pytest.raises(SignatureInvalid, match="not signed"):
        verify_enveloped(DOSSIER, pki.trust)


def test_tampered_text_is_refused(pki: SigningKit) -> None:
    data = signed_bytes(pki).replace(b"261120-0001", b"261120-0002")
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_enveloped(data, pki.trust)


def test_tampered_attribute_and_added_element_are_refused(pki: SigningKit) -> None:
    data = signed_bytes(pki)
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_enveloped(data.replace(b'loai="1"', b'loai="2"'), pki.trust)
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_enveloped(data.replace(b"<TrangThai>", b"<DaThanhToan>1</DaThanhToan><TrangThai>"), pki.trust)


def _edit_signature(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    root = etree.fromstring(data)
    edit(root.find("ds:Signature", DS))
    return serialise(root)


def test_tampered_signature_value_is_refused(pki: SigningKit) -> None:
    def flip(signature: etree._Element) -> None:
        value = signature.find("ds:SignatureValue", DS)
        raw = bytearray(base64.b64decode(value.text or ""))
        raw[10] ^= 0x01
        value.text = base64.b64encode(bytes(raw)).decode()

    with pytest.raises(SignatureInvalid, match="signature value does not verify"):
        verify_enveloped(_edit_signature(signed_bytes(pki), flip), pki.trust)


def test_a_recomputed_digest_without_the_key_is_refused(pki: SigningKit) -> None:
    """Altering content and fixing DigestValue moves the problem to SignedInfo, which is signed."""
    data = signed_bytes(pki).replace(b"<TrangThai>4<", b"<TrangThai>9<")
    tampered = etree.fromstring(data)
    content = etree.fromstring(etree.tostring(tampered))
    content.remove(content.find("ds:Signature", DS))
    digest = base64.b64encode(hashlib.sha256(c14n(content)).digest()).decode()

    def fix(signature: etree._Element) -> None:
        signature.find("ds:SignedInfo/ds:Reference/ds:DigestValue", DS).text = digest  # type: ignore[union-attr]

    with pytest.raises(SignatureInvalid, match="signature value does not verify"):
        verify_enveloped(_edit_signature(data, fix), pki.trust)


def test_a_certificate_swapped_in_keyinfo_is_refused(pki: SigningKit) -> None:
    """Another trusted partner's certificate in KeyInfo does not make the hub's signature theirs."""
    other = pki.dev.identity("national_portal").certificate

    def swap(signature: etree._Element) -> None:
        first = signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS)
        first.text = base64.b64encode(other.public_bytes(Encoding.DER)).decode()  # type: ignore[union-attr]

    with pytest.raises(SignatureInvalid, match="signature value does not verify"):
        verify_enveloped(_edit_signature(signed_bytes(pki), swap), pki.trust)


def test_keyinfo_without_a_certificate_is_refused(pki: SigningKit) -> None:
    def strip(signature: etree._Element) -> None:
        key_info = signature.find("ds:KeyInfo", DS)
        signature.remove(key_info)

    with pytest.raises(SignatureInvalid, match="no X509Certificate"):
        verify_enveloped(_edit_signature(signed_bytes(pki), strip), pki.trust)


def test_expired_certificate_is_refused(pki: SigningKit) -> None:
    data = signed_bytes(pki, identity=mint_expired_identity(pki.dev, "hub"))
    with pytest.raises(UntrustedSigner):
        verify_enveloped(data, pki.trust)


def test_verification_time_is_the_callers(pki: SigningKit) -> None:
    data = signed_bytes(pki)
    with pytest.raises(UntrustedSigner):
        verify_enveloped(data, pki.trust, at=datetime.now(UTC) + timedelta(days=5000))
    assert verify_enveloped(data, pki.trust, at=datetime.now(UTC) + timedelta(days=1)) is not None


def test_foreign_ca_is_refused(pki: SigningKit) -> None:
    data = signed_bytes(pki, identity=mint_foreign_identity("hub"))
    with pytest.raises(UntrustedSigner):
        verify_enveloped(data, pki.trust)


def test_certificate_without_signing_usage_is_refused(pki: SigningKit) -> None:
    data = signed_bytes(pki, identity=mint_identity_without_signing_usage(pki.dev, "hub"))
    with pytest.raises(UntrustedSigner):
        verify_enveloped(data, pki.trust)


class _LegacySigner(XMLSigner):
    """signxml 5 refuses to *create* SHA-1 signatures (InvalidInput); a legacy partner still does."""

    def check_deprecated_methods(self) -> None:
        return None


def _legacy_signed(pki: SigningKit, method: SignatureMethod, digest: DigestAlgorithm) -> bytes:
    signer = _LegacySigner(
        signature_algorithm=method,
        digest_algorithm=digest,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    identity = pki.dev.identity("national_portal")
    return serialise(signer.sign(document(), key=identity.private_key, cert=[identity.certificate, *identity.chain]))


def test_signxml_itself_refuses_to_create_sha1_signatures(pki: SigningKit) -> None:
    with pytest.raises(InvalidInput, match="SHA1"):
        XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA1, digest_algorithm=DigestAlgorithm.SHA1)


def test_sha1_is_refused_unless_the_legacy_flag_is_set(pki: SigningKit) -> None:
    both = _legacy_signed(pki, SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1)
    with pytest.raises(SignatureInvalid, match="SHA-1"):
        verify_enveloped(both, pki.trust)
    assert text_of(verify_enveloped(both, pki.trust, allow_sha1=True), "MaHoSo") == "000.00.12.H26-261120-0001"

    digest_only = _legacy_signed(pki, SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA1)
    with pytest.raises(SignatureInvalid, match=r"digest method .* SHA-1"):
        verify_enveloped(digest_only, pki.trust)
    assert verify_enveloped(digest_only, pki.trust, allow_sha1=True) is not None

    method_only = _legacy_signed(pki, SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA256)
    with pytest.raises(SignatureInvalid, match=r"signature method .* SHA-1"):
        verify_enveloped(method_only, pki.trust)


def test_hmac_and_other_methods_are_refused(pki: SigningKit) -> None:
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.HMAC_SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    data = serialise(signer.sign(document(), key=b"shared secret"))
    with pytest.raises(SignatureInvalid, match=r"signature method .*hmac-sha256 is not accepted"):
        verify_enveloped(data, pki.trust)


def test_a_second_reference_is_refused(pki: SigningKit) -> None:
    def duplicate(signature: etree._Element) -> None:
        info = signature.find("ds:SignedInfo", DS)
        info.append(etree.fromstring(etree.tostring(info.find("ds:Reference", DS))))  # type: ignore[union-attr, arg-type]

    with pytest.raises(SignatureInvalid, match="exactly one Reference"):
        verify_enveloped(_edit_signature(signed_bytes(pki), duplicate), pki.trust)


def test_a_second_signature_is_refused(pki: SigningKit) -> None:
    signed = etree.fromstring(signed_bytes(pki))
    copy = etree.fromstring(etree.tostring(signed.find("ds:Signature", DS)))
    signed.find(f"{{{NS}}}ChuHoSo").append(copy)  # type: ignore[union-attr]
    with pytest.raises(SignatureInvalid, match="2 ds:Signature"):
        verify_enveloped(serialise(signed), pki.trust)


def test_an_xslt_or_xpath_transform_is_refused(pki: SigningKit) -> None:
    def add(signature: etree._Element) -> None:
        transforms = signature.find("ds:SignedInfo/ds:Reference/ds:Transforms", DS)
        etree.SubElement(transforms, f"{{{DS_NS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116")  # type: ignore[arg-type]

    with pytest.raises(SignatureInvalid, match=r"transforms .* are not accepted"):
        verify_enveloped(_edit_signature(signed_bytes(pki), add), pki.trust)


def test_an_external_reference_is_refused_not_fetched(pki: SigningKit) -> None:
    def external(signature: etree._Element) -> None:
        signature.find("ds:SignedInfo/ds:Reference", DS).set("URI", "http://127.0.0.1:9/evil.xml")  # type: ignore[union-attr]

    with pytest.raises(SignatureInvalid, match="does not point into this document"):
        verify_enveloped(_edit_signature(signed_bytes(pki), external), pki.trust)


# -- signature wrapping -----------------------------------------------------------------------------

FORGED = b"<MaHoSo>000.00.12.H26-261120-9999</MaHoSo>"


def test_wrapping_the_signed_document_in_an_attacker_root_is_refused(pki: SigningKit) -> None:
    """<Wrapper><HoSo>forged</HoSo><HoSo>signed + Signature</HoSo></Wrapper>"""
    signed = signed_bytes(pki).split(b"?>", 1)[1]
    wrapped = f'<Wrapper xmlns="{NS}"><HoSo>'.encode() + FORGED + b"</HoSo>" + signed + b"</Wrapper>"
    with pytest.raises(SignatureInvalid, match="not a child of the document root"):
        verify_enveloped(wrapped, pki.trust)


def test_moving_the_signature_up_to_an_attacker_root_is_refused(pki: SigningKit) -> None:
    """With ``URI=""`` the attacker's root is what gets digested, and it is not what was signed."""
    signed = etree.fromstring(signed_bytes(pki))
    signature = signed.find("ds:Signature", DS)
    signed.remove(signature)
    wrapper = etree.fromstring(f'<HoSo xmlns="{NS}">'.encode() + FORGED + b"</HoSo>")
    wrapper.append(signature)
    wrapper.append(signed)
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_enveloped(serialise(wrapper), pki.trust)


def _id_wrapping_attack(pki: SigningKit) -> bytes:
    """The classic XSW: the Id-signed element is moved into an attacker's document, whose root the
    application would read; the Signature sits where signature-location checks expect it."""
    xml = DOSSIER.replace(b'<HoSo xmlns="urn:hanoi:hub:test">', b'<HoSo xmlns="urn:hanoi:hub:test" Id="hs-1">')
    signed = etree.fromstring(signed_bytes(pki, xml))
    signature = signed.find("ds:Signature", DS)
    signed.remove(signature)
    attacker = etree.fromstring(f'<HoSo xmlns="{NS}" Id="hs-evil">'.encode() + FORGED + b"<Kho/></HoSo>")
    attacker.insert(1, signature)
    attacker.find(f"{{{NS}}}Kho").append(signed)  # type: ignore[union-attr]
    return serialise(attacker)


def test_id_reference_wrapping_is_a_real_attack_on_a_naive_verifier(pki: SigningKit) -> None:
    """Without the hub's shape checks the signature is valid -- the attack is not a strawman."""
    data = _id_wrapping_attack(pki)
    cert = pki.hub.certificate
    result = XMLVerifier().verify(data, x509_cert=cert, expect_config=SignatureConfiguration(location="./"))
    naive_reader_sees = etree.fromstring(data).findtext(f"{{{NS}}}MaHoSo")
    assert naive_reader_sees == "000.00.12.H26-261120-9999"  # the forged value
    assert result.signed_xml.findtext(f"{{{NS}}}MaHoSo") == "000.00.12.H26-261120-0001"  # type: ignore[union-attr]


def test_id_reference_wrapping_is_refused(pki: SigningKit) -> None:
    with pytest.raises(SignatureInvalid, match="not the document root"):
        verify_enveloped(_id_wrapping_attack(pki), pki.trust)


def test_a_duplicated_id_is_refused(pki: SigningKit) -> None:
    xml = DOSSIER.replace(b'<HoSo xmlns="urn:hanoi:hub:test">', b'<HoSo xmlns="urn:hanoi:hub:test" Id="hs-1">')
    data = signed_bytes(pki, xml).replace(b"<TrangThai>", b'<Ghi ID="hs-1"/><TrangThai>')
    with pytest.raises(SignatureInvalid, match="ambiguous"):
        verify_enveloped(data, pki.trust)


def test_what_is_returned_never_contains_unsigned_content(pki: SigningKit) -> None:
    """Comments (unsigned under exclusive C14N without comments) are the one thing an attacker may
    add to a valid document; they do not reach the caller."""
    data = signed_bytes(pki).replace(b"<TrangThai>", b"<!-- MaHoSo: 9999 --><TrangThai>")
    result = verify_enveloped(data, pki.trust)
    assert b"9999" not in etree.tostring(result)


# -- unsafe XML -------------------------------------------------------------------------------------


def test_xxe_in_a_signed_document_is_refused_before_anything_is_read(pki: SigningKit, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = signed_bytes(pki).split(b"?>", 1)[1].replace(b"<TrangThai>4", b"<TrangThai>&xxe;4")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE HoSo [<!ENTITY xxe SYSTEM "file://{secret}">]>').encode() + body
    with pytest.raises(UnsafeXml) as caught:
        verify_enveloped(xxe, pki.trust)
    assert "TOP-SECRET-VALUE" not in str(caught.value)


def test_entity_expansion_is_refused(pki: SigningKit) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE HoSo [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><HoSo xmlns="urn:hanoi:hub:test">&c;</HoSo>'
    )
    with pytest.raises(UnsafeXml):
        verify_enveloped(bomb, pki.trust)


def test_every_refusal_is_a_signing_error_with_a_reason(pki: SigningKit) -> None:
    for bad in (DOSSIER, signed_bytes(pki).replace(b"0001", b"0002"), b"<not xml"):
        with pytest.raises(SigningError) as caught:
            verify_enveloped(bad, pki.trust)
        assert caught.value.reason

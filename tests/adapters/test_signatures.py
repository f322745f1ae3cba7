"""A reply's signer is bound to its partner: the registry names each signing partner's certificate,
and a reply signed by any other trusted certificate is refused with both names."""

from __future__ import annotations

import pytest

from adapters import partners
from adapters.partners import SignerPin
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures, key_sha256
from signing.jws import sign_detached
from signing.pki import HUB, DevPki

BODY = b'{"error_code":"0","message":"ok"}'
SIGNING_PARTNERS = [p.id for p in partners.PARTNERS if p.signed]


@pytest.mark.parametrize("partner_id", SIGNING_PARTNERS)
def test_every_signing_partner_names_the_certificate_the_dev_pki_issues_it(partner_id: str, dev_pki: DevPki) -> None:
    signatures = MessageSignatures(trust=dev_pki.trust_store()).bound_to(partner_id)
    assert signatures.signer is not None, f"{partner_id} signs but names no signer in adapters/partners.py"
    own = dev_pki.identity(partner_id)
    assert signatures.refusal(BODY, sign_detached(BODY, own)) is None


@pytest.mark.parametrize("impostor", ["vnpost", HUB])
def test_a_reply_signed_by_another_trusted_certificate_is_refused_naming_both(impostor: str, dev_pki: DevPki) -> None:
    signatures = MessageSignatures(trust=dev_pki.trust_store()).bound_to("population_db")
    reason = signatures.refusal(BODY, sign_detached(BODY, dev_pki.identity(impostor)))
    assert reason is not None
    assert f"CN={impostor} DEV signing" in reason  # who signed
    assert "CN=population_db DEV signing" in reason  # whose certificate was expected


def test_a_connection_can_pin_the_real_certificate_by_key(dev_pki: DevPki) -> None:
    own = dev_pki.identity("national_portal")
    subject = own.certificate.subject.rfc4514_string()
    settings = TransportSettings(base_url="https://portal.example", signer_subject=subject, signer_key_sha256="ab" * 32)
    pin = settings.signer_pin(partners.partner("national_portal").signer)
    assert pin == SignerPin(subject, "ab" * 32, None)
    signatures = MessageSignatures(trust=dev_pki.trust_store(), signer=pin).bound_to("national_portal")
    reason = signatures.refusal(BODY, sign_detached(BODY, own))
    assert reason is not None and key_sha256(own.certificate) in reason and "ab" * 32 in reason
    pinned = MessageSignatures(trust=dev_pki.trust_store(), signer=SignerPin(subject, key_sha256(own.certificate)))
    assert pinned.bound_to("national_portal").refusal(BODY, sign_detached(BODY, own)) is None


def test_a_partner_without_a_named_signer_cannot_have_its_replies_trusted(dev_pki: DevPki) -> None:
    signatures = MessageSignatures(trust=dev_pki.trust_store()).bound_to("not_in_the_registry")
    reason = signatures.refusal(BODY, sign_detached(BODY, dev_pki.identity("vnpost")))
    assert reason is not None and "no signing certificate is named for not_in_the_registry" in reason


def test_a_remembered_verdict_is_the_verdict_of_that_certificate_and_pin_only(dev_pki: DevPki) -> None:
    """The signer check is remembered per (partner, pin, certificate): after the partner's own reply
    passed, replies signed by another trusted certificate, or checked against another pin, are still
    refused, and the partner's next reply still passes."""
    signatures = MessageSignatures(trust=dev_pki.trust_store()).bound_to("national_portal")
    own, impostor = dev_pki.identity("national_portal"), dev_pki.identity("vnpost")
    verdicts = [
        signatures.refusal(BODY, sign_detached(BODY, own)),
        signatures.refusal(BODY, sign_detached(BODY, impostor)),
        signatures.refusal(BODY, sign_detached(BODY, own)),
    ]
    assert verdicts[0] is None and verdicts[2] is None
    assert verdicts[1] is not None and "CN=vnpost DEV signing" in verdicts[1]
    subject = own.certificate.subject.rfc4514_string()
    repinned = MessageSignatures(trust=dev_pki.trust_store(), signer=SignerPin(subject, "ab" * 32)).bound_to(
        "national_portal"
    )
    reason = repinned.refusal(BODY, sign_detached(BODY, own))
    assert reason is not None and "ab" * 32 in reason

"""Partner-side message signatures for the simulators: what a signing partner does, and what a
broken or hostile one does.

Each simulator signs its replies with its own certificate (a detached JWS over the exact reply
bytes, in ``X-Hub-Signature``) and, when given a trust store, refuses requests the hub did not
sign. ``POST /sandbox/signing {"reply_mode": ...}`` switches the replies to one of the failure
modes the hub must refuse: unsigned, tampered (bytes changed after signing), signed with an
expired certificate, signed by a CA outside the hub's trust store, or signed by a trusted
certificate that is not this partner's: another partner's (``other_partner``) or the hub's own
(``hub``) -- the hub must refuse both, naming who signed and whose certificate it expected. A
simulator also checks that a request is signed by the hub's certificate, as a partner that pins
the hub would. SOAP simulators
(``sandbox.soap``) sign their XML payloads the same way through :meth:`PartnerSigning.sign_xml`
(enveloped XMLDSig) and have one more mode, ``wrapped``: a forged payload that carries the
genuinely signed one inside it, the classic signature-wrapping attack.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from lxml.etree import _Element

from signing.errors import SigningError
from signing.jws import SIGNATURE_HEADER, sign_detached, verify_detached
from signing.keys import SigningIdentity
from signing.pki import HUB, TLS_SERVER, DevPki, mint_expired_identity, mint_foreign_identity
from signing.safe_xml import parse_xml
from signing.trust import TrustStore
from signing.xmldsig import DS_NS, sign_enveloped, signer_certificate, verify_enveloped

ReplyMode = Literal["valid", "unsigned", "tampered", "expired", "wrong_ca", "other_partner", "hub", "wrapped"]
REPLY_MODES: tuple[str, ...] = get_args(ReplyMode)
XML_ONLY_MODES = frozenset({"wrapped"})  # a JSON body has no element to wrap


@dataclass
class PartnerSigning:
    """One simulator's signing behaviour; ``reply_mode`` changes at run time.

    The broken identities (expired, foreign CA) are minted on first use: most runs never ask
    for them, and each costs a few RSA keys.
    """

    pki: DevPki
    name: str
    verify_requests: bool = True
    xml: bool = False
    reply_mode: ReplyMode = "valid"
    refused_requests: int = field(default=0)

    @cached_property
    def identity(self) -> SigningIdentity:
        return self.pki.identity(self.name)

    @cached_property
    def expired(self) -> SigningIdentity:
        return mint_expired_identity(self.pki, self.name)

    @cached_property
    def foreign(self) -> SigningIdentity:
        return mint_foreign_identity(self.name)

    @cached_property
    def other_partner(self) -> SigningIdentity:
        """Another partner's genuine certificate (trusted, but not this partner's)."""
        others = [n for n in self.pki.names if n not in (self.name, HUB, TLS_SERVER)]
        return self.pki.identity(others[0])

    @cached_property
    def hub(self) -> SigningIdentity:
        """The hub's own certificate: the one requests must carry, and a reply must not."""
        return self.pki.identity(HUB)

    @cached_property
    def trust(self) -> TrustStore | None:
        return self.pki.trust_store() if self.verify_requests else None

    def set_mode(self, mode: str) -> None:
        if mode not in REPLY_MODES:
            raise ValueError(f"reply_mode must be one of {', '.join(REPLY_MODES)}, not {mode!r}")
        if mode in XML_ONLY_MODES and not self.xml:
            raise ValueError(f"reply_mode {mode!r} applies to XML replies only")
        self.reply_mode = mode  # type: ignore[assignment]  # checked just above

    def sign_reply(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """The bytes to send and the headers to send them with, as the current mode dictates."""
        mode = self.reply_mode
        if mode == "unsigned":
            return body, {}
        token = sign_detached(body, self._signer())
        if mode == "tampered":
            body = body.replace(b'"error_code":0', b'"error_code":0 ', 1) if b'"error_code":0' in body else body + b" "
        return body, {SIGNATURE_HEADER: token}

    def _signer(self) -> SigningIdentity:
        """The identity the current mode signs with (a broken one for ``expired`` and ``wrong_ca``)."""
        broken = {"expired": "expired", "wrong_ca": "foreign", "other_partner": "other_partner", "hub": "hub"}
        mode = broken.get(self.reply_mode)
        return self.identity if mode is None else getattr(self, mode)

    def sign_xml(self, payload: _Element) -> _Element:
        """A reply payload with an enveloped signature, as the current mode dictates (a new element)."""
        mode = self.reply_mode
        if mode == "unsigned":
            return payload
        signed = sign_enveloped(payload, self._signer())
        if mode == "tampered":
            _alter_first_value(signed)
        elif mode == "wrapped":
            forged = copy.deepcopy(payload)
            _alter_first_value(forged)
            forged.append(signed)  # the genuine signature now sits one level down, over the original
            return forged
        return signed

    def check_xml_request(self, payload: bytes) -> tuple[_Element | None, str | None]:
        """(the request payload the hub signed, None) or (None, why it is refused)."""
        if self.trust is None:
            return parse_xml(payload), None
        try:
            verified = verify_enveloped(payload, self.trust)
        except SigningError as exc:
            self.refused_requests += 1
            return None, f"chữ ký số của yêu cầu không hợp lệ: {exc.reason}"
        refusal = self._not_the_hub(signer_certificate(payload))
        return (None, refusal) if refusal else (verified, None)

    def check_request(self, body: bytes, token: str | None) -> str | None:
        """Why the request must be refused (its signature), or None when it is acceptable."""
        if self.trust is None:
            return None
        if not token:
            self.refused_requests += 1
            return f"yêu cầu thiếu chữ ký số ({SIGNATURE_HEADER})"
        try:
            signer = verify_detached(body, token, self.trust)
        except SigningError as exc:
            self.refused_requests += 1
            return f"chữ ký số của yêu cầu không hợp lệ: {exc.reason}"
        return self._not_the_hub(signer)

    def _not_the_hub(self, signer: x509.Certificate) -> str | None:
        """Why a request signed by a trusted certificate other than the hub's is refused, or None."""
        expected = self.hub.certificate.subject
        if signer.subject == expected and signer.public_key() == self.hub.certificate.public_key():
            return None
        self.refused_requests += 1
        return (
            f"chữ ký số của yêu cầu không phải của Trung tâm: ký bởi {signer.subject.rfc4514_string()}, "
            f"cần {expected.rfc4514_string()}"
        )


def _alter_first_value(root: _Element) -> None:
    """Change the first text value of a payload (outside its signature): what a tamperer does."""
    for element in root.iter():
        if isinstance(element.tag, str) and not element.tag.startswith(f"{{{DS_NS}}}") and (element.text or "").strip():
            element.text = f"{element.text}0"
            return


def signed_response(signing: PartnerSigning | None, body: bytes, status_code: int = 200) -> Response:
    """A JSON reply, signed as the simulator's current signing mode says (unsigned when ``None``)."""
    headers: dict[str, str] = {}
    if signing is not None:
        body, headers = signing.sign_reply(body)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def mount_signing_control(app: FastAPI, signing: PartnerSigning | None) -> None:
    """``GET|POST /sandbox/signing``: read or switch how replies are signed (tests, the demo)."""

    @app.get("/sandbox/signing")
    async def signing_state() -> dict[str, Any]:
        if signing is None:
            return {"enabled": False}
        return {"enabled": True, "reply_mode": signing.reply_mode, "refused_requests": signing.refused_requests}

    @app.post("/sandbox/signing")
    async def set_signing(request: Request) -> JSONResponse:
        if signing is None:
            return JSONResponse({"error": "bad_request", "message": "this simulator signs nothing"}, status_code=400)
        body = await request.json()
        try:
            signing.set_mode(str(body.get("reply_mode", "")))
        except ValueError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
        return JSONResponse({"enabled": True, "reply_mode": signing.reply_mode})

"""Transport settings: one validated model per partner, filled from an Airflow Connection.

Every knob has a safe default and a bound, so a Connection cannot turn timeouts off, make
retries unbounded or silently disable TLS checks by a typo (unknown keys are refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.partners import SignerPin


class TransportSettings(BaseModel):
    """How to reach one partner. Durations are seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    connect_timeout: float = Field(default=5.0, gt=0, le=300)
    read_timeout: float = Field(default=30.0, gt=0, le=3600)
    max_attempts: int = Field(default=4, ge=1, le=20)
    max_elapsed: float = Field(default=120.0, gt=0, description="no retry starts (or sleeps) past this")
    backoff_initial: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    pool_size: int = Field(default=10, ge=1, le=256)
    verify: bool = True
    ca_bundle: Path | None = None
    client_cert: Path | None = Field(default=None, description="PEM for mutual TLS (X-Road style)")
    client_key: Path | None = None
    trust_env: bool = Field(default=False, description="read proxies/CA from the environment")
    breaker_threshold: int = Field(default=5, ge=1, description="consecutive failures that open it")
    breaker_cooldown: float = Field(default=30.0, gt=0)
    sign_requests: bool = Field(default=True, description="detached JWS over every request body")
    verify_replies: bool | None = Field(
        default=None,
        description="refuse replies without a valid signature; unset: the partner registry's replies_signed",
    )

    signer_subject: str | None = Field(
        default=None, description="RFC 4514 subject of the certificate that signs the partner's replies"
    )
    signer_key_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 (hex) of that certificate's public key"
    )
    signer_issuer: str | None = Field(default=None, description="RFC 4514 subject of the CA that must issue it")

    @model_validator(mode="before")
    @classmethod
    def _expand_timeout(cls, data: Any) -> Any:
        """Accept ``timeout=N`` (the usual Connection extra) as both connect and read timeout."""
        if isinstance(data, Mapping) and "timeout" in data:
            data = dict(data)
            timeout = data.pop("timeout")
            data.setdefault("connect_timeout", timeout)
            data.setdefault("read_timeout", timeout)
        return data

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an absolute http(s) URL")
        if parts.username or parts.password or parts.query:
            raise ValueError("base_url must not carry credentials or a query string")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_tls(self) -> TransportSettings:
        if self.ca_bundle is not None and not self.verify:
            raise ValueError("ca_bundle is set but verify is false: choose one")
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must be >= backoff_initial")
        return self

    @classmethod
    def from_extras(cls, base_url: str, extras: Mapping[str, Any]) -> TransportSettings:
        """Build from a Connection's extras (query parameters are strings; pydantic converts)."""
        return cls.model_validate({**extras, "base_url": base_url})

    def verifies_replies(self, partner_signs_replies: bool) -> bool:
        """Whether replies are signature-checked: the Connection's ``verify_replies`` when set, else
        whether the partner is shown to sign its replies (``adapters.partners.Partner.replies_signed``)."""
        return partner_signs_replies if self.verify_replies is None else self.verify_replies

    def signer_pin(self, registered: SignerPin | None) -> SignerPin | None:
        """The certificate allowed to sign the partner's replies: the Connection's ``signer_*``
        extras when it names one (a deployment's real certificate), else the registry's."""
        if self.signer_subject is None:
            return registered
        return SignerPin(self.signer_subject, self.signer_key_sha256, self.signer_issuer)

    @property
    def requests_verify(self) -> bool | str:
        """The value requests expects for ``verify``: a CA bundle path, or the on/off switch."""
        return str(self.ca_bundle) if self.ca_bundle is not None else self.verify

    @property
    def requests_cert(self) -> str | tuple[str, str] | None:
        """The value requests expects for ``cert`` (mutual TLS), or None."""
        if self.client_cert is None:
            return None
        if self.client_key is None:
            return str(self.client_cert)
        return str(self.client_cert), str(self.client_key)

"""The population-database sandbox and clients for it, shared by the population and conformance tests."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests

from adapters.exchange import Exchange
from adapters.population_db.client import AuditRecord, LgspAccount, Officer, PopulationDbClient, ResultCache
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap import SoapTransport
from sandbox.population_db.app import LgspGate, create_app, licensed_procedures
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki

DAY = date(2026, 11, 20)
SCALE = 0.03
ACCESS_KEY = "hub-hanoi"
SECRET_KEY = "Pw&dan-cu<7f3a>9c1e"  # characters XML and JSON escape on purpose
UNIT = "000.00.00.H26"
OFFICER = "canbo.01"
OFFICER_SECRET = "officer-key-5b7e"
PROCEDURE = sorted(licensed_procedures())[0]


@dataclass
class Sandbox:
    server: RunningServer
    signing: PartnerSigning

    @property
    def url(self) -> str:
        return self.server.url

    def faults(self, **changes: Any) -> None:
        requests.post(f"{self.url}/sandbox/faults", json=changes, timeout=5).raise_for_status()

    def applicants(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/sandbox/applicants", timeout=5).json()["items"]

    def applicant(self, fate: str, *, nfd: bool | None = None) -> dict[str, Any]:
        for item in self.applicants():
            if item["fate"] == fate and (nfd is None or _is_nfd(item["ho_ten"]) == nfd):
                return item
        raise LookupError(f"no applicant with fate {fate}")

    def received(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/sandbox/received", timeout=5).json()["items"]

    def calls(self) -> int:
        return len(self.received())


def _is_nfd(text: str) -> bool:
    return unicodedata.normalize("NFC", text) != text


def gate(**changes: Any) -> LgspGate:
    values: dict[str, Any] = {
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "officers": {OFFICER: OFFICER_SECRET},
        "procedures": licensed_procedures(),
    }
    return LgspGate(**{**values, **changes})


def start(folder: Path, pki: DevPki, **options: Any) -> Sandbox:
    signing = PartnerSigning(pki, "population_db", xml=True)
    app = create_app(folder / "population.db", gate=gate(), signing=signing, days=[(DAY, SCALE, 0)], **options)
    return Sandbox(serve_in_thread(app), signing)


@dataclass
class AuditList:
    """An :class:`AuditWriter` that keeps records in a list."""

    records: list[AuditRecord] = field(default_factory=list)

    def write(self, record: AuditRecord) -> None:
        self.records.append(record)


def transport(
    url: str, pki: DevPki | None, *, exchanges: list[Exchange] | None = None, **settings: Any
) -> SoapTransport:
    """A transport as the hook builds it for this partner: replies verified when ``pki`` is given."""
    options = {"max_attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.02, "read_timeout": 5.0, **settings}
    return SoapTransport(
        "population_db",
        TransportSettings(base_url=url, **options),
        on_exchange=exchanges.append if exchanges is not None else None,
        signatures=MessageSignatures(pki.identity("hub"), pki.trust_store()) if pki else MessageSignatures(),
    )


def client_on(
    channel: SoapTransport,
    *,
    secret_key: str = SECRET_KEY,
    officer: str = OFFICER,
    officer_secret: str = OFFICER_SECRET,
    cache: ResultCache | None = None,
) -> PopulationDbClient:
    return PopulationDbClient(
        channel,
        LgspAccount(ACCESS_KEY, secret_key, UNIT),
        Officer(officer, officer_secret, UNIT),
        cache=cache if cache is not None else ResultCache(0),
    )


def population_client(
    sandbox: Sandbox,
    pki: DevPki | None,
    *,
    exchanges: list[Exchange] | None = None,
    cache: ResultCache | None = None,
    **options: Any,
) -> PopulationDbClient:
    settings = {k: v for k, v in options.items() if k not in ("secret_key", "officer", "officer_secret")}
    who = {k: v for k, v in options.items() if k in ("secret_key", "officer", "officer_secret")}
    return client_on(transport(sandbox.url, pki, exchanges=exchanges, **settings), cache=cache, **who)

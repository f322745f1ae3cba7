"""The population-database sandbox and clients for it, shared by the SOAP and population tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests

from adapters.exchange import Exchange
from adapters.population_db.client import WSDL, AuditRecord, PopulationDbClient, ResultCache
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap import Credentials, SoapClient, SoapTransport, load_contract
from sandbox.population_db.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki

DAY = date(2026, 11, 20)
SCALE = 0.03
USERNAME = "hub-hanoi"
PASSWORD = "Pw&dan-cu<7f3a>9c1e"  # characters XML escapes on purpose
AGENCY = "000.00.00.H26"


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

    def received(self, operation: str | None = None) -> list[dict[str, Any]]:
        params = {"operation": operation} if operation else {}
        return requests.get(f"{self.url}/sandbox/received", params=params, timeout=5).json()["items"]

    def calls(self) -> int:
        return len(self.received())


def _is_nfd(text: str) -> bool:
    import unicodedata

    return unicodedata.normalize("NFC", text) != text


def start(folder: Path, pki: DevPki, **options: Any) -> Sandbox:
    signing = PartnerSigning(pki, "population_db", xml=True)
    app = create_app(
        folder / "population.db",
        credentials=Credentials(USERNAME, PASSWORD),
        signing=signing,
        agencies=[AGENCY],
        days=[(DAY, SCALE, 0)],
        **options,
    )
    return Sandbox(serve_in_thread(app), signing)


@dataclass
class AuditList:
    """An :class:`AuditWriter` that keeps records in a list."""

    records: list[AuditRecord] = field(default_factory=list)

    def write(self, record: AuditRecord) -> None:
        self.records.append(record)


def soap_client(
    sandbox: Sandbox,
    pki: DevPki,
    *,
    exchanges: list[Exchange] | None = None,
    password: str = PASSWORD,
    sign: bool = True,
    **settings: Any,
) -> SoapClient:
    options = {"max_attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.02, "read_timeout": 5.0, **settings}
    transport = SoapTransport(
        "population_db",
        TransportSettings(base_url=sandbox.url, **options),
        on_exchange=exchanges.append if exchanges is not None else None,
        signatures=MessageSignatures(pki.identity("hub") if sign else None, pki.trust_store()),
    )
    return SoapClient(transport, load_contract(WSDL), Credentials(USERNAME, password))


def population_client(
    sandbox: Sandbox, pki: DevPki, *, agency: str = AGENCY, cache: ResultCache | None = None, **options: Any
) -> PopulationDbClient:
    return PopulationDbClient(
        soap_client(sandbox, pki, **options),
        agency=agency,
        officer="canbo.01",
        cache=cache if cache is not None else ResultCache(0),
    )

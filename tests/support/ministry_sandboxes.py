"""The two ministry simulators the ``ministry_exchange`` tests run against over loopback (civil
status over SOAP, business registration over REST), each signing its replies with its dev-PKI
certificate, plus the Airflow Connections that point the hub's hooks at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests

from adapters.soap.envelope import Credentials
from sandbox.business_registration.app import create_app as business_registration_app
from sandbox.civil_status.app import create_app as civil_status_app
from sandbox.civil_status.store import ON_MINISTRY_SOFTWARE
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki

USER, PASSWORD = "hub-ministry", "Pw-ministry-4f1e"  # civil status UsernameToken
TOKEN = "br-token-ministry-7a2c"  # business registration bearer token
AGENCY, OFFICER = "000.00.00.H26", "hub-airflow"  # province level: sees every agency's dossiers
FAST = {"timeout": 5, "max_attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.05}


@dataclass
class Ministries:
    civil: RunningServer
    business: RunningServer
    civil_signing: PartnerSigning

    def connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables for the hooks' default connection ids."""
        return {
            # the civil-status double signs its replies and a test tampers with them: verify them
            "AIRFLOW_CONN_CIVIL_STATUS": _uri(
                self.civil.url,
                USER,
                PASSWORD,
                {"madonvi": AGENCY, "macanbo": OFFICER, "verify_replies": "true", **FAST},
            ),
            "AIRFLOW_CONN_BUSINESS_REGISTRATION": _uri(self.business.url, "", TOKEN, {"madonvi": AGENCY, **FAST}),
        }

    # -- what the ministries hold, read from their own state ------------------------------

    def civil_summary(self) -> dict[str, int]:
        return requests.get(f"{self.civil.url}/sandbox/summary", timeout=5).json()

    def civil_calls(self, operation: str) -> int:
        """Envelopes the civil-status simulator received for ``operation`` (every outcome)."""
        received = requests.get(f"{self.civil.url}/sandbox/received", params={"operation": operation}, timeout=10)
        return len(received.json()["items"])

    def civil_ministry_software(self, first: date, last: date) -> set[str]:
        """Registrations made on the ministry's software on a day in ``[first, last]``."""
        store = self.civil.server.config.app.state.civil
        _total, rows = store.registered(first, last, None, 0, 1_000_000)
        return {row["number"] for row in rows if row["origin"] == ON_MINISTRY_SOFTWARE}

    def business_dossiers(self, first: date, last: date) -> set[str]:
        reply = requests.get(
            f"{self.business.url}/sandbox/export/dossiers", params={"from": first, "to": last}, timeout=10
        )
        return set(reply.json()["items"])

    def advance_civil(self, at: str) -> int:
        return requests.post(f"{self.civil.url}/sandbox/advance", json={"at": at}, timeout=10).json()["count"]

    def faults(self, server: RunningServer, **changes: Any) -> None:
        requests.post(f"{server.url}/sandbox/faults", json=changes, timeout=5).raise_for_status()


def _uri(url: str, login: str, password: str, extras: dict[str, Any]) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{quote(login, safe='')}:{quote(password, safe='')}@{rest.rstrip('/')}?{urlencode(extras)}"


@contextmanager
def running_ministries(
    folder: Path, dev_pki: DevPki, first: date, last: date, scale: float, seed: int
) -> Iterator[Ministries]:
    """Both simulators with the days ``[first, last]`` of ministry-software dossiers loaded."""
    civil_signing = PartnerSigning(dev_pki, "civil_status", xml=True)
    civil = civil_status_app(folder / "civil.db", Credentials(USER, PASSWORD), [AGENCY], signing=civil_signing)
    civil.state.civil.load_days(first, last, scale, seed)
    business = business_registration_app(
        folder / "business.db", TOKEN, [AGENCY], signing=PartnerSigning(dev_pki, "business_registration")
    )
    business.state.store.load_days(first, last, scale, seed)
    with ExitStack() as stack:
        yield Ministries(
            stack.enter_context(serve_in_thread(civil)), stack.enter_context(serve_in_thread(business)), civil_signing
        )

"""The ministry doubles the tests run against over loopback, each signing its replies with its
dev-PKI certificate, plus the Airflow Connections that point the hub's hooks at them.

One function starts any ministry's double by partner id (:func:`start`), so the golden,
conformance and client tests treat every ministry alike; :func:`running_ministries` runs the two
the ``ministry_exchange`` flow tests exercise in depth (civil status, business registration).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests

from sandbox.business_registration.app import create_app as business_registration_app
from sandbox.certification.app import create_app as certification_app
from sandbox.civil_status.app import create_app as civil_status_app
from sandbox.driving_licence.app import create_app as driving_licence_app
from sandbox.land_registration.app import create_app as land_registration_app
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from sandbox.social_insurance.app import create_app as social_insurance_app
from sandbox.unemployment_benefit.app import create_app as unemployment_benefit_app
from signing.pki import DevPki

TOKENS = {
    "civil_status": "cs-token-ministry-4f1e",
    "business_registration": "br-token-ministry-7a2c",
    "social_insurance": "bhxh-token-ministry-9d3b",
    "driving_licence": "gplx-password-ministry-2b8e",  # the session API's password (LOGINS names the account)
    "land_registration": "vbdlis-token-ministry-5c1d",
    "unemployment_benefit": "tctn-token-ministry-8e4a",
    "certification": "ct-token-ministry-3f9c",
}
LOGINS = {"driving_licence": "hub-sandbox"}  # partners whose Connection has a login (auth: session)
EXTRAS: dict[str, dict[str, str]] = {  # what each Connection names
    "civil_status": {"ma_tinh": "01"},
    "unemployment_benefit": {"ma_tinh": "01"},
    "driving_licence": {"don_vi_xu_ly": "01"},
}
# The doubles that keep only what the hub pulls back (sandbox.held_records): built alike.
HELD_RECORDS = {
    "driving_licence": driving_licence_app,
    "land_registration": land_registration_app,
    "unemployment_benefit": unemployment_benefit_app,
    "certification": certification_app,
}
FAST = {"timeout": 5, "max_attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.05}


def start(
    partner: str,
    folder: Path,
    signing: PartnerSigning | None,
    first: date,
    last: date,
    scale: float,
    seed: int,
    token: str | None = None,
) -> Any:
    """The FastAPI app of ``partner``'s double, its data of ``[first, last]`` loaded (not yet served)."""
    token = token or TOKENS[partner]
    if partner == "civil_status":
        app = civil_status_app(folder / "civil.db", token, signing=signing)
        app.state.civil.load_days(first, last, scale, seed)
    elif partner == "business_registration":
        app = business_registration_app(folder / "business.db", token, signing=signing)
        app.state.store.load_days(first, last, scale, seed)
    elif partner in HELD_RECORDS:
        app = HELD_RECORDS[partner](
            folder / f"{partner}.db", token, account=LOGINS.get(partner, "hub-sandbox"), signing=signing
        )
        app.state.store.load_days(first, last, scale, seed)
    else:
        app = social_insurance_app(folder / "bhxh.db", token, signing=signing)
        app.state.insurance.load_days(first, last, scale, seed)
    return app


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
                self.civil.url, TOKENS["civil_status"], {**EXTRAS["civil_status"], "verify_replies": "true", **FAST}
            ),
            "AIRFLOW_CONN_BUSINESS_REGISTRATION": _uri(self.business.url, TOKENS["business_registration"], FAST),
        }

    # -- what the ministries hold, read from their own state ------------------------------

    def civil_summary(self) -> dict[str, int]:
        return requests.get(f"{self.civil.url}/sandbox/summary", timeout=5).json()

    def civil_calls(self, operation: str) -> int:
        return requests.get(f"{self.civil.url}/sandbox/stats", timeout=5).json()["calls"].get(operation, 0)

    def civil_direct(self, first: date, last: date) -> set[str]:
        """Ids of the registrations made directly on the ministry's software, registered in ``[first, last]``."""
        return self.civil.server.config.app.state.civil.direct_ids(first, last)

    def business_dossiers(self, first: date, last: date) -> set[str]:
        reply = requests.get(
            f"{self.business.url}/sandbox/export/dossiers", params={"from": first, "to": last}, timeout=10
        )
        return set(reply.json()["items"])

    def advance_civil(self, at: str) -> int:
        return requests.post(f"{self.civil.url}/sandbox/advance", json={"at": at}, timeout=10).json()["count"]

    def faults(self, server: RunningServer, **changes: Any) -> None:
        requests.post(f"{server.url}/sandbox/faults", json=changes, timeout=5).raise_for_status()


def _uri(url: str, token: str, extras: dict[str, Any]) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://:{quote(token, safe='')}@{rest.rstrip('/')}?{urlencode(extras)}"


@contextmanager
def running_ministries(
    folder: Path, dev_pki: DevPki, first: date, last: date, scale: float, seed: int
) -> Iterator[Ministries]:
    """Both pull-back doubles with the days ``[first, last]`` loaded."""
    civil_signing = PartnerSigning(dev_pki, "civil_status")
    civil = start("civil_status", folder, civil_signing, first, last, scale, seed)
    business = start(
        "business_registration", folder, PartnerSigning(dev_pki, "business_registration"), first, last, scale, seed
    )
    with ExitStack() as stack:
        yield Ministries(
            stack.enter_context(serve_in_thread(civil)), stack.enter_context(serve_in_thread(business)), civil_signing
        )

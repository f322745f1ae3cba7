"""What the sandbox runner hands each partner double, so it can build every partner the same way.

Each partner's sandbox package has a ``double(context) -> FastAPI`` function (named by its entry
in :mod:`adapters.partners`): the runner builds one context per partner and calls it, so a new
partner's double is its own folder and the runner lists nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from mappings.dossier import VN_TZ
from sandbox.faults import FaultConfig
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki

# Carriers' callbacks are lost, doubled and reordered now and then (deterministically per seed), as
# real ones are: what the hub's polling has to make up for.
CARRIER_MISBEHAVIOUR = {"webhook_loss_rate": 0.05, "webhook_duplicate_rate": 0.05, "webhook_reorder_rate": 0.05}


@dataclass(frozen=True)
class DoubleContext:
    """One partner's share of a sandbox run: where it keeps its data, the credentials the hub will
    use (``hub.connections`` turns them into its Connection), and the generated day every double
    loads, so what the hub pulls, verifies and pushes fits together."""

    partner: str
    db_path: Path
    credentials: Mapping[str, str]
    agencies: list[str]
    pki: DevPki
    code_tables: Any
    day: date
    scale: float
    seed: int
    portal_faults: FaultConfig
    """The national portal's initial faults (``--faults``); the others start without faults."""
    webhook_url: str | None
    """The hub's callback receiver; without it the carriers call nobody back."""

    @property
    def signing(self) -> PartnerSigning:
        """The partner signs its replies with its own dev-PKI certificate (JWS)."""
        return PartnerSigning(self.pki, self.partner)

    @property
    def soap_signing(self) -> PartnerSigning:
        """The partner signs its SOAP replies inside the XML."""
        return PartnerSigning(self.pki, self.partner, xml=True)

    @property
    def load(self) -> tuple[date, float, int]:
        """The generated day as (day, scale, seed)."""
        return self.day, self.scale, self.seed

    def carrier_options(self) -> dict[str, Any]:
        """What every carrier double shares: its clock starts at 08:00 on the day, its callbacks go
        to the hub's receiver and misbehave a little."""
        start = datetime.combine(self.day, datetime.min.time(), VN_TZ).replace(hour=8)
        return {"webhook_url": self.webhook_url, "seed": self.seed, "start": start, "faults": CARRIER_MISBEHAVIOUR}

"""`hub airflow-init` (and `hub up`, `hub demo`) create the partner pools from the registry: the same
names, slots and descriptions the repository's pools file held before the registry replaced it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.cli import main

POOLS_BEFORE_THE_REGISTRY = {
    "city_system": (2, "Concurrent calls to the city dossier system"),
    "national_portal": (2, "Concurrent calls to the national portal (LGSP adapter)"),
    "civil_status": (2, "Concurrent calls to the civil-status system (Ministry of Justice, REST via the NGSP)"),
    "business_registration": (1, "Concurrent calls to the national business registration system (REST)"),
    "population_db": (
        2,
        "Concurrent batch tasks calling the population database (SOAP), each with a few calls in flight",
    ),
    "vnpost": (2, "Concurrent order batches and tracking polls at VNPost (LGSP)"),
    "viettel_post": (2, "Concurrent order batches and tracking polls at Viettel Post"),
}
# ... and the pools of the partners added through the registry since.
POOLS_SINCE = {
    "portal_scoreboard": (1, "One call at a time to the portal's public, rate-limited scoreboard"),
    "driving_licence": (1, "Concurrent calls to the driving-licence system (session API via the NGSP)"),
    "land_registration": (1, "Concurrent calls to the VBDLIS land registration system (REST)"),
    "unemployment_benefit": (1, "Concurrent calls to the unemployment-benefit system (REST via the NGSP)"),
    "certification": (1, "Concurrent calls to the electronic certification system (REST via the NGSP)"),
    "payment_platform": (1, "One call at a time to the portal's payment platform"),
    "ihanoi": (2, "Concurrent notification batches to the iHaNoi citizen app"),
    "city_data_portal": (1, "One publication at a time to the city data portal (CKAN action API)"),
}


def test_airflow_init_migrates_then_imports_every_partner_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    imported: dict[str, dict[str, object]] = {}

    def run_airflow(*args: str, env: dict[str, str], quiet: bool = False, log: Path | None = None) -> None:
        calls.append(args[:2])
        if args[:2] == ("pools", "import"):
            imported.update(json.loads(Path(args[2]).read_text(encoding="utf-8")))

    monkeypatch.setattr(main, "run_airflow", run_airflow)
    main.prepare_airflow({})
    assert calls == [("db", "migrate"), ("pools", "import")]
    assert imported == {
        name: {"slots": slots, "description": description, "include_deferred": False}
        for name, (slots, description) in {**POOLS_BEFORE_THE_REGISTRY, **POOLS_SINCE}.items()
    }

"""The adapters run without a scheduler: only adapters/hooks.py may import Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import adapters

PROBE = """
import importlib, json, pkgutil, sys
import adapters
names = [m.name for m in pkgutil.walk_packages(adapters.__path__, "adapters.") if m.name != "adapters.hooks"]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "airflow": sorted(m for m in sys.modules if m.split(".")[0] == "airflow")}))
"""


def test_adapters_except_hooks_import_nothing_from_airflow() -> None:
    # A fresh interpreter: in this one pytest plugins may already have imported Airflow.
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"adapters.transport", "adapters.city_system.client", "adapters.national_portal.client"} <= set(
        report["modules"]
    )
    assert report["airflow"] == []


def test_only_hooks_mentions_airflow_in_its_imports() -> None:
    # Catches what the probe cannot: an Airflow import deferred into a function body.
    root = Path(adapters.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "hooks.py"
        and any(
            line.lstrip().startswith(("import airflow", "from airflow"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []

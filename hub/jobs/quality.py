"""The quality gate as DAG tasks use it: every batch's validation stored, Data Docs built once.

Kept apart from ``hub.jobs`` so the portal and ministry planning tasks build the same gate: one
place decides where validation results go and under which run.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

from hub.paths import var_dir
from hub.store import HubStore
from hub.store.validation import ValidationResults
from mappings.code_tables import load_code_tables
from quality.gate import QualityGate

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """For a gate run outside a DAG run (the CLI, the benchmark): time-ordered and unique."""
    return f"gate__{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def stored_gate(store: HubStore, run_id: str) -> QualityGate:
    """A gate that writes each validated batch's per-expectation counts under ``run_id``."""
    results = ValidationResults(store)
    return QualityGate(
        load_code_tables(),
        on_validation=lambda batch_id, v: results.record(
            run_id, v.dataset, v.suite, batch_id, v.validated_at, v.expectations
        ),
    )


def _kept() -> Path:
    return var_dir() / "gx" / "validations"


def keep_validations() -> int:
    """Keep this process's validation results (masked) for the Data Docs another task builds."""
    from quality.expectations.runner import keep_validations as keep  # GX: inside the task only

    return keep(_kept())


def build_data_docs() -> Path:
    """Build the suites and every kept validation result (``var/gx/validations/``, this process's
    added) into ``var/gx/data_docs/``, readable offline; returns the index page, which the run's
    report links."""
    from quality.expectations.runner import build_data_docs as build  # GX: inside the task only

    index = build(var_dir() / "gx" / "data_docs", kept=_kept())
    log.info("GX Data Docs: %s", index)
    return index

"""Run a dataset's suite over one batch with GX Core (ephemeral context, pandas data source).

Start-up is paid once per process: :func:`_prepared` builds the context, the data source, one
whole-DataFrame batch definition and one validation definition per suite on first use and caches
them (per code tables), so a batch costs one ``ValidationDefinition.run`` over one DataFrame; it
then freezes what start-up left (``gc.freeze``) so the collector no longer walks it per page.
The context is ephemeral -- nothing of GX is written except the Data Docs :func:`build_data_docs`
builds on request and the validation results it keeps for the next build -- and never phones
home (``GX_ANALYTICS_ENABLED=false``, set by the package before GX is imported).
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

from mappings.code_tables import CodeTables, load_code_tables
from mappings.masking import mask_personal_data
from quality.expectations import custom
from quality.expectations.offline_docs import INDEX_ROWS, ValidationEntry, make_offline
from quality.expectations.suites import SUITES, Check

log = logging.getLogger(__name__)
DATA_DOCS_SITE = "hub"
COMPLETE = {"result_format": "COMPLETE"}
# One ephemeral GX context per process, and it is not thread-safe: two threads preparing it add the
# same suite twice, and two validations running at once can read each other's batch (measured: 16
# of 40 concurrent postal-reply batches got another batch's verdict). Tasks are processes; threads
# (the postal benchmark's placing pool) take turns here.
_GX_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one batch: what the validation-results table keeps."""

    rule: str
    expectation: str
    evaluated: int
    failed: int
    success: bool


@dataclass
class BatchValidation:
    dataset: str
    suite: str
    success: bool
    validated_at: datetime
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    # frame index (= position in the batch) -> [(rule, readable masked reason)]
    violations: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Prepared:
    context: Any
    definitions: dict[str, Any]
    checks: dict[str, dict[str, Check]]  # suite -> expectation id -> check


@functools.cache
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@functools.lru_cache(maxsize=8)
def _prepared(tables: CodeTables) -> _Prepared:
    key = custom.register_tables(tables)
    default = tables is load_code_tables()  # the production tables keep the plain suite names
    context = _context()
    source = context.data_sources.add_pandas(f"hub-{key}")
    definitions: dict[str, Any] = {}
    checks: dict[str, dict[str, Check]] = {}
    for dataset, suite_checks in SUITES.items():
        batch = source.add_dataframe_asset(dataset).add_batch_definition_whole_dataframe("batch")
        suite = context.suites.add(gx.ExpectationSuite(name=dataset if default else f"{dataset}@{key}"))
        by_id: dict[str, Check] = {}
        for check in suite_checks:
            expectation = check.expectation(key)
            expectation.meta = {"rule": check.rule}
            by_id[str(suite.add_expectation(expectation).id)] = check
        definitions[dataset] = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
        )
        checks[suite.name] = by_id
    # GX, pandas and scipy leave ~0.5 M objects that live as long as the process; frozen, the
    # collector stops walking them at every full collection a page of records sets off (measured:
    # two thirds of the full collections' CPU during a plan page). Objects freed by reference
    # counting are freed as before; only cycles already made before this point are kept.
    gc.freeze()
    return _Prepared(context, definitions, checks)


def prepare(tables: CodeTables) -> None:
    """Pay GX's start-up now (a no-op once paid): before a page's records are made, so the freeze
    that ends it leaves them to the collector."""
    with _GX_LOCK:
        _prepared(tables)


def validate(dataset: str, frame: pd.DataFrame, tables: CodeTables) -> BatchValidation:
    """Validate one batch; rows GX flags come back by frame index with their rules and reasons."""
    with _GX_LOCK:
        prepared = _prepared(tables)
        definition = prepared.definitions[dataset]
        result = definition.run(batch_parameters={"dataframe": frame}, result_format=COMPLETE)
    checks = prepared.checks[definition.suite.name]
    outcome = BatchValidation(dataset, definition.suite.name, bool(result.success), datetime.now(UTC))
    for item in result.results:
        check = checks[str(item.expectation_config.id)]
        if item.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"{dataset}: expectation {check.rule} could not run: {item.exception_info['exception_message']}"
            )
        rows = item.result.get("unexpected_index_list") or []
        outcome.expectations.append(
            ExpectationOutcome(
                check.rule,
                item.expectation_config.type,
                int(item.result.get("element_count", len(frame))),
                len(rows),
                bool(item.success),
            )
        )
        for index in rows:
            reason = mask_personal_data(check.reason(frame.loc[index].to_dict(), tables))
            outcome.violations.setdefault(int(index), []).append((check.rule, reason))
    return outcome


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def build_data_docs(folder: Path, kept: Path | None = None) -> Path:
    """Render the suites and the validation results into ``folder`` for reading offline; returns
    the index page (what the reconciliation report links).

    The folder is the caller's (the hub keeps it under ``var/``): where generated files live is the
    hub's business, so the site is pointed at it here rather than when the context is made.
    GX keeps the unexpected values themselves (a wrong ID number, a phone); every stored result
    is masked first, because Data Docs are a report and reports never show a full number.

    The context is ephemeral and each DAG task is a process, so ``kept`` (a folder of JSON files,
    one per validation) carries this process's results to the next build and brings the earlier
    ones back: a re-run that validates nothing new still lists every validation, where its build
    once left an empty index. The suites are prepared even when nothing was validated here.

    ``kept`` grows by a few files per page of every run (a year's backfill: thousands), so a build
    reads only the :data:`INDEX_ROWS` newest of them (the index lists no more) and renders only
    those whose page an earlier build has not written; older pages stay in the folder as they are.
    A build's cost is bounded by the index, not by the history.
    """
    with _GX_LOCK:
        _prepared(load_code_tables())
        context = _context()
        store = context.validation_results_store
        _mask_and_keep(store, kept)
        entries = {key.to_tuple(): _entry(key, store.get(key)) for key in store.list_keys()}
        total = len(entries)
        if kept is not None:
            paths = sorted(kept.rglob("*.json"), key=lambda path: path.parts[-2], reverse=True)  # by run time
            total = len(paths)  # this process's results were just written there too
            for path in paths[:INDEX_ROWS]:
                key = ValidationResultIdentifier.from_tuple(path.relative_to(kept).with_suffix("").parts)
                if key.to_tuple() in entries:
                    continue
                result = store.deserialize(path.read_text(encoding="utf-8"))
                entries[key.to_tuple()] = entry = _entry(key, result)
                if not (folder / entry.page).exists():
                    store.set(key, result)
        site = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        if DATA_DOCS_SITE in context.list_data_docs_sites():
            context.update_data_docs_site(DATA_DOCS_SITE, site)
        else:
            context.add_data_docs_site(DATA_DOCS_SITE, site)
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
        suites = [suite.name for suite in context.suites.all()]
    return make_offline(folder, suites, list(entries.values()), total)


def keep_validations(kept: Path) -> int:
    """Mask this process's validation results and write them to ``kept`` for a later
    :func:`build_data_docs` in another process (a partition of the plan keeps its results; the
    task after the partitions builds the site once from all of them); returns how many."""
    with _GX_LOCK:
        return _mask_and_keep(_context().validation_results_store, kept)


def _mask_and_keep(store: Any, kept: Path | None) -> int:
    """Mask every stored result (reports never show a full number) and write it to ``kept``: one
    file per validation, named by its key, so processes keeping at once never write one file."""
    keys = store.list_keys()
    for key in keys:
        result = store.get(key)
        for item in result.results:
            item.result = _masked(item.result)
        store.set(key, result)
        if kept is not None:
            path = kept.joinpath(*key.to_tuple()).with_suffix(".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(store.serialize(result), encoding="utf-8")
    return len(keys)


def _entry(key: Any, result: Any) -> ValidationEntry:
    suite, run_name, run_time, batch = key.to_tuple()
    statistics = result.statistics
    return ValidationEntry(
        suite,
        run_name,
        run_time,
        batch,
        bool(result.success),
        int(statistics.get("evaluated_expectations", 0)),
        int(statistics.get("successful_expectations", 0)),
    )

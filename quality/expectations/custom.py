"""Custom GX expectations for what no built-in can say: a rule that needs the project's own
definition (dossier-number grammar, the citizen-ID structure) or the code tables
valid on a given day.

Each condition calls the one function of ``mappings/`` that defines the rule, so the rule exists
once; GX decides which rows break it and reports their indexes like any built-in. Imported only
by :mod:`quality.expectations.runner`, inside tasks (importing GX costs seconds).

Code tables are not JSON, and a GX configuration must be: an expectation names the tables by a key
(``tables_key``) registered in this process with :func:`register_tables`, so the same suite runs
on whatever tables the gate was given (tests hand it their own).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar, Literal

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from mappings.citizen_id import check_citizen_id
from mappings.code_tables import CodeTables
from mappings.dossier_number import parse_dossier_number

_TABLES: dict[str, CodeTables] = {}
# GX's own domain keys of a column-pair metric; a custom metric must name them all.
_PAIR_DOMAIN = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")


def register_tables(tables: CodeTables) -> str:
    """The key under which expectations find ``tables`` (stable for the object's lifetime)."""
    key = f"tables-{id(tables):x}"
    _TABLES[key] = tables
    return key


def _rowwise(column: pd.Series, test: Callable[[Any], bool]) -> pd.Series:
    return pd.Series([test(v) for v in column], index=column.index, dtype=bool)


def _pairwise(a: pd.Series, b: pd.Series, test: Callable[[Any, Any], bool]) -> pd.Series:
    return pd.Series([test(x, y) for x, y in zip(a, b, strict=True)], index=a.index, dtype=bool)


def _day(value: Any) -> date | None:
    """A frame cell as a Hanoi day: datetimes arrive as pandas Timestamps (already in Hanoi time)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _parses(value: Any) -> bool:
    try:
        parse_dossier_number(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _number_day_is(number: Any, submitted: Any) -> bool:
    """Unparseable numbers pass here: ``dossier_no.format`` already names them."""
    try:
        day = parse_dossier_number(number).day
    except (TypeError, ValueError, AttributeError):
        return True
    return day == _day(submitted)


class DossierNumberValid(ColumnMapMetricProvider):
    condition_metric_name = "column_values.hub_dossier_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _rowwise(column, _parses)


class ExpectColumnValuesToBeDossierNumbers(ColumnMapExpectation):
    """``{agency}-{YYMMDD}-{NNNN}`` (Circular 01/2018 art. 19): agency per QCVN 102:2016, a real
    date, a sequence 0001-9999."""

    map_metric = "column_values.hub_dossier_number"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class NfcText(ColumnMapMetricProvider):
    condition_metric_name = "column_values.hub_nfc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _rowwise(column, lambda v: not isinstance(v, str) or unicodedata.is_normalized("NFC", v))


class ExpectColumnValuesToBeNfc(ColumnMapExpectation):
    """Vietnamese text in Unicode NFC: decomposed text looks the same but compares, sorts and
    counts differently (a name would not match the population register)."""

    map_metric = "column_values.hub_nfc"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)


class DossierNumberDay(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.hub_number_day"
    condition_domain_keys = _PAIR_DOMAIN

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
        return _pairwise(column_A, column_B, _number_day_is)


class ExpectColumnPairValuesToBeNumberedOnIntakeDay(ColumnPairMapExpectation):
    """The date inside the dossier number (column A) is the intake day (column B), in Hanoi time:
    the sequence restarts daily, so another day means another dossier's number."""

    map_metric = "column_pair_values.hub_number_day"
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "either_value_is_missing"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "ignore_row_if")


def _known_on(table: Any, code: Any, day: date | None) -> bool:
    """Without a readable day nothing can be looked up: the day's own rule names that row."""
    return day is None or table.get(code, day) is not None


class CodeValidOnDay(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.hub_code_valid_on_day"
    condition_domain_keys = _PAIR_DOMAIN
    condition_value_keys = ("tables_key", "code_table")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column_A: pd.Series,
        column_B: pd.Series,
        tables_key: str,
        code_table: str,
        **kwargs: Any,
    ) -> pd.Series:
        table = getattr(_TABLES[tables_key], code_table)
        return _pairwise(column_A, column_B, lambda code, on: _known_on(table, code, _day(on)))


class ExpectColumnPairValuesToBeCodesValidOnDay(ColumnPairMapExpectation):
    """The code (column A) is in the versioned ``code_table`` valid on the day of column B: codes
    change with the law (Decree 118/2025), so a code is only ever valid *on a date*."""

    map_metric = "column_pair_values.hub_code_valid_on_day"
    tables_key: str
    code_table: Literal["procedures", "agencies"]
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "neither"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "ignore_row_if", "tables_key", "code_table")


def citizen_id_reasons(tables: CodeTables, id_no: Any, birth_date: Any) -> list[str]:
    """Why an ID does not fit its holder (empty if it does); also the quarantine's reason text."""
    born = birth_date if isinstance(birth_date, date) and not isinstance(birth_date, datetime) else _day(birth_date)
    return check_citizen_id(str(id_no), tables, birth_date=born)


class CitizenIdConsistent(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.hub_citizen_id"
    condition_domain_keys = _PAIR_DOMAIN
    condition_value_keys = ("tables_key",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, tables_key: str, **kwargs: Any) -> pd.Series:
        tables = _TABLES[tables_key]
        return _pairwise(column_A, column_B, lambda id_no, born: not citizen_id_reasons(tables, id_no, born))


class ExpectColumnPairValuesToBeCitizenIdsOfHolder(ColumnPairMapExpectation):
    """A 12-digit personal ID (column A) with a known birth-registration province and, when the
    birth date (column B) is known, the century/sex digit and year digits that fit it. There is no
    check digit, so this is all that can be verified offline."""

    map_metric = "column_pair_values.hub_citizen_id"
    tables_key: str
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "neither"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "ignore_row_if", "tables_key")

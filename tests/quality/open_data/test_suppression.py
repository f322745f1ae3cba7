"""The small-cell rule: counts 1-4 hidden, and no line left with a single hidden count."""

from __future__ import annotations

import pytest

from quality.open_data.suppression import SUPPRESSED, suppress


def _recoverable(counts: dict[str, int], lines: list[list[str]], hidden: frozenset[str]) -> list[str]:
    """Hidden counts an attacker gets back by subtraction, line by line, until nothing more comes out."""
    known = {k: v for k, v in counts.items() if k not in hidden}
    found = True
    while found:
        found = False
        for line in lines:
            unknown = [k for k in line if k not in known]
            if len(unknown) == 1:
                total_key = line[-1]
                parts = sum(known[k] for k in line[:-1] if k in known)
                known[unknown[0]] = known[total_key] - parts if unknown[0] != total_key else parts
                found = True
    return sorted(k for k in hidden if k in known)


def test_small_counts_are_hidden_and_zero_is_shown() -> None:
    counts = {"a": 0, "b": 3, "c": 12, "d": 4, "t": 19}
    result = suppress(counts, [])
    assert result.primary == {"b", "d"}
    assert [result.shown(k, v) for k, v in counts.items()] == [0, SUPPRESSED, 12, SUPPRESSED, 19]


def test_a_lone_hidden_count_takes_the_smallest_other_count_of_its_line_with_it() -> None:
    # Row: online 3 + other 40 = 43, and 3 could be had as 43 - 40.
    counts = {"online": 3, "other": 40, "total": 43}
    result = suppress(counts, [["online", "other", "total"]])
    assert result.primary == {"online"} and result.complementary == {"other"}
    assert result.shown("total", 43) == 43


def test_no_hidden_count_can_be_recovered_across_rows_columns_and_totals() -> None:
    """A 3x2 table with its margins: every row and column adds up, and every margin is published."""
    grid = {"a1": 2, "a2": 30, "b1": 25, "b2": 26, "c1": 40, "c2": 1}
    counts = dict(grid) | {"a": 32, "b": 51, "c": 41, "c_1": 67, "c_2": 57, "all": 124}
    lines = [
        ["a1", "a2", "a"], ["b1", "b2", "b"], ["c1", "c2", "c"],
        ["a1", "b1", "c1", "c_1"], ["a2", "b2", "c2", "c_2"], ["a", "b", "c", "all"],
    ]  # fmt: skip
    result = suppress(counts, lines)
    assert result.primary == {"a1", "c2"}
    assert _recoverable(counts, lines, result.hidden) == []
    assert all(sum(k in result.hidden for k in line) != 1 for line in lines)


def test_a_rate_is_hidden_with_either_of_its_counts() -> None:
    result = suppress({"n": 2, "d": 9, "rest": 7}, [["n", "rest", "d"]])
    assert result.rate("n", "d", 2 / 9) == SUPPRESSED
    assert suppress({"n": 6, "d": 9}, []).rate("n", "d", 6 / 9) == 0.6667


def test_a_line_naming_an_unknown_count_is_refused() -> None:
    with pytest.raises(KeyError, match="do not exist"):
        suppress({"a": 1}, [["a", "b"]])

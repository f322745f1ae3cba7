"""The bounded read of a callback body: nesting measured on the raw bytes, text every store keeps."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.postal.carrier import WebhookRejected
from adapters.postal.checks import MAX_JSON_DEPTH, bounded_json, nesting_depth


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"{}", 1),
        (b'{"DATA": {"A": [1, [2]]}}', 4),
        (b'{"a": "[[[{{{"}', 1),  # brackets inside a string do not count
        (b'{"a": "\\"[[[", "b": []}', 2),  # nor after an escaped quote
        (b'"unterminated [[[[', 0),  # an unterminated string runs to the end
        (b"]]][[[", 0),  # a closer first: the decoder stops there, before any nesting
        (b"[" * 100_000, MAX_JSON_DEPTH + 1),  # the scan stops once past the limit
    ],
)
def test_nesting_is_measured_outside_strings(raw: bytes, depth: int) -> None:
    assert nesting_depth(raw) == depth


@settings(max_examples=300, derandomize=True)
@given(st.recursive(st.none() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3), max_leaves=20))
def test_the_scan_agrees_with_the_decoder_on_real_json(value: object) -> None:
    def depth(v: object) -> int:
        return 1 + max(map(depth, v), default=0) if isinstance(v, list) else 0

    assert nesting_depth(json.dumps(value).encode(), stop_above=1000) == depth(value)


def test_a_body_built_to_make_a_scanner_backtrack_is_read_in_linear_time() -> None:
    # An unterminated string of escaped quotes: a pattern that needs the closing quote fails, and
    # tries again from each of the 120,000 quotes (about 800 s); this scan reads it once.
    hostile = b'"\\' * 120_000
    began = time.perf_counter()
    nesting_depth(hostile)
    assert time.perf_counter() - began < 1.0


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[" * 50, "deeper than"),
        (b"\xff{}", "not JSON"),
        (b"9" * 5000, "not JSON"),  # longer than Python converts to an int
        (b'{"a": "\\u0000"}', "a (U+0000)"),
        (b'{"a": ["ok", "\\udc00"]}', "a[1] (U+DC00)"),
    ],
)
def test_what_cannot_be_read_or_kept_is_a_400_with_the_reason(raw: bytes, words: str) -> None:
    with pytest.raises(WebhookRejected) as refused:
        bounded_json(raw, "body")
    assert refused.value.status == 400 and words in refused.value.reason


def test_an_escaped_surrogate_pair_is_one_character_and_kept() -> None:
    assert bounded_json(b'{"a": "\\ud83d\\udce6"}', "body") == {"a": "\U0001f4e6"}

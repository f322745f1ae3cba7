"""Characters a store refuses: escaped visibly before storing, and found again for the gate."""

from __future__ import annotations

import json
from types import MappingProxyType

from mappings.text import (
    clean_at_a_glance,
    storable,
    unstorable_characters,
    unstorable_reason,
    unstorable_reasons,
)


def test_nul_and_lone_surrogates_become_visible_escapes_that_encode_as_utf8() -> None:
    record = {"a\x00": ["x\x00y", {"b": "\udc80"}], "n": 3, "ok": "Hà Nội 🏛"}
    kept = storable(record)
    assert kept == {"a\\u0000": ["x\\u0000y", {"b": "\\udc80"}], "n": 3, "ok": "Hà Nội 🏛"}
    json.dumps(kept, ensure_ascii=False).encode("utf-8")  # what PostgreSQL receives: no error
    assert storable(kept) == kept  # once escaped, nothing more to do


def test_the_gate_finds_them_raw_or_escaped_and_names_field_and_character() -> None:
    raw = {"chu_ho_so": {"ho_ten": "An\x00"}, "tai_lieu": [{"ten": "\ud800"}]}
    assert unstorable_characters(raw) == [("chu_ho_so.ho_ten", "U+0000"), ("tai_lieu[0].ten", "U+D800")]
    assert unstorable_characters(storable(raw)) == unstorable_characters(raw)
    reason = unstorable_reason(raw)
    assert reason is not None and "'chu_ho_so.ho_ten' (U+0000)" in reason and "An" not in reason
    assert unstorable_reason({"ho_ten": "Nguyễn Văn An", "emoji": "🏛"}) is None


def test_a_value_clean_at_a_glance_is_one_the_field_by_field_walk_finds_clean() -> None:
    """The glance may send a clean value to the walk (a control character, a text holding ``\\u``),
    never let a dirty one through."""
    escaped, raw = "\\u0000 \\ud83d \\uDC80", "\x00 \ud800 \udfff"
    values = [
        {"ho_ten": "Nguyễn Văn An", "n": 1, "x": None, "l": [1.5, True, "🏛"]},
        {"a": "tab\tnew line\n\x01"},
        {"code": "C:\\users\\uyen"},
        *({"deep": [{"k": ch}]} for ch in (*escaped.split(), *raw.split())),
        *({ch: 1} for ch in (*escaped.split(), *raw.split())),
        {1: "a non-string key"},
    ]
    for value in values:
        if clean_at_a_glance(value):
            assert unstorable_characters(value) == [] and storable(value) is value, value
    dirty = [v for v in values if unstorable_characters(v)]
    assert len(dirty) == 6 and not any(clean_at_a_glance(v) for v in dirty)
    assert clean_at_a_glance(values[0]) and not clean_at_a_glance(values[1])


def test_a_page_gets_the_verdict_of_each_row_alone() -> None:
    """The page-wide check (a glance per chunk of rows) names exactly the rows, fields and characters
    the per-row rule names: dirty rows first, last, alone in a chunk, side by side, raw or escaped,
    in a mapping that is not a dict; clean rows with text the glance cannot clear are not named."""
    clean = {"ho_ten": "Nguyễn Văn An", "tai_lieu": [{"ten": "Đơn"}]}
    dirty = {
        0: {"ho_ten": "An\x00"},
        99: {"tai_lieu": [{"ten": "\ud800"}]},
        100: {"ghi_chu": "\\u0000"},
        101: MappingProxyType({"ho_ten": "\\uDC80"}),
        250: {"x": ["ok", {"y": "\x00\udfff"}]},
        349: {"z": "end\x00"},
    }
    odd_but_clean = {150: {"ghi_chu": "tab\tnew line\n"}, 151: {1: "a non-string key"}}
    rows = [dirty.get(i) or odd_but_clean.get(i) or clean for i in range(350)]
    expected = {i: reason for i, row in enumerate(rows) if (reason := unstorable_reason(dict(row))) is not None}
    assert sorted(expected) == sorted(dirty)
    assert unstorable_reasons(rows) == expected
    assert unstorable_reasons([clean] * 250) == {} and unstorable_reasons([]) == {}

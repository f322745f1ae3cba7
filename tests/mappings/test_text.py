"""Characters a store refuses: escaped visibly before storing, and found again for the gate."""

from __future__ import annotations

import json

from mappings.text import storable, unstorable_characters, unstorable_reason


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

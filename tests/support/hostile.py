"""Hostile values for property-based fuzzing (issue 17): text with every code point Python can hold
-- NUL, lone surrogates, controls -- and JSON of any shape built from it. Shared by the receiver's
fuzz and the quality gate's, so both meet the same hostility."""

from __future__ import annotations

from hypothesis import strategies as st

TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30)  # surrogates, NUL included
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)

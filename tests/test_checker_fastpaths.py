"""The checker's shortcuts say exactly what the plain computations they replace say."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from checker.events import Entry
from checker.state import entry_key, same_entries

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=6)
ENTRIES = st.lists(st.builds(Entry, term=st.integers(0, 3), data=JSON), max_size=5)


@given(ENTRIES, ENTRIES)
def test_same_entries_is_entry_key_equality(a: list[Entry], b: list[Entry]) -> None:
    keys = [entry_key(e) for e in b]
    assert same_entries(a, keys) == ([entry_key(e) for e in a] == keys)
    assert same_entries(b, keys)


def test_same_entries_sees_key_order_and_types() -> None:
    keys = [entry_key(Entry(term=1, data={"a": 1, "b": [True, None]}))]
    assert same_entries([Entry(data={"b": [True, None], "a": 1}, term=1)], keys)
    assert not same_entries([Entry(term=1, data={"a": 1, "b": [1, None]})], keys)
    assert not same_entries([Entry(term=1, data={"a": 1.0, "b": [True, None]})], keys)
    assert not same_entries([Entry(term=2, data={"a": 1, "b": [True, None]})], keys)
    assert not same_entries([], keys)

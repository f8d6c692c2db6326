"""The checker's shortcuts say exactly what the plain computations they replace say: entries
compared by the text they were written as (RawEntry) agree with entries compared by key."""

from __future__ import annotations

import sys

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker import TraceError, check_lines
from checker.events import Entry, RawEntry
from checker.state import Log, applied_key, entry_key, raw_of, same_texts
from tests.test_checker_gen import normal_run

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=6)
# The same data may be written with other spacing or key order: the text differs, not the key.
SPACING = st.sampled_from([b"", b" "])
ENTRIES = st.lists(st.tuples(st.integers(0, 3), JSON), max_size=5)


def written(term: int, data: object, pad: bytes = b"") -> RawEntry:
    """A RawEntry as the reader decodes it from a line."""
    text = msgspec.json.encode(data)
    if pad and text[:1] == b"{" and len(text) > 2:  # the same object, spaced otherwise
        text = b"{" + pad + text[1:]
    line = b'{"term":%d,"data":%s}' % (term, text)
    return msgspec.json.decode(line, type=RawEntry)


def log_of(entries: list[RawEntry]) -> Log:
    log = Log()
    log.keys = [entry_key(e) for e in entries]
    log.raws = [raw_of(e) for e in entries]
    return log


@given(ENTRIES, ENTRIES, SPACING)
def test_same_texts_implies_same_keys(a: list[tuple[int, object]], b: list[tuple[int, object]],
                                      pad: bytes) -> None:
    old = log_of([written(t, d) for t, d in b])
    new = [written(t, d, pad) for t, d in a][: len(b)]
    if same_texts(new, old):
        assert [entry_key(e) for e in new] == old.keys[: len(new)]


@given(ENTRIES, st.integers(1, 6), st.integers(0, 3), JSON, SPACING)
def test_applied_key_is_entry_key(entries: list[tuple[int, object]], index: int, term: int,
                                  data: object, pad: bytes) -> None:
    log = log_of([written(t, d) for t, d in entries])
    for entry in (written(term, data, pad), *(written(t, d, pad) for t, d in entries)):
        assert applied_key(log, index, entry) == entry_key(entry)


def test_raw_and_decoded_entries_have_the_same_key() -> None:
    data = {"b": [True, None], "a": 1.0}
    assert entry_key(written(2, data, b" ")) == entry_key(Entry(term=2, data=data))
    assert entry_key(written(2, {"a": 1})) != entry_key(written(2, {"a": 1.0}))


def test_a_kept_text_does_not_hold_the_chunk_it_was_read_from() -> None:
    chunk = b'{"term":1,"data":{"k":"' + b"x" * 1000 + b'"}}'
    entry = msgspec.json.decode(chunk, type=RawEntry)
    kept = raw_of(entry)
    assert kept == entry.data and bytes(kept) == bytes(entry.data)
    before = sys.getrefcount(chunk)
    del entry
    assert sys.getrefcount(chunk) == before - 1  # only the entry's view held the chunk


def reordered(line: str) -> str:
    """The line with the keys of every entry's data written in reverse order."""
    ev = orjson.loads(line)
    for field in ("entries", "log"):
        for entry in ev.get(field, []):
            if isinstance(entry["data"], dict):
                entry["data"] = dict(reversed(entry["data"].items()))
    if "entry" in ev and isinstance(ev["entry"]["data"], dict):
        ev["entry"]["data"] = dict(reversed(ev["entry"]["data"].items()))
    return orjson.dumps(ev).decode()


def test_entries_written_in_another_key_order_are_the_same_entries() -> None:
    """The same entry written with its data's keys in another order (another writer) is the
    same entry: applies and restarts compare keys when the texts differ, and no property
    sees a difference."""
    b = normal_run(proposals=3)
    b.crash("n2")
    b.restart("n2")
    plain = b.check()
    assert plain.ok, [v.to_text() for v in plain.violations]
    for kind in ('"kind":"apply"', '"kind":"start"', '"kind":"append"'):
        lines = [reordered(ln) if kind in ln else ln for ln in b.lines]
        assert lines != b.lines
        report = check_lines(lines)
        assert report.ok, (kind, [v.to_text() for v in report.violations])
        assert [p.evaluated for p in report.properties] == [p.evaluated for p in
                                                            plain.properties]


def test_an_applied_entry_that_differs_from_the_log_is_still_caught() -> None:
    b = normal_run(proposals=2)
    k = next(i for i, ln in enumerate(b.lines) if '"kind":"apply"' in ln and '"op"' in ln)
    ev = orjson.loads(b.lines[k])
    ev["entry"]["data"]["value"] = 99
    lines = [*b.lines[:k], orjson.dumps(ev).decode(), *b.lines[k + 1:]]
    assert "ApplyOrder" in check_lines(lines).violated


def test_invalid_utf8_inside_entry_data_is_refused() -> None:
    """Entry data is kept as text, which the decoder does not check for UTF-8: the reader
    does."""
    b = normal_run(proposals=1)
    k = next(i for i, ln in enumerate(b.lines) if '"kind":"append"' in ln and '"op"' in ln)
    bad = b.lines[k].encode().replace(b'"op":"put"', b'"op":"p\xffut"')
    assert bad != b.lines[k].encode()
    lines = [ln.encode() for ln in b.lines]
    lines[k] = bad
    with pytest.raises(TraceError) as info:
        check_lines(lines, name="u.jsonl")
    assert str(info.value) == (f"u.jsonl:{k + 1}: binary data or invalid UTF-8: a raft-trace is "
                               "UTF-8 JSON Lines text")

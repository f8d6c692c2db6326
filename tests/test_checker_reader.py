"""The reader's chunked decoding and the engine's message registry, on the cases their shortcuts
could get wrong: lines cut by a chunk boundary, lines at the length limit, and duplicate
deliveries matched against a send whose content is no longer kept in memory."""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker import TraceError, check_files, check_lines
from checker.engine import Engine, select_properties
from checker.reader import CHUNK, MAX_LINE, MemorySource, TraceFile
from tests.test_checker_gen import TraceBuilder, normal_run


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def with_duplicate(alter: bool) -> tuple[TraceBuilder, int]:
    """A correct run in which n2 receives n1's first RequestVote once more at the end (the
    network duplicated it), unchanged or altered; returns the builder and the send's line."""
    b = normal_run(proposals=3)
    send_line = next(i for i, line in enumerate(b.lines, 1)
                     if '"kind":"send"' in line and '"RequestVote"' in line)
    msg = copy.deepcopy(orjson.loads(b.lines[send_line - 1])["msg"])
    if alter:
        msg["last_log_index"] += 7
    b.receive(msg)
    return b, send_line


@pytest.mark.parametrize("source", ["file", "memory"])
def test_a_late_duplicate_delivery_is_compared_with_its_send_read_back(
        tmp_path: Path, source: str) -> None:
    for alter in (False, True):
        b, send_line = with_duplicate(alter)
        report = (check_files([write(tmp_path, b.lines)]) if source == "file"
                  else check_lines(b.lines))
        if not alter:
            assert report.ok, [v.to_text() for v in report.violations]
            continue
        assert report.violated == ["MessageRules"]
        (violation,) = report.violations
        assert "content other than what n1 sent" in violation.explanation
        cited = {c.line: c.text for c in violation.lines}
        assert cited[send_line] == b.lines[send_line - 1]
        assert cited[len(b.lines)] == b.lines[-1]


def padded_run(pad: int) -> list[str]:
    """A correct run whose events carry notes of ``pad`` characters, so that lines straddle
    the reader's chunk boundaries at many different places."""
    b = normal_run(proposals=40)
    lines = [b.lines[0]]
    for k, line in enumerate(b.lines[1:]):
        ev = orjson.loads(line)
        ev["note"] = "x" * (pad + 37 * k % 301)
        lines.append(orjson.dumps(ev).decode())
    return lines


def test_lines_cut_by_chunk_boundaries_keep_their_numbers_and_text(tmp_path: Path) -> None:
    lines = padded_run(900)
    assert sum(map(len, lines)) > 3 * CHUNK
    assert check_files([write(tmp_path, lines)]).ok
    # A second leader in term 1, at the very end: the violation cites lines from all over the
    # file, each by number and read back by offset, and each must be the line it names.
    ev = orjson.loads(lines[-1])
    ev.update(seq=ev["seq"] + 1, node="n3", kind="role", role="leader", term=1, vote="n3",
              previous="follower")
    lines.append(orjson.dumps(ev).decode())
    report = check_files([write(tmp_path, lines)])
    assert "ElectionSafety" in report.violated
    for violation in report.violations:
        for cited in violation.lines:
            assert cited.text == lines[cited.line - 1]


@pytest.mark.parametrize("extra, refused", [(0, False), (1, True)])
def test_the_line_length_limit_holds_where_a_line_straddles_chunks(
        tmp_path: Path, extra: int, refused: bool) -> None:
    """A line of exactly MAX_LINE bytes (without its newline) is read; one byte more is refused,
    naming its line, even when it starts inside one chunk and ends in another."""
    lines = padded_run(10)[:5]
    ev = orjson.loads(lines[-1])
    ev["seq"] += 1
    ev["note"] = ""
    bare = len(orjson.dumps(ev))
    ev["note"] = "y" * (MAX_LINE - bare + extra)
    lines.append(orjson.dumps(ev).decode())
    assert len(lines[-1]) == MAX_LINE + extra
    assert sum(map(len, lines[:-1])) % CHUNK != 0  # the long line starts mid-chunk
    path = write(tmp_path, lines)
    if not refused:
        assert check_files([path]).events == 5
        return
    with pytest.raises(TraceError) as info:
        check_files([path])
    assert info.value.line == 6
    assert "longer than" in str(info.value)


def test_a_last_line_without_newline_is_read(tmp_path: Path) -> None:
    lines = padded_run(50)
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines))  # no final newline
    assert check_files([path]).events == len(lines) - 1


def settles_after(lines: list[str], msg_id: str) -> int:
    """How many other messages were first received or dropped after ``msg_id``'s first
    receive (before the last line, the duplicate)."""
    seen: set[str] = set()
    count = None
    for line in lines[1:-1]:
        ev = orjson.loads(line)
        if ev["kind"] not in ("receive", "drop") or ev["msg"]["id"] in seen:
            continue
        seen.add(ev["msg"]["id"])
        if ev["msg"]["id"] == msg_id:
            count = 0
        elif count is not None:
            count += 1
    assert count is not None
    return count


def test_a_duplicate_is_matched_for_at_least_the_message_window() -> None:
    """The registry remembers a settled message for at least ``message_window`` later settles;
    a duplicate arriving later than twice that is an unknown message (MessageRules)."""
    b, send_line = with_duplicate(alter=False)
    msg_id = orjson.loads(b.lines[send_line - 1])["msg"]["id"]
    later = settles_after(b.lines, msg_id)
    assert later >= 9

    def run(window: int) -> Any:
        trace = TraceFile(MemorySource(b.lines, "m"), 0)
        return Engine([trace], select_properties(), message_window=window).run()

    assert run(later).ok
    report = run(later // 3)
    assert report.violated == ["MessageRules"]
    assert "never sent" in report.violations[0].explanation


def test_a_trace_from_a_pipe_keeps_settled_messages_it_cannot_read_back(tmp_path: Path) -> None:
    """A pipe (``raftref check <(...)``, a named pipe) cannot be read again: there the registry
    keeps the settled messages' contents, and a late duplicate is still compared."""
    for alter in (False, True):
        b, _ = with_duplicate(alter)
        fifo = tmp_path / f"pipe-{alter}"
        os.mkfifo(fifo)
        writer = threading.Thread(target=fifo.write_text, args=(b.text(),))
        writer.start()
        report = check_files([fifo])
        writer.join()
        assert report.violated == (["MessageRules"] if alter else [])
        if alter:  # cited lines cannot be shown (and reading them must not wait for a writer)
            assert all("read from a pipe" in c.text for c in report.violations[0].lines)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=4) | st.sampled_from(["n1", "n9", "leader", "send", "AppendEntries"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["term", "data", "id", "from", "to", "msg", "x"]), inner, max_size=3),
    max_leaves=5)


def corrupt_value(line: bytes, data: st.DataObject) -> bytes:
    """The line with one value (at any depth) replaced, or one key removed (if it is JSON)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    target = obj
    while True:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            return line
        key = data.draw(st.sampled_from(keys))
        if isinstance(target[key], dict | list) and target[key] and data.draw(st.booleans()):
            target = target[key]
            continue
        if isinstance(target, dict) and data.draw(st.booleans()):
            del target[key]
        else:
            target[key] = data.draw(JSON_VALUES)
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS) if _finite(obj) else line


def _finite(obj: Any) -> bool:
    try:
        orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return False
    return True


@given(st.data())
def test_any_corruption_gives_a_report_or_one_trace_error(data: st.DataObject) -> None:
    """Whatever a trace's bytes, the checker returns a report or raises one TraceError naming
    the source and line: never another exception (the typed decoder, the full validator and
    the engine's own checks between them cover every line)."""
    lines = [line.encode() for line in normal_run(proposals=2).lines]
    for _ in range(data.draw(st.integers(1, 3))):
        k = data.draw(st.integers(1, len(lines) - 1))
        how = data.draw(st.sampled_from(["value", "bytes", "cut", "swap"]))
        if how == "value":
            lines[k] = corrupt_value(lines[k], data)
        elif how == "bytes":
            at = data.draw(st.integers(0, len(lines[k])))
            lines[k] = lines[k][:at] + data.draw(st.binary(max_size=3)) + lines[k][at + 1:]
        elif how == "cut":
            lines[k] = lines[k][:data.draw(st.integers(0, len(lines[k])))]
        else:
            j = data.draw(st.integers(1, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
    try:
        check_lines(lines, name="c.jsonl")
    except TraceError as exc:
        assert str(exc).startswith("c.jsonl:")

"""Reading history files: bytes (a file, ``-`` for standard input, gzip or not), the format
(given, or told from the content), the records, and the files of one run merged and paired.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from checker.errors import TraceError
from checker.history.jepsen import FORMATS, detect, read_edn, read_log
from checker.history.jsonl import read_jsonl
from checker.history.ops import Record
from checker.history.pairing import Paired, check_file, merge, operations

STDIN = "-"


@dataclass
class Loaded:
    """The operations of the files given, and what reading them noted."""

    files: list[str]
    formats: list[str]
    model: str | None  # what the headers say, if they say
    paired: Paired
    notes: list[str] = field(default_factory=list)


def _text(path: str) -> str:
    name = "<stdin>" if path == STDIN else path
    try:
        data = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except OSError as exc:
        raise TraceError(name, 0, None, exc.strerror or str(exc)) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise TraceError(name, 0, None, f"cannot decompress ({exc}): a truncated .gz "
                             "file?") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TraceError(name, line, None, "not UTF-8 text") from None


def load(paths: Sequence[str | Path], fmt: str | None = None,
         model: str | None = None) -> Loaded:
    """Read, check and merge the files of one run (several: one per client process)."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    files: list[tuple[str, list[Record]]] = []
    formats: list[str] = []
    headers: list[tuple[str, dict[str, Any]]] = []
    notes: list[str] = []
    for p in paths:
        path = str(p)
        name = "<stdin>" if path == STDIN else path
        text = _text(path)
        kind = fmt or detect(name, text)
        if kind == "jsonl" and _is_trace(text):
            records = _trace_history(name, text)
        elif kind == "jsonl":
            header, records = read_jsonl(name, text.encode())
            headers.append((name, header))
        else:
            try:
                imported = (read_edn if kind == "edn" else read_log)(name, text, model)
            except RecursionError:
                raise TraceError(name, 0, None, "values nested too deeply to read") from None
            records = imported.records
            notes.extend(imported.notes(name))
        check_file(records)
        files.append((name, records))
        formats.append(kind)
    _same_run(headers)
    from_header = headers[0][1].get("model") if headers else None
    paired = operations(merge(files))
    notes.extend(paired.notes)
    return Loaded([n for n, _ in files], formats, from_header, paired, notes)


def _is_trace(text: str) -> bool:
    """Whether the file is a raft-trace (its header says so) rather than a history."""
    try:
        header = orjson.loads(text.split("\n", 1)[0])
    except orjson.JSONDecodeError:
        return False
    return type(header) is dict and header.get("format") == "raft-trace"


def _trace_history(name: str, text: str) -> list[Record]:
    """The history lines a raft-trace carries (``{"type": "history", "op": ...}``), the
    trace read whole (its events are checked against the schema, not judged)."""
    from checker.reader import MemorySource, TraceFile  # the reader imports checker.history

    trace = TraceFile(MemorySource(text.splitlines(), name), 0)
    for _ in trace.batches():
        pass
    if not trace.history:
        raise TraceError(name, 0, None, "a raft-trace that carries no history lines "
                         '({"type": "history", "op": ...}): nothing to check for '
                         "linearizability; raftref check checks its events")
    return trace.history


def _same_run(headers: list[tuple[str, dict[str, Any]]]) -> None:
    """The headers of files checked together agree on what makes them one run."""
    if len(headers) < 2:
        return
    first_name, first = headers[0]
    for name, header in headers[1:]:
        for key in ("implementation", "model", "seed", "options"):
            if header.get(key) != first.get(key):
                raise TraceError(name, 1, key, f"differs from {first_name}'s: files checked "
                                 "together must be one run")

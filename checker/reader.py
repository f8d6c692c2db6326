"""Streaming reader: lines -> validated events, one file or several merged.

Each line is read with a bounded ``readline`` (a line longer than :data:`MAX_LINE` bytes is an
error, found without loading it whole), parsed with orjson, validated against the schema
(checker/schema.py) and checked for what the schema cannot say: a header first and only first,
``seq`` strictly increasing, every node named in an event listed in the header. Any problem is
a :class:`TraceError` naming file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from checker.errors import SchemaViolation, TraceError
from checker.schema import validate_event, validate_line
from checker.state import Loc

MAX_LINE = 1 << 20  # 1 MiB: no raft-trace line needs more

Event = tuple[dict[str, Any], Loc]


class Source:
    """One input (a file or lines in memory): its display name and the text of its lines."""

    def __init__(self, name: str) -> None:
        self.name = name

    def text(self, line: int, offset: int) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Release what :meth:`text` opened."""


class FileSource(Source):
    """A trace file; lines cited in a report are read back by byte offset."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(str(path))
        self.path = Path(path)
        self._handle: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        try:
            return open(self.path, "rb")  # noqa: SIM115 - closed by the reader
        except IsADirectoryError:
            raise TraceError(self.name, 0, None, "is a directory, not a trace file") from None
        except OSError as exc:
            raise TraceError(self.name, 0, None, f"cannot read: {exc.strerror or exc}") from None

    def text(self, line: int, offset: int) -> str:
        try:
            if self._handle is None:
                self._handle = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            self._handle.seek(offset)
            raw = self._handle.readline(MAX_LINE)
        except OSError:
            return "(line no longer readable)"
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class MemorySource(Source):
    """Lines given in memory (tests, small traces): kept so that violations can cite them."""

    def __init__(self, lines: Iterable[str | bytes], name: str) -> None:
        super().__init__(name)
        self.lines: list[bytes] = [
            (ln.encode("utf-8", "surrogatepass") if isinstance(ln, str) else bytes(ln))
            for ln in lines
        ]

    def text(self, line: int, offset: int) -> str:
        return self.lines[line - 1].decode("utf-8", "replace").rstrip("\r\n")


def _file_lines(source: FileSource) -> Iterator[tuple[bytes, int, int, bool]]:
    """(raw line, line number, byte offset, ends with newline), bounded by MAX_LINE."""
    f = source.open()
    try:
        offset = 0
        line_no = 0
        readline = f.readline
        while True:
            try:
                raw = readline(MAX_LINE + 1)
            except OSError as exc:
                raise TraceError(source.name, line_no + 1, None,
                                 f"cannot read: {exc.strerror or exc}") from None
            if not raw:
                return
            line_no += 1
            if raw[-1:] != b"\n":
                if len(raw) > MAX_LINE:
                    raise TraceError(source.name, line_no, None,
                                     f"line longer than {MAX_LINE} bytes (1 MiB): not a "
                                     "raft-trace line")
                yield raw, line_no, offset, False
                return
            yield raw, line_no, offset, True
            offset += len(raw)
    finally:
        f.close()


def _memory_lines(source: MemorySource) -> Iterator[tuple[bytes, int, int, bool]]:
    last = len(source.lines)
    for i, raw in enumerate(source.lines, start=1):
        if len(raw) > MAX_LINE + 1:
            raise TraceError(source.name, i, None,
                             f"line longer than {MAX_LINE} bytes (1 MiB): not a raft-trace line")
        yield raw, i, 0, i < last or raw.endswith(b"\n")


def _json_error(name: str, raw: bytes, line_no: int, complete: bool,
                exc: orjson.JSONDecodeError) -> TraceError:
    """Say what is wrong with a line that is not JSON, in words a user can act on."""
    try:
        raw.decode("utf-8")
        text = True
    except UnicodeDecodeError:
        text = False
    if not text or b"\x00" in raw:
        return TraceError(name, line_no, None,
                          "binary data or invalid UTF-8: a raft-trace is UTF-8 JSON Lines text")
    if not raw.strip():
        return TraceError(name, line_no, None, "blank line: every line must be one JSON object")
    if not complete:
        return TraceError(name, line_no, None,
                          "truncated last line: the file ends in the middle of a JSON value "
                          f"({exc.msg})")
    return TraceError(name, line_no, None, f"invalid JSON: {exc.msg} (column {exc.colno})")


class TraceFile:
    """One trace file (or in-memory trace): its header, then its validated events in order."""

    def __init__(self, source: Source, index: int) -> None:
        self.source = source
        self.index = index
        self.events_read = 0
        if isinstance(source, FileSource):
            self._lines = _file_lines(source)
        else:
            assert isinstance(source, MemorySource)
            self._lines = _memory_lines(source)
        self.header = self._read_header()
        self.nodes: frozenset[str] = frozenset(self.header["nodes"])

    @property
    def name(self) -> str:
        return self.source.name

    def _parse(self, raw: bytes, line_no: int, complete: bool) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _json_error(self.name, raw, line_no, complete, exc) from None

    def _read_header(self) -> dict[str, Any]:
        first = next(self._lines, None)
        if first is None:
            raise TraceError(self.name, 0, None,
                             "empty file: a raft-trace starts with a header line")
        raw, line_no, _, complete = first
        obj = self._parse(raw, line_no, complete)
        try:
            kind = validate_line(obj)
        except SchemaViolation as exc:
            if isinstance(obj, dict) and obj.get("type") == "event":
                raise TraceError(self.name, 1, None, "missing header: line 1 must be the header "
                                 '{"type": "header", "format": "raft-trace", ...}') from None
            raise TraceError(self.name, line_no, exc.field, exc.message) from None
        if kind != "header":
            raise TraceError(self.name, 1, None, "missing header: line 1 must be the header "
                             '{"type": "header", "format": "raft-trace", ...}')
        return obj

    def events(self) -> Iterator[Event]:
        """Validated events with their locations; raises TraceError on the first bad line."""
        name = self.name
        nodes = self.nodes
        index = self.index
        loads = orjson.loads
        last_seq = -1
        for raw, line_no, offset, complete in self._lines:
            try:
                ev = loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _json_error(name, raw, line_no, complete, exc) from None
            try:
                if type(ev) is dict and ev.get("type") == "event":
                    validate_event(ev)
                else:
                    validate_line(ev)
                    raise TraceError(name, line_no, None,
                                     "duplicate header: only line 1 may be a header")
            except SchemaViolation as exc:
                raise TraceError(name, line_no, exc.field, exc.message) from None
            seq = ev["seq"]
            if seq <= last_seq:
                raise TraceError(name, line_no, "seq",
                                 f"must increase within a file: {seq} follows {last_seq}")
            last_seq = seq
            if ev["node"] not in nodes:
                raise TraceError(name, line_no, "node", _not_member(ev["node"], nodes))
            vote = ev["vote"]
            if vote is not None and vote not in nodes:
                raise TraceError(name, line_no, "vote", _not_member(vote, nodes))
            if "msg" in ev or "candidate" in ev or "leader" in ev:
                _check_named_nodes(ev, nodes, name, line_no)
            self.events_read += 1
            yield ev, (index, line_no, offset)


def _not_member(node: str, nodes: frozenset[str]) -> str:
    return f'names node "{node}", which is not in the header\'s nodes {sorted(nodes)}'


def _check_named_nodes(ev: dict[str, Any], nodes: frozenset[str], name: str, line: int) -> None:
    kind = ev["kind"]
    if kind in ("send", "receive", "drop"):
        msg = ev["msg"]
        for end in ("from", "to"):
            if msg[end] not in nodes:
                raise TraceError(name, line, f"msg.{end}", _not_member(msg[end], nodes))
    elif kind == "vote" and ev["candidate"] not in nodes:
        raise TraceError(name, line, "candidate", _not_member(ev["candidate"], nodes))
    elif kind == "propose" and ev.get("leader") is not None and ev["leader"] not in nodes:
        raise TraceError(name, line, "leader", _not_member(ev["leader"], nodes))


def merge(files: list[TraceFile], is_sent: Callable[[str], bool]) -> Iterator[Event]:
    """All events of several files, in an order that keeps each file's own order and puts every
    receive after its send (spec/PROPERTIES.md, "Order without a global clock").

    A file waits while its next event receives a message not yet sent. When every unfinished
    file waits, the first one's receive goes ahead anyway: it has no send, which MessageRules
    reports.
    """
    if len(files) == 1:
        yield from files[0].events()
        return
    streams = [f.events() for f in files]
    heads: list[Event | None] = [next(s, None) for s in streams]
    while True:
        progressed = False
        for k, stream in enumerate(streams):
            head = heads[k]
            while head is not None:
                ev = head[0]
                if ev["kind"] == "receive" and not is_sent(ev["msg"]["id"]):
                    break
                yield head
                head = next(stream, None)
                progressed = True
            heads[k] = head
        waiting = [k for k, h in enumerate(heads) if h is not None]
        if not waiting:
            return
        if not progressed:
            k = waiting[0]
            yield heads[k]  # type: ignore[misc]
            heads[k] = next(streams[k], None)

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
from checker.schema import FAST_KIND, ROLES, validate_event, validate_line
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
        self.lines: list[bytes] = []
        for ln in lines:
            raw = ln.encode("utf-8", "surrogatepass") if isinstance(ln, str) else bytes(ln)
            self.lines.append(raw if raw.endswith(b"\n") else raw + b"\n")

    def readline(self) -> Callable[[int], bytes]:
        """A ``readline(limit)`` over the lines (each returned whole; the reader checks size)."""
        it = iter(self.lines)
        return lambda limit: next(it, b"")

    def text(self, line: int, offset: int) -> str:
        return self.lines[line - 1].decode("utf-8", "replace").rstrip("\r\n")


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
        self._handle: IO[bytes] | None = None
        if isinstance(source, FileSource):
            self._handle = source.open()
            self._readline: Callable[[int], bytes] = self._handle.readline
        else:
            assert isinstance(source, MemorySource)
            self._readline = source.readline()
        self._line_no = 0
        self._offset = 0
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise
        self.nodes: frozenset[str] = frozenset(self.header["nodes"])

    @property
    def name(self) -> str:
        return self.source.name

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _read(self) -> tuple[bytes, bool]:
        """The next raw line and whether it ends with a newline (b"" at the end)."""
        try:
            raw = self._readline(MAX_LINE + 1)
        except OSError as exc:
            raise TraceError(self.name, self._line_no + 1, None,
                             f"cannot read: {exc.strerror or exc}") from None
        if not raw:
            return raw, True
        self._line_no += 1
        complete = raw[-1:] == b"\n"
        if not complete and len(raw) > MAX_LINE:
            raise TraceError(self.name, self._line_no, None,
                             f"line longer than {MAX_LINE} bytes (1 MiB): not a raft-trace line")
        return raw, complete

    def _read_header(self) -> dict[str, Any]:
        raw, complete = self._read()
        if not raw:
            raise TraceError(self.name, 0, None,
                             "empty file: a raft-trace starts with a header line")
        self._offset = len(raw)
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _json_error(self.name, raw, 1, complete, exc) from None
        try:
            kind = validate_line(obj)
        except SchemaViolation as exc:
            if isinstance(obj, dict) and obj.get("type") == "event":
                kind = "event"
            else:
                raise TraceError(self.name, 1, exc.field, exc.message) from None
        if kind != "header":
            raise TraceError(self.name, 1, None, "missing header: line 1 must be the header "
                             '{"type": "header", "format": "raft-trace", ...}')
        return obj

    def events(self) -> Iterator[Event]:
        """Validated events with their locations; raises TraceError on the first bad line."""
        for batch in self.batches():
            yield from batch

    def batches(self, size: int = 512) -> Iterator[list[Event]]:
        """Validated events with their locations, ``size`` at a time (fewer generator switches
        than one at a time); raises TraceError on the first bad line."""
        try:
            yield from self._batches(size)
        finally:
            self.close()

    def _batches(self, size: int) -> Iterator[list[Event]]:
        name = self.name
        nodes = self.nodes
        index = self.index
        loads = orjson.loads
        readline = self._readline
        limit = MAX_LINE + 1
        line_no = self._line_no
        offset = self._offset
        last_seq = -1
        roles = ROLES
        fast_kind = FAST_KIND
        batch: list[Event] = []
        append = batch.append
        left = size
        while True:
            try:
                raw = readline(limit)
            except OSError as exc:
                raise TraceError(name, line_no + 1, None,
                                 f"cannot read: {exc.strerror or exc}") from None
            if not raw:
                if batch:
                    yield batch
                return
            line_no += 1
            if raw[-1] != 10 and len(raw) > MAX_LINE:  # no b"\n" within the limit
                raise TraceError(name, line_no, None,
                                 f"line longer than {MAX_LINE} bytes (1 MiB): not a raft-trace "
                                 "line")
            try:
                ev = loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _json_error(name, raw, line_no, raw[-1] == 10, exc) from None
            # The fast path (checker/schema.py, fast_event), inlined: most lines end here.
            try:
                seq = ev["seq"]
                vote = ev["vote"]
                term = ev["term"]
                commit = ev["commit"]
                ok = (ev["type"] == "event" and type(seq) is int and seq > last_seq
                      and ev["node"] in nodes and (vote is None or vote in nodes)
                      and type(term) is int and term >= 0 and type(commit) is int
                      and commit >= 0 and ev["role"] in roles
                      and ("note" not in ev or type(ev["note"]) is str)
                      and fast_kind[ev["kind"]](ev, nodes))
            except (KeyError, TypeError):
                ok = False
            if not ok:
                self._slow_validate(ev, line_no, last_seq)
                seq = ev["seq"]  # possibly normalised (3.0 -> 3)
            last_seq = seq
            append((ev, (index, line_no, offset)))
            offset += len(raw)
            left -= 1
            if not left:
                yield batch
                batch = []
                append = batch.append
                left = size

    def _slow_validate(self, ev: Any, line_no: int, last_seq: int) -> None:
        """The full validator and the reader's own checks, raising the precise error."""
        name = self.name
        nodes = self.nodes
        try:
            if type(ev) is not dict or ev.get("type") != "event":
                validate_line(ev)
                raise TraceError(name, line_no, None,
                                 "duplicate header: only line 1 may be a header")
            validate_event(ev)
        except SchemaViolation as exc:
            raise TraceError(name, line_no, exc.field, exc.message) from None
        seq = ev["seq"]
        if seq <= last_seq:
            raise TraceError(name, line_no, "seq",
                             f"must increase within a file: {seq} follows {last_seq}")
        if ev["node"] not in nodes:
            raise TraceError(name, line_no, "node", _not_member(ev["node"], nodes))
        vote = ev["vote"]
        if vote is not None and vote not in nodes:
            raise TraceError(name, line_no, "vote", _not_member(vote, nodes))
        _check_named_nodes(ev, nodes, name, line_no)


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
    elif kind == "config":
        for field in ("voters", "outgoing"):
            for i, member in enumerate(ev.get(field, ())):
                if member not in nodes:
                    raise TraceError(name, line, f"{field}[{i}]", _not_member(member, nodes))


def merge(files: list[TraceFile], is_sent: Callable[[str], bool]) -> Iterator[Event]:
    """All events of several files, in an order that keeps each file's own order and puts every
    receive after its send (spec/PROPERTIES.md, "Order without a global clock").

    A file waits while its next event receives a message not yet sent. When every unfinished
    file waits, the first one's receive goes ahead anyway: it has no send, which MessageRules
    reports.
    """
    if len(files) == 1:
        return (event for batch in files[0].batches() for event in batch)
    return _merge_many(files, is_sent)


def _merge_many(files: list[TraceFile], is_sent: Callable[[str], bool]) -> Iterator[Event]:
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

"""Streaming reader: lines -> validated events, one file or several merged.

Each line is read with a bounded ``readline`` (a line longer than :data:`MAX_LINE` bytes is an
error, found without loading it whole) and decoded straight into its event class
(checker/events.py), which validates it against the schema in C. A line that fails is parsed
again as plain JSON and explained by ``jsonschema`` (checker/schema.py), which names the
offending field (or accepts it, when msgspec was stricter than the schema). Then what the
schema cannot say: a header first and only first, ``seq`` strictly increasing, every node named
in an event listed in the header. Any problem is a :class:`TraceError` naming file, line and
field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate, count, repeat
from operator import add
from typing import IO, Any

import msgspec
import orjson

from checker.errors import TraceError
from checker.events import (
    EVENT_CLASSES,
    UNSET,
    AnyEvent,
    Config,
    Drop,
    Propose,
    Receive,
    Send,
    Vote,
    decode_event,
    decode_event_lines,
    decode_header,
    from_json,
)
from checker.schema import explain
from checker.sources import (
    MAX_LINE,
    READ_ERRORS,
    FileSource,
    MemorySource,
    Source,
    StdinSource,
    read_error,
)
from checker.state import Loc

__all__ = ["CHUNK", "MAX_LINE", "Event", "FileSource", "MemorySource", "Source", "StdinSource",
           "TraceFile", "merge", "named_nodes_ok", "redecode"]

CHUNK = 1 << 16  # bytes read at a time

Event = tuple[AnyEvent, Loc]
MESSAGE_EVENTS = frozenset((Send, Receive, Drop))
#: Event classes that name no node beyond node and vote.
PLAIN_EVENTS = frozenset(cls for cls in EVENT_CLASSES if cls not in (Vote, Propose, Config))


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
        self._handle: IO[bytes] | None = source.open()
        self._readline: Callable[[int], bytes] = self._handle.readline
        self._read_chunk: Callable[[int], bytes] = self._handle.read
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
        except READ_ERRORS as exc:
            raise TraceError(self.name, self._line_no + 1, None,
                             read_error(exc)) from None
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
        if type(obj) is dict and obj.get("type") == "event":
            raise TraceError(self.name, 1, None, "missing header: line 1 must be the header "
                             '{"type": "header", "format": "raft-trace", ...}')
        try:
            decode_header(raw)
            valid = len(set(obj["nodes"])) == len(obj["nodes"])  # uniqueItems
        except (msgspec.DecodeError, UnicodeDecodeError):
            valid = False
        if not valid:
            violation = explain(obj)
            if violation is not None:
                raise TraceError(self.name, 1, violation.field, violation.message)
        return obj

    def events(self) -> Iterator[Event]:
        """Validated events with their locations; raises TraceError on the first bad line."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Event]]:
        """Validated events with their locations, one batch per chunk read (a few hundred
        lines; fewer generator switches than one at a time); raises TraceError on the first bad
        line."""
        try:
            yield from self._batches()
        finally:
            self.close()

    def _batches(self) -> Iterator[list[Event]]:
        name = self.name
        nodes = self.nodes
        index = self.index
        decode = decode_event
        decode_lines = decode_event_lines
        decode_error = (msgspec.DecodeError, UnicodeDecodeError)  # bad UTF-8 raises the latter
        read = self._read_chunk
        line_no = self._line_no
        offset = self._offset
        last_seq = -1
        messages = MESSAGE_EVENTS
        plain = PLAIN_EVENTS
        carry = b""  # the start of a line that the last chunk cut
        done = False
        while not done:
            # Lines come from chunks split in C (no Python call per line for reading); only the
            # unfinished last line is carried over, and it may not grow past MAX_LINE.
            try:
                chunk = read(CHUNK)
            except READ_ERRORS as exc:
                raise TraceError(name, line_no + 1, None,
                                 read_error(exc)) from None
            if chunk:
                data = carry + chunk if carry else chunk
                lines = data.split(b"\n")
                # Only a carried line can be long: the first one, or the new carry.
                long = 1 if carry and len(lines[0]) > MAX_LINE else 0
                carry = lines.pop()
                if long or len(carry) > MAX_LINE:
                    raise TraceError(name, line_no + (long or len(lines) + 1), None,
                                     f"line longer than {MAX_LINE} bytes (1 MiB): not a "
                                     "raft-trace line")
                # The chunk's whole lines decoded in one call; if any line fails (or is blank:
                # decode_lines skips those), each line is decoded on its own below instead.
                whole = len(data) - len(carry)
                try:
                    decoded: Iterable[AnyEvent | None] = decode_lines(memoryview(data)[:whole])
                    if len(decoded) != len(lines):  # type: ignore[arg-type]
                        decoded = repeat(None)
                except decode_error:
                    decoded = repeat(None)
            else:
                done = True
                if not carry:
                    break
                lines = [carry]  # the last line has no newline: fine if it is whole JSON
                decoded = repeat(None)
                whole = len(carry)
            # Each line's location (file, line number, byte offset), computed in C.
            locs = zip(repeat(index), count(line_no + 1),
                       accumulate(map(add, map(len, lines), repeat(1)), initial=offset))
            line_no += len(lines)
            offset += whole
            batch: list[Event] = []
            append = batch.append
            for raw, ev, loc in zip(lines, decoded, locs):  # noqa: B905 - decoded may be endless
                # Decoding into the event's class validates it against the schema
                # (checker/events.py); what is left is the reader's own rules: seq increases,
                # nodes are the header's.
                if ev is None:
                    try:
                        ev = decode(raw)
                    except decode_error:
                        ev = self._slow_event(raw, loc[1], last_seq, not done)
                vote = ev.vote
                cls = type(ev)
                if cls in messages:
                    msg = ev.msg
                    ok = msg.from_ in nodes and msg.to in nodes
                else:
                    ok = cls in plain or named_nodes_ok(ev, nodes)
                if not (ok and ev.seq > last_seq and ev.node in nodes
                        and (vote is None or vote in nodes)):
                    ev = self._slow_event(raw, loc[1], last_seq, not done)
                last_seq = ev.seq
                append((ev, loc))
            if batch:
                yield batch

    def _slow_event(self, raw: bytes, line_no: int, last_seq: int, complete: bool) -> AnyEvent:
        """A line the typed decoder refused (or that breaks a reader rule): parsed as plain
        JSON and converted (an integral float where the schema says integer is accepted); what
        will not convert is explained by ``jsonschema``, naming the field. Then the reader's
        own rules, which raise the precise error."""
        name = self.name
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _json_error(name, raw, line_no, complete, exc) from None
        try:
            ev = from_json(obj)
        except msgspec.ValidationError as exc:
            violation = explain(obj)
            if violation is not None:
                raise TraceError(name, line_no, violation.field, violation.message) from None
            if obj.get("type") != "event":
                raise TraceError(name, line_no, None,
                                 "duplicate header: only line 1 may be a header") from None
            raise TraceError(name, line_no, None,  # the schema accepts it; the typed model not
                             f"valid but not supported by this checker: {exc}") from None
        if isinstance(ev, Config):  # uniqueItems, which the typed model cannot say
            violation = explain(obj)
            if violation is not None:
                raise TraceError(name, line_no, violation.field, violation.message)
        self._check_rules(ev, line_no, last_seq)
        return ev

    def _check_rules(self, ev: AnyEvent, line_no: int, last_seq: int) -> None:
        """The reader's own rules, raising the precise error: seq increases, every node named
        is the header's."""
        name = self.name
        nodes = self.nodes
        if ev.seq <= last_seq:
            raise TraceError(name, line_no, "seq",
                             f"must increase within a file: {ev.seq} follows {last_seq}")
        named: list[tuple[str, Any]] = [("node", ev.node), ("vote", ev.vote)]
        if isinstance(ev, Send | Receive | Drop):
            named += [("msg.from", ev.msg.from_), ("msg.to", ev.msg.to)]
        elif isinstance(ev, Vote):
            named.append(("candidate", ev.candidate))
        elif isinstance(ev, Propose):
            named.append(("leader", ev.leader))
        elif isinstance(ev, Config):
            for field in ("voters", "outgoing"):
                members = getattr(ev, field)
                if members is not UNSET:
                    named += [(f"{field}[{i}]", m) for i, m in enumerate(members)]
        for field, node in named:
            if node is not None and node is not UNSET and node not in nodes:
                raise TraceError(name, line_no, field, _not_member(node, nodes))


def redecode(raw: bytes) -> AnyEvent | None:
    """A line read again (one that was accepted before) as its event; None if it no longer
    is a valid event line."""
    try:
        return decode_event(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass
    try:
        return from_json(orjson.loads(raw))
    except (orjson.JSONDecodeError, msgspec.ValidationError):
        return None


def named_nodes_ok(ev: AnyEvent, nodes: frozenset[str]) -> bool:
    """The node ids a vote, propose or config event names are the header's (and a config's
    voters distinct, which the typed model cannot say); False sends the line to the slow path."""
    if isinstance(ev, Vote):
        return ev.candidate in nodes
    if isinstance(ev, Propose):
        leader = ev.leader
        return leader is UNSET or leader is None or leader in nodes
    if isinstance(ev, Config):
        outgoing = ev.outgoing if ev.outgoing is not UNSET else []
        return all(m in nodes for m in ev.voters + outgoing) and (
            len(set(ev.voters)) == len(ev.voters) and len(set(outgoing)) == len(outgoing))
    return True


def _not_member(node: str, nodes: frozenset[str]) -> str:
    return f'names node "{node}", which is not in the header\'s nodes {sorted(nodes)}'


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
                if type(ev) is Receive and not is_sent(ev.msg.id):
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

"""Streaming reader: lines -> validated events, one file or several merged.

The file is read in chunks of :data:`CHUNK` bytes (a line longer than :data:`MAX_LINE` bytes is
an error, found without loading it whole). The whole lines of a chunk are decoded in one typed
call (checker/events.py), which validates them against the schema in C. What the schema cannot
say, the reader's own rules (``seq`` strictly increasing within a file, every node an event
names listed in the header), is checked one of two ways:

- for the checking loop (:meth:`TraceFile.chunks` with ``rules=False``), the chunk is decoded
  into the cluster's model (``model_for``), whose node ids can only be the header's, so the
  decoder checks membership; ``seq`` is checked by one C-level pass over the chunk, and a chunk
  that breaks it is given up to the event before the offending one, and the error raised
  after it, so that the loop still meets the errors of earlier lines first;
- for everyone else (:meth:`TraceFile.batches`, the store and the report), into the
  contract's own classes, and the rules are checked on the whole chunk at once, by C-level
  passes over its events.

Only when something in a chunk fails are its lines taken one at a time (checker/slow_path.py),
to accept what msgspec is stricter about than the schema or to raise the precise
:class:`TraceError` naming file, line and field. No Python code runs per event here.

An event's location is one int (:func:`checker.state.make_loc`: the file's index and the line
number); where each chunk starts is kept (:attr:`TraceFile.starts`), which is enough to read a
cited line back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate, chain, compress, islice, repeat, starmap
from operator import add, attrgetter, gt
from typing import IO, Any

import msgspec
import orjson

from checker.errors import TraceError
from checker.events import (
    EVENT_CLASSES,
    GENERIC,
    AnyEvent,
    Config,
    Drop,
    Model,
    Propose,
    Receive,
    Send,
    Vote,
    decode_header,
    model_for,
)
from checker.history.ops import Record
from checker.schema import explain
from checker.slow_path import (
    DECODE_ERRORS,
    check_rules,
    event_line,
    history_line,
    json_error,
    named_nodes_ok,
)
from checker.sources import (
    MAX_LINE,
    READ_ERRORS,
    FileSource,
    MemorySource,
    Source,
    StdinSource,
    read_error,
)
from checker.state import LINE_BITS, Loc

__all__ = ["CHUNK", "MAX_LINE", "Event", "FileSource", "Located", "MemorySource", "Source",
           "StdinSource", "TraceFile", "merge", "merge_pairs", "named_nodes_ok"]

CHUNK = 1 << 16  # bytes read at a time

#: Where an event is, as :meth:`TraceFile.batches` and :func:`merge` give it: (index of its
#: file, 1-based line number, byte offset of the line).
Located = tuple[int, int, int]
Event = tuple[AnyEvent, Located]
MESSAGE_EVENTS = frozenset((Send, Receive, Drop))
#: Event classes that name no node beyond node and vote.
PLAIN_EVENTS = frozenset(cls for cls in EVENT_CLASSES if cls not in (Vote, Propose, Config))
_SEQ, _NODE, _VOTE = attrgetter("seq"), attrgetter("node"), attrgetter("vote")
_MSG, _FROM, _TO = attrgetter("msg"), attrgetter("from_"), attrgetter("to")


class TraceFile:
    """One trace file (or in-memory trace): its header, then its validated events in order."""

    def __init__(self, source: Source, index: int) -> None:
        self.source = source
        self.index = index
        self._handle: IO[bytes] | None = source.open()
        self._readline: Callable[[int], bytes] = self._handle.readline
        self._read_chunk: Callable[[int], bytes] = self._handle.read
        self._line_no = 0
        #: The history lines read so far (``{"type": "history", "op": ...}``), as records
        #: of checker/history (their ``where``: this file and line), in the file's order.
        self.history: list[Record] = []
        self._offset = 0
        #: (line number, byte offset) where each chunk read starts: enough to find any line.
        self.starts: list[tuple[int, int]] = [(1, 0)]
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise
        self.nodes: frozenset[str] = frozenset(self.header["nodes"])
        #: The typed model whose node ids are this file's nodes (what :meth:`chunks` decodes
        #: into with ``rules=False``).
        self.model = model_for(self.nodes)

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
            raise json_error(self.name, raw, 1, complete, exc) from None
        if type(obj) is dict and obj.get("type") in ("event", "history"):
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
        """Validated events with their locations as (file, line, offset), one batch per chunk
        read; raises TraceError on the first bad line."""
        try:
            for evs, first, lines, offset in self._chunks(True, True):
                yield _located(self.index, evs, first, lines, offset)  # type: ignore[arg-type]
        finally:
            self.close()

    #: Called with each batch as :meth:`batches` gives it, while :meth:`chunks` reads
    #: (the store writes its rows from them as the checker reads).
    sink: Callable[[list[Event]], None] | None = None

    def chunks(self, rules: bool = True) -> Iterator[tuple[list[AnyEvent], Loc]]:
        """Validated events, one list per chunk read, each with the location of its first event
        (the others follow line by line: ``enumerate(events, loc)``); raises TraceError on the
        first bad line. ``rules=False``: decoded into the cluster's model (node ids checked
        by the decoder); a chunk whose ``seq`` goes back is given up to the event before,
        then the error is raised."""
        sink = self.sink
        try:
            for evs, first, lines, offset in self._chunks(sink is not None, rules):
                if sink is not None:
                    sink(_located(self.index, evs, first, lines, offset))  # type: ignore[arg-type]
                yield evs, (self.index << LINE_BITS) | first
        finally:
            self.close()

    def pairs(self, rules: bool = True) -> Iterator[tuple[Loc, AnyEvent]]:
        """(location, event) for every event, flattened in C (``rules``: as :meth:`chunks`)."""
        return chain.from_iterable(starmap(enumerate, self.chunks(rules)))

    def lines_at(self, lines: Iterable[int]) -> dict[int, str]:
        """The text of each of these lines (numbers), by number, read back."""
        return self.source.lines_at(sorted(set(lines)), self.starts)

    def _chunks(self, with_lines: bool, rules: bool
                ) -> Iterator[tuple[list[AnyEvent], int, list[bytes] | None, int]]:
        """(events, line number of the first, the lines if ``with_lines``, byte offset of the
        first) per chunk read."""
        name = self.name
        # The reader's rules on the cluster's model are the decoder's (node ids), but for seq,
        # checked below; on the contract's model they are checked here.
        model = GENERIC if rules else self.model
        decode_lines = model.decode_lines
        read = self._read_chunk
        line_no = self._line_no
        offset = self._offset
        last_seq = -1
        carry = b""  # the start of a line that the last chunk cut
        while True:
            try:
                chunk = read(CHUNK)
            except READ_ERRORS as exc:
                raise TraceError(name, line_no + 1, None, read_error(exc)) from None
            complete = bool(chunk)
            if chunk:
                data = carry + chunk if carry else chunk
                end = data.rfind(b"\n") + 1  # the chunk's whole lines end there
                # Only a carried line can be long: the first one, or the new carry.
                if carry and data.find(b"\n", 0, MAX_LINE + 1) == -1 and (
                        end or len(data) > MAX_LINE):
                    raise _too_long(name, line_no + 1)
                carry = data[end:]
                if not end:
                    continue
                count = data.count(b"\n", 0, end)
                if len(carry) > MAX_LINE:
                    raise _too_long(name, line_no + count + 1)
                try:  # decode_lines skips blank lines: then the counts differ
                    whole = memoryview(data)[:end]
                    if not data.isascii():  # raw entry data is not checked for UTF-8 in C
                        str(whole, "utf-8")
                    evs = decode_lines(whole)
                    fast = len(evs) == count and (not rules or self._valid(evs, last_seq))
                except DECODE_ERRORS:
                    fast = False
            elif carry:  # the last line has no newline: fine if it is whole JSON
                data, end, count, fast, carry = carry, len(carry), 1, False, b""
            else:
                return
            first = line_no + 1
            lines = None
            if with_lines or not fast:
                lines = data[:end].split(b"\n")
                if complete:
                    lines.pop()  # after the last newline
            segments = None
            if not fast:
                evs, segments = self._line_by_line(  # type: ignore[arg-type]
                    lines, first, last_seq if rules else -1, complete, model)
            self.starts.append((first, offset))
            for part_evs, head, part, at in (segments if segments is not None
                                              else ((evs, first, lines, 0),)):
                if not rules:
                    bad = _seq_break(part_evs, last_seq)
                    if bad is not None:  # the events before it first (see the module's doc)
                        if bad:
                            yield part_evs[:bad], head, part, offset + at
                        before = part_evs[bad - 1].seq if bad else last_seq
                        check_rules(name, self.nodes, part_evs[bad], head + bad, before)
                        raise AssertionError("seq checked twice, differently")
                last_seq = part_evs[-1].seq
                yield part_evs, head, part, offset + at
            line_no += count
            offset += end

    def _valid(self, evs: list[AnyEvent], last_seq: int) -> bool:
        """Whether a chunk's events keep the reader's rules, in C-level passes over them."""
        nodes = self.nodes
        seqs = list(map(_SEQ, evs))
        if seqs[0] <= last_seq or not all(map(gt, islice(seqs, 1, None), seqs)):
            return False
        if not (nodes.issuperset(map(_NODE, evs))
                and nodes.issuperset(filter(None, map(_VOTE, evs)))):
            return False
        types = list(map(type, evs))
        msgs = list(map(_MSG, compress(evs, map(MESSAGE_EVENTS.__contains__, types))))
        if not (nodes.issuperset(map(_FROM, msgs)) and nodes.issuperset(map(_TO, msgs))):
            return False
        if PLAIN_EVENTS.issuperset(types):
            return True
        return all(named_nodes_ok(ev, nodes) for ev in evs if type(ev) not in PLAIN_EVENTS)

    def _line_by_line(self, lines: list[bytes], first: int, last_seq: int,
                      complete: bool, model: Model
                      ) -> tuple[list[AnyEvent], list[Segment] | None]:
        """A chunk whose fast path failed, one line at a time (checker/slow_path.py);
        ``last_seq`` -1: seq is left to the caller. Its history lines are set aside
        (:attr:`history`); when there were any, the events come as well in segments of
        consecutive lines (events, first line, lines, byte offset from the chunk's start),
        since the lines of a chunk's events must follow one another."""
        out = []
        last = len(lines) - 1
        history = []
        for k, raw in enumerate(lines):
            if b'"history"' in raw:  # a cheap test first: most lines are events
                record = history_line(self.name, raw, first + k)
                if record is not None:
                    self.history.append(record)
                    history.append(k)
                    continue
            ev = event_line(self.name, self.nodes, raw, first + k, last_seq,
                            complete or k < last, model)
            if last_seq >= 0:
                last_seq = ev.seq
            out.append(ev)
        return out, (_segments(out, lines, first, history) if history else None)


#: Events of consecutive lines: (events, first line number, their lines, relative offset).
Segment = tuple[list[AnyEvent], int, list[bytes], int]


def _segments(evs: list[AnyEvent], lines: list[bytes], first: int, skipped: list[int]
              ) -> list[Segment]:
    """The events of a chunk's ``lines`` less the ``skipped`` ones (by index), in runs of
    consecutive lines; offsets count from the chunk's start (the caller adds it)."""
    out: list[Segment] = []
    starts = list(accumulate((len(raw) + 1 for raw in lines), initial=0))
    used = 0
    bounds = [-1, *skipped, len(lines)]
    for before, after in zip(bounds, bounds[1:], strict=False):
        start = before + 1
        if after > start:  # lines start..after-1 are events
            out.append((evs[used:used + after - start], first + start, lines[start:after],
                        starts[start]))
            used += after - start
    return out


def _seq_break(evs: list[AnyEvent], last_seq: int) -> int | None:
    """The index of the first event whose ``seq`` does not increase (after ``last_seq``), or
    None; one C-level pass when there is none."""
    seqs = list(map(_SEQ, evs))
    if seqs[0] > last_seq and all(map(gt, islice(seqs, 1, None), seqs)):
        return None
    previous = last_seq
    for k, seq in enumerate(seqs):
        if seq <= previous:
            return k
        previous = seq
    raise AssertionError("no seq going back")


def _too_long(name: str, line: int) -> TraceError:
    return TraceError(name, line, None,
                      f"line longer than {MAX_LINE} bytes (1 MiB): not a raft-trace line")


def _located(index: int, evs: list[AnyEvent], first: int, lines: list[bytes],
             offset: int) -> list[Event]:
    """A chunk's events with their (file, line, offset), as :meth:`TraceFile.batches` gives
    them."""
    offsets = accumulate(map(add, map(len, lines), repeat(1)), initial=offset)
    return list(zip(evs, zip(repeat(index), range(first, first + len(evs)), offsets,
                             strict=False), strict=True))


def merge(files: list[TraceFile], is_sent: Callable[[str], bool]) -> Iterator[Event]:
    """All events of several files with their (file, line, offset), in an order that keeps each
    file's own order and puts every receive after its send (spec/PROPERTIES.md, "Order without
    a global clock").

    A file waits while its next event receives a message not yet sent. When every unfinished
    file waits, the first one's receive goes ahead anyway: it has no send, which MessageRules
    reports.
    """
    if len(files) == 1:
        return (event for batch in files[0].batches() for event in batch)
    return _merge([f.events() for f in files], is_sent, 0, Receive)


def merge_pairs(files: list[TraceFile], is_sent: Callable[[str], bool], rules: bool = True
                ) -> Iterator[tuple[Loc, AnyEvent]]:
    """:func:`merge` for the checking loop: (location, event) pairs (``rules``: as
    :meth:`TraceFile.chunks`)."""
    if len(files) == 1:
        return files[0].pairs(rules)
    receive = Receive if rules else files[0].model[Receive]
    return _merge([f.pairs(rules) for f in files], is_sent, 1, receive)


def _merge(streams: list[Iterator[Any]], is_sent: Callable[[str], bool], at: int,
           receive: type[Receive]) -> Iterator[Any]:
    """The merge of :func:`merge` over streams whose items hold their event at ``at`` (of
    a model whose receive class is ``receive``)."""
    heads: list[Any] = [next(s, None) for s in streams]
    while True:
        progressed = False
        for k, stream in enumerate(streams):
            head = heads[k]
            while head is not None:
                ev = head[at]
                if type(ev) is receive and not is_sent(ev.msg.id):
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
            yield heads[k]
            heads[k] = next(streams[k], None)

"""The embedded events, as compact columns: a few bytes an event, so that a page can hold a
whole run of hundreds of thousands of events.

Format (read back by report.js's decoder; docs/report.md describes it for other tools):

- ``node``, ``kind``: one number per event (indexes into the page's ``nodes`` and ``kinds``).
- ``a``: the kind's own fields, flat, in a layout fixed by the kind (``ARGS`` below); a
  message's fields follow ``MESSAGE_ARGS``. A receive or drop whose send is embedded carries
  only ``-(distance back to the send)`` instead of the message (plus a drop's reason).
- ``term``, ``role``, ``commit``: only where a node's value changes, as pairs (events since the
  previous pair of the same column, new value): the rest repeat the node's previous event.
- ``seqx``: pairs (events since the previous pair, seq) where seq is not the previous seq of
  the same file plus one; ``line0``: each file's first embedded line (each later event of a
  file is on the next line); ``file``: one number per event, left out when each file holds one
  node's events (``nodeFile`` says which).
- Strings (message id prefixes, drop reasons) are interned in ``strings``; a message id that
  ends in digits is stored as its prefix and the difference from the last number with that
  prefix (``2k``: prefix k plus a number follows; ``2k+1``: the whole id is string k).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from typing import Any

from checker.events import (
    UNSET,
    AnyEvent,
    Append,
    AppendEntries,
    AppendEntriesResponse,
    Apply,
    Commit,
    Config,
    Drop,
    Message,
    Propose,
    ReadIndex,
    ReadIndexResponse,
    Receive,
    RequestVote,
    RequestVoteResponse,
    Send,
    Start,
    Truncate,
    Vote,
)
from checker.schema import KINDS, MESSAGE_TYPES

ROLES = ("follower", "candidate", "leader")
ROLE_IX = {r: i for i, r in enumerate(ROLES)}
TYPE_IX = {RequestVote: 0, RequestVoteResponse: 1, AppendEntries: 2, AppendEntriesResponse: 3,
           ReadIndex: 4, ReadIndexResponse: 5}
#: The fields each kind stores in ``a`` (the page's decoder reads the same table).
ARGS = {"start": ["restart", "log"], "vote": ["candidate"], "append": ["index", "entries"],
        "truncate": ["index"], "commit": ["index"], "apply": ["index"],
        "propose": ["accepted", "index"], "config": ["voters...", "outgoing..."],
        "send": ["msg..."], "receive": ["msg..."], "drop": ["msg...", "reason"]}
MESSAGE_ARGS = {"*": ["type", "from", "to", "term - event term", "id..."],
                "RequestVote": ["last_log_index", "last_log_term"],
                "RequestVoteResponse": ["granted"],
                "AppendEntries": ["prev_log_index", "prev_log_term", "entries", "leader_commit"],
                "AppendEntriesResponse": ["success", "match_index"],
                # read_index -1 and reason -1 when absent; reason is a string's index
                "ReadIndex": [], "ReadIndexResponse": ["success", "read_index", "reason"]}
SENT_GENERATION = 1 << 14  # sends remembered for linking (two generations: bounded memory)
_NUMBERED_ID = re.compile(r"(.*?)(0|[1-9][0-9]{0,15})\Z", re.S)
_KIND_IX = {k: i for i, k in enumerate(KINDS)}
assert list(TYPE_IX) and all(t.TYPE == MESSAGE_TYPES[i] for t, i in TYPE_IX.items())


class Columns:
    """Appends embedded events one at a time (``add``) and writes them as JSON (``parts``)."""

    def __init__(self, nodes: list[str], files: int) -> None:
        self.node_ix = {n: i for i, n in enumerate(nodes)}
        self.node = array("H")
        self.kind = array("B")
        self.file = array("H")
        # Trace numbers are unbounded: these start as 64-bit arrays and become lists only if a
        # value does not fit (``_widen``).
        self.a: Any = array("q")
        self.term: Any = array("q")
        self.role = array("q")
        self.commit: Any = array("q")
        self.seqx: Any = array("q")
        self.line0 = [0] * files
        self.strings: list[str] = []
        self._string_ix: dict[str, int] = {}
        self._id_last: dict[int, int] = {}
        self._last = [[None, None, None] for _ in nodes]  # term, role, commit per node
        self._last_seq: list[int | None] = [None] * files
        self._at = [0, 0, 0, 0]  # index of the last pair in term, role, commit, seqx
        self._sent: dict[str, tuple[int, Message]] = {}
        self._sent_old: dict[str, tuple[int, Message]] = {}

    def __len__(self) -> int:
        return len(self.kind)

    def intern(self, text: str) -> int:
        ix = self._string_ix.get(text)
        if ix is None:
            ix = self._string_ix[text] = len(self.strings)
            self.strings.append(text)
        return ix

    def add(self, ev: AnyEvent, n: int, loc: tuple[int, int, int]) -> None:
        """Append event ``ev`` of node index ``n`` read at ``loc``."""
        i = len(self.kind)
        f = loc[0]
        self.node.append(n)
        self.kind.append(_KIND_IX[ev.KIND])
        self.file.append(f)
        last_seq = self._last_seq[f]
        if last_seq is None:
            self.line0[f] = loc[1]
        if last_seq is None or ev.seq != last_seq + 1:
            self._pair(3, i, ev.seq)
        self._last_seq[f] = ev.seq
        last = self._last[n]
        if ev.term != last[0]:
            last[0] = ev.term
            self._pair(0, i, ev.term)
        role = ROLE_IX[ev.role]
        if role != last[1]:
            last[1] = role
            self._pair(1, i, role)
        if ev.commit != last[2]:
            last[2] = ev.commit
            self._pair(2, i, ev.commit)
        args = self._args(ev, i)
        if args:
            size = len(self.a)
            try:
                self.a.extend(args)
            except OverflowError:
                del self.a[size:]
                self._widen()
                self.a.extend(args)

    def _pair(self, col: int, i: int, value: int) -> None:
        target = (self.term, self.role, self.commit, self.seqx)[col]
        try:
            target.append(i - self._at[col])
            target.append(value)
        except OverflowError:
            del target[len(target) - len(target) % 2:]
            self._widen()
            (self.term, self.role, self.commit, self.seqx)[col].extend((i - self._at[col], value))
        self._at[col] = i

    def _widen(self) -> None:
        self.a, self.term, self.commit, self.seqx = (
            list(self.a), list(self.term), list(self.commit), list(self.seqx))

    def _args(self, ev: AnyEvent, i: int) -> tuple[int, ...]:
        cls = type(ev)
        if cls is Send:
            msg = ev.msg
            self._remember(msg, i)
            return self._message(msg, ev.term)
        if cls is Receive or cls is Drop:
            msg = ev.msg
            sent = self._sent.get(msg.id) or self._sent_old.get(msg.id)
            head = ((sent[0] - i,) if sent is not None and sent[1] == msg  # type: ignore[union-attr]
                    else self._message(msg, ev.term))
            if cls is Receive:
                return head
            reason = ev.reason  # type: ignore[union-attr]
            return (*head, -1 if reason is UNSET else self.intern(reason))
        if cls is Commit or cls is Apply or cls is Truncate:
            return (ev.index,)  # type: ignore[union-attr]
        if cls is Append:
            return (ev.index, len(ev.entries))  # type: ignore[union-attr]
        if cls is Start:
            return (int(ev.restart), len(ev.log))  # type: ignore[union-attr]
        if cls is Vote:
            return (self.node_ix[ev.candidate],)  # type: ignore[union-attr]
        if cls is Propose:
            index = ev.index  # type: ignore[union-attr]
            return (int(ev.accepted), -1 if index is UNSET or index is None else index)  # type: ignore[union-attr]
        if cls is Config:
            ix = self.node_ix
            outgoing = [] if ev.outgoing is UNSET else ev.outgoing  # type: ignore[union-attr]
            return (len(ev.voters), *(ix[v] for v in ev.voters),  # type: ignore[union-attr]
                    len(outgoing), *(ix[v] for v in outgoing))
        return ()

    def _remember(self, msg: Message, i: int) -> None:
        if len(self._sent) >= SENT_GENERATION:
            self._sent_old, self._sent = self._sent, {}
        self._sent[msg.id] = (i, msg)

    def _message(self, msg: Message, term: int) -> tuple[int, ...]:
        ix = self.node_ix
        cls = type(msg)
        head = (TYPE_IX[cls], ix[msg.from_], ix[msg.to], msg.term - term, *self._id(msg.id))
        if cls is AppendEntries:
            return (*head, msg.prev_log_index, msg.prev_log_term, len(msg.entries),  # type: ignore[attr-defined]
                    msg.leader_commit)  # type: ignore[attr-defined]
        if cls is AppendEntriesResponse:
            return (*head, int(msg.success), msg.match_index)  # type: ignore[attr-defined]
        if cls is RequestVote:
            return (*head, msg.last_log_index, msg.last_log_term)  # type: ignore[attr-defined]
        if cls is ReadIndex:
            return head
        if cls is ReadIndexResponse:
            index, reason = msg.read_index, msg.reason  # type: ignore[attr-defined]
            return (*head, int(msg.success), -1 if index is UNSET else index,  # type: ignore[attr-defined]
                    -1 if reason is UNSET else self.intern(reason))
        return (*head, int(msg.granted))  # type: ignore[attr-defined]

    def _id(self, text: str) -> tuple[int, ...]:
        m = _NUMBERED_ID.match(text)
        if m is None:
            return (2 * self.intern(text) + 1,)
        k = self.intern(m.group(1))
        number = int(m.group(2))
        before = self._id_last.get(k, 0)
        self._id_last[k] = number
        return (2 * k, number - before)

    def node_files(self) -> list[int] | None:
        """Each node's file when every file holds the events of one node only (then the
        per-event file column is left out), else None."""
        owner: dict[int, int] = {}
        for n, f in zip(self.node, self.file, strict=True):
            if owner.setdefault(n, f) != f:
                return None
        if len(set(owner.values())) != len(owner):
            return None
        return [owner.get(n, -1) for n in range(len(self._last))]

    def parts(self) -> Iterator[str]:
        """The columns as one JSON object, in pieces (a page of 10^6 events is tens of MB:
        it is never built as one list of Python objects)."""
        node_files = self.node_files() if len(self.line0) > 1 else [0] * len(self._last)
        yield '{"node":'
        yield from numbers(self.node)
        yield ',"kind":'
        yield from numbers(self.kind)
        for name in ("a", "term", "role", "commit", "seqx"):
            yield f',"{name}":'
            yield from numbers(getattr(self, name))
        yield f',"line0":{_list(self.line0)}'
        if node_files is None:
            yield ',"file":'
            yield from numbers(self.file)
        else:
            yield f',"nodeFile":{_list(node_files)}'
        yield "}"


def _list(values: list[int]) -> str:
    return "[" + ",".join(map(str, values)) + "]"


def numbers(values: Any, chunk: int = 1 << 16) -> Iterator[str]:
    """A JSON array of integers, a chunk at a time."""
    yield "["
    for k in range(0, len(values), chunk):
        yield ("," if k else "") + ",".join(map(str, values[k:k + chunk]))
    yield "]"

"""Peer messages checked at the edge, before they reach the node.

A line from a peer is decoded with the trace contract's own typed mirror of
spec/trace.schema.json (checker/events.py, ``AnyMessage``: exact types, required fields,
known ``type`` tags only, nothing negative), then held to what the contract leaves open but a
node cannot live with: every term and index at most 2**63-1 (a node that adopted a larger term
could not write its next step: orjson stops at 64 bits, and its term + 1 would overflow the
peers' bound too), entry data that orjson can write back (numbers within 64 bits, nesting it
accepts), and the fields a kind needs to be turned into the node's message (``reply_to`` on a
response, ``read_index`` or ``reason`` on a ReadIndexResponse). Whatever fails is a
:class:`Refused` naming the field; the node never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import orjson

from checker import events as contract
from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    Message,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
)

NUMBER_MAX = 2**63 - 1

_decode = msgspec.json.Decoder(contract.AnyMessage).decode


@dataclass(frozen=True)
class Refused:
    """Why a line is not a message this node accepts: the field (``$``: the line itself)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"field {self.field}: {self.reason}"


def decode_peer_message(line: bytes) -> Message | Refused:
    """The message ``line`` carries, or why it is refused. Never raises."""
    try:
        msg = _decode(line)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = text.rpartition(" - at `")
        if where[1]:
            return Refused(_field(where[2].rstrip("`")), where[0])
        return Refused("$", text)
    except msgspec.DecodeError as exc:
        return Refused("$", f"not one JSON object: {exc}")
    for name in ("term", "last_log_index", "last_log_term", "prev_log_index", "prev_log_term",
                 "leader_commit", "match_index", "conflict_term", "conflict_index",
                 "read_index"):
        value = getattr(msg, name, None)
        if isinstance(value, int) and value > NUMBER_MAX:
            return Refused(name, f"must be at most 2**63-1, got {value}")
    try:
        return _convert(msg)
    except _Missing as exc:
        return Refused(str(exc), f"required in a {msg.TYPE}")
    except _BadEntry as exc:
        return exc.args[0]


class _Missing(Exception):
    pass


class _BadEntry(Exception):
    pass


def _field(path: str) -> str:
    """msgspec's ``$.entries[0].term`` as ``entries[0].term``."""
    return path.removeprefix("$.").removeprefix("$") or "$"


def _reply_to(msg: contract.Message) -> str:
    if msg.reply_to is msgspec.UNSET:
        raise _Missing("reply_to")
    return msg.reply_to


def _entry(i: int, entry: contract.Entry) -> Entry:
    if entry.term > NUMBER_MAX:
        raise _BadEntry(Refused(f"entries[{i}].term", f"must be at most 2**63-1, "
                                                      f"got {entry.term}"))
    try:
        orjson.dumps(entry.data)  # what the trace and the disk will have to write
    except orjson.JSONEncodeError as exc:
        raise _BadEntry(Refused(f"entries[{i}].data", f"cannot be stored: {exc}")) from None
    return Entry(entry.term, entry.data)


def _convert(msg: contract.Message) -> Message:
    common = (msg.id, msg.from_, msg.to, msg.term)
    if isinstance(msg, contract.RequestVote):
        return RequestVote(*common, msg.last_log_index, msg.last_log_term)
    if isinstance(msg, contract.RequestVoteResponse):
        return RequestVoteResponse(*common, _reply_to(msg), msg.granted)
    if isinstance(msg, contract.AppendEntries):
        return AppendEntries(*common, msg.prev_log_index, msg.prev_log_term,
                             tuple(_entry(i, e) for i, e in enumerate(msg.entries)),
                             msg.leader_commit)
    if isinstance(msg, contract.AppendEntriesResponse):
        conflict_term = None if msg.conflict_term is msgspec.UNSET else msg.conflict_term
        conflict_index = 0 if msg.conflict_index is msgspec.UNSET else msg.conflict_index
        return AppendEntriesResponse(*common, _reply_to(msg), msg.success, msg.match_index,
                                     conflict_term, conflict_index)
    if isinstance(msg, contract.ReadIndex):
        return ReadIndex(*common)
    assert isinstance(msg, contract.ReadIndexResponse)
    if msg.success:
        if msg.read_index is msgspec.UNSET:
            raise _Missing("read_index")
        return ReadIndexResponse(*common, _reply_to(msg), True, msg.read_index)
    if msg.reason is msgspec.UNSET:
        raise _Missing("reason")
    return ReadIndexResponse(*common, _reply_to(msg), False, 0, msg.reason)

"""The reader's slow path: one line the fast path would not take, taken or refused precisely.

The fast path (checker/reader.py) decodes a chunk of lines in one typed call and checks the
reader's own rules on the whole chunk at once. When anything in a chunk fails, its lines come
here one at a time: a line the typed decoder refuses is parsed as plain JSON and converted
(an integral float where the schema says integer is accepted, checker/events.py); what will not
convert is explained by ``jsonschema`` (checker/schema.py), naming the field. Then the reader's
rules (``seq`` increases, every node named is the header's), which raise the precise error.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from checker.errors import TraceError
from checker.events import (
    GENERIC,
    UNSET,
    AnyEvent,
    Config,
    Drop,
    Model,
    Propose,
    Receive,
    Send,
    Vote,
    decode_history_line,
)
from checker.history.jsonl import embedded_op
from checker.history.ops import Record
from checker.schema import explain

DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError)  # bad UTF-8 raises the latter


def json_error(name: str, raw: bytes, line_no: int, complete: bool,
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


def history_line(name: str, raw: bytes, line_no: int) -> Record | None:
    """Line ``line_no`` as the record of the client history it carries when it is a history
    line (``{"type": "history", "op": {...}}``), None when it is not one; a TraceError naming
    the line and field (``op.f``, say) when it is one that is unusable."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # event_line says what is wrong
    if type(obj) is not dict or obj.get("type") != "history":
        return None
    try:
        decode_history_line(raw)
    except DECODE_ERRORS:
        violation = explain(obj)
        if violation is not None:
            raise TraceError(name, line_no, violation.field, violation.message) from None
    return embedded_op(obj["op"], name, line_no)


def event_line(name: str, nodes: frozenset[str], raw: bytes, line_no: int, last_seq: int,
               complete: bool, model: Model = GENERIC) -> AnyEvent:
    """Line ``line_no`` of file ``name`` as an event of ``model`` that keeps the reader's
    rules (``last_seq`` -1: its seq is left to the caller), or a TraceError naming the line
    and field. ``complete``: the line ends with a newline."""
    try:
        if not raw.isascii():  # raw entry data is not checked for UTF-8 by the decoder
            raw.decode("utf-8")
        ev = model.decode(raw)
    except DECODE_ERRORS:
        ev = _converted(name, nodes, raw, line_no, complete, model)
    if not named_nodes_ok(ev, nodes):  # a config's voters twice: uniqueItems
        violation = explain(orjson.loads(raw))
        if violation is not None:
            raise TraceError(name, line_no, violation.field, violation.message)
    check_rules(name, nodes, ev, line_no, last_seq)
    return ev


def _converted(name: str, nodes: frozenset[str], raw: bytes, line_no: int, complete: bool,
               model: Model) -> AnyEvent:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise json_error(name, raw, line_no, complete, exc) from None
    try:
        return model.from_json(obj)  # type: ignore[return-value]
    except msgspec.ValidationError as exc:
        violation = explain(obj)
        if violation is not None:
            raise TraceError(name, line_no, violation.field, violation.message) from None
        if obj.get("type") != "event":
            raise TraceError(name, line_no, None,
                             "duplicate header: only line 1 may be a header") from None
        if model is not GENERIC:  # a node the cluster's model does not know: which one?
            try:
                ev = GENERIC.from_json(obj)
            except msgspec.ValidationError:
                pass
            else:
                check_rules(name, nodes, ev, line_no, -1)  # type: ignore[arg-type]
        raise TraceError(name, line_no, None,  # the schema accepts it; the typed model not
                         f"valid but not supported by this checker: {exc}") from None


def check_rules(name: str, nodes: frozenset[str], ev: AnyEvent, line_no: int,
                last_seq: int) -> None:
    """The reader's own rules, raising the precise error: seq increases, every node named
    is the header's."""
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
            raise TraceError(name, line_no, field, not_member(node, nodes))


def named_nodes_ok(ev: AnyEvent, nodes: frozenset[str]) -> bool:
    """The node ids a vote, propose or config event names are the header's (and a config's
    voters distinct, which the typed model cannot say)."""
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


def not_member(node: str, nodes: frozenset[str]) -> str:
    return f'names node "{node}", which is not in the header\'s nodes {sorted(nodes)}'

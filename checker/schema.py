"""The full validator for one raft-trace line, hand-compiled from spec/trace.schema.json.

The reader decodes most lines typed (checker/events.py), which validates them in C; a line the
typed decoder refuses comes here, for the precise error naming the offending field, or for the
few valid lines the typed model is stricter about. Running ``jsonschema`` instead would cost tens
of microseconds a line; this module applies the same rules (the schema's keywords, with JSON
Schema draft 2020-12 semantics) in a few microseconds.
tests/test_checker_schema.py cross-checks it against
``jsonschema.Draft202012Validator`` on valid and mutated lines, so the two accept and reject the
same lines. Two draft 2020-12 details matter for that agreement:

- ``"type": "integer"`` accepts a float with an integral value (``3.0``) and rejects booleans; the
  validator accepts such floats and rewrites them in place as ints, so later code sees one type.
- ``const``/``enum`` compare without Python's ``True == 1``.

Every function raises :class:`SchemaViolation` naming the JSON path of the first offending value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from checker.errors import SchemaViolation

ROLES = frozenset(("follower", "candidate", "leader"))
KINDS = ("start", "crash", "timeout", "term", "vote", "role", "append", "truncate", "commit",
         "apply", "send", "receive", "drop", "propose", "config")
MESSAGE_TYPES = ("RequestVote", "RequestVoteResponse", "AppendEntries", "AppendEntriesResponse")
EVENT_REQUIRED = ("type", "seq", "node", "kind", "term", "role", "vote", "commit")
HEADER_REQUIRED = ("type", "format", "version", "implementation", "nodes")
MESSAGE_REQUIRED = ("type", "id", "from", "to", "term")
_EVENT_REQUIRED_SET = frozenset(EVENT_REQUIRED)
_MESSAGE_REQUIRED_SET = frozenset(MESSAGE_REQUIRED)
_ENTRY_KEYS = frozenset(("term", "data"))


def load_schema() -> dict[str, Any]:
    """The schema shipped with the package (a copy of spec/trace.schema.json)."""
    text = resources.files("checker").joinpath("trace.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def describe(value: Any) -> str:
    """A short, JSON-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return f'the string "{value[:40]}"' + ("..." if len(value) > 40 else "")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    return "an object"


# ------------------------------------------------------------------ keyword-level helpers


def _integer(value: Any, path: str, minimum: int | None) -> int:
    """``type: integer`` (+ ``minimum``); returns the value as an int."""
    if type(value) is not int:
        if type(value) is float and value.is_integer():
            value = int(value)
        else:
            raise SchemaViolation(path, f"must be an integer, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise SchemaViolation(path, f"must be >= {minimum}, got {value}")
    return value


def _string(value: Any, path: str, min_length: int = 0, max_length: int | None = None) -> str:
    if type(value) is not str:
        raise SchemaViolation(path, f"must be a string, got {describe(value)}")
    if len(value) < min_length:
        raise SchemaViolation(path, "must not be empty" if min_length == 1
                              else f"must have at least {min_length} characters")
    if max_length is not None and len(value) > max_length:
        raise SchemaViolation(path, f"must have at most {max_length} characters")
    return value


def _node_id(value: Any, path: str) -> str:
    """``$defs/nodeId``."""
    if type(value) is str and 0 < len(value) <= 64:
        return value
    return _string(value, path, 1, 64)


def _boolean(value: Any, path: str) -> None:
    if value is not True and value is not False:
        raise SchemaViolation(path, f"must be true or false, got {describe(value)}")


def _object(value: Any, path: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise SchemaViolation(path, f"must be an object, got {describe(value)}")
    return value


def _require(obj: dict[str, Any], names: tuple[str, ...], prefix: str) -> None:
    for name in names:
        if name not in obj:
            raise SchemaViolation(prefix + name, "is required but missing")


def _enum(value: Any, allowed: tuple[str, ...] | frozenset[str], path: str) -> str:
    if type(value) is not str or value not in allowed:
        choices = ", ".join(sorted(allowed))
        raise SchemaViolation(path, f"must be one of {choices}; got {describe(value)}")
    return value


def _int_field(obj: dict[str, Any], name: str, prefix: str, minimum: int | None) -> None:
    """Validate ``obj[name]`` as an integer, normalising an integral float in place."""
    value = obj[name]
    if type(value) is not int or (minimum is not None and value < minimum):
        obj[name] = _integer(value, prefix + name, minimum)


def _entry(value: Any, path: str) -> None:
    """``$defs/entry``: exactly ``term`` (a term) and ``data`` (anything)."""
    if type(value) is not dict:
        raise SchemaViolation(path, f"must be an object, got {describe(value)}")
    if value.keys() != _ENTRY_KEYS:
        _require(value, ("term", "data"), path + ".")
        extra = sorted(set(value) - _ENTRY_KEYS)[0]
        raise SchemaViolation(f"{path}.{extra}", "is not allowed in an entry (only term, data)")
    term = value["term"]
    if type(term) is not int or term < 0:
        value["term"] = _integer(term, path + ".term", 0)


def _entries(value: Any, path: str, min_items: int = 0) -> None:
    """``$defs/entries``."""
    if type(value) is not list:
        raise SchemaViolation(path, f"must be an array, got {describe(value)}")
    if len(value) < min_items:
        raise SchemaViolation(path, f"must hold at least {min_items} entry")
    for i, entry in enumerate(value):
        _entry(entry, f"{path}[{i}]")


# ------------------------------------------------------------------ $defs/header


def validate_header(obj: dict[str, Any]) -> None:
    """``$defs/header``."""
    _require(obj, HEADER_REQUIRED, "")
    if obj["format"] != "raft-trace" or type(obj["format"]) is not str:
        raise SchemaViolation("format", f'must be "raft-trace", got {describe(obj["format"])}')
    version = obj["version"]
    if type(version) not in (int, float) or version != 1:
        raise SchemaViolation("version", f"must be 1, got {describe(version)}")
    impl = _object(obj["implementation"], "implementation")
    _require(impl, ("name", "version"), "implementation.")
    _string(impl["name"], "implementation.name", 1)
    _string(impl["version"], "implementation.version")
    nodes = obj["nodes"]
    if type(nodes) is not list:
        raise SchemaViolation("nodes", f"must be an array, got {describe(nodes)}")
    if not nodes:
        raise SchemaViolation("nodes", "must name at least one node")
    for i, node in enumerate(nodes):
        _node_id(node, f"nodes[{i}]")
    if len(set(nodes)) != len(nodes):
        raise SchemaViolation("nodes", "must not name a node twice")
    if "seed" in obj:
        _int_field(obj, "seed", "", None)
    if "clock" in obj:
        _enum(obj["clock"], ("logical", "per-process"), "clock")
    if "options" in obj:
        _object(obj["options"], "options")


# ------------------------------------------------------------------ $defs/message


def validate_message(msg: Any, path: str) -> None:
    """``$defs/message`` and its per-type ``if``/``then`` rules."""
    if type(msg) is not dict:
        raise SchemaViolation(path, f"must be an object, got {describe(msg)}")
    prefix = path + "."
    if not _MESSAGE_REQUIRED_SET <= msg.keys():
        _require(msg, MESSAGE_REQUIRED, prefix)
    kind = _enum(msg["type"], MESSAGE_TYPES, prefix + "type")
    _string(msg["id"], prefix + "id", 1)
    _node_id(msg["from"], prefix + "from")
    _node_id(msg["to"], prefix + "to")
    _int_field(msg, "term", prefix, 0)
    if "reply_to" in msg:
        _string(msg["reply_to"], prefix + "reply_to", 1)
    if kind == "AppendEntries":
        _require(msg, ("prev_log_index", "prev_log_term", "entries", "leader_commit"), prefix)
        _int_field(msg, "prev_log_index", prefix, 0)
        _int_field(msg, "prev_log_term", prefix, 0)
        _entries(msg["entries"], prefix + "entries")
        _int_field(msg, "leader_commit", prefix, 0)
    elif kind == "AppendEntriesResponse":
        _require(msg, ("success", "match_index"), prefix)
        _boolean(msg["success"], prefix + "success")
        _int_field(msg, "match_index", prefix, 0)
        if "conflict_term" in msg and msg["conflict_term"] is not None:
            _int_field(msg, "conflict_term", prefix, 0)
        if "conflict_index" in msg:
            _int_field(msg, "conflict_index", prefix, 0)
    elif kind == "RequestVote":
        _require(msg, ("last_log_index", "last_log_term"), prefix)
        _int_field(msg, "last_log_index", prefix, 0)
        _int_field(msg, "last_log_term", prefix, 0)
    else:
        _require(msg, ("granted",), prefix)
        _boolean(msg["granted"], prefix + "granted")


# ------------------------------------------------------------------ $defs/event, per kind


def _kind_start(ev: dict[str, Any]) -> None:
    _require(ev, ("log", "restart"), "")
    _entries(ev["log"], "log")
    _boolean(ev["restart"], "restart")


def _kind_vote(ev: dict[str, Any]) -> None:
    _require(ev, ("candidate",), "")
    _node_id(ev["candidate"], "candidate")


def _kind_role(ev: dict[str, Any]) -> None:
    if "previous" in ev:
        _enum(ev["previous"], ROLES, "previous")


def _kind_append(ev: dict[str, Any]) -> None:
    _require(ev, ("index", "entries"), "")
    _int_field(ev, "index", "", 1)
    _entries(ev["entries"], "entries", 1)


def _kind_index(ev: dict[str, Any]) -> None:
    """truncate and commit: an ``index`` >= 1."""
    if "index" not in ev:
        raise SchemaViolation("index", "is required but missing")
    index = ev["index"]
    if type(index) is not int or index < 1:
        ev["index"] = _integer(index, "index", 1)


def _kind_apply(ev: dict[str, Any]) -> None:
    _kind_index(ev)
    if "entry" not in ev:
        raise SchemaViolation("entry", "is required but missing")
    _entry(ev["entry"], "entry")


def _kind_message(ev: dict[str, Any]) -> None:
    if "msg" not in ev:
        raise SchemaViolation("msg", "is required but missing")
    validate_message(ev["msg"], "msg")


def _kind_drop(ev: dict[str, Any]) -> None:
    _kind_message(ev)
    if "reason" in ev:
        _string(ev["reason"], "reason")


def _kind_propose(ev: dict[str, Any]) -> None:
    _require(ev, ("data", "accepted"), "")
    _boolean(ev["accepted"], "accepted")
    if "index" in ev:
        _int_field(ev, "index", "", 0)
    if "leader" in ev and ev["leader"] is not None:
        _node_id(ev["leader"], "leader")


def _node_set(value: Any, path: str, min_items: int) -> None:
    """An array of node ids, each once (``uniqueItems``)."""
    if type(value) is not list:
        raise SchemaViolation(path, f"must be an array of node ids, got {describe(value)}")
    for i, node in enumerate(value):
        _node_id(node, f"{path}[{i}]")
    if len(value) < min_items:
        raise SchemaViolation(path, f"must name at least {min_items} node")
    if len(set(value)) != len(value):
        raise SchemaViolation(path, "must not name a node twice")


def _kind_config(ev: dict[str, Any]) -> None:
    """config: the voters after a membership change, and the outgoing voters while joint."""
    if "voters" not in ev:
        raise SchemaViolation("voters", "is required but missing")
    _node_set(ev["voters"], "voters", 1)
    if "outgoing" in ev:
        _node_set(ev["outgoing"], "outgoing", 0)


def _kind_plain(ev: dict[str, Any]) -> None:
    """crash, timeout, term: no fields beyond the common ones."""


KIND_RULES: dict[str, Callable[[dict[str, Any]], None]] = {
    "start": _kind_start, "crash": _kind_plain, "timeout": _kind_plain, "term": _kind_plain,
    "vote": _kind_vote, "role": _kind_role, "append": _kind_append, "truncate": _kind_index,
    "commit": _kind_index, "apply": _kind_apply, "send": _kind_message,
    "receive": _kind_message, "drop": _kind_drop, "propose": _kind_propose,
    "config": _kind_config,
}


def validate_event(ev: dict[str, Any]) -> None:
    """``$defs/event``: the common state fields, then the rule for its ``kind``."""
    if not _EVENT_REQUIRED_SET <= ev.keys():
        _require(ev, EVENT_REQUIRED, "")
    seq = ev["seq"]
    if type(seq) is not int or seq < 0:
        ev["seq"] = _integer(seq, "seq", 0)
    node = ev["node"]
    if type(node) is not str or not 0 < len(node) <= 64:
        _node_id(node, "node")
    term = ev["term"]
    if type(term) is not int or term < 0:
        ev["term"] = _integer(term, "term", 0)
    role = ev["role"]
    if type(role) is not str or role not in ROLES:
        _enum(role, ROLES, "role")
    vote = ev["vote"]
    if vote is not None and (type(vote) is not str or not 0 < len(vote) <= 64):
        if type(vote) is not str:
            raise SchemaViolation("vote", f"must be a node id or null, got {describe(vote)}")
        _node_id(vote, "vote")
    commit = ev["commit"]
    if type(commit) is not int or commit < 0:
        ev["commit"] = _integer(commit, "commit", 0)
    if "note" in ev:
        _string(ev["note"], "note")
    kind = ev["kind"]
    rule = KIND_RULES.get(kind) if type(kind) is str else None
    if rule is None:
        _enum(kind, KINDS, "kind")
        return
    rule(ev)


def validate_line(obj: Any) -> str:
    """The schema's top level (``oneOf`` header, event); returns "header" or "event"."""
    if type(obj) is not dict:
        raise SchemaViolation("(line)", f"must be a JSON object, got {describe(obj)}")
    kind = obj.get("type")
    if kind == "event" and type(kind) is str:
        validate_event(obj)
        return "event"
    if kind == "header" and type(kind) is str:
        validate_header(obj)
        return "header"
    if "type" not in obj:
        raise SchemaViolation("type", "is required but missing")
    raise SchemaViolation("type", f'must be "header" or "event", got {describe(kind)}')

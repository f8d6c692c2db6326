"""The history contract's reader: JSON Lines, a header then one invocation or completion a line
(spec/history.schema.json; docs/histories.md explains it).

Every line is checked field by field, so that an error names the field and says what was
expected (``error: FILE:LINE: field F: message``); tests/test_history_contract.py keeps these
checks and the schema in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from checker.errors import TraceError
from checker.history.ops import KINDS, TYPES, Record, Where, freeze

FORMAT = "raft-history"
VERSION = 1
MODELS = ("register", "cas-register", "kv")
HEADER_FIELDS = {"type", "format", "version", "implementation", "model", "seed", "options"}
MAX_LINE = 1 << 20
OP_FIELDS = {"type", "index", "process", "f", "key", "value", "time", "error"}


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "an array" if isinstance(v, list) else "an object"


class _Line:
    """One line being checked: raises a TraceError naming its file, line and field."""

    def __init__(self, path: str, number: int) -> None:
        self.path, self.number = path, number

    def fail(self, field: str | None, message: str) -> TraceError:
        return TraceError(self.path, self.number, field, message)

    def integer(self, obj: dict[str, Any], name: str, required: bool = True) -> int | None:
        v = obj.get(name)
        if v is None and not required and name not in obj:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.fail(name, f"must be an integer, got {_kind(v)}"
                            if name in obj else "is required")
        if v < 0:
            raise self.fail(name, f"must be >= 0, got {v}")
        return v


def read_header(obj: Any, line: _Line) -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.get("type") != "header":
        raise line.fail("type", "line 1 must be the header ({\"type\": \"header\", \"format\": "
                        f"\"{FORMAT}\", ...}}")
    for name in obj:
        if name not in HEADER_FIELDS:
            raise line.fail(name, "is not a header field (allowed: "
                            f"{', '.join(sorted(HEADER_FIELDS))})")
    if obj.get("format") != FORMAT:
        got = orjson.dumps(obj.get("format")).decode()
        raise line.fail("format", f"must be \"{FORMAT}\", got {got}")
    if obj.get("version") != VERSION:
        raise line.fail("version", f"must be {VERSION}, got {obj.get('version')!r}")
    impl = obj.get("implementation")
    if not isinstance(impl, dict) or not isinstance(impl.get("name"), str) or not impl["name"]:
        raise line.fail("implementation", "must be an object with a non-empty string name")
    if "version" in impl and not isinstance(impl["version"], str):
        raise line.fail("implementation.version", "must be a string")
    if "model" in obj and obj["model"] not in MODELS:
        raise line.fail("model", f"must be one of {', '.join(MODELS)}, got {obj['model']!r}")
    if "seed" in obj:
        line.integer(obj, "seed")
    if "options" in obj and not isinstance(obj["options"], dict):
        raise line.fail("options", "must be an object")
    return obj


def read_op(obj: Any, line: _Line) -> Record:
    if not isinstance(obj, dict):
        raise line.fail(None, f"must be a JSON object, got {_kind(obj)}")
    kind = obj.get("type")
    if kind == "header":
        raise line.fail("type", "a header is allowed on line 1 only")
    for name in obj:
        if name not in OP_FIELDS:
            raise line.fail(name, "is not a field of an operation (allowed: "
                            f"{', '.join(sorted(OP_FIELDS))})")
    if kind not in TYPES:
        raise line.fail("type", f"must be one of {', '.join(TYPES)}, got "
                        f"{orjson.dumps(kind).decode()}" if "type" in obj else "is required")
    index = line.integer(obj, "index")
    process = obj.get("process")
    if not ((isinstance(process, int) and not isinstance(process, bool) and process >= 0)
            or (isinstance(process, str) and process)):
        raise line.fail("process", "must be an integer >= 0 or a non-empty string, got "
                        f"{_kind(process)}" if "process" in obj else "is required")
    f = obj.get("f")
    if f not in KINDS:
        raise line.fail("f", f"must be one of {', '.join(KINDS)}, got "
                        f"{orjson.dumps(f).decode()}" if "f" in obj else "is required")
    key = obj.get("key")
    if key is not None and (isinstance(key, bool) or not isinstance(key, str | int)):
        raise line.fail("key", f"must be a string or an integer, got {_kind(key)}")
    time = line.integer(obj, "time", required=False)
    assert index is not None
    return Record(kind, process, f, key, freeze(obj.get("value")), index, time,
                  Where(line.path, line.number))


def embedded_op(obj: Any, path: str, number: int) -> Record:
    """The record of the operation a trace's history line carries (its ``op``, line
    ``number`` of the trace ``path``); an error names the field inside it (``op.f``)."""
    try:
        return read_op(obj, _Line(path, number))
    except TraceError as exc:
        field = f"op.{exc.field}" if exc.field else "op"
        raise TraceError(exc.path, exc.line, field, exc.message) from None


def read_jsonl(path: str, data: bytes) -> tuple[dict[str, Any], list[Record]]:
    """The header and the records of a history file in the contract's format."""
    header: dict[str, Any] | None = None
    records: list[Record] = []
    lines = data.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()  # the final newline
    for number, raw in enumerate(lines, 1):
        line = _Line(path, number)
        if len(raw) > MAX_LINE:
            raise line.fail(None, f"line longer than {MAX_LINE} bytes: not a history line")
        if not raw.strip():
            raise line.fail(None, "blank line: a history has one header or operation on "
                            "every line")
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise line.fail(None, f"not JSON ({exc})") from None
        if header is None:
            header = read_header(obj, line)
        else:
            records.append(read_op(obj, line))
    if header is None:
        raise TraceError(path, 0, None, "empty file: a history starts with its header")
    return header, records


def read_objects(source: str, objects: Iterable[Any]) -> tuple[dict[str, Any] | None,
                                                                list[Record]]:
    """The header (if the first object is one) and the records of a history already parsed
    (each object as one line of a file would be); errors name ``source`` and the object's
    number from 1, as a file's line."""
    header: dict[str, Any] | None = None
    records: list[Record] = []
    for number, obj in enumerate(objects, 1):
        line = _Line(source, number)
        if number == 1 and isinstance(obj, dict) and obj.get("type") == "header":
            header = read_header(obj, line)
        else:
            records.append(read_op(obj, line))
    return header, records

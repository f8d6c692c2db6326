"""The history contract: spec/history.schema.json is a valid schema, the reader accepts what
it accepts and refuses what it refuses, and every malformed history is one error line naming
file, line and field, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from checker.errors import TraceError
from checker.history.jsonl import read_jsonl
from checker.history.pairing import check_file
from raftref.cli import main

from .conftest import ROOT
from .history_helpers import HEADER, write_history

SCHEMA = json.loads((ROOT / "spec" / "history.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
OP = {"type": "invoke", "index": 0, "process": 0, "f": "write", "value": 1}

# Lines after a valid header: (line, accepted by both the schema and the reader).
LINES = [
    (OP, True),
    ({**OP, "key": "k", "time": 12}, True),
    ({**OP, "process": "client-a"}, True),
    ({**OP, "f": "cas", "value": [1, 2]}, True),
    ({**OP, "f": "append", "value": "x"}, True),
    ({**OP, "type": "ok", "f": "read", "value": None}, True),
    ({**OP, "type": "info", "error": "timeout"}, True),
    ({**OP, "index": 3.0}, True),
    ({**OP, "type": "done"}, False),
    ({**OP, "f": "increment"}, False),
    ({**OP, "index": -1}, False),
    ({**OP, "index": "1"}, False),
    ({**OP, "process": -2}, False),
    ({**OP, "process": ""}, False),
    ({**OP, "process": True}, False),
    ({**OP, "key": 1.5}, False),
    ({**OP, "key": [1]}, False),
    ({**OP, "time": -5}, False),
    ({**OP, "colour": "red"}, False),
    ({k: v for k, v in OP.items() if k != "index"}, False),
    ({k: v for k, v in OP.items() if k != "process"}, False),
    ({k: v for k, v in OP.items() if k != "f"}, False),
    ({**OP, "f": "cas", "value": [1]}, False),
    ({**OP, "f": "cas", "value": 1}, False),
    ({**OP, "f": "append", "value": 3}, False),
    ([1, 2], False),
]
HEADERS = [
    (HEADER, True),
    ({**HEADER, "model": "kv", "seed": 3, "options": {"a": 1}}, True),
    ({**HEADER, "model": "queue"}, False),
    ({**HEADER, "format": "raft-trace"}, False),
    ({**HEADER, "version": 2}, False),
    ({**HEADER, "implementation": {}}, False),
    ({**HEADER, "implementation": {"name": "x", "version": 1}}, False),
    ({**HEADER, "nodes": ["n1"]}, False),
    ({k: v for k, v in HEADER.items() if k != "implementation"}, False),
]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"].endswith("2020-12/schema")


def _reader_accepts(_: Path, lines: list[object]) -> bool:
    data = ("\n".join(json.dumps(x) for x in lines) + "\n").encode()
    try:
        check_file(read_jsonl("h.jsonl", data)[1])  # the lines, not yet paired
    except TraceError:
        return False
    return True


@pytest.mark.parametrize(("line", "valid"), LINES, ids=[str(i) for i in range(len(LINES))])
def test_reader_and_schema_agree_on_an_operation_line(tmp_path: Path, line: object,
                                                      valid: bool) -> None:
    assert VALIDATOR.is_valid(line) == valid
    assert _reader_accepts(tmp_path, [HEADER, line]) == valid


@pytest.mark.parametrize(("header", "valid"), HEADERS, ids=[str(i) for i in range(len(HEADERS))])
def test_reader_and_schema_agree_on_a_header(tmp_path: Path, header: dict[str, object],
                                             valid: bool) -> None:
    assert VALIDATOR.is_valid(header) == valid
    assert _reader_accepts(tmp_path, [header, OP]) == valid


def test_every_shipped_jsonl_history_is_valid_against_the_schema() -> None:
    files = sorted((ROOT / "traces" / "histories").rglob("*.jsonl"))
    assert len(files) >= 10
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            errors = list(VALIDATOR.iter_errors(json.loads(line)))
            assert not errors, f"{path}:{number}: {errors[0].message}"


W = ("invoke", 0, "write", 1)
MALFORMED = [
    ("ok without invoke", [("ok", 0, "write", 1)], 2, "type",
     "ok of process 0 without an outstanding invoke"),
    ("two outstanding", [W, ("invoke", 0, "read", None)], 3, "type",
     "process 0 invokes again while its invoke at"),
    ("f differs", [W, ("ok", 0, "read", 1)], 3, "f", "read completes the write invoked at"),
    ("key differs", [("invoke", 0, "get", None, "a"), ("ok", 0, "get", None, "b")], 3, "key",
     'differs from the key "a"'),
    ("cas not a pair", [("invoke", 0, "cas", [1, 2, 3])], 2, "value",
     "a cas takes the pair [expected, new]"),
    ("append not a string", [("invoke", 0, "append", 4, "k")], 2, "value",
     "an append takes a string"),
    ("append under register", [("invoke", 0, "append", "x")], 2, "f",
     "append is not an operation of the cas-register model"),
]


@pytest.mark.parametrize(("name", "events", "line", "field", "message"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_a_malformed_history_is_one_error_line_and_exit_2(
        tmp_path: Path, name: str, events: list[tuple[object, ...]], line: int, field: str,
        message: str) -> None:
    model = "cas-register" if name == "append under register" else None
    path = write_history(tmp_path / "h.jsonl", events, model)
    res = CliRunner().invoke(main, ["check-history", str(path)])
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"error: {path}:{line}: field {field}: "), err
    assert message in err


def _bad(tmp_path: Path, text: str | bytes, *args: str) -> str:
    path = tmp_path / "h.jsonl"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    res = CliRunner().invoke(main, ["check-history", str(path), *args])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err and err.startswith("error: "), err
    return err


def test_index_going_backwards_and_time_rules(tmp_path: Path) -> None:
    head = json.dumps(HEADER)
    lines = [head, json.dumps({**OP, "index": 5}), json.dumps({**OP, "type": "ok", "index": 4})]
    assert "h.jsonl:3: field index: must increase: 4 follows 5" in _bad(tmp_path,
                                                                         "\n".join(lines))
    lines = [head, json.dumps({**OP, "time": 9}), json.dumps({**OP, "type": "ok", "index": 1,
                                                              "time": 3})]
    assert ":3: field time: goes backwards: 3 follows 9" in _bad(tmp_path, "\n".join(lines))
    lines = [head, json.dumps({**OP, "time": 9}), json.dumps({**OP, "type": "ok", "index": 1})]
    assert ":3: field time: is on some lines" in _bad(tmp_path, "\n".join(lines))


def test_unusable_files(tmp_path: Path) -> None:
    head = json.dumps(HEADER)
    assert "h.jsonl: empty file" in _bad(tmp_path, "", "--format", "jsonl")
    assert "cannot tell the format" in _bad(tmp_path, "hello world\n")
    assert ":2: not JSON" in _bad(tmp_path, head + "\n{\"type\": \"inv")
    assert ":2: blank line" in _bad(tmp_path, head + "\n\n" + json.dumps(OP))
    assert ":2: field type: a header is allowed on line 1 only" in _bad(
        tmp_path, head + "\n" + head)
    assert ":1: field type: line 1 must be the header" in _bad(tmp_path, json.dumps(OP))
    assert ":2: not UTF-8 text" in _bad(tmp_path, head.encode() + b"\n\xff\xfe\n")
    assert "line longer than" in _bad(tmp_path, head + "\n" + " " * (1 << 20) + "{}")
    assert "cannot decompress" in _bad(tmp_path, b"\x1f\x8b\x08\x00garbage")
    missing = CliRunner().invoke(main, ["check-history", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "nope.jsonl" in missing.stderr


def test_files_of_one_run_must_agree_and_have_an_order(tmp_path: Path) -> None:
    a = write_history(tmp_path / "a.jsonl", [W, ("ok", 0, "write", 1)])
    b = tmp_path / "b.jsonl"
    b.write_text("\n".join([json.dumps({**HEADER, "implementation": {"name": "other"}}),
                            json.dumps({**OP, "process": 1})]) + "\n")
    res = CliRunner().invoke(main, ["check-history", str(a), str(b)])
    assert res.exit_code == 2
    assert f"{b}:1: field implementation: differs from {a}'s" in res.stderr
    c = write_history(tmp_path / "c.jsonl", [("invoke", 1, "read", None)])
    res = CliRunner().invoke(main, ["check-history", str(a), str(c)])
    assert res.exit_code == 2
    assert f"{c}:2: field index: index 0 is also at {a}:2" in res.stderr

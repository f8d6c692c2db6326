"""Bad input of every kind, through the command: exit code 2, one line on stderr
(``error: WHERE: WHAT``), nothing on stdout, never a traceback, and no input overwritten."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from raftref.cli import main

from .history_helpers import HEADER

HEAD = json.dumps(HEADER)
OP = json.dumps({"type": "invoke", "index": 0, "process": 0, "f": "write", "value": 1})
GOOD = HEAD + "\n" + OP + "\n"
EDN_OP = "{:process 0, :type :invoke, :f :write, :value 1}\n"

# (name, the file's content, options, what the line must say; {path} is the file).
CASES: list[tuple[str, bytes, list[str], str]] = [
    ("truncated JSON line", (HEAD + '\n{"type": "ok", "ind').encode(), [],
     "{path}:2: not JSON"),
    ("schema break", (HEAD + "\n" + OP.replace('"index": 0', '"index": "zero"')).encode(), [],
     "{path}:2: field index: must be an integer, got a string"),
    ("unknown field", (HEAD + "\n" + OP[:-1] + ', "colour": 1}').encode(), [],
     "{path}:2: field colour: is not a field of an operation"),
    ("empty file", b"", ["--format", "jsonl"], "{path}: empty file"),
    ("not a history at all", b"hello\n", [], "cannot tell the format"),
    ("binary", b"\x00\x01\x02\xff\xfe", [], "{path}:1: not UTF-8 text"),
    ("truncated gzip", gzip.compress(GOOD.encode())[:20], [], "cannot decompress"),
    ("huge line", (HEAD + "\n" + " " * (1 << 20) + "{}").encode(), [],
     "{path}:2: line longer than"),
    ("deeply nested JSON value", (HEAD + "\n" + OP.replace('"value": 1', '"value": ' +
                                                          "[" * 5000 + "]" * 5000)).encode(),
     [], "{path}:2:"),
    ("EDN map not closed", b"{:process 0, :type :invoke, :f :write", ["--format", "edn"],
     "{path}:1: the file ends inside the '{{' opened on line 1"),
    ("EDN tagged literal", EDN_OP.replace(":value 1", ":value #foo 1").encode(), [],
     "{path}:1: field value: the tagged literal #foo"),
    ("EDN operation not a map", ("[" + EDN_OP + " 7]").encode(), [],
     "expected an operation map, got 7"),
    ("EDN deeply nested", (EDN_OP.replace(":value 1", ":value " + "[" * 5000 + "]" * 5000)
                           ).encode(), ["--format", "edn"], "{path}: values nested too deeply"),
    ("EDN unknown f", EDN_OP.replace(":write", ":txn").encode(), [],
     "{path}:1: field f: :txn is not an operation"),
    ("jepsen log line", b"0\t:invoke\t:read\tnil\nthis is not an operation\n",
     ["--format", "jepsen-log"], "{path}:2: not a jepsen.util operation line"),
    ("kv without keys", GOOD.encode(), ["--model", "kv"],
     "{path}:2: field key: the kv model needs a key on every operation"),
    ("JSON Lines read as EDN", GOOD.encode(), ["--format", "edn"], "{path}:1:"),
    ("unknown model", GOOD.encode(), ["--model", "queue"], "Invalid value for '--model'"),
    ("unknown format", GOOD.encode(), ["--format", "xml"], "Invalid value for '--format'"),
    ("zero timeout", GOOD.encode(), ["--timeout", "0"], "Invalid value for '--timeout'"),
    ("timeout not a number", GOOD.encode(), ["--timeout", "soon"],
     "Invalid value for '--timeout'"),
]


def _run(args: list[str], stdin: bytes | None = None) -> str:
    res = CliRunner().invoke(main, ["check-history", *args], input=stdin)
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert res.stdout == ""
    err = res.stderr
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("name", "content", "options", "says"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, name: str, content: bytes,
                                          options: list[str], says: str) -> None:
    path = tmp_path / "history.txt"
    path.write_bytes(content)
    err = _run([str(path), *options])
    assert says.format(path=path) in err, err
    assert path.read_bytes() == content  # nothing the user gave is changed


def test_bad_input_on_standard_input_names_it() -> None:
    err = _run(["-"], stdin=(HEAD + '\n{"type": ').encode())
    assert "error: <stdin>:2: not JSON" in err


def test_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    assert f"{tmp_path / 'nope.jsonl'}" in _run([str(tmp_path / "nope.jsonl")])
    assert str(tmp_path) in _run([str(tmp_path)])


def test_the_outputs_never_replace_an_input_or_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(GOOD)
    assert "refusing to overwrite an input history" in _run([str(path), "--junit", str(path)])
    assert path.read_text() == GOOD
    assert str(tmp_path) in _run([str(path), "--junit", str(tmp_path)])

"""Jepsen's formats: the EDN reader, history.edn (a vector of maps, or a map a line), the
jepsen.util log lines, format detection, and the same history in every format giving the
same operations and verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.errors import TraceError
from checker.history import check_history
from checker.history.edn import Keyword, Symbol, Tagged, read_all, read_flat_maps
from checker.history.jepsen import detect
from checker.history.load import load
from raftref.cli import main

from .conftest import ROOT

HIST = ROOT / "traces" / "histories"


def test_edn_reader_values() -> None:
    text = ('{:a 1, :b -2.5, :c "x\\"y\\n", :d nil, :e true, :f [1 (2 3)], :g #{:k}, '
            ':h \\c, :i sym.bol, :j #inst "2024", :k 12N} ; comment\n#_ {:gone 1} [:next]')
    forms = read_all(text, "f.edn")
    assert [line for _, line in forms] == [1, 2]
    m = forms[0][0]
    assert m[Keyword("a")] == 1 and m[Keyword("b")] == -2.5 and m[Keyword("c")] == 'x"y\n'
    assert m[Keyword("d")] is None and m[Keyword("e")] is True
    assert m[Keyword("f")] == [1, [2, 3]] and m[Keyword("g")] == frozenset({Keyword("k")})
    assert m[Keyword("h")] == "c" and isinstance(m[Keyword("i")], Symbol)
    assert m[Keyword("j")] == Tagged("inst", "2024") and m[Keyword("k")] == 12
    assert forms[1][0] == [Keyword("next")]


@pytest.mark.parametrize(("text", "message"), [
    ("{:a 1", "the file ends inside the '{' opened on line 1"),
    ("[1 2}", "'}' closes the '[' opened on line 1"),
    ("]", "unbalanced ']'"),
    ("{:a}", "a map needs an even number of forms"),
    ("\n\n{:a 1/2}", "f.edn:3: '1/2' is not a number"),
    ('"ab\\q"', "unknown escape \\q"),
    ("#inst", "the file ends after #inst with no value"),
])
def test_edn_reader_refuses_what_it_cannot_read_naming_the_line(text: str,
                                                                 message: str) -> None:
    with pytest.raises(TraceError) as err:
        read_all(text, "f.edn")
    assert message in str(err.value)


def test_the_flat_fast_path_reads_what_the_general_reader_reads() -> None:
    text = (HIST / "porcupine-kv" / "c10-bad.txt").read_text()
    flat = read_flat_maps(text, "c10")
    assert flat is not None
    general = [v for v, _ in read_all(text, "c10")]
    assert flat == general and [m.line for m in flat] == [m.line for m in general]
    assert read_flat_maps("{:a [1]}\n", "x") is None  # not flat: the general reader's


def test_format_detection() -> None:
    assert detect("x", ' {"type": "header"}') == "jsonl"
    assert detect("x", "{:process 0}") == "edn"
    assert detect("x", "[{:process 0}]") == "edn"
    assert detect("x", "0\t:invoke\t:read\tnil\n") == "jepsen-log"
    assert detect("x", "INFO foo\n12:00 INFO jepsen.util - 0 :invoke :read nil\n") == \
        "jepsen-log"
    with pytest.raises(TraceError, match="give --format"):
        detect("x", "nothing here")


def _ops(paths: list[Path], **kw: str) -> list[tuple[object, ...]]:
    return [(op.process, op.kind, op.key, op.value, op.result, op.status)
            for op in load(paths, **kw).paired.operations]


def test_a_log_made_from_an_edn_history_reads_the_same() -> None:
    """traces/histories/jepsen/kv-c01-bad.log is c01-bad.txt as jepsen.util log lines (with
    independent [key value] tuples, log prefixes, other log lines and nemesis lines)."""
    edn = HIST / "porcupine-kv" / "c01-bad.txt"
    log = HIST / "jepsen" / "kv-c01-bad.log"
    assert _ops([log]) == _ops([edn])
    loaded = load([log])
    assert loaded.formats == ["jepsen-log"]
    assert any("3 nemesis operation(s) ignored" in n for n in loaded.notes)
    assert any("2 log line(s) that are not operations skipped" in n for n in loaded.notes)
    a, b = check_history([log]), check_history([edn])
    assert a.verdict == b.verdict == "not linearizable"
    assert a.counterexample_keys() == b.counterexample_keys() == ["7"]


def test_jepsen_register_log_and_history_edn() -> None:
    log = check_history([HIST / "jepsen" / "register.log"])
    assert log.model == "cas-register" and log.ok
    ops = load([HIST / "jepsen" / "register.log"]).paired
    assert ops.failed == 1  # the cas that failed did not happen
    assert [op.status for op in ops.operations].count("info") == 1
    edn = check_history([HIST / "jepsen" / "history.edn"])
    assert edn.ok and edn.operations == 6
    # The timed-out write of 4 took effect: the later reads saw it.
    info = [op for op in load([HIST / "jepsen" / "history.edn"]).paired.operations
            if op.status == "info"]
    assert [(op.value, op.call_time) for op in info] == [(4, 3100)]


def test_every_format_of_one_history_gives_one_verdict(tmp_path: Path) -> None:
    src = HIST / "porcupine-kv" / "c10-bad.txt"
    maps = [v for v, _ in read_all(src.read_text(), "c10")]
    vector = tmp_path / "history.edn"
    vector.write_text("[" + "\n ".join(src.read_text().splitlines()) + "]\n")
    jsonl = tmp_path / "history.jsonl"
    lines = [json.dumps({"type": "header", "format": "raft-history", "version": 1,
                         "implementation": {"name": "porcupine"}, "model": "kv"})]
    for index, m in enumerate(maps):
        lines.append(json.dumps({"type": str(m[Keyword("type")]), "index": index,
                                 "process": m[Keyword("process")], "f": str(m[Keyword("f")]),
                                 "key": m[Keyword("key")], "value": m[Keyword("value")]}))
    jsonl.write_text("\n".join(lines) + "\n")
    assert _ops([vector]) == _ops([src]) == _ops([jsonl])
    verdicts = {check_history([p]).verdict for p in (src, vector, jsonl)}
    assert verdicts == {"not linearizable"}


def test_independent_tuples_and_edn_errors(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text('{:process 0, :type :invoke, :f :write, :value [1 5]}\n'
                    '{:process 0, :type :ok, :f :write, :value [1 5]}\n'
                    '{:process 1, :type :invoke, :f :read, :value [1 nil]}\n'
                    '{:process 1, :type :ok, :f :read, :value [1 5]}\n')
    report = check_history([path])
    assert report.model == "kv" and report.ok and [k.key for k in report.keys] == [1]
    path.write_text('{:process 0, :type :invoke, :f :txn, :value nil}\n')
    res = CliRunner().invoke(main, ["check-history", str(path)])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {path}:1: field f: :txn is not an operation")
    path.write_text('[{:process 0, :type :invoke, :f :write, :value 1}\n 7]')
    with pytest.raises(TraceError, match="expected an operation map, got 7"):
        load([path])
    path.write_text('{:process 0, :type :invoke, :f :write, :value #foo 1}\n')
    with pytest.raises(TraceError, match="h.edn:1: field value: the tagged literal #foo"):
        load([path])
    path.write_text('{:process 0, :type :invoke, :f :write, :value 1, :index 0}\n'
                    '{:process 0, :type :ok, :f :write, :value 1}\n')
    with pytest.raises(TraceError, match="h.edn:2: field index: is on some operations"):
        load([path])
    path.write_text("0 :invoke :read nil\nthis is not an operation\n")
    with pytest.raises(TraceError, match="h.edn:2: not a jepsen.util operation line"):
        load([path], fmt="jepsen-log")

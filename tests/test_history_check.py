"""The linearizability verdicts: hand-made histories with known verdicts, Porcupine's six kv
histories, the counterexample's content, the time budget, and the command's outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.errors import TraceError
from checker.history import check_history, check_lines
from raftref.cli import main

from .conftest import ROOT
from .history_helpers import write_history

HIST = ROOT / "traces" / "histories"
HAND = json.loads((HIST / "hand" / "expected.json").read_text())
PORCUPINE = {"c01-ok": True, "c01-bad": False, "c10-ok": True, "c10-bad": False,
             "c50-ok": True, "c50-bad": False}


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_made_histories_have_their_known_verdicts(name: str) -> None:
    report = check_history([HIST / "hand" / name])
    assert report.model == HAND[name]["model"]
    assert report.ok == HAND[name]["linearizable"], report.to_text()
    assert report.exit_code == (0 if HAND[name]["linearizable"] else 1)


@pytest.mark.parametrize("name", sorted(PORCUPINE))
def test_porcupines_kv_histories_have_their_known_verdicts(name: str) -> None:
    report = check_history([HIST / "porcupine-kv" / f"{name}.txt"])
    assert report.model == "kv" and report.ok == PORCUPINE[name]
    if report.ok:
        # A linearization is given for every key, and it is one: replay it.
        for key in report.keys:
            assert key.verdict == "linearizable" and len(key.order) == key.operations
            value = ""
            for op in key.order:
                if op.kind == "read":
                    assert (op.result or "") == value
                elif op.kind == "write":
                    value = op.value or ""
                else:
                    value += op.value


def test_without_the_split_the_verdicts_are_the_same() -> None:
    for name in ("c01-ok", "c01-bad", "c10-ok"):
        report = check_history([HIST / "porcupine-kv" / f"{name}.txt"], split=False)
        assert report.ok == PORCUPINE[name]
        assert [k.key for k in report.keys] == [None]


def test_the_counterexample_of_a_stale_read_names_the_write_that_overwrote() -> None:
    report = check_history([HIST / "hand" / "register-stale-read.jsonl"])
    (key,) = report.keys
    c = key.counterexample
    assert c is not None and c.core_minimal
    assert [op.id for op in c.prefix] == [0, 2]
    assert c.culprit.id == 4
    assert c.reason == ("read returned 1, but what could make that value was overwritten before "
                        "this read was invoked: op 0 (write 1) by op 2 (write 2), invoked after "
                        "op 0 completed and completed before this read was invoked")
    assert sorted(op.id for op in c.core) == [0, 2, 4]
    text = report.to_text()
    assert "These 3 operations cannot be ordered (1-minimal" in text
    assert "This operation cannot follow it: op 4 (process 1): read returned 1" in text


def test_a_read_that_missed_an_append_is_blamed_with_what_changed_its_value() -> None:
    """Found by the search (not before it): key "0" of Porcupine's c10-bad."""
    report = check_history([HIST / "porcupine-kv" / "c10-bad.txt"], all_keys=True)
    (key,) = [k for k in report.keys if k.key == "0"]
    c = key.counterexample
    assert c is not None and not key.outcome.refuted and c.core_minimal
    assert c.culprit.id == 157 and [op.id for op in c.prefix] == [0, 2, 17, 81]
    assert c.reason.endswith('the value "x 9 0 yx 0 0 yx 8 0 y", last made by op 17, was '
                             'changed by op 81 (append "x 7 1 y" to "0"), which completed '
                             "before this read was invoked")
    assert sorted(op.id for op in c.core) == [0, 2, 17, 81, 157]


def test_reasons_for_a_value_never_written_and_a_write_invoked_too_late() -> None:
    never = check_history([HIST / "hand" / "register-never-written.jsonl"]).keys[0]
    assert never.counterexample is not None
    assert never.counterexample.reason.endswith("no operation writes 7")
    assert [op.id for op in never.counterexample.core] == [2]
    late = check_history([HIST / "hand" / "info-before-invoke.jsonl"]).keys[0]
    assert late.counterexample is not None
    assert late.counterexample.reason.endswith(
        "the only write of 2 (op 2) was invoked after this read completed")


def test_the_small_set_is_one_minimal_on_a_porcupine_history() -> None:
    report = check_history([HIST / "porcupine-kv" / "c01-bad.txt"])
    (bad,) = [k for k in report.keys if k.verdict == "not linearizable"]
    c = bad.counterexample
    assert c is not None and c.core_minimal and c.culprit in c.core
    # Removing any one operation leaves a linearizable (or unexplainable) set: recheck two.
    from checker.history.explain import _linearizable, _supported
    from checker.history.models import MODELS

    kv = MODELS["kv"]
    assert _linearizable(kv, c.core, 1e18) is False
    for op in c.core:
        rest = [o for o in c.core if o is not op]
        assert not _supported(kv, rest) or _linearizable(kv, rest, 1e18) is True


def test_the_time_budget_gives_unknown_and_exit_3(tmp_path: Path) -> None:
    path = HIST / "porcupine-kv" / "c50-ok.txt"
    report = check_history([path], timeout=1e-9)
    assert report.verdict == "unknown" and report.exit_code == 3 and not report.ok
    assert "ran out before their verdicts, so nothing is claimed" in report.to_text()
    res = CliRunner().invoke(main, ["check-history", str(path), "--timeout", "0.000001"])
    assert res.exit_code == 3
    assert res.stdout.rstrip().endswith("unknown (the time budget ran out): " +
                                        ", ".join(f'key "{k}"' for k in
                                                  [k.key for k in report.keys
                                                   if k.verdict == "unknown"]))


def test_a_violation_stops_the_other_keys_unless_all_keys(tmp_path: Path) -> None:
    """Key "a" has a stale read found in the first round of turns; key "b" (10,000
    sequential operations: more search points than one turn holds) is then abandoned."""
    events: list[tuple[object, ...]] = []
    for kind, f, value in [("invoke", "put", "1"), ("ok", "put", "1"), ("invoke", "put", "2"),
                           ("ok", "put", "2"), ("invoke", "get", None), ("ok", "get", "1")]:
        events.append((kind, 0, f, value, "a"))
    for n in range(5000):
        events += [("invoke", 1, "put", str(n), "b"), ("ok", 1, "put", str(n), "b"),
                   ("invoke", 1, "get", None, "b"), ("ok", 1, "get", str(n), "b")]
    path = write_history(tmp_path / "two-keys.jsonl", events)
    first = check_history([path])
    assert first.verdict == "not linearizable"
    assert [(k.key, k.verdict, k.abandoned) for k in first.keys] == [
        ("a", "not linearizable", False), ("b", "unknown", True)]
    assert "--all-keys searches every key to the end" in first.to_text()
    every = check_history([path], all_keys=True)
    assert [(k.key, k.verdict) for k in every.keys] == [("a", "not linearizable"),
                                                        ("b", "linearizable")]


def test_json_and_junit_outputs(tmp_path: Path) -> None:
    path = HIST / "hand" / "register-stale-read.jsonl"
    junit = tmp_path / "out" / "h.xml"
    res = CliRunner().invoke(main, ["check-history", str(path), "--json", "--junit",
                                    str(junit)])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["verdict"] == "not linearizable" and data["model"] == "register"
    cex = data["keys"][0]["counterexample"]
    assert cex["culprit"]["id"] == 4 and cex["prefix"] == [0, 2] and cex["core_minimal"]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "cannot follow it" in (failure.text or "")
    ok = CliRunner().invoke(main, ["check-history", str(HIST / "hand" / "cas-chain-ok.jsonl")])
    assert ok.exit_code == 0 and ok.stdout.rstrip().endswith("linearizable")


def test_the_junit_file_must_not_be_an_input(tmp_path: Path) -> None:
    path = write_history(tmp_path / "h.jsonl", [("invoke", 0, "write", 1)])
    res = CliRunner().invoke(main, ["check-history", str(path), "--junit", str(path)])
    assert res.exit_code == 2 and "refusing to overwrite an input history" in res.stderr
    assert path.read_text().startswith('{"type": "header"')


def test_files_of_one_run_merge_by_time(tmp_path: Path) -> None:
    """Two clients' files: the write completes (time 20) before the read starts (time 30)
    in real time, though the read's file lists it first."""
    def timed(path: Path, lines: list[dict[str, object]]) -> Path:
        header = {"type": "header", "format": "raft-history", "version": 1,
                  "implementation": {"name": "t"}}
        path.write_text("\n".join(json.dumps(x) for x in [header, *lines]) + "\n")
        return path

    a = timed(tmp_path / "a.jsonl", [
        {"type": "invoke", "index": 0, "process": 0, "f": "write", "value": 1, "time": 10},
        {"type": "ok", "index": 1, "process": 0, "f": "write", "value": 1, "time": 20}])
    b = timed(tmp_path / "b.jsonl", [
        {"type": "invoke", "index": 0, "process": 1, "f": "read", "time": 30},
        {"type": "ok", "index": 1, "process": 1, "f": "read", "value": None, "time": 40}])
    assert check_history([b, a]).verdict == "not linearizable"
    assert check_history([a, b]).verdict == "not linearizable"


def test_check_lines_takes_the_lines_already_parsed() -> None:
    """The library entry for histories built in memory (a simulator's) or embedded in a
    trace: the same checks and verdicts as from a file, errors naming the source given."""
    path = HIST / "hand" / "register-stale-read.jsonl"
    objects = [json.loads(line) for line in path.read_text().splitlines()]
    from_file, from_lines = check_history([path]), check_lines(objects, source="memory")
    assert from_lines.verdict == from_file.verdict == "not linearizable"
    assert from_lines.model == "register" and from_lines.files == ["memory"]
    assert from_lines.keys[0].counterexample is not None
    assert check_lines(objects[1:], model="register").verdict == "not linearizable"
    assert check_lines(objects[1:3]).verdict == "linearizable"  # no header: model inferred
    bad = [*objects[:2], {**objects[2], "process": -1}]
    with pytest.raises(TraceError, match=r"^memory:3: field process: must be an integer"):
        check_lines(bad, source="memory")
    with pytest.raises(TraceError, match=r"<history>:2: field type: ok of process 1 without"):
        check_lines([objects[0], {**objects[6], "index": 0}])

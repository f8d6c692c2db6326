"""Unusable input and bad options: exit code 2, one clear line naming file, line and field, and
never a traceback. Plus the output formats (text, --json, --junit) and exit codes 0/1."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from checker import PROPERTY_NAMES, TraceError, check_files
from checker.cli import check_command
from tests.test_checker_corpus import CORPUS
from tests.test_checker_gen import TraceBuilder, normal_run

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(check_command, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def valid_text() -> str:
    return normal_run().text()


def event_line(seq: int, **fields: object) -> str:
    ev = {"type": "event", "seq": seq, "node": "n1", "kind": "timeout", "term": 1,
          "role": "candidate", "vote": "n1", "commit": 0}
    ev.update(fields)
    return orjson.dumps(ev).decode()


def lines_of(text: str) -> list[str]:
    return text.splitlines()


BAD_INPUTS: dict[str, tuple[str | bytes, str]] = {
    # name: (file content, expected fragment of the error line)
    "empty": (b"", "x.jsonl: empty file"),
    "binary": (bytes(range(256)) * 8, "x.jsonl:1: binary data or invalid UTF-8"),
    "invalid utf-8 later": ("\n".join(lines_of(valid_text())[:3]).encode() + b"\n\xff\xfe{}\n",
                            "x.jsonl:4: binary data or invalid UTF-8"),
    "truncated": (valid_text()[:-40], "truncated last line"),
    "not json": ("\n".join(lines_of(valid_text())[:3] + ["{not json}"]) + "\n",
                 "x.jsonl:4: invalid JSON"),
    "blank line": ("\n".join(lines_of(valid_text())[:3] + [""] + lines_of(valid_text())[3:]),
                   "x.jsonl:4: blank line"),
    "missing header": ("\n".join(lines_of(valid_text())[1:]) + "\n", "x.jsonl:1: missing header"),
    "duplicate header": ("\n".join(lines_of(valid_text())[:2] + lines_of(valid_text())[:1])
                         + "\n", "x.jsonl:3: duplicate header"),
    "wrong type term": ("\n".join(lines_of(valid_text())[:4]
                                  + [event_line(99, term="1")]) + "\n",
                        'x.jsonl:5: field term: must be an integer, got the string "1"'),
    "wrong type msg.term": (
        "\n".join(lines_of(valid_text())[:4] + [event_line(
            99, kind="send", msg={"type": "RequestVote", "id": "a", "from": "n1", "to": "n2",
                                  "term": -1, "last_log_index": 0, "last_log_term": 0})]) + "\n",
        "x.jsonl:5: field msg.term: must be >= 0, got -1"),
    "missing field": ("\n".join(lines_of(valid_text())[:4]
                                + [event_line(99, kind="append", index=1)]) + "\n",
                      "x.jsonl:5: field entries: is required but missing"),
    "extra entry field": (
        "\n".join(lines_of(valid_text())[:4] + [event_line(
            99, kind="append", index=1, entries=[{"term": 1, "data": 1, "x": 2}])]) + "\n",
        "field entries[0].x: is not allowed"),
    "unknown node": ("\n".join(lines_of(valid_text())[:4] + [event_line(99, node="n9")]) + "\n",
                     'x.jsonl:5: field node: names node "n9"'),
    "unknown vote": ("\n".join(lines_of(valid_text())[:4] + [event_line(99, vote="zz")]) + "\n",
                     "x.jsonl:5: field vote: names node"),
    "seq not increasing": ("\n".join(lines_of(valid_text())[:4] + [event_line(1)]) + "\n",
                           "x.jsonl:5: field seq: must increase"),
    "bad header": ('{"type":"header","format":"raft-trace","version":2,"implementation":'
                   '{"name":"x","version":"1"},"nodes":["a"]}\n', "x.jsonl:1: field version"),
    "not an object": ("[1,2]\n", "x.jsonl:1: field (line): must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path, case: str) -> None:
    content, fragment = BAD_INPUTS[case]
    path = write(tmp_path, "x.jsonl", content)
    code, out, err = run_cli(str(path))
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert "Traceback" not in err + out


def semantic_case(builder_steps: str) -> TraceBuilder:
    b = TraceBuilder()
    if builder_steps == "first event not start":
        b.timeout("n1")
        return b
    b.start_all()
    b.elect("n1", ("n2",))
    if builder_steps == "crash then non-start":
        b.crash("n2")
        b.event("n2", "timeout", term=2, vote="n2", role="candidate")
    elif builder_steps == "append with a hole":
        b.event("n2", "append", index=5, entries=[{"term": 1, "data": None}])
    elif builder_steps == "follower append below its end":
        b.append("n2", [{"term": 1, "data": None}])
        b.event("n2", "append", index=1, entries=[{"term": 1, "data": None}])
    elif builder_steps == "restart false after crash":
        b.crash("n2")
        b.event("n2", "start", log=[], restart=False)
    return b


@pytest.mark.parametrize("case,fragment", [
    ("crash then non-start", "its next event must be a start with restart: true"),
    ("append with a hole", "field index: append at index 5"),
    ("follower append below its end", "a truncate at 1 must come first"),
    ("first event not start", "the first event of n1 must be its start"),
    ("restart false after crash", "field restart"),
])
def test_inconsistent_trace_exits_2(tmp_path: Path, case: str, fragment: str) -> None:
    path = write(tmp_path, "x.jsonl", semantic_case(case).text())
    code, _, err = run_cli(str(path))
    assert code == 2 and fragment in err and err.count("\n") == 1, err


def test_a_50_mb_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.write(lines_of(valid_text())[0].encode() + b"\n")
        f.write(b'{"type":"event","note":"' + b"x" * (50 << 20) + b'"}\n')
    code, _, err = run_cli(str(path))
    assert code == 2 and "big.jsonl:2: line longer than 1048576 bytes" in err


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    code, _, err = run_cli(str(tmp_path / "nope.jsonl"))
    assert code == 2 and "nope.jsonl: cannot read" in err
    code, _, err = run_cli(str(tmp_path))
    assert code == 2 and "is a directory" in err


@pytest.mark.parametrize("option", ["--only", "--skip"])
def test_unknown_property_name_lists_the_valid_ones(tmp_path: Path, option: str) -> None:
    path = write(tmp_path, "x.jsonl", valid_text())
    code, _, err = run_cli(str(path), option, "ElectionSafty")
    assert code == 2 and "unknown property 'ElectionSafty'" in err
    assert all(name in err for name in PROPERTY_NAMES)


def test_exit_codes_0_and_1_and_only_skip(tmp_path: Path) -> None:
    ok = write(tmp_path, "ok.jsonl", valid_text())
    assert run_cli(str(ok))[0] == 0
    bad = CORPUS / "vote_once_two_candidates.jsonl"
    code, out, _ = run_cli(str(bad))
    assert code == 1 and "VoteOnce violated" in out and "violated: VoteOnce" in out
    assert run_cli(str(bad), "--skip", "VoteOnce")[0] == 0
    code, out, _ = run_cli(str(bad), "--only", "VoteOnce", "--only", "ElectionSafety")
    assert code == 1 and "ElectionSafety" in out and "TermMonotonic" not in out


def test_json_output(tmp_path: Path) -> None:
    code, out, _ = run_cli(str(CORPUS / "election_safety_two_leaders.jsonl"), "--json")
    assert code == 1
    data = orjson.loads(out)
    assert data["verdict"] == "violated"
    es = next(p for p in data["properties"] if p["name"] == "ElectionSafety")
    assert es["verdict"] == "violated" and es["events_evaluated"] > 0
    lines = [c["line"] for c in es["violations"][0]["lines"]]
    assert lines == [13, 17]
    assert all('"role":"leader"' in c["text"] for c in es["violations"][0]["lines"])


def test_junit_has_one_testcase_per_property(tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    code, _, _ = run_cli(str(CORPUS / "commit_justified_old_term.jsonl"), "--junit", str(out))
    assert code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(PROPERTY_NAMES)
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["CommitJustified"]
    failure = next(c for c in cases if c.get("name") == "CommitJustified").find("failure")
    assert failure is not None and "commit_justified_old_term.jsonl:32" in (failure.text or "")
    assert suite.get("tests") == str(len(PROPERTY_NAMES)) and suite.get("failures") == "1"


def test_junit_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", valid_text())
    before = path.read_bytes()
    code, _, err = run_cli(str(path), "--junit", str(path))
    assert code == 2 and "refusing to overwrite" in err
    assert path.read_bytes() == before


def test_python_dash_m_checker_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.jsonl", bytes(range(256)))
    proc = subprocess.run([sys.executable, "-m", "checker", str(bad)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "checker",
                           str(CORPUS / "valid_crash_restart.jsonl")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "all properties hold" in proc.stdout


def test_library_raises_trace_error_with_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", BAD_INPUTS["wrong type term"][0])
    with pytest.raises(TraceError) as info:
        check_files([path])
    assert (info.value.line, info.value.field) == (5, "term")
    assert info.value.path == str(path)


def test_input_files_are_never_written(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", valid_text())
    stat = path.stat()
    run_cli(str(path), "--json")
    assert path.stat().st_mtime_ns == stat.st_mtime_ns

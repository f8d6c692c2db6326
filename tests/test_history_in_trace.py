"""A client history inside a trace: ``{"type": "history", "op": {...}}`` lines
(spec/trace.schema.json, $defs/history). ``raftref check`` sets them aside from the events (no
property reads them), then judges them for linearizability beside the properties: text,
--json, --junit and one exit code (docs/histories.md, "Inside a trace")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from checker import check_files
from checker.cli import check_command
from checker.history.cli import check_history_command
from checker.reader import FileSource, TraceFile
from tests.test_checker_gen import TraceBuilder, normal_run


def op(kind: str, index: int, process: int, f: str, value: Any, **more: Any) -> str:
    line = {"type": kind, "index": index, "process": process, "f": f, "value": value, **more}
    return orjson.dumps({"type": "history", "op": line}).decode()


#: A register written 1 then 2, one after the other; then a read.
def history(read: Any) -> list[str]:
    return [op("invoke", 0, 0, "write", 1), op("ok", 1, 0, "write", 1),
            op("invoke", 2, 0, "write", 2), op("ok", 3, 0, "write", 2),
            op("invoke", 4, 1, "read", None), op("ok", 5, 1, "read", read)]


def interleaved(events: list[str], carried: list[str]) -> str:
    """The history lines spread among the events (one after the header, the rest every
    other event), so that events and history lines alternate within chunks."""
    out = [events[0]]
    rest = list(carried)
    for k, line in enumerate(events[1:]):
        if rest and k % 2 == 0:
            out.append(rest.pop(0))
        out.append(line)
    return "\n".join(out + rest) + "\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(command: Any, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.stdout, result.stderr


def test_a_linearizable_history_in_a_trace_exits_0_with_both_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", interleaved(normal_run().lines, history(read=2)))
    code, out, _ = run(check_command, str(path))
    assert code == 0, out
    assert "Linearizable: the client history the trace carries, linearizable" in out
    assert out.rstrip().endswith("all properties hold; the history is linearizable")
    report = check_files([path])
    assert report.ok and report.history is not None
    assert report.history.operations == 3
    # The history lines are not events: the properties saw exactly the events.
    assert report.events == len(normal_run().lines) - 1


def test_a_stale_read_in_a_trace_exits_1_naming_linearizable(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", interleaved(normal_run().lines, history(read=1)))
    code, out, _ = run(check_command, str(path))
    assert code == 1
    assert out.rstrip().splitlines()[-1] == "violated: Linearizable"
    assert "not linearizable" in out
    # The counterexample names the trace's own lines.
    text = path.read_text().splitlines()
    report = check_files([path])
    assert report.history is not None
    [key] = report.history.keys
    culprit = key.counterexample.culprit
    assert orjson.loads(text[culprit.completed.line - 1])["op"]["value"] == 1


def test_json_and_junit_carry_the_history_verdict(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", interleaved(normal_run().lines, history(read=1)))
    junit = tmp_path / "out.xml"
    code, out, _ = run(check_command, str(path), "--json", "--junit", str(junit))
    assert code == 1
    data = orjson.loads(out)
    assert data["verdict"] == "violated"
    assert all(p["verdict"] == "holds" for p in data["properties"])
    assert data["history"]["name"] == "Linearizable"
    assert data["history"]["verdict"] == "not linearizable"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["Linearizable"].find("failure") is not None
    assert all(c.find("failure") is None for n, c in cases.items() if n != "Linearizable")

    good = write(tmp_path, "good.jsonl", interleaved(normal_run().lines, history(read=2)))
    code, out, _ = run(check_command, str(good), "--json", "--junit", str(junit))
    assert code == 0
    assert orjson.loads(out)["history"]["verdict"] == "linearizable"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")][-1] == "Linearizable"


def test_a_trace_violation_and_a_linearizable_history_exit_1(tmp_path: Path) -> None:
    b = normal_run()
    b.event("n2", "role", role="leader", term=1, previous="follower")  # two leaders in term 1
    path = write(tmp_path, "t.jsonl", interleaved(b.lines, history(read=2)))
    code, out, _ = run(check_command, str(path))
    assert code == 1
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("violated: ") and "Linearizable" not in last
    # Every cited line is the line of the file it names, history lines among them or not.
    report = check_files([path])
    lines = path.read_text().splitlines()
    assert report.violations
    for v in report.violations:
        for c in v.lines:
            assert c.text == lines[c.line - 1]


def test_a_malformed_history_line_is_one_error_line_exit_2(tmp_path: Path) -> None:
    carried = history(read=2)
    carried[3] = carried[3].replace('"f":"write"', '"f":"frobnicate"')
    path = write(tmp_path, "t.jsonl", interleaved(normal_run().lines, carried))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1)
                if "frobnicate" in text)
    code, out, err = run(check_command, str(path))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"error: {path}:{line}: field op.f: ")


def test_a_history_line_without_op_and_an_unpaired_completion_are_exit_2(
        tmp_path: Path) -> None:
    lines = normal_run().lines
    path = write(tmp_path, "a.jsonl", "\n".join([*lines, '{"type": "history"}']) + "\n")
    code, _, err = run(check_command, str(path))
    assert code == 2
    assert err.strip() == f"error: {path}:{len(lines) + 1}: field op: is required but missing"

    path = write(tmp_path, "b.jsonl", "\n".join([*lines, op("ok", 0, 3, "write", 1)]) + "\n")
    code, _, err = run(check_command, str(path))
    assert code == 2
    assert err.startswith(f"error: {path}:{len(lines) + 1}: field op.type: "), err


def test_a_history_line_cannot_be_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", "\n".join(history(read=2)) + "\n")
    code, _, err = run(check_command, str(path))
    assert code == 2 and "missing header" in err


def test_events_keep_their_lines_and_offsets_across_chunks(tmp_path: Path) -> None:
    """A trace of several chunks (64 KiB each) with history lines everywhere: every event
    the reader gives is at the line and byte offset it names, and the history is whole."""
    b = TraceBuilder()
    normal_run(b, proposals=400)
    carried = []
    for k in range(600):
        carried += [op("invoke", 2 * k, k % 7, "write", k), op("ok", 2 * k + 1, k % 7,
                                                                "write", k)]
    path = write(tmp_path, "big.jsonl", interleaved(b.lines, carried))
    data = path.read_bytes()
    assert len(data) > 3 * (1 << 16)
    trace = TraceFile(FileSource(path), 0)
    seen = 0
    for ev, (_, line, offset) in trace.events():
        text = data[offset:data.index(b"\n", offset)]
        assert text == data.split(b"\n")[line - 1]
        assert orjson.loads(text)["seq"] == ev.seq
        seen += 1
    assert seen == len(b.lines) - 1
    assert [r.index for r in trace.history] == list(range(1200))
    report = check_files([path])
    assert report.ok and report.events == seen
    assert report.history is not None and report.history.operations == 600


def test_a_trace_without_history_is_reported_as_before(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", normal_run().text())
    code, out, _ = run(check_command, str(path), "--json")
    assert code == 0 and "history" not in orjson.loads(out)
    code, out, _ = run(check_command, str(path))
    assert out.rstrip().endswith("\n\nall properties hold")
    assert "Linearizable" not in out


def test_check_history_reads_the_history_lines_of_a_trace(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.jsonl", interleaved(normal_run().lines, history(read=1)))
    code, out, _ = run(check_history_command, str(bad))
    assert code == 1 and "not linearizable" in out
    good = write(tmp_path, "good.jsonl", interleaved(normal_run().lines, history(read=2)))
    code, out, _ = run(check_history_command, str(good))
    assert code == 0 and out.rstrip().endswith("linearizable")
    none = write(tmp_path, "none.jsonl", normal_run().text())
    code, _, err = run(check_history_command, str(none))
    assert code == 2 and "carries no history lines" in err


# ------------------------------------------------------------------ raftref sim --history-in-trace

COUNTEREXAMPLE = (Path(__file__).resolve().parent.parent / "traces" / "counterexamples"
                  / "follower-local-read--Linearizable--3n-seed1")


def sim(*args: str) -> tuple[int, str]:
    from raftref.cli import main

    result = CliRunner().invoke(main, ["sim", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.stderr


def test_sim_writes_the_history_into_the_trace_and_replays_it_byte_for_byte(
        tmp_path: Path) -> None:
    trace, saved, again = tmp_path / "t.jsonl", tmp_path / "s.json", tmp_path / "again.jsonl"
    history_file = tmp_path / "h.jsonl"
    code, _ = sim("--seed", "3", "--clients", "3", "--steps", "600", "--history-in-trace",
                  "-o", str(trace), "--save-schedule", str(saved),
                  "--history", str(history_file))
    assert code == 0
    assert orjson.loads(saved.read_bytes())["history_in_trace"] is True
    lines = trace.read_bytes().splitlines()
    carried = [orjson.loads(x)["op"] for x in lines if b'"type":"history"' in x]
    # The same operations as the history file's, in the same order.
    assert carried == [orjson.loads(x) for x in history_file.read_bytes().splitlines()[1:]]
    assert len(carried) > 10
    code, _ = sim("--schedule", str(saved), "-o", str(again))
    assert code == 0 and again.read_bytes() == trace.read_bytes()
    code, out, _ = run(check_command, str(trace))
    assert code == 0 and out.rstrip().endswith("the history is linearizable")


def test_sim_history_in_trace_of_a_mutant_is_judged_not_linearizable(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    code, _ = sim("--schedule", f"{COUNTEREXAMPLE}.schedule.json", "--history-in-trace",
                  "-o", str(trace))
    assert code == 0
    # The events are the saved counterexample's; only history lines were added.
    events = [x for x in trace.read_bytes().splitlines()[1:] if b'"type":"history"' not in x]
    assert events == Path(f"{COUNTEREXAMPLE}.jsonl").read_bytes().splitlines()[1:]
    code, out, _ = run(check_command, str(trace))
    assert code == 1 and out.rstrip().splitlines()[-1] == "violated: Linearizable"


def test_sim_history_in_trace_needs_clients(tmp_path: Path) -> None:
    code, err = sim("--seed", "1", "--steps", "50", "--history-in-trace",
                    "-o", str(tmp_path / "t.jsonl"))
    assert code == 2 and "--history-in-trace needs clients" in err
    assert not (tmp_path / "t.jsonl").exists()

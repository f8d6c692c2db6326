"""Files checked together must be one run: two runs are refused (naming both files and the
field that differs) unless --merge-anyway; a per-process run whose members have no file is
refused (naming them) unless --partial, which checks what the files show without calling the
missing members' messages unsent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from checker import TraceError, check_files
from checker.cli import check_command
from tests.test_checker_corpus import message_rules_invented_receive, split_per_process
from tests.test_checker_gen import TraceBuilder, normal_run


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(check_command, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(path)
    return paths


def two_runs(tmp_path: Path) -> list[Path]:
    """Two unrelated logical runs: each holds alone, merged they look like chaos."""
    first = normal_run(proposals=2)
    second = TraceBuilder()
    second.start_all()
    second.elect("n2", ("n1", "n3"))
    second.propose("n2", "other")
    second.replicate("n2", "n1")
    second.commit("n2", len(second.nodes["n2"].log))
    return write(tmp_path, {"run.jsonl": first.text(), "other-run.jsonl": second.text()})


def test_two_logical_runs_are_refused_naming_both_files(tmp_path: Path) -> None:
    run, other = two_runs(tmp_path)
    assert check_files([run]).ok and check_files([other]).ok
    # The problem: merged, two healthy runs gave violations (two leaders of term 1, ...).
    merged = check_files([run, other], merge_anyway=True)
    assert "ElectionSafety" in merged.violated
    code, out, err = run_cli(str(run), str(other))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {run}:1: field clock: ") and err.count("\n") == 1
    assert str(other) in err and "--merge-anyway" in err
    assert run_cli(str(run), str(other), "--merge-anyway")[0] == 1


def per_process_pair(tmp_path: Path, change: dict[str, Any] | None = None,
                     drop: str | None = None) -> list[Path]:
    """A valid run split in two per-process files, the second file's header changed."""
    files = split_per_process(normal_run(proposals=2), {"a.jsonl": ("n1",),
                                                        "b.jsonl": ("n2", "n3")})
    lines = files["b.jsonl"].splitlines()
    header = orjson.loads(lines[0])
    header.update(change or {})
    if drop:
        del header[drop]
    files["b.jsonl"] = "\n".join([orjson.dumps(header).decode(), *lines[1:]]) + "\n"
    return write(tmp_path, files)


def with_run_fields(tmp_path: Path, **fields: Any) -> list[Path]:
    """Both files' headers given the same ``fields`` (seed, options, ...)."""
    paths = per_process_pair(tmp_path)
    for path in paths:
        lines = path.read_text().splitlines()
        header = {**orjson.loads(lines[0]), **fields}
        path.write_text("\n".join([orjson.dumps(header).decode(), *lines[1:]]) + "\n")
    return paths


def test_per_process_files_of_one_run_merge(tmp_path: Path) -> None:
    paths = with_run_fields(tmp_path, seed=7, options={"tick_ms": 50})
    report = check_files(paths)
    assert report.ok and report.events > 30 and report.notes == []


@pytest.mark.parametrize("field, value, shown", [
    ("seed", 8, "8 here but 7 in"),
    ("options", {"tick_ms": 20}, "{'tick_ms': 20} here but {'tick_ms': 50} in"),
    ("implementation", {"name": "other", "version": "1"}, "here but"),
    ("clock", "logical", None),
])
def test_per_process_headers_must_agree(tmp_path: Path, field: str, value: Any,
                                        shown: str | None) -> None:
    a, b = with_run_fields(tmp_path, seed=7, options={"tick_ms": 50})
    lines = b.read_text().splitlines()
    header = {**orjson.loads(lines[0]), field: value}
    b.write_text("\n".join([orjson.dumps(header).decode(), *lines[1:]]) + "\n")
    code, _, err = run_cli(str(a), str(b))
    assert code == 2 and err.count("\n") == 1, err
    if shown is None:  # a logical file beside a per-process one: a whole run beside another
        assert err.startswith(f"error: {b}:1: field clock: ") and str(a) in err
    else:
        assert err.startswith(f"error: {b}:1: field {field}: ") and shown in err
        assert f"in {a}:" in err
    assert check_files([a, b], merge_anyway=True).ok


def test_a_field_absent_from_one_header_differs(tmp_path: Path) -> None:
    a, b = with_run_fields(tmp_path, seed=7)
    lines = b.read_text().splitlines()
    header = orjson.loads(lines[0])
    del header["seed"]
    b.write_text("\n".join([orjson.dumps(header).decode(), *lines[1:]]) + "\n")
    with pytest.raises(TraceError) as info:
        check_files([a, b])
    assert (info.value.path, info.value.line, info.value.field) == (str(b), 1, "seed")
    assert f"absent here but 7 in {a}" in info.value.message


def test_different_nodes_are_refused_even_when_merging_anyway(tmp_path: Path) -> None:
    a, b = per_process_pair(tmp_path, {"nodes": ["n1", "n2", "n3", "n4"]})
    for merge in (False, True):
        with pytest.raises(TraceError) as info:
            check_files([a, b], merge_anyway=merge)
        assert info.value.field == "nodes" and "one cluster" in info.value.message


def cluster_files(tmp_path: Path, b: TraceBuilder | None = None) -> dict[str, Path]:
    """One file per node, as `raftref cluster` writes them."""
    run = b or normal_run(proposals=3)
    files = split_per_process(run, {f"{n}.jsonl": (n,) for n in ("n1", "n2", "n3")})
    return {Path(name).stem: path for name, path in zip(files, write(tmp_path, files),
                                                        strict=True)}


def test_one_node_of_a_cluster_alone_is_refused_naming_the_missing_members(
        tmp_path: Path) -> None:
    files = cluster_files(tmp_path)
    assert check_files(list(files.values())).ok
    code, out, err = run_cli(str(files["n1"]))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: {files['n1']}: this file holds no events of n2, n3, members")
    assert "--partial" in err
    code, _, err = run_cli(str(files["n1"]), str(files["n3"]))
    assert code == 2 and "these files hold no events of n2, member of" in err


def test_partial_checks_what_the_files_show_without_calling_messages_unsent(
        tmp_path: Path) -> None:
    files = cluster_files(tmp_path)
    # The problem: n1's receives of n2's and n3's messages looked invented.
    report = check_files([files["n1"]], partial=True)
    assert report.ok, [v.to_text() for v in report.violations]
    assert report.result("MessageRules").evaluated > 0
    notes = "\n".join(report.notes)
    assert "partial check (--partial): the files given hold no events of n2, n3" in notes
    assert "receives of messages from n2 were not matched against sends" in notes
    assert "receives of messages from n3 were not matched against sends" in notes
    code, out, _ = run_cli(str(files["n1"]), str(files["n2"]), "--partial")
    assert code == 0 and "no events of n3" in out and "from n2" not in out


def test_partial_still_reports_what_the_files_show_wrong(tmp_path: Path) -> None:
    """A message no present member sent is still invented; a violation within the files
    given is still found."""
    b = message_rules_invented_receive()  # n2 receives an AppendEntries n1 never sent
    files = cluster_files(tmp_path, b)
    report = check_files([files["n1"], files["n2"]], partial=True)
    assert report.violated == ["MessageRules"]
    assert "that was never sent" in report.violations[0].explanation
    b = normal_run(proposals=2)
    b.event("n1", "term", term=0)  # n1's term goes down
    files = cluster_files(tmp_path, b)
    assert "TermMonotonic" in check_files([files["n1"]], partial=True).violated


def test_a_receive_before_its_senders_first_event_is_unsent(tmp_path: Path) -> None:
    """In a per-process run, a receive from a member not yet seen is judged at the end: that
    member's events came later, so the message was never sent before it was received."""
    b = TraceBuilder(clock="per-process")
    b.start("n1")
    b.start("n2")
    b.receive({"type": "RequestVote", "id": "n3.0.1", "from": "n3", "to": "n1", "term": 0,
               "last_log_index": 0, "last_log_term": 0})
    b.start("n3")
    report = b.check()
    assert report.violated == ["MessageRules"]
    assert "n3.0.1 (RequestVote from n3) that was never sent" in report.violations[0].explanation
    assert report.violations[0].lines[0].text == b.lines[3]


def test_a_single_logical_trace_never_has_missing_members() -> None:
    """A node without events in a logical trace never started: nothing is missing."""
    b = TraceBuilder()
    b.start("n1")
    b.start("n2")
    b.elect("n1", ("n2",))
    report = b.check()
    assert report.ok and report.notes == []


def test_seq_must_increase_within_each_file_of_a_run(tmp_path: Path) -> None:
    """seq orders each file, not the merge: files of one run each count from 0, and a seq that
    goes down within one of them is an error naming that file and line."""
    a, b = per_process_pair(tmp_path)
    assert check_files([a, b]).ok  # both files start at seq 0
    lines = b.read_text().splitlines()
    ev = orjson.loads(lines[4])
    ev["seq"] = 0
    lines[4] = orjson.dumps(ev).decode()
    b.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceError) as info:
        check_files([a, b])
    assert (info.value.path, info.value.line, info.value.field) == (str(b), 5, "seq")
    assert "must increase within a file: 0 follows" in info.value.message

"""What the clients of the networked mode see: ``raftref cluster``'s clients record a history
(one file per client, merged by a shared clock), the run ends with the linearizability check
beside the trace check and one exit code for both, and stale reads, asked for by name, are
caught by the check.

Every wait is for a condition under a generous deadline (tests/net_helpers.py); runs that must
stop at a chosen moment are stopped by SIGTERM once a condition holds, never after a sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from checker import check_files
from checker.errors import TraceError
from checker.history import check_history
from raftref.net.client import Client, Counts, HistoryFile, RunClock, history_header
from raftref.net.cluster import start, stop
from raftref.net.config import load_config
from raftref.net.verdict import RunVerdict

from .conftest import ROOT
from .net_helpers import (
    WAIT,
    check_applied_once,
    cluster_args,
    cluster_command,
    cluster_file,
    http,
    leader,
    until,
)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_cluster_run_records_histories_that_merge_and_check_linearizable(
        tmp_path: Path) -> None:
    proc = cluster_command(tmp_path, "--writes", "15", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["exit_code"] == 0 and report["failure"] is None
    assert report["traces"]["verdict"] == "holds"
    history = report["history"]
    assert history["verdict"] == "linearizable" and history["model"] == "kv"
    folder = tmp_path / "c" / "history" / "run-1"
    files = sorted(folder.glob("*.jsonl"))
    assert [f.name for f in files] == ["client-1.jsonl", "client-2.jsonl", "client-3.jsonl"]
    assert history["files"] == [str(f) for f in files]

    lines = [line for f in files for line in _lines(f)]
    headers = [line for line in lines if line["type"] == "header"]
    assert len(headers) == 3 and all(h == headers[0] for h in headers)
    assert headers[0]["options"]["keys"] == ["r1.k0", "r1.k1", "r1.k2"]
    ops = [line for line in lines if line["type"] != "header"]
    # One run: indices unique across the files, and the shared clock orders them the same way.
    assert len({op["index"] for op in ops}) == len(ops)
    by_index = sorted(ops, key=lambda op: op["index"])
    assert [op["time"] for op in by_index] == sorted(op["time"] for op in ops)
    for f in files:
        times = [line["time"] for line in _lines(f)[1:]]
        assert times == sorted(times)
    oks = [op for op in ops if op["type"] == "ok"]
    assert sum(op["f"] in ("put", "append") for op in oks) >= 15
    # Reads that saw written values (the check had something to order), each write one
    # operation, and no append applied twice.
    assert check_applied_once(folder)[1] > 0
    assert history["operations"] == sum(op["type"] == "invoke" for op in ops) - \
        history["failed"]

    # The same cluster again: its state is kept, and so is the first run's history; the new
    # run's keys are new ones, so its history starts from keys nobody has written.
    before = {f: f.read_bytes() for f in files}
    again = cluster_command(tmp_path, "--writes", "3", "--clients", "2",
                            base_port=int(proc.args[proc.args.index("--base-port") + 1]))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "traces: all properties hold; history: linearizable" in again.stdout
    assert {f: f.read_bytes() for f in files} == before
    second = sorted((tmp_path / "c" / "history" / "run-2").glob("*.jsonl"))
    assert [f.name for f in second] == ["client-1.jsonl", "client-2.jsonl"]
    assert _lines(second[0])[0]["options"]["keys"] == ["r2.k0", "r2.k1", "r2.k2"]


# ------------------------------------------------------------------ a stale read, planted


def _clients(tmp_path: Path, config: Any, stale: bool) -> list[Client]:
    clock = RunClock()
    header = history_header(0, {"test": "cut-off leader", "stale_reads": stale})
    return [Client(n, config, ["k"], HistoryFile(tmp_path / "h" / f"client-{n}.jsonl", header,
                                                 clock), Counts(), random.Random(n), stale=stale)
            for n in (1, 2)]


@pytest.mark.parametrize("stale", [True, False], ids=["stale", "linearizable"])
def test_a_read_from_a_cut_off_leader_is_stale_only_when_asked_and_the_check_catches_it(
        tmp_path: Path, stale: bool) -> None:
    # The issue's user: a read from a deposed leader returned a value overwritten seconds
    # earlier. Here client 1 writes through the leader, the leader is cut off, client 2
    # writes through the new leader, and client 1 reads from the old one.
    path, urls = cluster_file(tmp_path)
    config = load_config(path)
    ids = config.ids
    processes = start(path, ids, seed=0, faults=True)
    one, two = _clients(tmp_path, config, stale)
    try:
        first = until(lambda: leader(urls, list(ids)), "a leader is elected")
        until(lambda: one.put(first, "k", "1.1").outcome == "ok", "client 1 writes 1.1")
        rest = [n for n in ids if n != first]
        assert http("PUT", f"{urls[first]}/fault/cut", rest)[0] == 200
        second = until(lambda: leader(urls, rest), "the other two elect a leader")
        until(lambda: two.put(second, "k", "2.1").outcome == "ok", "client 2 writes 2.1")
        answer = one.get(first, "k")
        if stale:
            # The old leader heard nothing since the cut: it answers from its own state.
            assert (answer.outcome, answer.body.get("value")) == ("ok", "1.1"), answer
        else:
            # It cannot confirm its leadership (nor commit anything): no answer, never 1.1;
            # and a write it takes may or may not be committed some day: info, both.
            assert answer.outcome == "info" and answer.status == 503, answer
            assert one.put(first, "k", "1.2", retries=0).outcome == "info"
            follower = next(n for n in rest if n != second)
            until(lambda: (a := two.get(follower, "k")).outcome == "ok"
                  and a.body.get("value") == "2.1", "a read through a follower sees 2.1")
    finally:
        stop(processes)
        for client in (one, two):
            client.history.close()

    files = sorted((tmp_path / "h").glob("*.jsonl"))
    report = check_history(files, model="kv")
    if stale:
        assert report.verdict == "not linearizable", report.to_text()
        # The operations that cannot be ordered: both writes, and the stale read.
        core = report.keys[0].counterexample.core
        assert sorted((op.f, op.value, op.result) for op in core) == [
            ("get", None, "1.1"), ("put", "1.1", None), ("put", "2.1", None)]
    else:
        assert report.verdict == "linearizable", report.to_text()
    assert check_files([tmp_path / n / "trace.jsonl" for n in ids]).violated == []


def test_a_request_in_flight_when_its_node_is_killed_is_info_and_one_to_a_dead_node_fail(
        tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path)
    config = load_config(path)
    processes = start(path, config.ids, seed=0, faults=True)
    client = _clients(tmp_path, config, stale=False)[0]
    try:
        first = until(lambda: leader(urls, list(config.ids)), "a leader is elected")
        assert client.register()  # before the cut: the session's register entry commits
        # Cut off, the leader appends a write it cannot commit, and waits (5 s) to answer.
        assert http("PUT", f"{urls[first]}/fault/cut",
                    [n for n in config.ids if n != first])[0] == 200
        answers: list[Any] = []
        writer = threading.Thread(target=lambda: answers.append(
            client.put(first, "k", "1.1", retries=0)))
        writer.start()
        until(lambda: (s := http("GET", f"{urls[first]}/status")[1])
              and s["last_index"] > s["commit"], "the leader appends the write")
        processes[first].kill()  # while the request waits for its answer
        processes[first].wait()
        writer.join(WAIT)
        assert answers and answers[0].outcome == "info", answers
        dead = client.get(first, "k")
        assert (dead.outcome, dead.status) == ("fail", 0), dead  # refused: nothing was sent
    finally:
        stop(processes)
        client.history.close()
    lines = _lines(tmp_path / "h" / "client-1.jsonl")
    assert [(line["type"], line.get("f")) for line in lines[1:]] == [
        ("invoke", "put"), ("info", "put"), ("invoke", "get"), ("fail", "get")]


@contextlib.contextmanager
def _running(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``raftref cluster`` started, to be stopped by the test with SIGTERM (killed with its
    nodes if it is still there at the end)."""
    proc = subprocess.Popen(cluster_args(tmp_path, *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def _client_lines(folder: Path, client: int) -> int:
    path = folder / f"client-{client}.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _terminate(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=5 * WAIT)


def test_stale_reads_by_name_under_a_partition_fail_the_run_with_exit_1(tmp_path: Path) -> None:
    # The cluster's clients read with ?stale=1; the test cuts off a follower, whose state then
    # freezes while the others write on. The run is stopped once its history, read as it is
    # being written, is not linearizable; the run's own check must then say so, beside traces
    # that hold, with exit 1.
    folder = tmp_path / "c" / "history" / "run-1"
    with _running(tmp_path, "--seconds", "3600", "--stale-reads", "--allow-faults") as proc:
        until(lambda: _client_lines(folder, 1) > 4, "the clients are recording")
        urls = {n: f"http://{a}" for n, a in load_config(tmp_path / "c" /
                                                          "cluster.json").http.items()}
        boss = until(lambda: leader(urls, list(urls)), "a leader")
        victim = next(n for n in urls if n != boss)
        assert http("PUT", f"{urls[victim]}/fault/cut", [n for n in urls if n != victim])[0] \
            == 200

        def caught() -> bool:
            try:
                return check_history(sorted(folder.glob("*.jsonl")), model="kv").verdict \
                    == "not linearizable"
            except TraceError:
                return False  # a line being written as it was read
        until(caught, "a stale read in the history")
        out, err = _terminate(proc)
    assert proc.returncode == 1, out + err
    assert "traces: all properties hold; history: not linearizable" in out
    assert "is not linearizable." in out and "Traceback" not in err


def test_a_bad_history_file_in_the_cluster_dir_is_one_clear_error_exit_2(
        tmp_path: Path) -> None:
    folder = tmp_path / "c" / "history" / "run-1"
    with _running(tmp_path, "--seconds", "3600") as proc:
        until(lambda: _client_lines(folder, 1) > 2, "client 1 is recording")
        with open(folder / "client-1.jsonl", "ab") as f:
            f.write(b'{"type": "ok", "index": \n')  # damaged by someone else
        out, err = _terminate(proc)
    assert proc.returncode == 2, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"error: {folder / 'client-1.jsonl'}:")
    assert "Traceback" not in err
    # The traces were still checked and shown; the history was not.
    assert "all properties hold" in out and "history: not checked" in out
    assert b'{"type": "ok", "index": \n' in (folder / "client-1.jsonl").read_bytes()


# ------------------------------------------------------------------ one exit code for both


CONFORMANCE = ROOT / "traces" / "conformance"
HAND = ROOT / "traces" / "histories" / "hand"


def _verdict(trace: str, history: str) -> RunVerdict:
    return RunVerdict(traces=check_files([CONFORMANCE / trace]),
                      history=check_history([HAND / history]))


def test_the_exit_code_covers_both_checks() -> None:
    clean, broken = "valid_election_replication.jsonl", "election_safety_two_leaders.jsonl"
    good, bad = "register-concurrent-writes-ok.jsonl", "register-stale-read.jsonl"
    assert _verdict(clean, good).exit_code == 0
    assert _verdict(broken, good).exit_code == 1
    assert _verdict(clean, bad).exit_code == 1
    assert _verdict(broken, bad).exit_code == 1
    unknown = _verdict(clean, good)
    assert unknown.history is not None
    unknown.history.keys[0].verdict = "unknown"  # as when the time budget runs out
    assert unknown.exit_code == 3 and "history: unknown" in unknown.summary()
    unknown.traces = check_files([CONFORMANCE / broken])
    assert unknown.exit_code == 1  # a violation found outweighs a verdict not reached
    for errors in ({"failure": "node n2 stopped by itself"}, {"history_error": "x:3: bad"},
                   {"trace_error": "no trace from node n2"}):
        mixed = _verdict(broken, bad)
        for name, value in errors.items():
            setattr(mixed, name, value)
        assert mixed.exit_code == 2
    both = _verdict(broken, bad).to_json()
    assert both["traces"]["verdict"] == "violated"
    assert both["history"]["verdict"] == "not linearizable" and both["exit_code"] == 1

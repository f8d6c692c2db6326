"""The networked mode (raftref/net/): real processes, TCP and disks. A 3-node cluster keeps
serving writes while its leader is killed (SIGKILL) and restarted, the restarted node catches
up from its disk and its peers, and the three per-process traces pass the checker together.
Plus the pieces: messages over the wire, the cluster file's errors, ``raftref cluster``.
(The disk and the trace after a kill: tests/test_net_durability.py.)

Every wait is for a condition (a node answers, a leader exists, a write is applied, a run has
had its faults), polled under a generous deadline: on a busy 2-core machine a node's start-up
alone has taken seconds, so nothing here expects anything within a short fixed time.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from checker import check_files
from checker.errors import TraceError
from raftref.net.cluster import check_traces, start, stop
from raftref.net.config import ConfigError, load_config, parse_config
from raftref.net.server import NodeServer
from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    RequestVote,
    RequestVoteResponse,
    message_from_json,
)
from raftref.protocol.node import PersistentState

from .net_helpers import (
    WAIT,
    check_applied_once,
    cluster_command,
    cluster_file,
    free_base_port,
    http,
    leader,
    until,
)


def _ok(answer: tuple[int, dict[str, Any]]) -> dict[str, Any] | None:
    return answer[1] if answer[0] == 200 else None


def _put(urls: dict[str, str], node: str, key: str, value: Any) -> int | None:
    """Write through ``node``, following a redirect to the leader once; the log index, or None
    when the write did not go through (no leader yet, or not committed in time)."""
    status, body = http("PUT", f"{urls[node]}/kv/{key}", value)
    if status == 307:
        status, body = http("PUT", body["location"], value)
    return body["index"] if status == 200 else None


def test_a_cluster_keeps_writing_through_a_killed_and_restarted_leader(tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path)
    ids = ("n1", "n2", "n3")
    processes = start(path, ids, seed=0)
    try:
        first = until(lambda: leader(urls, list(ids)), "a leader is elected")
        follower = next(n for n in ids if n != first)
        for i in range(5):  # through a follower: redirected to the leader
            index = until(lambda i=i: _put(urls, follower, f"k{i}", i), f"write k{i}")
        # A stale read (asked for by name) answers from the node's own state: once a node has
        # applied the write's index (?applied=), it has the write.
        for n in ids:
            answer = until(lambda n=n: _ok(http("GET", f"{urls[n]}/kv/k4?stale=1&applied="
                                                f"{index}")), f"{n} reads k4")
            assert answer["value"] == 4 and answer["applied"] >= index and answer["stale"]
        assert http("GET", f"{urls[first]}/kv/k4?stale=1&applied=last")[0] == 400
        assert http("GET", f"{urls[first]}/kv/k4?applied={index}")[0] == 400  # without stale

        processes[first].send_signal(signal.SIGKILL)
        processes[first].wait()
        rest = [n for n in ids if n != first]
        second = until(lambda: leader(urls, rest), "a new leader among the two left")
        last = 0
        for i in range(5, 10):
            last = until(lambda i=i: _put(urls, second, f"k{i}", i), f"write k{i}")

        processes.update(start(path, (first,), seed=0))  # the same data directory
        def caught_up() -> bool:
            status, body = http("GET", f"{urls[first]}/kv/k9?stale=1")
            return status == 200 and body["value"] == 9 and body["applied"] >= last
        until(caught_up, "the restarted node applies every write")
        assert [http("GET", f"{urls[first]}/kv/k{i}?stale=1")[1]["value"]
                for i in range(10)] == list(range(10))
    finally:
        stop(processes)

    traces = [tmp_path / n / "trace.jsonl" for n in ids]
    report = check_files(traces)
    assert report.violated == [], report.to_text()
    events = [orjson.loads(line) for line in traces[ids.index(first)].read_bytes().splitlines()]
    assert events[0]["type"] == "header" and events[0]["clock"] == "per-process"
    assert [e["seq"] for e in events[1:]] == list(range(len(events) - 1))
    kinds = [(e["kind"], e.get("restart")) for e in events[1:]]
    crash = kinds.index(("crash", None))
    assert kinds[crash + 1] == ("start", True)  # written by the restarted process
    leaders = {e["term"]: e["node"] for t in traces for e in map(orjson.loads,
               t.read_bytes().splitlines()[1:]) if e["kind"] == "role" and e["role"] == "leader"}
    # ``first`` led a term, and another node a later one (after the kill). Not "the first term's
    # leader is ``first``": on a busy machine an earlier leader may have come and gone unseen.
    led = [term for term, node in leaders.items() if node == first]
    assert led and any(node != first and term > min(led) for term, node in leaders.items())


def test_a_cluster_of_one_acknowledges_its_writes(tmp_path: Path) -> None:
    # Alone, the leader commits and applies a write in the step that appends it; the server
    # used to start waiting for it only after that step, and answered 503 after 5 s.
    path, urls = cluster_file(tmp_path, nodes=1)
    processes = start(path, ("n1",), seed=0)
    try:
        index = until(lambda: _put(urls, "n1", "hello", "world"), "a write is acknowledged")
        status, body = http("GET", f"{urls['n1']}/kv/hello")  # linearizable: through the log
        assert (status, body["value"]) == (200, "world") and body["index"] >= index
    finally:
        stop(processes)
    assert check_files([tmp_path / "n1" / "trace.jsonl"]).violated == []


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raftref", "serve", *args],
                          capture_output=True, text=True, timeout=WAIT)


def test_serve_refuses_bad_input_in_one_line_with_exit_2(tmp_path: Path) -> None:
    path, _ = cluster_file(tmp_path)
    unknown = _serve("--cluster", str(path), "--id", "n9", "--data", str(tmp_path / "d"))
    assert unknown.returncode == 2 and "no node 'n9'" in unknown.stderr
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"nodes": {"n1": {"raft": "127.0.0.1", "http": "127.0.0.1:1"}}}')
    wrong = _serve("--cluster", str(bad), "--id", "n1", "--data", str(tmp_path / "d"))
    assert wrong.returncode == 2 and "field nodes.n1.raft" in wrong.stderr
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = tmp_path / "busy.json"
    busy.write_bytes(orjson.dumps({"nodes": {"n1": {
        "raft": f"127.0.0.1:{taken.getsockname()[1]}", "http": "127.0.0.1:1"}}}))
    try:
        in_use = _serve("--cluster", str(busy), "--id", "n1", "--data", str(tmp_path / "d"),
                        "--insecure")
    finally:
        taken.close()
    assert in_use.returncode == 2 and "n1:" in in_use.stderr
    for proc in (unknown, wrong, in_use):
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize("obj,field", [
    ([], "top level"),
    ({"nodes": {}}, "field nodes"),
    ({"nodes": {"n1": {"raft": "h:1", "http": "h:1"}}}, "share one address"),
    ({"nodes": {"n1": {"raft": "h:1", "http": "h:99999"}}}, "nodes.n1.http"),
    ({"nodes": {"n1": {"raft": "h:1", "http": "h:2"}}, "tick_ms": 0}, "field tick_ms"),
    ({"nodes": {"n1": {"raft": "h:1", "http": "h:2"}}, "heartbeat_interval": 10},
     "heartbeat_interval"),
    ({"nodes": {"n1": {"raft": "h:1", "http": "h:2"}}, "color": 1}, "field color"),
])
def test_a_bad_cluster_file_names_its_field(obj: Any, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        parse_config(obj)


def test_every_message_crosses_the_wire_unchanged() -> None:
    messages = [
        RequestVote("n1.0.1", "n1", "n2", 3, 7, 2),
        RequestVoteResponse("n2.1.4", "n2", "n1", 3, "n1.0.1", True),
        AppendEntries("n1.0.2", "n1", "n2", 3, 6, 2, (Entry(2, {"op": "put"}), Entry(3)), 5),
        AppendEntriesResponse("n2.1.5", "n2", "n1", 3, "n1.0.2", True, 8),
        AppendEntriesResponse("n2.1.6", "n2", "n1", 3, "n1.0.2", False, 4, 2, 3),
    ]
    for msg in messages:
        assert message_from_json(orjson.loads(orjson.dumps(msg.to_json()))) == msg
    with pytest.raises(ValueError):
        message_from_json({"type": "Gossip", "id": "x", "from": "a", "to": "b", "term": 1})


def test_a_disk_that_refuses_a_write_stops_the_node_with_that_error(tmp_path: Path) -> None:
    # A node must not answer or vote on state it could not persist (Figure 2): the server
    # stops and raises what the disk said, which 'raftref serve' prints in one line.
    path, _ = cluster_file(tmp_path, nodes=1)
    config = load_config(path)

    def refuse(state: PersistentState, lines: list[bytes]) -> None:
        raise OSError(28, "No space left on device")

    async def main() -> None:
        server = NodeServer(config, "n1", tmp_path / "n1")
        server.disk.save = refuse  # type: ignore[method-assign]
        await asyncio.wait_for(server.run(), WAIT)  # alone, n1 soon elects itself: a write

    with pytest.raises(OSError, match="No space left"):
        asyncio.run(main())


def _tally(stderr: str) -> dict[str, int]:
    """The counts of a run's summary line ("writes acknowledged 12, not 3; nodes killed 1, ...")."""
    line = next(x for x in reversed(stderr.splitlines()) if x.startswith("writes acknowledged"))
    words = line.replace(",", "").replace(";", "").split()
    names = {"acknowledged": "writes_ok", "killed": "kills", "restarted": "restarts",
             "off": "cuts", "healed": "healed"}
    return {names[w]: int(words[i + 1]) for i, w in enumerate(words) if w in names}


def test_a_chaos_run_kills_and_cuts_off_nodes_and_both_checks_pass(
        tmp_path: Path) -> None:
    # Seed 4's first two faults are a cut and a kill (raftref.net.cluster.fault_plan); the run
    # lasts until both have healed (the killed node answers again) and 10 writes went through.
    proc = cluster_command(tmp_path, "--faults", "2", "--writes", "10", "--chaos", "--seed", "4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all properties hold" in proc.stdout
    # The clients' history through the kill and the cut: linearizable (reads go through the
    # leader and are confirmed; tests/test_net_history.py has the rest).
    assert "traces: all properties hold; history: linearizable" in proc.stdout
    tally = _tally(proc.stderr)
    assert tally["cuts"] >= 1 and tally["kills"] >= 1 and tally["restarts"] >= 1, tally
    assert tally["healed"] >= 2 and tally["writes_ok"] >= 10, tally
    restarted = [t for t in (tmp_path / "c").glob("*/trace.jsonl") if b'"restart":true' in
                 t.read_bytes()]
    assert restarted
    # With sessions: each client registered one, a write in doubt was retried as the same
    # operation (tests/test_net_sessions.py has the rest), and no append was applied twice.
    assert int(re.search(r"(\d+) sessions\)", proc.stderr)[1]) >= 3, proc.stderr
    writes, reads = check_applied_once(tmp_path / "c" / "history" / "run-1")
    assert writes >= 10 and reads > 0


def test_a_short_timed_run_counts_from_when_every_node_answers_and_checks_clean(
        tmp_path: Path) -> None:
    # It used to stop the nodes before they had started, and end in a TypeError (exit 1).
    proc = cluster_command(tmp_path, "--seconds", "0.3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all properties hold" in proc.stdout and "Traceback" not in proc.stderr
    for n in ("n1", "n2", "n3"):
        assert b'"kind":"start"' in (tmp_path / "c" / n / "trace.jsonl").read_bytes()


def test_a_node_that_cannot_start_ends_the_run_with_exit_2_and_no_check(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "n2").write_text("not a directory")  # n2's data directory
    proc = cluster_command(tmp_path, "--seconds", "1")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: node n2 (exit code 2) stopped by itself" in proc.stderr
    # n2 ends the run at once, so a node still starting may have no trace either.
    assert re.search(r"no trace from node (n\d, )*n2(, n\d)* \(never started\)", proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert (tmp_path / "c" / "n2").read_text() == "not a directory"


def test_checking_a_cluster_with_a_node_missing_its_trace_names_the_node(tmp_path: Path) -> None:
    (tmp_path / "n1").mkdir()
    (tmp_path / "n1" / "trace.jsonl").write_bytes(b"")
    with pytest.raises(TraceError) as raised:
        check_traces(tmp_path, ("n1", "n2", "n3"))
    assert str(raised.value) == (f"{tmp_path}: no trace from node n2, n3 (never started); the "
                                 "other nodes' traces cannot be checked alone")


def test_a_cluster_of_mutant_nodes_exits_1_naming_the_violated_property(tmp_path: Path) -> None:
    # A minority quorum commits a write on the leader's own say: the first write is a violation.
    proc = cluster_command(tmp_path, "--writes", "3", "--mutant", "minority-quorum")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "violated:" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,message", [
    (["--chaos"], "--chaos needs --seconds, --faults or --writes"),
    (["--faults", "2"], "--faults needs --chaos"),
    (["--chaos", "--faults", "1", "--nodes", "2"], "--chaos needs 3 nodes or more"),
])
def test_chaos_without_a_stop_or_a_majority_is_refused(tmp_path: Path, args: list[str],
                                                        message: str) -> None:
    proc = cluster_command(tmp_path, *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_open_ended_cluster_stops_on_sigterm_and_checks_its_traces(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "raftref", "cluster", "--dir", str(tmp_path / "c"),
         "--base-port", str(free_base_port()), "--tick-ms", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        cluster_file = tmp_path / "c" / "cluster.json"
        until(lambda: cluster_file.exists() or None, "the cluster file is written")
        nodes = load_config(cluster_file).http
        urls = {n: f"http://{a}" for n, a in nodes.items()}
        # Every node up (not only a majority: SIGTERM stops a node still starting before it
        # has a trace, and the check then refuses the others' alone), and a leader elected.
        until(lambda: all(http("GET", f"{u}/status")[0] == 200 for u in urls.values()),
               "the three nodes answer")
        until(lambda: leader(urls, list(urls)), "the three nodes elect a leader")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "all properties hold" in out and "checked" in out
    assert "Traceback" not in err


def test_a_node_cut_off_hears_nothing_and_is_heard_by_no_one_until_healed(
        tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path)
    ids = ("n1", "n2", "n3")
    processes = start(path, ids, seed=0, faults=True)
    try:
        first = until(lambda: leader(urls, list(ids)), "a leader is elected")
        assert http("PUT", f"{urls[first]}/fault/cut", ["n9"])[0] == 400
        status, body = http("PUT", f"{urls[first]}/fault/cut", [n for n in ids if n != first])
        assert (status, len(body["cut"])) == (200, 2)
        rest = [n for n in ids if n != first]
        second = until(lambda: leader(urls, rest), "the other two elect a leader")
        term = http("GET", f"{urls[second]}/status")[1]["term"]
        assert http("GET", f"{urls[first]}/status")[1]["term"] < term  # heard nothing
        assert http("DELETE", f"{urls[first]}/fault/cut")[1] == {"cut": []}
        until(lambda: http("GET", f"{urls[first]}/status")[1]["term"] >= term or None,
               "the healed node learns the newer term")
    finally:
        stop(processes)
    assert check_files([tmp_path / n / "trace.jsonl" for n in ids]).violated == []

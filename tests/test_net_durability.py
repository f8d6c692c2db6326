"""The networked mode's disk and trace agree after a kill at any point of a step
(raftref/net/storage.py): a node killed after saving a step's state and before writing the
step's trace lines restarts with those lines appended first, so the checker, which demands that
a restart shows what the node had at its crash (CommittedDurable), finds nothing wrong. The
same kill with the state saved the old way (without the lines) is a CommittedDurable violation:
these tests would catch the fix being undone.

In-process, a node of a 1-node cluster is driven step by step (``_perform``), and the "kill"
is an exception raised where the process would die, after which the trace file is closed as the
process's would be. A real process is killed at that point by the test hook
RAFTREF_NET_EXIT_AFTER_SAVE.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from checker import check_files
from raftref.net.cluster import start, stop
from raftref.net.config import ClusterConfig, load_config
from raftref.net.server import EXIT_AFTER_SAVE, NodeServer
from raftref.net.storage import HOOK_EXIT, DiskState, NodeTrace, StorageError
from raftref.protocol.messages import Entry
from raftref.protocol.node import LEADER, PersistentState
from raftref.trace import header

from .net_helpers import cluster_file, http, until


class Killed(Exception):
    """Where the process would have died."""


def _one_node(tmp_path: Path) -> ClusterConfig:
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    path = tmp_path / "cluster.json"
    path.write_bytes(orjson.dumps({"nodes": {"n1": {"raft": f"127.0.0.1:{ports[0]}",
                                                    "http": f"127.0.0.1:{ports[1]}"}}}))
    return load_config(path)


def _leader(server: NodeServer) -> None:
    for _ in range(1000):  # alone, the node elects itself at its first election timeout
        server._perform(server.node.tick())
        if server.node.role == LEADER:
            return
    raise AssertionError("n1 never became leader")


def _put(server: NodeServer, key: str, value: int) -> None:
    server._perform(server.node.propose({"op": "put", "key": key, "value": value}))


def _events(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]


def _kill_during_a_write(tmp_path: Path, arm: Callable[[NodeServer], None]) -> Path:
    """n1 becomes leader and takes two writes; ``arm`` places the kill; the third write dies
    there; n1 restarts from its disk and takes a fourth. Returns the trace."""
    config = _one_node(tmp_path)
    data = tmp_path / "n1"
    server = NodeServer(config, "n1", data)
    _leader(server)
    _put(server, "a", 1)
    _put(server, "b", 2)
    arm(server)
    with pytest.raises(Killed):
        _put(server, "c", 3)
    server.trace.close()  # the process is gone: what it wrote is in the file, nothing more

    again = NodeServer(config, "n1", data)
    assert [e.data["key"] for e in again.disk.state.log if e.data] == ["a", "b", "c"]
    _leader(again)
    _put(again, "d", 4)
    again.trace.close()
    return data / "trace.jsonl"


def _after_save(keep_lines: bool) -> Callable[[NodeServer], None]:
    def arm(server: NodeServer) -> None:
        save = server.disk.save

        def save_then_die(state: PersistentState, lines: list[bytes]) -> None:
            save(state, lines if keep_lines else [])  # [] is the state as saved before the fix
            raise Killed
        server.disk.save = save_then_die  # type: ignore[method-assign]
    return arm


def _after_trace(server: NodeServer) -> None:
    append = server.trace.append

    def append_then_die(lines: list[bytes]) -> None:
        append(lines)
        if lines:
            raise Killed
    server.trace.append = append_then_die  # type: ignore[method-assign]


def test_a_kill_between_saving_the_state_and_tracing_the_step_checks_clean(
        tmp_path: Path) -> None:
    trace = _kill_during_a_write(tmp_path, _after_save(keep_lines=True))
    report = check_files([trace])
    assert report.violated == [], report.to_text()
    events = _events(trace)
    assert [e["seq"] for e in events] == list(range(len(events)))
    crash = next(i for i, e in enumerate(events) if e["kind"] == "crash")
    # The step the kill cut short is in the trace, restored before the crash, and the restart
    # shows the log those lines describe.
    appended = [e for e in events[:crash] if e["kind"] == "append"]
    assert appended[-1]["entries"][-1]["data"]["key"] == "c"
    assert events[crash + 1]["kind"] == "start" and events[crash + 1]["restart"] is True
    assert [e["data"]["key"] for e in events[crash + 1]["log"] if e["data"]] == ["a", "b", "c"]


def test_the_same_kill_with_the_state_saved_without_its_lines_is_a_violation(
        tmp_path: Path) -> None:
    # The old order (state saved alone, then the trace): the restart shows an entry the trace
    # never saw. This is what the fix prevents, and what the test above would see without it.
    trace = _kill_during_a_write(tmp_path, _after_save(keep_lines=False))
    report = check_files([trace])
    assert report.violated == ["CommittedDurable"], report.to_text()


def test_a_kill_after_the_step_is_traced_restores_nothing_twice(tmp_path: Path) -> None:
    trace = _kill_during_a_write(tmp_path, _after_trace)
    report = check_files([trace])
    assert report.violated == [], report.to_text()
    events = _events(trace)
    assert [e["seq"] for e in events] == list(range(len(events)))
    appends = [(e["entries"][-1]["data"] or {}).get("key") for e in events
               if e["kind"] == "append"]
    assert appends.count("c") == 1


def test_a_torn_last_line_is_cut_on_restart(tmp_path: Path) -> None:
    config = _one_node(tmp_path)
    server = NodeServer(config, "n1", tmp_path / "n1")
    _leader(server)
    _put(server, "a", 1)
    server.trace.close()
    trace = tmp_path / "n1" / "trace.jsonl"
    whole = trace.read_bytes()
    torn = b'{"type":"event","seq":99,"node":"n1","ki'
    trace.write_bytes(whole + torn)  # a kill in the middle of writing a line
    again = NodeServer(config, "n1", tmp_path / "n1")
    again.trace.close()
    assert again.trace.cut == len(torn)
    assert trace.read_bytes().startswith(whole) and torn not in trace.read_bytes()
    assert check_files([trace]).violated == []


def test_a_stopping_node_takes_no_more_input(tmp_path: Path) -> None:
    # On SIGTERM the server closes the trace; a peer message or a tick handled after that used
    # to reach the node, save its state and fail writing the closed trace (a traceback on
    # stderr, seen in a 0.3 s cluster run). Once stopping, the server takes no input.
    server = NodeServer(_one_node(tmp_path), "n1", tmp_path / "n1")
    server.stop()
    server.trace.close()
    before = [(tmp_path / "n1" / name).read_bytes() for name in ("trace.jsonl", "state.json")]
    for _ in range(100):  # past an election timeout: a tick that reached the node would save
        assert server._step(server.node.tick) is None
    assert [(tmp_path / "n1" / name).read_bytes()
            for name in ("trace.jsonl", "state.json")] == before
    assert server._failure is None


def test_the_disk_keeps_term_vote_log_and_the_steps_lines_and_counts_starts(
        tmp_path: Path) -> None:
    disk = DiskState(tmp_path)
    assert (disk.state, disk.incarnation, disk.unwritten) == (PersistentState(), 0, [])
    state = PersistentState(4, "n2", (Entry(1), Entry(4, {"op": "put", "key": "a", "value": 1})))
    lines = [b'{"type":"event","seq":7,"node":"n1","kind":"append","term":4}\n']
    disk.save(state, lines)
    again = DiskState(tmp_path)
    assert (again.state, again.incarnation, again.unwritten) == (state, 1, lines)
    assert DiskState(tmp_path).incarnation == 2  # the lines stay until the next save
    assert DiskState(tmp_path).unwritten == lines
    for bad in (b"{", b'{"term": 1, "vote": null, "log": [], "incarnation": 0, "trace": [1]}'):
        (tmp_path / "state.json").write_bytes(bad)
        with pytest.raises(StorageError, match="state.json"):
            DiskState(tmp_path)


def test_a_restarted_node_appends_to_its_trace_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    head = header(["n1", "n2"], 0, clock="per-process")
    trace = NodeTrace(path, head, "n1")
    assert not trace.resumed
    trace.append(trace.stage([{"node": "n1", "kind": "timeout", "term": 1, "role": "candidate",
                               "vote": "n1", "commit": 0}]))
    trace.close()
    trace = NodeTrace(path, head, "n1")
    assert trace.resumed and trace.seq == 1
    trace.driver_event("crash")
    trace.close()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line.get("seq") for line in lines] == [None, 0, 1]
    assert lines[2] | {"seq": 0} == lines[1] | {"kind": "crash", "seq": 0}
    with pytest.raises(StorageError, match="field nodes"):
        NodeTrace(path, header(["n1", "n2", "n3"], 0, clock="per-process"), "n1")
    # Lines a state holds from beyond the trace's end: not this trace's state.
    trace = NodeTrace(path, head, "n1")
    with pytest.raises(StorageError, match="seq 5"):
        trace.restore([b'{"type":"event","seq":5,"node":"n1","kind":"timeout","term":2,'
                       b'"role":"candidate","vote":"n1","commit":0}\n'])
    trace.close()


# ------------------------------------------------------------------ a real process, killed






def test_a_node_process_killed_between_its_state_and_its_trace_restarts_consistent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, url = cluster_file(tmp_path)  # with its secret
    nodes = tuple(url)
    monkeypatch.setenv(EXIT_AFTER_SAVE, "4")  # n1's 4th state change: a vote or new entries
    processes = start(path, ("n1",), seed=0)
    monkeypatch.delenv(EXIT_AFTER_SAVE)
    processes.update(start(path, ("n2", "n3"), seed=0))
    try:
        def put(key: str, value: int) -> int | None:
            """Through n2, following a redirect to the leader: the write's index, or None."""
            status, body = http("PUT", f"{url['n2']}/kv/{key}", value)
            if status == 307:
                status, body = http("PUT", body["location"], value)
            return body.get("index") if status == 200 else None

        until(lambda: put("k", 1) is not None and False or processes["n1"].poll() is not None,
               "n1 reaches its 4th save and exits")
        assert processes["n1"].returncode == HOOK_EXIT
        # The kill fell where it should: the state holds trace lines the trace lacks.
        state = orjson.loads((tmp_path / "n1" / "state.json").read_bytes())
        traced = _events(tmp_path / "n1" / "trace.jsonl")
        assert state["trace"] and state["trace"][0]["seq"] == len(traced)

        processes.update(start(path, ("n1",), seed=0))
        until(lambda: http("GET", f"{url['n1']}/status")[0] == 200, "n1 restarts")
        index = until(lambda: put("after", 2), "a write after the restart")
        until(lambda: http("GET", f"{url['n1']}/status")[1].get("applied", 0) >= index,
               "n1 applies it")
    finally:
        stop(processes)
    traces = [tmp_path / n / "trace.jsonl" for n in nodes]
    report = check_files(traces)
    assert report.violated == [], report.to_text()
    kinds = [e["kind"] for e in _events(traces[0])]
    assert kinds[len(traced):len(traced) + len(state["trace"]) + 2] == \
        [line["kind"] for line in state["trace"]] + ["crash", "start"]

"""Follower reads forwarded to the leader's ReadIndex (thesis §6.4, raftref/protocol/reads.py,
``NodeConfig.forward_reads``): by hand on a small cluster, then in the simulator with clients
whose history is judged for linearizability."""

from __future__ import annotations

import io
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import check_lines
from checker.history import check_history
from raftref.cli import main
from raftref.mutants import ZOO
from raftref.protocol.messages import (
    AppendEntries,
    ReadIndex,
    ReadIndexResponse,
    message_from_json,
)
from raftref.protocol.node import NodeConfig
from raftref.protocol.reads import PendingRead
from raftref.search.strategies import schedules
from raftref.sim.schedule import (
    RELIABLE,
    MessageFault,
    Schedule,
    ScheduleError,
    generate_schedule,
)
from raftref.sim.simulator import Simulation, run_schedule

from .raft_cluster import Cluster

FORWARD = NodeConfig(forward_reads=True)


def lagging_follower(config: NodeConfig = FORWARD, mutant: str | None = None) -> Cluster:
    """n1 leads; x was "old", then "new" was committed by n1 and n2 while n3 was cut off: n3
    still holds "old" and has not heard of the write."""
    c = Cluster(3, config, ZOO[mutant]) if mutant else Cluster(3, config)
    c.elect("n1")
    c.put("n1", "x", "old")
    c.tick("n1", c.config.heartbeat_interval)
    c.deliver()
    c.cut = {"n3"}
    c.put("n1", "x", "new")
    c.cut = set()
    assert c.nodes["n3"].kv.get("x") == "old"
    return c


def test_a_follower_forwards_a_read_and_answers_the_value_committed_before_it() -> None:
    c = lagging_follower()
    follower = c.nodes["n3"]
    ready = c.read("n3", "r1", "x")
    assert ready.reads == [], "a forwarded read waits for the leader's read index"
    [ask] = ready.messages
    assert isinstance(ask, ReadIndex) and (ask.src, ask.dst) == ("n3", "n1")
    assert ask.to_json() == {"type": "ReadIndex", "id": ask.id, "from": "n3", "to": "n1",
                             "term": follower.current_term}
    c.deliver()
    [answer] = [m for e in c.events if e["kind"] == "send"
                and (m := message_from_json(e["msg"])) and isinstance(m, ReadIndexResponse)]
    assert answer.success and answer.reply_to == ask.id
    assert answer.read_index >= c.nodes["n1"].log.last_index - 1  # "new" was committed
    result = c.reads["r1"]
    assert result.ok and result.value == "new"
    assert result.index is not None and result.index >= answer.read_index
    assert follower.reads.pending == []


def test_the_leader_confirms_with_a_round_sent_after_the_request_arrived() -> None:
    c = lagging_follower()
    c.read("n3", "r1", "x")
    [ask] = c.queue
    c.queue = []
    ready = c.take(c.nodes["n1"].receive(ask))
    assert not any(isinstance(m, ReadIndexResponse) for m in ready.messages)
    assert {m.dst for m in ready.messages if isinstance(m, AppendEntries)} == {"n2", "n3"}
    c.cut = {"n2", "n3"}  # no acknowledgement: no read index, ever
    c.deliver()
    for _ in range(5):
        c.tick("n1")
        c.deliver()
    assert not any(isinstance(m, ReadIndexResponse) for m in c.queue)
    assert not any(e["kind"] == "send" and e["msg"]["type"] == "ReadIndexResponse"
                   for e in c.events)


def test_a_follower_that_knows_no_leader_refuses_and_sends_nothing() -> None:
    c = Cluster(3, FORWARD)
    ready = c.read("n2", "r1", "x")
    [result] = ready.reads
    assert not result.ok and result.reason == "not-leader" and result.leader_hint is None
    assert ready.messages == []


def test_without_the_option_a_follower_still_redirects() -> None:
    c = lagging_follower(NodeConfig())
    ready = c.read("n3", "r1", "x")
    [result] = ready.reads
    assert (result.ok, result.reason, result.leader_hint) == (False, "not-leader", "n1")
    assert ready.messages == []


def test_the_leader_refuses_when_it_is_not_leader_or_not_ready() -> None:
    c = Cluster(3, FORWARD)
    c.elect("n1")
    term = c.nodes["n1"].current_term
    # A node that is not the leader refuses at once.
    ready = c.nodes["n2"].receive(ReadIndex("n3.0.99", "n3", "n2", term))
    [refusal] = ready.messages
    assert isinstance(refusal, ReadIndexResponse)
    assert (refusal.success, refusal.reason, refusal.reply_to) == (False, "not-leader", "n3.0.99")
    assert "read_index" not in refusal.to_json() and refusal.to_json()["reason"] == "not-leader"
    # A leader that has not committed an entry of its term yet has no read index.
    d = Cluster(3, FORWARD)
    leader = d.nodes["n1"]
    while leader.role != "leader":
        d.tick("n1")
        votes = [m for m in d.queue if not isinstance(m, AppendEntries)]
        d.queue = [m for m in d.queue if isinstance(m, AppendEntries)]
        for m in votes:
            d.take(d.nodes[m.dst].receive(m))
    ready = leader.receive(ReadIndex("n2.0.99", "n2", "n1", leader.current_term))
    [refusal] = [m for m in ready.messages if isinstance(m, ReadIndexResponse)]
    assert (refusal.success, refusal.reason) == (False, "not-ready")


def test_a_refusal_from_the_leader_reaches_the_client_with_its_reason() -> None:
    c = lagging_follower()
    c.read("n3", "r1", "x")
    [ask] = c.queue
    c.queue = []
    c.take(c.nodes["n3"].receive(ReadIndexResponse("n1.0.999", "n1", "n3", ask.term, ask.id,
                                                   False, reason="not-ready")))
    result = c.reads["r1"]
    assert (result.ok, result.reason, result.leader_hint) == (False, "not-ready", "n1")


def test_a_lost_answer_leaves_the_read_pending_and_the_node_never_retries() -> None:
    c = lagging_follower()
    follower = c.nodes["n3"]
    c.read("n3", "r1", "x")
    # The leader answers, and the network loses the answer.
    for _ in range(50):
        c.queue = [m for m in c.queue if not isinstance(m, ReadIndexResponse)]
        if not c.queue:
            break
        msg = c.queue.pop(0)
        c.take(c.nodes[msg.dst].receive(msg))
    assert any(e["kind"] == "send" and e["msg"]["type"] == "ReadIndexResponse"
               for e in c.events)
    for _ in range(30):  # heartbeats come and go: the follower is up to date, still no index
        c.tick("n1")
        c.deliver()
    assert "r1" not in c.reads
    [pending] = follower.reads.pending
    assert pending.read_index is None and pending.asked is not None
    sent = [e for e in c.events if e["node"] == "n3" and e["kind"] == "send"
            and e["msg"]["type"] == "ReadIndex"]
    assert len(sent) == 1, "the node does not retry: the driver's timeout decides"


def test_a_follower_whose_leader_changes_refuses_its_pending_reads() -> None:
    c = Cluster(3, FORWARD)
    c.elect("n1")
    c.put("n1", "x", "1")
    c.read("n3", "r1", "x")
    [ask] = c.queue
    c.queue = []  # the request is lost: the read waits for an answer that will not come
    c.cut = {"n1"}
    new = c.elect("n2")
    result = c.reads["r1"]
    assert (result.ok, result.reason) == (False, "leader-changed")
    assert result.leader_hint in (None, new.id)
    assert c.nodes["n3"].reads.pending == []
    # A late answer from the old leader finds nothing pending: no second result.
    c.reads.clear()
    ready = c.take(c.nodes["n3"].receive(ReadIndexResponse("n1.0.999", "n1", "n3", ask.term,
                                                           ask.id, True, read_index=1)))
    assert ready.reads == [] and c.reads == {}


def test_a_duplicated_request_gets_two_answers_and_the_follower_answers_once() -> None:
    c = lagging_follower()
    c.read("n3", "r1", "x")
    [ask] = c.queue
    c.queue.append(ask)
    c.deliver()
    answers = [e for e in c.events if e["kind"] == "receive" and e["node"] == "n3"
               and e["msg"]["type"] == "ReadIndexResponse"]
    assert len(answers) == 2
    assert c.reads["r1"].value == "new"


def test_with_a_valid_lease_the_leader_answers_without_a_round() -> None:
    c = Cluster(3, NodeConfig(forward_reads=True, lease_reads=True))
    leader = c.elect("n1")
    c.put("n1", "x", "1")
    assert leader.lease_is_valid()
    c.read("n2", "r1", "x")
    [ask] = c.queue
    c.queue = []
    ready = c.take(leader.receive(ask))
    assert [type(m) for m in ready.messages] == [ReadIndexResponse]
    c.deliver()
    # The follower has the read index but has not yet learnt that "1" is committed: it waits
    # for its own state machine, until the next heartbeat carries the commit index.
    [pending] = c.nodes["n2"].reads.pending
    assert pending.read_index == leader.commit_index > c.nodes["n2"].last_applied
    assert "r1" not in c.reads
    c.tick("n1", c.config.heartbeat_interval)
    c.deliver()
    assert c.reads["r1"].ok and c.reads["r1"].value == "1"


def test_follower_local_read_still_answers_stale_with_forwarding_on() -> None:
    ref = lagging_follower()
    assert ref.read("n3", "r", "x").reads == []
    bug = lagging_follower(mutant="follower-local-read")
    [answer] = bug.read("n3", "r", "x").reads
    assert answer.ok and answer.value == "old"  # "new" was committed before the read began


def test_the_node_bounds_its_forwarded_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("raftref.protocol.reads.FORWARD_MEMORY", 3)
    c = Cluster(3, FORWARD)
    c.elect("n1")
    for k in range(4):
        c.read("n2", f"r{k}", "x")
    c.queue = []  # every request lost
    assert (c.reads["r0"].ok, c.reads["r0"].reason) == (False, "forgotten")
    assert [r.request_id for r in c.nodes["n2"].reads.pending] == ["r1", "r2", "r3"]


# ------------------------------------------------------------------ in the simulator


def run(schedule: Schedule) -> tuple[bytes, bytes]:
    trace, history = io.BytesIO(), io.BytesIO()
    run_schedule(schedule, trace, history)
    return trace.getvalue(), history.getvalue()


def judged(schedule: Schedule, tmp: Path) -> tuple[Any, Any, bytes]:
    trace, history = run(schedule)
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "history.jsonl"
    path.write_bytes(history)
    return check_lines(trace.decode().splitlines()), check_history([path], timeout=30), trace


def follower_answers(trace: bytes) -> int:
    """Read indexes that reached a follower: follower reads that were answered or could be."""
    return sum(1 for line in trace.splitlines()
               if b'"kind":"receive"' in line and b'"type":"ReadIndexResponse"' in line
               and orjson.loads(line)["msg"].get("success"))


@pytest.mark.parametrize("seed,nodes", [(1, 3), (2, 5), (3, 3)])
def test_forwarded_reads_are_linearizable_under_the_default_faults(seed: int, nodes: int,
                                                                   tmp_path: Path) -> None:
    schedule = replace(generate_schedule(seed, nodes, 4000), clients=3, forward_reads=True)
    trace_report, history_report, trace = judged(schedule, tmp_path)
    assert not trace_report.violated
    assert history_report.verdict == "linearizable", history_report.to_text()
    assert history_report.operations > 50
    assert follower_answers(trace) > 5


@settings(max_examples=6, derandomize=True, deadline=None, database=None)
@given(st.data())
def test_forwarded_reads_are_linearizable_under_the_clients_fuzz_generator(data: Any) -> None:
    schedule = replace(data.draw(schedules(steps=3000, generator="clients")),
                       forward_reads=True)
    trace, history = run(schedule)
    assert not check_lines(trace.decode().splitlines()).violated
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        path.write_bytes(history)
        report = check_history([path], timeout=30)
    assert report.verdict == "linearizable", report.to_text()
    assert follower_answers(trace) > 0


def test_follower_local_read_is_still_found_with_forwarding_on(tmp_path: Path) -> None:
    saved = Schedule.from_json(orjson.loads(
        (Path(__file__).parent.parent / "traces" / "counterexamples"
         / "follower-local-read--Linearizable--3n-seed1.schedule.json").read_bytes()))
    _, history_report, _ = judged(replace(saved, forward_reads=True), tmp_path)
    assert history_report.verdict == "not linearizable", history_report.to_text()


def test_a_lost_answer_leaves_the_read_to_the_clients_timeout() -> None:
    """In the simulator: the first ReadIndexResponse is lost (a message fault), the read stays
    pending at the follower until the client's timeout, and the client's retry is answered."""
    base = Schedule(seed=3, nodes=3, steps=2500, network=RELIABLE, clients=3,
                    forward_reads=True)
    trace, _ = run(base)
    sends = [orjson.loads(x) for x in trace.splitlines()[1:] if b'"kind":"send"' in x]
    k = next(i for i, e in enumerate(sends, 1) if e["msg"]["type"] == "ReadIndexResponse")
    lost = sends[k - 1]["msg"]
    sim = Simulation(replace(base, message_faults=(MessageFault(k, "drop"),)), io.BytesIO(),
                     history=io.BytesIO())
    clients = sim.clients
    assert clients is not None
    seen: list[tuple[Any, str, PendingRead | None]] = []
    timed_out, write = clients.timed_out, clients.history.write
    completions: dict[int, list[str]] = {}

    def spy(payload: tuple[int, int]) -> None:
        c = clients.clients[payload[0]]
        if c.waiting is not None and c.attempt == payload[1] and c.waiting[2] == "read":
            node = sim.nodes[c.waiting[0]]
            pending = next((r for r in node.reads.pending if r.request_id == c.waiting[1]),
                           None) if node is not None else None
            seen.append((c.op, c.waiting[0], pending))
        timed_out(payload)

    def record(kind: str, process: int, op: Any, value: Any, error: str | None = None) -> None:
        completions.setdefault(id(op), []).append(kind)
        write(kind, process, op, value, error)

    clients.timed_out = spy  # type: ignore[method-assign]
    clients.history.write = record  # type: ignore[method-assign]
    sim.run()
    [(op, node, pending)] = seen  # one read timed out: the one whose answer was lost
    assert node == lost["to"]
    assert pending is not None and pending.asked == lost["reply_to"]
    assert pending.read_index is None, "still waiting for the lost answer"
    assert completions[id(op)] == ["invoke", "ok"] and op.attempts == 2  # the retry answered


def test_the_schedule_field_is_written_only_when_on_and_checked() -> None:
    plain = replace(generate_schedule(1, 3, 100), clients=2)
    assert "forward_reads" not in plain.to_json()
    on = replace(plain, forward_reads=True)
    assert on.to_json()["forward_reads"] is True
    assert Schedule.from_json(orjson.loads(orjson.dumps(on.to_json()))) == on
    with pytest.raises(ScheduleError, match="forward_reads: must be true or false"):
        Schedule.from_json({**on.to_json(), "forward_reads": "yes"})


def test_sim_forward_reads_saves_the_field_and_replays_the_same_bytes(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["sim", "--seed", "3", "--steps", "1500", "--clients", "3",
                                 "--forward-reads", "-o", str(tmp_path / "a.jsonl"),
                                 "--save-schedule", str(tmp_path / "s.json")])
    assert first.exit_code == 0, first.output
    assert "follower reads forwarded" in first.output
    assert orjson.loads((tmp_path / "s.json").read_bytes())["forward_reads"] is True
    again = runner.invoke(main, ["sim", "--schedule", str(tmp_path / "s.json"),
                                 "-o", str(tmp_path / "b.jsonl")])
    assert again.exit_code == 0, again.output
    trace = (tmp_path / "a.jsonl").read_bytes()
    assert trace == (tmp_path / "b.jsonl").read_bytes()
    assert b'"type":"ReadIndex"' in trace
    refused = runner.invoke(main, ["sim", "--target", "pysyncobj", "--forward-reads"])
    assert refused.exit_code == 2 and "--forward-reads" in refused.output

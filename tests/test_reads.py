"""Linearizable reads (raftref/protocol/reads.py): ReadIndex (thesis §6.4) and leases
(thesis §6.4.1), driven by hand through the node's ``read`` input."""

from __future__ import annotations

from raftref.protocol.messages import AppendEntries, AppendEntriesResponse, RequestVote
from raftref.protocol.node import FOLLOWER, LEADER, NodeConfig

from .raft_cluster import Cluster


def test_a_leader_answers_a_read_after_a_majority_acknowledges_a_new_round() -> None:
    c = Cluster(3)
    c.elect("n1")
    index = c.put("n1", "x", "1")
    ready = c.read("n1", "r1", "x")
    assert ready.reads == [], "a 3-node leader must hear from a follower first"
    assert any(isinstance(m, AppendEntries) for m in ready.messages), "the read starts a round"
    c.deliver()
    result = c.reads["r1"]
    assert result.ok and result.value == "1" and result.index is not None
    assert result.index >= index


def test_acknowledgements_of_appends_sent_before_the_read_do_not_confirm_it() -> None:
    c = Cluster(3)
    c.elect("n1")
    c.put("n1", "x", "1")
    c.tick("n1", c.config.heartbeat_interval)  # a heartbeat round, sent before the read
    old = [m for m in c.queue if isinstance(m, AppendEntries)]
    assert old
    c.queue = []
    c.read("n1", "r1", "x")
    new = c.queue
    c.queue = []
    # The followers answer the old round: the leader hears from a majority, but of appends
    # sent before the read arrived.
    for m in old:
        c.take(c.nodes[m.dst].receive(m))
    acks = [m for m in c.queue if isinstance(m, AppendEntriesResponse)]
    c.queue = []
    for m in acks:
        c.take(c.nodes["n1"].receive(m))
    assert "r1" not in c.reads
    c.queue = new
    c.deliver()
    assert c.reads["r1"].ok and c.reads["r1"].value == "1"


def test_a_new_leader_waits_for_its_no_op_before_it_has_a_read_index() -> None:
    c = Cluster(3)
    leader = c.nodes["n1"]
    while leader.role != LEADER:
        c.tick("n1")
        # deliver only the votes: the no-op's AppendEntries stay queued
        votes = [m for m in c.queue if not isinstance(m, AppendEntries)]
        c.queue = [m for m in c.queue if isinstance(m, AppendEntries)]
        for m in votes:
            c.take(c.nodes[m.dst].receive(m))
    assert leader.log.term_at(leader.commit_index) != leader.current_term
    c.read("n1", "r1", "x")
    pending = leader.reads.pending[0]
    assert pending.read_index is None
    c.deliver()
    assert c.reads["r1"].ok and pending.read_index == leader.commit_index


def test_a_follower_redirects_a_read_to_the_leader_it_knows() -> None:
    c = Cluster(3)
    c.elect("n1")
    ready = c.read("n2", "r1", "x")
    [result] = ready.reads
    assert not result.ok and result.reason == "not-leader" and result.leader_hint == "n1"


def test_a_deposed_leader_never_answers_and_refuses_once_it_learns_the_new_term() -> None:
    c = Cluster(3)
    c.elect("n1")
    c.put("n1", "x", "1")
    c.cut = {"n1"}
    c.read("n1", "r1", "x")
    c.deliver()
    new = c.elect("n2")
    c.put("n2", "x", "2")
    assert "r1" not in c.reads, "cut off, n1 cannot confirm it still leads"
    c.cut = set()
    c.tick("n2", c.config.heartbeat_interval)
    c.deliver()
    result = c.reads["r1"]
    assert not result.ok and result.reason == "deposed" and result.leader_hint == new.id
    assert c.nodes["n1"].role == FOLLOWER


def test_a_single_node_answers_at_once() -> None:
    c = Cluster(1)
    c.elect("n1")
    c.put("n1", "x", "v")
    [result] = c.read("n1", "r1", "x").reads
    assert result.ok and result.value == "v"


LEASE = NodeConfig(lease_reads=True)


def test_a_lease_answers_without_a_round_until_its_bound() -> None:
    c = Cluster(3, LEASE)
    leader = c.elect("n1")
    c.put("n1", "x", "1")
    assert leader.reads.lease_until is not None
    ready = c.read("n1", "r1", "x")
    assert [r.value for r in ready.reads] == ["1"] and not ready.messages
    # No acknowledgement arrives any more: past the bound, a read takes a round again.
    c.cut = {"n2", "n3"}
    bound = leader.reads.lease_until
    while leader.reads.ticks < bound:
        c.tick("n1")
        c.deliver()
    assert not leader.lease_is_valid()
    ready = c.read("n1", "r2", "x")
    assert ready.reads == [] and "r2" not in c.reads
    assert any(isinstance(m, AppendEntries) for m in ready.messages)


def test_the_lease_is_the_election_timeout_minus_the_drift_margin() -> None:
    c = Cluster(3, NodeConfig(lease_reads=True, election_timeout_min=10, lease_drift_margin=3))
    leader = c.elect("n1")
    c.queue = []
    c.tick("n1", c.config.heartbeat_interval)
    sent_at = leader.reads.ticks
    c.deliver()
    assert leader.reads.lease_until == sent_at + 10 - 3


def test_with_leases_a_follower_that_heard_from_the_leader_ignores_vote_requests() -> None:
    c = Cluster(3, LEASE)
    c.elect("n1")
    follower = c.nodes["n2"]
    term = follower.current_term
    request = RequestVote("x.0.1", "n3", "n2", term + 1, 99, term)
    ready = follower.receive(request)
    assert follower.current_term == term and not ready.messages
    assert [e["kind"] for e in ready.events] == ["drop"]
    # Without leases the same request is granted.
    d = Cluster(3)
    d.elect("n1")
    ready = d.nodes["n2"].receive(RequestVote("x.0.1", "n3", "n2", term + 1, 99, term))
    assert d.nodes["n2"].current_term == term + 1 and ready.messages[0].granted  # type: ignore[union-attr]

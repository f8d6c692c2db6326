"""The bug zoo's mutants of what clients see, each at the exact rule it breaks (the campaigns
that find them through the history are in tests/test_fuzz.py)."""

from __future__ import annotations

from raftref.mutants import ZOO
from raftref.protocol.node import NodeConfig

from .raft_cluster import Cluster


def cut_off_leader(mutant: str | None, config: NodeConfig | None = None) -> Cluster:
    c = Cluster(3, config, ZOO[mutant]) if mutant else Cluster(3, config)
    c.elect("n1")
    c.put("n1", "x", "old")
    c.cut = {"n1"}
    c.elect("n2")
    c.put("n2", "x", "new")
    return c


def test_unconfirmed_read_answers_from_a_deposed_leader_where_the_reference_waits() -> None:
    ref = cut_off_leader(None)
    assert ref.read("n1", "r", "x").reads == []
    bug = cut_off_leader("unconfirmed-read")
    [answer] = bug.read("n1", "r", "x").reads
    assert answer.ok and answer.value == "old"  # overwritten by n2's committed write


def test_follower_local_read_answers_from_a_lagging_follower() -> None:
    for mutant, expect in ((None, None), ("follower-local-read", "old")):
        c = Cluster(3, None, ZOO[mutant]) if mutant else Cluster(3)
        c.elect("n1")
        c.put("n1", "x", "old")
        c.tick("n1", c.config.heartbeat_interval)
        c.deliver()
        c.cut = {"n3"}
        c.put("n1", "x", "new")  # committed by n1 and n2; n3 has not heard
        [answer] = c.read("n3", "r", "x").reads
        assert (answer.value if answer.ok else None) == expect


def test_lease_past_bound_answers_after_the_lease_ran_out() -> None:
    lease = NodeConfig(lease_reads=True)
    for mutant in (None, "lease-past-bound"):
        c = Cluster(3, lease, ZOO[mutant]) if mutant else Cluster(3, lease)
        leader = c.elect("n1")
        c.cut = {"n2", "n3"}
        while leader.reads.ticks < leader.reads.lease_until + 5:  # type: ignore[operator]
            c.tick("n1")
            c.deliver()
        answered = bool(c.read("n1", "r", "x").reads)
        assert answered == (mutant is not None)


def test_duplicate_retry_applies_a_retried_append_twice() -> None:
    for mutant, value in ((None, "a"), ("duplicate-retry", "aa")):
        c = Cluster(3, None, ZOO[mutant]) if mutant else Cluster(3)
        c.elect("n1")
        reg = c.take(c.nodes["n1"].propose({"op": "register"})).propose_result.index  # type: ignore[union-attr]
        command = {"op": "append", "key": "x", "value": "a", "client": reg, "seq": 1}
        c.take(c.nodes["n1"].propose(command))
        c.take(c.nodes["n1"].propose(command))
        c.deliver()
        assert c.nodes["n1"].kv.get("x") == value

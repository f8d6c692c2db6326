"""A tiny hand-driven cluster for protocol tests: nodes, a FIFO network the test controls
(deliver everything, hold some messages, cut nodes off), and every Ready's effects collected."""

from __future__ import annotations

import random
from typing import Any

from raftref.protocol.messages import Message
from raftref.protocol.node import LEADER, Node, NodeConfig, Ready
from raftref.protocol.reads import ReadResult


class Cluster:
    def __init__(self, size: int = 3, config: NodeConfig | None = None,
                 node_class: type[Node] = Node) -> None:
        self.ids = [f"n{i}" for i in range(1, size + 1)]
        self.config = config or NodeConfig()
        self.nodes = {n: node_class(n, self.ids, random.Random(n), None, self.config)
                      for n in self.ids}
        self.queue: list[Message] = []
        self.cut: set[str] = set()  # nodes whose messages are lost, both ways
        self.reads: dict[Any, ReadResult] = {}
        self.results: list[Any] = []  # command results (sessions)
        self.events: list[dict[str, Any]] = []
        for node in self.nodes.values():
            self.take(node.take_ready())

    def take(self, ready: Ready) -> Ready:
        self.queue.extend(ready.messages)
        self.events.extend(ready.events)
        for r in ready.reads:
            self.reads[r.request_id] = r
        self.results.extend(getattr(ready, "results", []))
        return ready

    def deliver(self, limit: int = 10_000) -> int:
        """Deliver queued messages (and those they cause) in order; lost when either end is
        cut off."""
        n = 0
        while self.queue and n < limit:
            msg = self.queue.pop(0)
            n += 1
            if msg.src in self.cut or msg.dst in self.cut:
                continue
            self.take(self.nodes[msg.dst].receive(msg))
        return n

    def tick(self, node: str, times: int = 1) -> None:
        for _ in range(times):
            self.take(self.nodes[node].tick())

    def elect(self, node: str) -> Node:
        """Make ``node`` leader: tick it until it campaigns, then deliver until it has
        committed its no-op."""
        leader = self.nodes[node]
        for other in self.nodes.values():
            # As if no leader had been heard from for an election timeout (ticking the others
            # would let their own timers fire): with leases, a node votes only then.
            other.reads.since_leader = max(other.reads.since_leader,
                                           self.config.election_timeout_min)
        while leader.role != LEADER:
            self.tick(node)
            self.deliver()
        self.deliver()
        assert leader.log.term_at(leader.commit_index) == leader.current_term
        return leader

    def put(self, node: str, key: str, value: Any) -> int:
        ready = self.take(self.nodes[node].propose({"op": "put", "key": key, "value": value}))
        assert ready.propose_result is not None and ready.propose_result.accepted
        self.deliver()
        index = ready.propose_result.index
        assert index is not None and self.nodes[node].commit_index >= index
        return index

    def read(self, node: str, request_id: Any, key: str) -> Ready:
        return self.take(self.nodes[node].read(request_id, key))

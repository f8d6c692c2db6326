"""A hand-driven cluster for the Figure 2 tests: no simulator, no network model, no randomness.

The test decides which message arrives, in which order, and which is lost; time passes only when
the test ticks a node. Election timeouts are exact (``election_timeout_min == max``), so "the
timeout elapses" means exactly ``TIMEOUT`` ticks. Every node gets its own seeded ``random.Random``.

The harness plays the driver's part of the Ready contract: it applies each ``Ready.persist`` to
the node's disk (a :class:`PersistentState`) before queuing the Ready's messages, and a restart
rebuilds the node from that disk alone.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from typing import Any

from raftref.mutants import node_class
from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    Message,
    RequestVote,
    RequestVoteResponse,
)
from raftref.protocol.node import LEADER, Node, NodeConfig, PersistentState, Ready

TIMEOUT = 10
HEARTBEAT = 2
CONFIG = NodeConfig(election_timeout_min=TIMEOUT, election_timeout_max=TIMEOUT,
                    heartbeat_interval=HEARTBEAT, max_entries_per_message=32)

_ids = itertools.count(1)


def names(n: int) -> list[str]:
    """Node ids s1..sn, as in the paper's figures."""
    return [f"s{i}" for i in range(1, n + 1)]


def log_of(*terms: int) -> tuple[Entry, ...]:
    """Entries with these terms. Each is a put naming its index and term, so two entries are
    equal exactly when index and term are (the Log Matching Property made concrete)."""
    return tuple(Entry(t, {"op": "put", "key": f"k{i}", "value": t})
                 for i, t in enumerate(terms, start=1))


def terms(node: Node) -> list[int]:
    return [e.term for e in node.log.entries()]


def make_node(node_id: str = "s1", cluster: Iterable[str] | None = None, *, term: int = 0,
              voted_for: str | None = None, log: Iterable[Entry] = (),
              config: NodeConfig = CONFIG, mutants: Iterable[str] = (),
              incarnation: int = 0) -> Node:
    """A single node with this persisted state, its start event already taken."""
    cluster = list(cluster) if cluster is not None else names(3)
    node = node_class(frozenset(mutants))(
        node_id, cluster, random.Random(cluster.index(node_id)),
        PersistentState(term, voted_for, tuple(log)), config, incarnation)
    node.take_ready()
    return node


def request_vote(src: str, dst: str, term: int, last_log_index: int = 0,
                 last_log_term: int = 0) -> RequestVote:
    return RequestVote(f"test.{next(_ids)}", src, dst, term, last_log_index, last_log_term)


def vote(src: str, dst: str, term: int, granted: bool = True) -> RequestVoteResponse:
    return RequestVoteResponse(f"test.{next(_ids)}", src, dst, term, "test.0", granted)


def append_entries(src: str, dst: str, term: int, prev_log_index: int = 0,
                   prev_log_term: int = 0, entries: Iterable[Entry] = (),
                   leader_commit: int = 0) -> AppendEntries:
    return AppendEntries(f"test.{next(_ids)}", src, dst, term, prev_log_index, prev_log_term,
                         tuple(entries), leader_commit)


def append_reply(src: str, dst: str, term: int, success: bool, match_index: int,
                 conflict_term: int | None = None,
                 conflict_index: int = 0) -> AppendEntriesResponse:
    return AppendEntriesResponse(f"test.{next(_ids)}", src, dst, term, "test.0", success,
                                 match_index, conflict_term, conflict_index)


def only(messages: list[Message], kind: type | None = None) -> Message:
    """The single message of ``kind`` in ``messages`` (fails the test otherwise)."""
    found = [m for m in messages if kind is None or isinstance(m, kind)]
    assert len(found) == 1, f"expected one {kind.__name__ if kind else 'message'}: {found}"
    return found[0]


class Cluster:
    """Nodes, their disks, and the messages sent but not yet delivered (in send order)."""

    def __init__(self, ids: int | list[str] = 3, *,
                 states: dict[str, PersistentState] | None = None,
                 config: NodeConfig = CONFIG, mutants: Iterable[str] = ()) -> None:
        self.ids = names(ids) if isinstance(ids, int) else list(ids)
        self.config = config
        self.mutants = frozenset(mutants)
        states = states or {}
        self.disk = {i: states.get(i, PersistentState()) for i in self.ids}
        self.incarnation = {i: 0 for i in self.ids}
        self.nodes: dict[str, Node] = {}
        self.pending: list[Message] = []
        self.applied: dict[str, list[tuple[int, Entry]]] = {i: [] for i in self.ids}
        self.readys: dict[str, list[Ready]] = {i: [] for i in self.ids}
        for i in self.ids:
            self._boot(i)

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]

    # -------------------------------------------------------------- the driver's part

    def _boot(self, node_id: str) -> None:
        node = node_class(self.mutants)(
            node_id, self.ids, random.Random(self.ids.index(node_id)),
            persisted=self.disk[node_id], config=self.config,
            incarnation=self.incarnation[node_id])
        self.nodes[node_id] = node
        self._absorb(node_id, node.take_ready())

    def _absorb(self, node_id: str, ready: Ready) -> Ready:
        # Persist first, then send: the order the Ready contract prescribes.
        assert ready.persist is not None, "every Ready says what to persist"
        self.disk[node_id] = ready.persist.apply_to(self.disk[node_id])
        if "unpersisted-vote" not in self.mutants:
            assert self.disk[node_id] == self.nodes[node_id].persistent_state(), (
                f"{node_id}: persisted state differs from the node's after this Ready")
        self.pending.extend(ready.messages)
        self.applied[node_id].extend(ready.applied)
        self.readys[node_id].append(ready)
        return ready

    # -------------------------------------------------------------- inputs

    def tick(self, node_id: str, times: int = 1) -> list[Ready]:
        return [self._absorb(node_id, self.nodes[node_id].tick()) for _ in range(times)]

    def timeout(self, node_id: str) -> Ready:
        """Let exactly one election timeout elapse at ``node_id`` (no other input between)."""
        return self.tick(node_id, TIMEOUT)[-1]

    def propose(self, node_id: str, data: Any) -> Ready:
        return self._absorb(node_id, self.nodes[node_id].propose(data))

    def deliver(self, msg: Message) -> Ready | None:
        """Deliver ``msg`` (queued or crafted); a message to a crashed node is lost."""
        self.pending = [m for m in self.pending if m is not msg]
        if msg.dst not in self.nodes:
            return None
        return self._absorb(msg.dst, self.nodes[msg.dst].receive(msg))

    # -------------------------------------------------------------- choosing messages

    def select(self, src: str | None = None, dst: str | None = None,
               kind: type | None = None) -> list[Message]:
        """Queued messages matching all the given filters, in send order (not removed)."""
        return [m for m in self.pending
                if (src is None or m.src == src) and (dst is None or m.dst == dst)
                and (kind is None or isinstance(m, kind))]

    def deliver_all(self, src: str | None = None, dst: str | None = None,
                    kind: type | None = None) -> list[Ready]:
        """Deliver the currently queued messages that match (not the ones they cause)."""
        readys = [self.deliver(m) for m in self.select(src, dst, kind)]
        return [r for r in readys if r is not None]

    def drop(self, src: str | None = None, dst: str | None = None,
             kind: type | None = None) -> int:
        """Lose the queued messages that match; returns how many."""
        lost = self.select(src, dst, kind)
        self.pending = [m for m in self.pending if all(m is not x for x in lost)]
        return len(lost)

    def settle(self, limit: int = 10_000) -> int:
        """Deliver queued messages in send order until none is left; returns how many."""
        delivered = 0
        while self.pending:
            assert delivered < limit, "messages keep flowing without ticks: a livelock"
            self.deliver(self.pending[0])
            delivered += 1
        return delivered

    # -------------------------------------------------------------- composite steps

    def elect(self, node_id: str) -> Node:
        """``node_id`` times out, every server hears its RequestVote, it hears every answer."""
        self.timeout(node_id)
        self.deliver_all(src=node_id, kind=RequestVote)
        self.deliver_all(dst=node_id, kind=RequestVoteResponse)
        node = self.nodes[node_id]
        assert node.role == LEADER, f"{node_id} was not elected"
        return node

    def crash(self, node_id: str) -> None:
        """Only the disk survives; messages to and from the node are lost."""
        del self.nodes[node_id]
        self.drop(src=node_id)
        self.drop(dst=node_id)

    def restart(self, node_id: str) -> Node:
        self.incarnation[node_id] += 1
        self._boot(node_id)
        return self.nodes[node_id]

    def logs(self) -> dict[str, tuple[Entry, ...]]:
        return {i: tuple(n.log.entries()) for i, n in self.nodes.items()}



def tick(node: Node, times: int = 1) -> list[Ready]:
    return [node.tick() for _ in range(times)]


def elected(node_id: str = "s1", cluster: Iterable[str] | None = None, *, term: int = 0,
            log: Iterable[Entry] = (), config: NodeConfig = CONFIG,
            mutants: Iterable[str] = ()) -> Node:
    """A node persisted at ``term`` that timed out and got every peer's vote: leader of
    ``term + 1``, its no-op appended and its first AppendEntries already taken."""
    node = make_node(node_id, cluster, term=term, log=log, config=config, mutants=mutants)
    tick(node, TIMEOUT)
    for peer in node.peers:
        node.receive(vote(peer, node.id, term + 1))
    assert node.role == LEADER and node.current_term == term + 1
    return node


def put(key: str, value: object) -> dict[str, object]:
    """A key-value store command (raftref/protocol/kv.py)."""
    return {"op": "put", "key": key, "value": value}

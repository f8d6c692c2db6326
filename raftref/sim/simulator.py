"""The deterministic cluster simulator: a seeded discrete-event loop that owns time, the
network, the disks and the randomness, and runs reference nodes under a fault schedule.

One *step* is one scheduler action: a node's tick, a message delivery, a client request or a
fault. Same schedule (seed included), same trace, byte for byte: all randomness comes from
``random.Random`` instances seeded from the schedule's seed, and ties in time are broken by
insertion order.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from raftref.mutants import check_mutants, node_class
from raftref.protocol.messages import AppendEntries, Message, is_reply
from raftref.protocol.node import LEADER, Node, NodeConfig, PersistentState, Ready
from raftref.sim.clients import Clients, HistoryWriter
from raftref.sim.schedule import Fault, MessageFault, NetworkProfile, Schedule
from raftref.trace import TraceWriter, header

TICK, DELIVER, FAULT, CLIENT, CLIENT_ACT, CLIENT_TIMEOUT = 0, 1, 2, 3, 4, 5


@dataclass
class SimResult:
    """What a run did, for summaries and tests."""

    steps: int = 0
    ticks: int = 0
    events: int = 0
    messages_sent: int = 0
    messages_dropped: int = 0
    messages_duplicated: int = 0
    leaders: dict[int, list[str]] = field(default_factory=dict)
    proposals_accepted: int = 0
    up: dict[str, bool] = field(default_factory=dict)
    commit: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    logs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the clients' history (clients > 0): operations invoked, and completions by type
    operations: int = 0
    completions: dict[str, int] = field(default_factory=dict)


class Simulation:
    """Runs ``schedule`` and writes its trace to ``stream`` (or nowhere when None), and the
    clients' history to ``history`` (when the schedule has clients)."""

    def __init__(self, schedule: Schedule, stream: IO[bytes] | None = None,
                 config: NodeConfig | None = None, history: IO[bytes] | None = None) -> None:
        self.schedule = schedule
        self.ids = schedule.node_ids
        self.mutants = check_mutants(schedule.mutants)
        self.node_class = node_class(self.mutants)
        self.config = config or NodeConfig(
            election_timeout_min=schedule.election_timeout_min,
            election_timeout_max=schedule.election_timeout_max,
            heartbeat_interval=schedule.heartbeat_interval,
            max_entries_per_message=schedule.max_entries, lease_reads=schedule.lease_reads,
            forward_reads=schedule.forward_reads)
        self.net = schedule.network
        self.net_rng = random.Random(f"net:{schedule.seed}")
        self.client_rng = random.Random(f"client:{schedule.seed}")
        self.now = 0
        self._queue: list[tuple[int, int, int, Any]] = []
        self._order = 0
        self.nodes: dict[str, Node | None] = {}
        self.disks: dict[str, PersistentState] = {n: PersistentState() for n in self.ids}
        self.incarnation: Counter[str] = Counter()
        self.groups: dict[str, int] | None = None
        self.result = SimResult()
        self._message_faults = {m.send: m for m in schedule.message_faults}
        self._client_target: str | None = None
        self._client_counter = 0
        options = schedule.to_json()
        options.pop("faults")
        self.trace = TraceWriter(stream, header(self.ids, schedule.seed, options))
        self.clients: Clients | None = None
        if schedule.clients and schedule.proposal_interval > 0:
            self.clients = Clients(self, schedule.clients, schedule.seed,
                                   schedule.proposal_interval, schedule.client_timeout,
                                   schedule.client_attempts,
                                   HistoryWriter(history, schedule.seed, options,
                                                 stream if schedule.history_in_trace
                                                 else None),
                                   own_node_reads=self.config.forward_reads)
        for node_id in self.ids:
            self._start(node_id)
        for fault in schedule.faults:
            self._push(fault.at, FAULT, fault)
        if self.clients is not None:
            self.clients.start()
        elif schedule.proposal_interval > 0:
            self._push(schedule.proposal_interval, CLIENT, None)

    # ------------------------------------------------------------------ the loop

    def run(self) -> SimResult:
        while self.result.steps < self.schedule.steps and self._queue:
            self.now, _, kind, payload = heapq.heappop(self._queue)
            self.result.steps += 1
            if kind == TICK:
                self._tick(payload)
            elif kind == DELIVER:
                self._deliver(payload)
            elif kind == FAULT:
                self._fault(payload)
            elif kind == CLIENT:
                self._client()
            elif kind == CLIENT_ACT:
                self.clients.act(payload)  # type: ignore[union-attr]
            else:
                self.clients.timed_out(payload)  # type: ignore[union-attr]
        self._summarize()
        return self.result

    def _push(self, at: int, kind: int, payload: Any) -> None:
        self._order += 1
        heapq.heappush(self._queue, (at, self._order, kind, payload))

    # ------------------------------------------------------------------ nodes and disks

    def _start(self, node_id: str) -> None:
        incarnation = self.incarnation[node_id]
        rng = random.Random(f"node:{self.schedule.seed}:{node_id}:{incarnation}")
        node = self.node_class(node_id, self.ids, rng, self.disks[node_id], self.config,
                                    incarnation)
        self.nodes[node_id] = node
        self._perform(node, node.take_ready())
        self._push(self.now + 1, TICK, (node_id, incarnation))

    def _perform(self, node: Node, ready: Ready) -> None:
        # Persist first, then let the messages leave (Fig2: stable storage before responding).
        if ready.persist is not None:
            self.disks[node.id] = ready.persist.apply_to(self.disks[node.id])
        for event in ready.events:
            self.trace.write(event)
            self.result.events += 1
            if event["kind"] == "role" and event["role"] == LEADER:
                self.result.leaders.setdefault(event["term"], []).append(node.id)
        for msg in ready.messages:
            self._send(msg)
        if self.clients is not None:
            self.clients.on_ready(node.id, ready)

    def _tick(self, payload: tuple[str, int]) -> None:
        node_id, incarnation = payload
        node = self.nodes.get(node_id)
        if node is None or incarnation != self.incarnation[node_id]:
            return  # the node crashed since this tick was scheduled
        self.result.ticks += 1
        self._perform(node, node.tick())
        self._push(self.now + 1, TICK, payload)

    # ------------------------------------------------------------------ the network

    def _send(self, msg: Message) -> None:
        self.result.messages_sent += 1
        delays = plan_delivery(self.net_rng, self.net, isinstance(msg, AppendEntries),
                               is_reply(msg),
                               self._message_faults.get(self.result.messages_sent))
        if not delays:
            self._drop(msg, "loss")
            return
        self.result.messages_duplicated += len(delays) - 1
        for delay in delays:
            self._push(self.now + delay, DELIVER, msg)

    def _drop(self, msg: Message, reason: str) -> None:
        self.result.messages_dropped += 1
        self.trace.write_driver_event(msg.dst, "drop", msg=msg.to_json(), reason=reason)
        self.result.events += 1

    def _deliver(self, msg: Message) -> None:
        node = self.nodes.get(msg.dst)
        if node is None:
            self._drop(msg, "crashed")
        elif self.groups is not None and self.groups[msg.src] != self.groups[msg.dst]:
            self._drop(msg, "partition")
        else:
            self._perform(node, node.receive(msg))

    # ------------------------------------------------------------------ faults and clients

    def _fault(self, fault: Fault) -> None:
        if fault.action == "crash":
            node = self.nodes.get(fault.node)  # type: ignore[arg-type]
            if node is not None:
                self.trace.write_driver_event(node.id, "crash")
                self.result.events += 1
                self.nodes[node.id] = None  # volatile state is gone; the disk stays
                self.incarnation[node.id] += 1
                if self.clients is not None:
                    self.clients.crashed(node.id)
        elif fault.action == "restart":
            if self.nodes.get(fault.node) is None:  # type: ignore[arg-type]
                self._start(fault.node)  # type: ignore[arg-type]
        elif fault.action == "partition":
            assert fault.groups is not None
            self.groups = {n: 0 for n in self.ids}  # nodes not named form group 0
            for g, members in enumerate(fault.groups, start=1):
                for n in members:
                    self.groups[n] = g
        elif fault.action == "heal":
            self.groups = None
        elif fault.action == "propose":
            self._propose(fault.node, fault.data)  # type: ignore[arg-type]

    def _client(self) -> None:
        """Background workload: a client puts a value every ``proposal_interval`` ticks, to the
        node it believes leads, following redirect hints (paper §8)."""
        up = [n for n in self.ids if self.nodes.get(n) is not None]
        if up:
            if self._client_target not in up:
                self._client_target = self.client_rng.choice(up)
            self._client_counter += 1
            data = {"op": "put", "key": f"k{self._client_counter % 8}",
                    "value": self._client_counter}
            self._propose(self._client_target, data)  # type: ignore[arg-type]
        self._push(self.now + self.schedule.proposal_interval, CLIENT, None)

    def _propose(self, node_id: str, data: Any) -> None:
        node = self.nodes.get(node_id)
        if node is None:
            return
        ready = node.propose(data)
        self._perform(node, ready)
        result = ready.propose_result
        if result is not None and result.accepted:
            self.result.proposals_accepted += 1
        elif result is not None:
            self._client_target = result.leader_hint

    # ------------------------------------------------------------------ for the clients

    def up_nodes(self) -> list[str]:
        return [n for n in self.ids if self.nodes.get(n) is not None]

    def node(self, node_id: str) -> Node | None:
        return self.nodes.get(node_id)

    def perform(self, node: Node, ready: Ready) -> None:
        self._perform(node, ready)

    def later(self, delay: int, kind: str, payload: Any) -> None:
        self._push(self.now + delay, CLIENT_ACT if kind == "client" else CLIENT_TIMEOUT,
                   payload)

    def _summarize(self) -> None:
        r = self.result
        if self.clients is not None:
            r.operations = self.clients.history.operations
            r.completions = dict(self.clients.history.completions)
            r.proposals_accepted += self.clients.proposals_accepted
        for n in self.ids:
            node = self.nodes.get(n)
            r.up[n] = node is not None
            if node is not None:
                r.commit[n] = node.commit_index
                r.applied[n] = node.last_applied
                r.logs[n] = tuple(node.log.entries())
                r.kv[n] = dict(node.kv.data)


def plan_delivery(rng: random.Random, net: NetworkProfile, is_append: bool, is_reply: bool,
                  targeted: MessageFault | None) -> list[int]:
    """What the network does with one message: the delays (in ticks) of the copies delivered,
    none when it is lost. Shared by every driver (the simulator, the PySyncObj harness).

    The profile's random draws happen for every message, targeted or not, so adding or
    removing one message fault does not shift the network's decisions for the others."""
    lost = rng.random() < (net.reply_drop if is_reply else net.drop)
    duplicate, long_delay = net.duplicate, net.long_delay
    if is_append:
        duplicate = 1 - (1 - duplicate) * (1 - net.append_duplicate)
        long_delay = 1 - (1 - long_delay) * (1 - net.append_delay)
    elif is_reply:
        long_delay = 1 - (1 - long_delay) * (1 - net.reply_delay)
    copies = 2 if rng.random() < duplicate else 1
    delays = []
    for _ in range(2):
        if rng.random() < long_delay:
            delays.append(rng.randint(net.long_delay_min, net.long_delay_max))
        else:
            delays.append(rng.randint(net.delay_min, net.delay_max))
    if targeted is not None:
        lost, copies = targeted.action == "drop", 2 if targeted.action == "duplicate" else 1
        if targeted.action == "delay":
            delays[0] = targeted.delay
    return [] if lost else delays[:copies]


def run_schedule(schedule: Schedule, stream: IO[bytes] | None = None,
                 history: IO[bytes] | None = None) -> SimResult:
    """Run one schedule to completion; the clients' history (if any) goes to ``history``."""
    return Simulation(schedule, stream, history=history).run()

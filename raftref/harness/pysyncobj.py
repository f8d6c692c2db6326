"""A deterministic harness for PySyncObj: real, unmodified ``SyncObj`` nodes in one process,
driven by the simulator's schedule (raftref/sim/schedule.py) and network (raftref/sim/simulator.py,
:func:`~raftref.sim.simulator.plan_delivery`), observed into a raft-trace.

- **Transport.** :class:`SimTransport` is a PySyncObj ``Transport`` (its public extension
  point): ``send`` hands each message to the harness, which writes it to the trace and lets
  the simulated network lose, duplicate, delay (so reorder) or deliver it; partitions and
  crashed nodes lose it too. Every peer counts as connected from the start (PySyncObj elects
  and replicates only to connected nodes); a lost message is just lost, as on a flaky link.
- **Ticks.** The harness calls ``doTick(0)`` on every running node once per simulator tick
  (``autoTick=False``: no threads).
- **Time and randomness.** :mod:`raftref.harness.clock` rebinds PySyncObj's time source and
  random source to the simulator's, so the same schedule gives the same trace, byte for byte.
- **Disks.** Each node journals to a file (``journalFile``) in a private temporary directory,
  PySyncObj's own durable log, term and vote; a crash drops the ``SyncObj`` object without
  letting it flush anything more, a restart builds a new one on the same journal.
- **Determinism.** Besides the clock and the random source, node objects are
  :class:`SimNode`, whose hash is fixed (PySyncObj iterates sets of nodes).
- **Configuration.** The schedule's timing, a tick being 0.1 s: by default election timeouts of
  1.0-2.0 s (10-20 ticks), heartbeats every 0.2 s (2 ticks); log compaction off (snapshots are
  not in the contract); commands wait for a leader.
- **Clients.** Every ``proposal_interval`` ticks a client calls the replicated ``put`` on a
  random running node (a follower forwards it to its leader, as PySyncObj does).
"""

from __future__ import annotations

import heapq
import logging
import random
import tempfile
from pathlib import Path
from typing import IO, Any

from pysyncobj import SyncObj, SyncObjConf, replicated
from pysyncobj.node import Node
from pysyncobj.transport import Transport
from pysyncobj.version import VERSION

from raftref.harness.clock import TICK_SECONDS, VirtualClock, patched
from raftref.harness.pysyncobj_observer import Observer
from raftref.sim.schedule import Fault, Schedule
from raftref.sim.simulator import SimResult, plan_delivery
from raftref.trace import TraceWriter, header

TICK, DELIVER, FAULT, CLIENT = 0, 1, 2, 3


class SimNode(Node):  # type: ignore[misc]
    """A PySyncObj node whose hash does not depend on PYTHONHASHSEED: PySyncObj keeps its peers
    in sets and messages them in set order, which must be the same in every process."""

    def __hash__(self) -> int:
        return int(self.id[1:])  # node ids are n1, n2, ... (Schedule.node_ids)


class KeyValue(SyncObj):  # type: ignore[misc]
    """The replicated state machine: a dictionary with one replicated method."""

    def __init__(self, self_node: Node, others: list[Node], conf: SyncObjConf,
                 transport: Transport) -> None:
        super().__init__(self_node, others, conf, transport=transport)
        self.data: dict[str, Any] = {}

    @replicated  # type: ignore[misc]
    def put(self, key: str, value: Any) -> None:
        self.data[key] = value


class SimTransport(Transport):  # type: ignore[misc]
    """PySyncObj's transport interface, carried by the simulated network."""

    def __init__(self, harness: PySyncObjCluster, node: str) -> None:
        super().__init__(None, None, None)
        self.harness = harness
        self.node = node

    @property
    def ready(self) -> bool:
        return True

    def tryGetReady(self) -> None:  # noqa: N802 - PySyncObj's interface
        pass

    def waitReady(self) -> None:  # noqa: N802
        pass

    def addNode(self, node: Node) -> None:  # noqa: N802
        pass

    def dropNode(self, node: Node) -> None:  # noqa: N802
        pass

    def send(self, node: Node, message: dict[str, Any]) -> bool:
        self.harness.send(self.node, node.id, message)
        return True

    def destroy(self) -> None:
        pass

    def connect_all(self, peers: list[Node]) -> None:
        for peer in peers:
            self._onNodeConnected(peer)

    def deliver(self, src: Node, message: dict[str, Any]) -> None:
        self._onMessageReceived(src, message)


def timing_problem(schedule: Schedule) -> str | None:
    """Why PySyncObj cannot run with the schedule's timing (its SyncObjConf.validate: an
    election timeout above three heartbeat periods, a range that is not a single value, and no
    longer than its connection timeout of 3.5 s), or None."""
    lo, hi, beat = (schedule.election_timeout_min, schedule.election_timeout_max,
                    schedule.heartbeat_interval)
    if lo <= 3 * beat:
        return (f"election_timeout_min: PySyncObj needs more than 3 heartbeat intervals "
                f"({3 * beat}), got {lo}")
    if hi <= lo:
        return f"election_timeout_max: PySyncObj needs more than election_timeout_min ({lo})"
    if hi * TICK_SECONDS > 3.5:
        return f"election_timeout_max: PySyncObj allows at most 35 ticks, got {hi}"
    return None


def node_conf(journal: Path, schedule: Schedule | None = None) -> SyncObjConf:
    """PySyncObj's configuration; the schedule's timing (ticks) in PySyncObj's seconds."""
    s = schedule or Schedule()
    return SyncObjConf(autoTick=False, journalFile=str(journal),
                       raftMinTimeout=s.election_timeout_min * TICK_SECONDS,
                       raftMaxTimeout=s.election_timeout_max * TICK_SECONDS,
                       appendEntriesPeriod=s.heartbeat_interval * TICK_SECONDS,
                       commandsWaitLeader=True,
                       logCompactionMinEntries=1 << 40, logCompactionMinTime=1 << 40,
                       dynamicMembershipChange=False)


class _Warnings(logging.Handler):
    """Counts what PySyncObj itself logs at warning level or above (e.g. its 'truncating
    already-applied log entries'), instead of printing it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class PySyncObjCluster:
    """Runs ``schedule`` on PySyncObj nodes and writes the trace to ``stream``."""

    def __init__(self, schedule: Schedule, stream: IO[bytes] | None, workdir: Path) -> None:
        if schedule.mutants:
            raise ValueError("mutants switch on bugs in raftref's node; PySyncObj has none")
        problem = timing_problem(schedule)
        if problem is not None:
            raise ValueError(problem)
        self.schedule = schedule
        self.ids = schedule.node_ids
        self.workdir = workdir
        self.clock = VirtualClock()
        self.rng = random.Random(f"pysyncobj:{schedule.seed}")
        self.net_rng = random.Random(f"net:{schedule.seed}")
        self.client_rng = random.Random(f"client:{schedule.seed}")
        self.result = SimResult()
        self.nodes: dict[str, KeyValue | None] = dict.fromkeys(self.ids)
        self.transports: dict[str, SimTransport] = {}
        self.incarnation = dict.fromkeys(self.ids, 0)
        self.groups: dict[str, int] | None = None
        self._queue: list[tuple[int, int, int, Any]] = []
        self._order = 0
        self._msg_count: dict[str, int] = dict.fromkeys(self.ids, 0)
        self._message_faults = {m.send: m for m in schedule.message_faults}
        self._client_counter = 0
        options = schedule.to_json()
        options.pop("faults")
        options["target"] = "pysyncobj"
        self.trace = TraceWriter(stream, header(self.ids, schedule.seed, options,
                                                implementation="pysyncobj", version=VERSION))
        self.observer = Observer(self.trace)
        self.warnings = _Warnings()

    # ------------------------------------------------------------------ the loop

    def run(self) -> SimResult:
        logger = logging.getLogger("pysyncobj")
        logger.addHandler(self.warnings)
        propagate, logger.propagate = logger.propagate, False
        try:
            with patched(self.clock, self.rng):
                for node_id in self.ids:
                    self._start(node_id, restart=False)
                for fault in self.schedule.faults:
                    self._push(fault.at, FAULT, fault)
                if self.schedule.proposal_interval > 0:
                    self._push(self.schedule.proposal_interval, CLIENT, None)
                self._loop()
                self._summarize()
        finally:
            logger.removeHandler(self.warnings)
            logger.propagate = propagate
            for node_id in self.ids:
                self._close(node_id)
        return self.result

    def _loop(self) -> None:
        while self.result.steps < self.schedule.steps and self._queue:
            at, _, kind, payload = heapq.heappop(self._queue)
            self.clock.ticks = at
            self.result.steps += 1
            if kind == TICK:
                self._tick(payload)
            elif kind == DELIVER:
                self._deliver(*payload)
            elif kind == FAULT:
                self._fault(payload)
            else:
                self._client()

    def _push(self, at: int, kind: int, payload: Any) -> None:
        self._order += 1
        heapq.heappush(self._queue, (at, self._order, kind, payload))

    # ------------------------------------------------------------------ nodes

    def _start(self, node_id: str, restart: bool) -> None:
        transport = SimTransport(self, node_id)
        self.transports[node_id] = transport
        peers = [SimNode(n) for n in self.ids if n != node_id]
        obj = KeyValue(SimNode(node_id), peers, node_conf(self.workdir / f"{node_id}.journal",
                                                         self.schedule), transport)
        transport.connect_all(peers)
        self.nodes[node_id] = obj
        self.observer.started(node_id, obj, restart)
        self._push(self.clock.ticks + 1, TICK, (node_id, self.incarnation[node_id]))

    def _close(self, node_id: str) -> None:
        obj = self.nodes.get(node_id)
        if obj is not None:
            obj._SyncObj__raftLog._destroy()  # close the journal's file and mapping
            self.nodes[node_id] = None

    def _tick(self, payload: tuple[str, int]) -> None:
        node_id, incarnation = payload
        obj = self.nodes[node_id]
        if obj is None or incarnation != self.incarnation[node_id]:
            return
        self.result.ticks += 1
        obj.doTick(0.0)
        self.observer.observe(node_id, obj)
        self._push(self.clock.ticks + 1, TICK, payload)

    # ------------------------------------------------------------------ the network

    def send(self, src: str, dst: str, message: dict[str, Any]) -> None:
        """A node's transport sends: observe the sender first (its state when sending), write
        the send, and let the network decide."""
        obj = self.nodes[src]
        assert obj is not None
        self.observer.observe(src, obj)
        self._msg_count[src] += 1
        msg_id = f"{src}.{self.incarnation[src]}.{self._msg_count[src]}"
        msg = self.observer.message(src, dst, message, msg_id, obj.raftCurrentTerm)
        if msg is not None:
            self.observer.sent(src, msg)
        self.result.messages_sent += 1
        mtype = message.get("type")
        delays = plan_delivery(self.net_rng, self.schedule.network, mtype == "append_entries",
                               mtype in ("next_node_idx", "response_vote"),
                               self._message_faults.get(self.result.messages_sent))
        if not delays:
            self.result.messages_dropped += 1
            if msg is not None:
                self.observer.dropped(dst, msg, "loss")
            return
        self.result.messages_duplicated += len(delays) - 1
        for delay in delays:
            self._push(self.clock.ticks + delay, DELIVER, (src, dst, message, msg))

    def _deliver(self, src: str, dst: str, message: dict[str, Any],
                 msg: dict[str, Any] | None) -> None:
        obj = self.nodes[dst]
        reason = ("crashed" if obj is None else
                  "partition" if self.groups is not None and self.groups[src] != self.groups[dst]
                  else None)
        if reason is not None:
            self.result.messages_dropped += 1
            if msg is not None:
                self.observer.dropped(dst, msg, reason)
            return
        assert obj is not None
        if msg is not None:
            self.observer.received(dst, msg)
        self.transports[dst].deliver(SimNode(src), message)
        self.observer.observe(dst, obj)

    # ------------------------------------------------------------------ faults and clients

    def _fault(self, fault: Fault) -> None:
        node = fault.node
        if fault.action == "crash" and node is not None and self.nodes[node] is not None:
            self.observer.crashed(node)
            self._close(node)
            self.incarnation[node] += 1
        elif fault.action == "restart" and node is not None and self.nodes[node] is None:
            self._start(node, restart=True)
        elif fault.action == "partition":
            assert fault.groups is not None
            self.groups = dict.fromkeys(self.ids, 0)
            for g, members in enumerate(fault.groups, start=1):
                for n in members:
                    self.groups[n] = g
        elif fault.action == "heal":
            self.groups = None
        elif fault.action == "propose" and node is not None:
            self._put(node, fault.data)

    def _client(self) -> None:
        up = [n for n in self.ids if self.nodes[n] is not None]
        if up:
            self._client_counter += 1
            self._put(self.client_rng.choice(up), self._client_counter)
        self._push(self.clock.ticks + self.schedule.proposal_interval, CLIENT, None)

    def _put(self, node: str, value: Any) -> None:
        obj = self.nodes[node]
        if obj is not None:
            obj.put(f"k{self._client_counter % 8}", value)
            self.result.proposals_accepted += 1

    def _summarize(self) -> None:
        r = self.result
        r.events = self.observer.events
        for n in self.ids:
            view = self.observer.views.get(n)
            r.up[n] = self.nodes[n] is not None
            if view is not None:
                r.commit[n] = view.commit
                r.applied[n] = view.applied
        r.leaders = self.observer.leaders


def run_pysyncobj(schedule: Schedule, stream: IO[bytes] | None = None) -> SimResult:
    """Run ``schedule`` on a PySyncObj cluster (journals in a temporary directory)."""
    with tempfile.TemporaryDirectory(prefix="raftref-pysyncobj-") as tmp:
        cluster = PySyncObjCluster(schedule, stream, Path(tmp))
        return cluster.run()

"""One node of the networked mode: the reference node driven by real time, TCP and a disk.

The node itself (raftref/protocol/node.py) stays the pure state machine the simulator runs; this
driver does what the simulator does in its place (compare raftref/sim/simulator.py): it ticks the
node every ``tick_ms`` milliseconds, hands it each message that arrives from a peer, performs each
``Ready`` in the order Figure 2 requires (persist, then send, then answer clients for what was
applied), and appends every event to the node's own trace file (``clock: per-process``; the
checker merges the files of a cluster by send/receive pairs).

Peers talk over TCP, one JSON message per line (the trace contract's ``msg`` objects), each
sealed with the cluster id and an HMAC (raftref/net/auth.py) and checked at the edge
(raftref/net/auth.py, then raftref/net/edge.py) before the node sees it: a line without this
cluster's id and a right MAC, or that is not a valid message, is counted (``refused`` in GET
/status), logged in one line and its connection closed. Lines, connections and idle time are
bounded (the cluster file's limits, raftref/net/config.py). A
message to a peer that is down, or whose connection is backed up, is dropped, as Raft allows:
the sender retries by protocol (heartbeats, election timeouts). Clients talk HTTP (the API:
raftref/net/api.py). Everything runs on one asyncio loop, so the node sees one input at a
time, as in the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import resource
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from raftref.mutants import node_class
from raftref.net.api import ClientAPI
from raftref.net.auth import PeerAuth
from raftref.net.config import ClusterConfig
from raftref.net.edge import Refused, decode_peer_message
from raftref.net.http import serve_http
from raftref.net.storage import DiskState, NodeTrace
from raftref.protocol.messages import Message
from raftref.protocol.node import Ready
from raftref.protocol.sessions import CommandResult
from raftref.trace import header

# Connections asyncio accepts in one go (its listen backlog): each holds a file until the node
# refuses it, one loop turn later, so this bounds the overshoot past the connection limits.
ACCEPT_BURST = 16
MAX_BACKLOG = 1 << 20  # bytes waiting for a slow peer before messages to it are dropped
EXIT_AFTER_SAVE = "RAFTREF_NET_EXIT_AFTER_SAVE"  # the test hook (see serve)


class NodeServer(ClientAPI):
    """Runs node ``node_id`` of ``config`` with its disk in ``data_dir`` until stopped."""

    def __init__(self, config: ClusterConfig, node_id: str, data_dir: Path,
                 seed: int = 0, mutants: frozenset[str] = frozenset(),
                 exit_after_saves: int | None = None, auth: PeerAuth | None = None,
                 allow_faults: bool = False) -> None:
        if node_id not in config.ids:
            raise ValueError(f"node {node_id!r} is not in the cluster file "
                             f"(nodes: {', '.join(config.ids)})")
        self.config = config
        self.id = node_id
        # None: unauthenticated (tests that build a server in-process, ``serve --insecure``)
        self.auth = auth or PeerAuth(config.cluster_id or "-", None)
        self.allow_faults = allow_faults  # the /fault/ endpoints exist only when asked for
        self.listening: list[str] = []
        data_dir.mkdir(parents=True, exist_ok=True)
        self.disk = DiskState(data_dir, exit_after_saves)
        head = header(config.ids, seed, {"cluster": config.to_json(),
                                         "mutants": sorted(mutants)}, clock="per-process")
        self.trace_path = data_dir / "trace.jsonl"
        self.trace = NodeTrace(self.trace_path, head, node_id)
        if self.trace.cut:
            print(f"{node_id}: {self.trace_path}: cut a torn last line ({self.trace.cut} "
                  "bytes), left by a kill in mid-write", file=sys.stderr)
        if self.trace.resumed:
            # The process that wrote this trace before stopped without saying so: from the
            # protocol's view that was a crash (volatile state gone, the disk kept). If it was
            # killed after saving a step's state and before tracing the step, the state holds
            # the step's lines: they come first, so the trace shows what the disk has.
            self.trace.restore(self.disk.unwritten)
            self.trace.driver_event("crash")
        rng = random.Random(f"net:{seed}:{node_id}:{self.disk.incarnation}")
        self.node = node_class(mutants)(node_id, config.ids, rng, self.disk.state, config.node,
                                         incarnation=self.disk.incarnation)
        self._peers: dict[str, asyncio.StreamWriter | None] = {
            p: None for p in config.ids if p != node_id}
        # log index -> (the term it was proposed in, the answer: its CommandResult)
        self._waiting: dict[int, tuple[int, asyncio.Future[CommandResult | None]]] = {}
        self._reads: dict[int, asyncio.Future[Any]] = {}  # read id -> its ReadResult
        self._read_ids = itertools.count(1)
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        # Fault injection (PUT /fault/cut): peers this node neither sends to nor hears from,
        # a partition as the simulator makes one; the messages are lost as on a real network.
        self.cut: set[str] = set()
        # What the edge turned away (GET /status shows it): peer lines without this cluster's
        # id and MAC, bad peer messages, lines past the bound, connections past the limits,
        # connections closed for idling.
        self.refused = dict.fromkeys(("peer_unauthenticated", "peer_messages",
                                      "peer_lines_too_long", "peer_connections",
                                      "client_connections", "idle_closed"), 0)
        self._open = {"peer": 0, "client": 0}
        self._perform(self.node.take_ready())

    # ------------------------------------------------------------------ performing effects

    def _step(self, ready: Callable[[], Ready]) -> Ready | None:
        """One input to the node, its effects performed; None when the server is stopping (no
        input is taken then: the trace is being closed) or the step failed. A failure here (the
        disk refusing a write, say) is not the network's: the node must not go on, so the
        server stops and :meth:`run` raises it."""
        if self._stop.is_set():
            return None
        try:
            batch = ready()
            self._perform(batch)
        except Exception as exc:
            self._failure = exc
            self._stop.set()
            return None
        return batch

    def _perform(self, ready: Ready) -> None:
        # Fig2 "Persistent state ... updated on stable storage before responding to RPCs":
        # the disk first (with the step's trace lines: see raftref/net/storage.py), then the
        # trace, then the messages, then the clients.
        lines = self.trace.stage(ready.events)
        if ready.persist is not None:
            self.disk.save(ready.persist.apply_to(self.disk.state), lines)
        self.trace.append(lines)
        for msg in ready.messages:
            self._send(msg)
        if self._waiting:
            results = {r.index: r for r in ready.results}
            for index, entry in ready.applied:
                waiting = self._waiting.pop(index, None)
                if waiting is not None and not waiting[1].done():
                    # The state machine's result of the client's own command; None when
                    # another entry (another term's) was applied at its index.
                    waiting[1].set_result(results.get(index) if entry.term == waiting[0]
                                          else None)
        for result in ready.reads:
            pending = self._reads.pop(result.request_id, None)
            if pending is not None and not pending.done():
                pending.set_result(result)

    def _send(self, msg: Message) -> None:
        writer = self._peers.get(msg.dst)
        if writer is None or writer.is_closing() or msg.dst in self.cut:
            return  # peer unreachable: lost, as on any network
        if writer.transport.get_write_buffer_size() > MAX_BACKLOG:
            return
        writer.write(self.auth.seal(orjson.dumps(msg.to_json())))

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT (or :meth:`stop`)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        raft = self.config.raft[self.id]
        http = self.config.http[self.id]
        limits = self.config.limits
        bind = self.config.bind
        peer_server = await asyncio.start_server(self._peer_connection, bind, raft.port,
                                                 limit=limits.max_line_bytes,
                                                 backlog=ACCEPT_BURST)
        http_server = await asyncio.start_server(self._client_connection, bind, http.port,
                                                 backlog=ACCEPT_BURST)
        self.listening = [f"{name[0]}:{name[1]}" for server in (peer_server, http_server)
                          for name in (sock.getsockname() for sock in server.sockets)]
        tasks = [asyncio.create_task(self._connect(p)) for p in self._peers]
        tasks.append(asyncio.create_task(self._ticks()))
        try:
            await self._stop.wait()
            if self._failure is not None:
                raise self._failure
        finally:
            for task in tasks:
                task.cancel()
            peer_server.close()
            http_server.close()
            for writer in self._peers.values():
                if writer is not None:
                    writer.close()
            self.trace.close()

    def stop(self) -> None:
        self._stop.set()

    async def _ticks(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.config.tick_ms / 1000
        due = loop.time()
        while True:
            due += period
            await asyncio.sleep(max(0.0, due - loop.time()))
            if self._step(self.node.tick) is None:
                return

    async def _connect(self, peer: str) -> None:
        """Keep one outgoing connection to ``peer``; reconnect when it drops."""
        address = self.config.raft[peer]
        while True:
            try:
                reader, writer = await asyncio.open_connection(address.host, address.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self._peers[peer] = writer
            with contextlib.suppress(OSError):
                await reader.read()  # the peer never writes here: this returns when it closes
            self._peers[peer] = None
            writer.close()
            await asyncio.sleep(0.1)

    def _admit(self, kind: str, writer: asyncio.StreamWriter) -> bool:
        """Whether one more ``kind`` connection may stay open; one past the limit is closed at
        once, so that a flood of connections cannot take the file descriptors the node's disk
        and trace need."""
        limits = self.config.limits
        limit = limits.max_peer_connections if kind == "peer" else limits.max_client_connections
        if self._open[kind] >= limit:
            self.refused[f"{kind}_connections"] += 1
            writer.transport.abort()
            return False
        self._open[kind] += 1
        return True

    async def _client_connection(self, reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        if not self._admit("client", writer):
            return
        limits = self.config.limits
        try:
            if not await serve_http(reader, writer, self._http, limits.max_body_bytes,
                                    limits.idle_timeout_ms / 1000):
                self.refused["idle_closed"] += 1
        finally:
            self._open["client"] -= 1

    async def _peer_connection(self, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        """Messages from one peer, one JSON object a line."""
        if not self._admit("peer", writer):
            return
        idle = self.config.limits.idle_timeout_ms / 1000
        sender: str | None = None
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), idle)
                except TimeoutError:
                    self.refused["idle_closed"] += 1
                    break  # an idle connection: a live peer reconnects when it has to send
                except ValueError:
                    # Past max_line_bytes: the reader dropped what it held; so does the node.
                    self.refused["peer_lines_too_long"] += 1
                    self._log_refusal(writer, Refused(
                        "$", f"line longer than max_line_bytes "
                             f"({self.config.limits.max_line_bytes})"))
                    break
                except OSError:
                    break  # a broken connection: the peer reconnects
                if not line:
                    break
                body = self.auth.open(line)
                if isinstance(body, Refused):
                    self.refused["peer_unauthenticated"] += 1
                    # the sender it claims, if its JSON is there to say
                    self._log_refusal(writer, body, line[max(0, line.find(b"{")):])
                    break  # not this cluster's: nothing more is read from it
                msg = decode_peer_message(body)
                if isinstance(msg, Refused):
                    self.refused["peer_messages"] += 1
                    self._log_refusal(writer, msg, body)
                    break  # garbage from this connection: whatever follows is suspect too
                # One connection, one sender: the first authenticated line names it, and a
                # line claiming another (which only a holder of the secret can make) is refused.
                sender = sender or msg.src
                if msg.src != sender:
                    self.refused["peer_unauthenticated"] += 1
                    self._log_refusal(writer, Refused(
                        "from", f"unauthenticated: this connection speaks for {sender!r}"), body)
                    break
                if msg.dst != self.id or msg.src not in self._peers or msg.src in self.cut:
                    continue  # well formed but not for this node (or cut off): lost
                if self._step(lambda: self.node.receive(msg)) is None:  # noqa: B023 - called now
                    break  # the server is stopping
        except asyncio.CancelledError:
            pass  # the server is stopping (asyncio would log a cancelled handler as an error)
        finally:
            self._open["peer"] -= 1
            writer.close()

    def _log_refusal(self, writer: asyncio.StreamWriter, why: Refused,
                     line: bytes = b"") -> None:
        """One line on stderr: who sent it (address, and the sender it claims) and the field."""
        address = writer.get_extra_info("peername")
        where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        claims = ""
        with contextlib.suppress(orjson.JSONDecodeError):
            obj = orjson.loads(line) if line else None
            if isinstance(obj, dict) and isinstance(obj.get("from"), str):
                claims = f" (claims to be {obj['from'][:64]!r})"
        print(f"{self.id}: refused a peer message from {where}{claims}: {why}"[:500],
              file=sys.stderr, flush=True)


def serve(config: ClusterConfig, node_id: str, data_dir: Path, seed: int = 0,
          mutants: frozenset[str] = frozenset(), secret: bytes | None = None,
          allow_faults: bool = False) -> None:
    """Run one node until SIGTERM or SIGINT.

    The environment variable RAFTREF_NET_EXIT_AFTER_SAVE=N (for tests) ends the process as a
    kill would, right after the state of its Nth state-changing step is saved and before the
    step's trace lines are written (raftref/net/storage.py, DiskState). ``secret`` None: peer
    lines are neither MACed nor checked (``raftref serve --insecure``)."""
    # The connection limits keep a node's files well under the usual hard limit, not always
    # under a soft one of 1,024 with generous limits: take what the system allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    hook = os.environ.get(EXIT_AFTER_SAVE)
    exit_after = int(hook) if hook and hook.isdigit() else None

    async def main() -> None:
        auth = PeerAuth(config.cluster_id or "-", secret)
        await NodeServer(config, node_id, data_dir, seed, mutants, exit_after, auth,
                         allow_faults).run()

    asyncio.run(main())
